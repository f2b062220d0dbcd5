// Receiver cost per remote-write request: decode alone (ours vs protobuf's
// generated parser), the whole handler (snappy, decode, label validation,
// batch building) over a store that accepts everything, and the handler
// into a real Head in steady state.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <prometheus/registry.h>

#include "absl/strings/str_cat.h"
#include "rpc/remote_write/decode.h"
#include "rpc/remote_write/testutil.h"
#include "rpc/remote_write/write_handler.h"
#include "storage/base/clock.h"
#include "storage/head.h"

namespace vigil::rpc::remote_write {
namespace {

// Prometheus' default max_samples_per_send is 2000 (500 in 2.42: both shown).
prompb::WriteRequest Typical(int series, int samples_per_series) {
  std::vector<TestSeries> all;
  for (int s = 0; s < series; ++s) {
    TestSeries t;
    t.labels = {{"__name__", absl::StrCat("node_metric_", s % 50, "_total")},
                {"instance", absl::StrCat("host-", s % 20, ".example:9100")},
                {"job", "node"},
                {"cpu", absl::StrCat(s % 8)},
                {"mode", "user"},
                {"region", "eu-west-1"},
                {"series", absl::StrCat(s)}};
    for (int i = 0; i < samples_per_series; ++i) {
      t.samples.emplace_back(1700000000000 + i * 15000, s * 1.5 + i);
    }
    all.push_back(std::move(t));
  }
  return MakeWriteRequest(all);
}

class AcceptAll : public storage::Appendable {
 public:
  absl::StatusOr<storage::AppendStats> Append(
      absl::Span<const storage::SeriesSamples> batch) override {
    storage::AppendStats stats;
    for (const auto& s : batch) stats.appended += s.samples.size();
    return stats;
  }
};

void BM_Decode(benchmark::State& state) {
  std::string raw;
  Typical(state.range(0), 1).SerializeToString(&raw);
  for (auto _ : state) {
    std::vector<DecodedSeries> out;
    DecodeStats stats;
    benchmark::DoNotOptimize(DecodeWriteRequest(raw, &out, &stats));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * raw.size());
}
BENCHMARK(BM_Decode)->Arg(500)->Arg(2000);

// The receiver's decoder: structure and samples, labels left as raw bytes
// (decoded only for series the cache does not know).
void BM_DecodeView(benchmark::State& state) {
  std::string raw;
  Typical(state.range(0), 1).SerializeToString(&raw);
  RequestView view;
  for (auto _ : state) {
    DecodeStats stats;
    benchmark::DoNotOptimize(DecodeRequestView(raw, &view, &stats));
    benchmark::DoNotOptimize(view.samples.data());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * raw.size());
}
BENCHMARK(BM_DecodeView)->Arg(500)->Arg(2000);

void BM_ProtobufParse(benchmark::State& state) {
  std::string raw;
  Typical(state.range(0), 1).SerializeToString(&raw);
  for (auto _ : state) {
    prompb::WriteRequest req;
    benchmark::DoNotOptimize(req.ParseFromString(raw));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * raw.size());
}
BENCHMARK(BM_ProtobufParse)->Arg(500)->Arg(2000);

void BM_Handle(benchmark::State& state) {
  prometheus::Registry registry;
  AcceptAll store;
  WriteHandler handler(&store, &registry);
  http::Request request;
  request.method = "POST";
  request.headers.Add("Content-Encoding", "snappy");
  request.headers.Add("Content-Type", "application/x-protobuf");
  request.body = EncodeBody(Typical(state.range(0), 1));
  for (auto _ : state) {
    http::Response r = handler.Handle(request);
    if (r.status != 204) state.SkipWithError("unexpected status");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Handle)->Arg(500)->Arg(2000);

// The whole receiver into a real storage::Head, steady state: range(0)
// batches of 2,000 series (2,000 or 100,000 active series), every series
// created before timing starts, each iteration the next batch one scrape
// later. Known series go through the series-ref cache: no label decoding,
// sorting, interning or hashing. Body encoding is not timed.
void BM_HandleIntoHead(benchmark::State& state) {
  const int batches = static_cast<int>(state.range(0));
  constexpr int kSeries = 2000;
  constexpr int64_t kStart = 1700000000000;
  std::vector<prompb::WriteRequest> requests;
  for (int b = 0; b < batches; ++b) {
    prompb::WriteRequest req = Typical(kSeries, 1);
    for (auto& ts : *req.mutable_timeseries()) {
      for (auto& l : *ts.mutable_labels()) {
        if (l.name() == "series") {
          l.set_value(absl::StrCat(b * kSeries) + "-" + l.value());
        }
      }
    }
    requests.push_back(std::move(req));
  }
  SimulatedClock clock(absl::FromUnixMillis(kStart));
  storage::Head head(storage::HeadOptions{}, &clock);
  prometheus::Registry registry;
  WriteHandler handler(&head, &registry);
  http::Request request;
  request.method = "POST";
  request.headers.Add("Content-Encoding", "snappy");
  request.headers.Add("Content-Type", "application/x-protobuf");
  auto encode = [&](int b, int64_t round) {
    prompb::WriteRequest& req = requests[b];
    for (int i = 0; i < req.timeseries_size(); ++i) {
      auto* sample = req.mutable_timeseries(i)->mutable_samples(0);
      sample->set_timestamp(kStart + round * 15000);
      sample->set_value(static_cast<double>(round * (i % 7)));
    }
    request.body = EncodeBody(req);
  };
  for (int b = 0; b < batches; ++b) {
    encode(b, 0);
    if (handler.Handle(request).status != 204) {
      state.SkipWithError("creating series failed");
      return;
    }
  }
  int64_t i = batches;
  for (auto _ : state) {
    state.PauseTiming();
    encode(static_cast<int>(i % batches), i / batches);
    ++i;
    state.ResumeTiming();
    http::Response r = handler.Handle(request);
    if (r.status != 204) {
      state.SkipWithError("unexpected status");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * kSeries);
  state.counters["active_series"] = batches * kSeries;
}
BENCHMARK(BM_HandleIntoHead)->Arg(1)->Arg(50);

}  // namespace
}  // namespace vigil::rpc::remote_write
