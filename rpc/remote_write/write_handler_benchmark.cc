// Receiver cost per remote-write request, without the store: decode alone
// (ours vs protobuf's generated parser) and the whole handler (snappy, decode,
// label validation, batch building) over a store that accepts everything.
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <prometheus/registry.h>

#include "absl/strings/str_cat.h"
#include "rpc/remote_write/decode.h"
#include "rpc/remote_write/testutil.h"
#include "rpc/remote_write/write_handler.h"

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

}  // namespace
}  // namespace vigil::rpc::remote_write
