// Micro-benchmarks of the remote-write ingest path: snappy decode and
// protobuf parse of a 2,000-sample WriteRequest, and the same followed by an
// append into a storage::Head (end to end, minus HTTP).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "bench/loadgen/encoder.h"
#include "bench/loadgen/series.h"
#include "benchmark/benchmark.h"
#include "rpc/proto/remote.pb.h"
#include "snappy.h"
#include "storage/base/clock.h"
#include "storage/head.h"
#include "storage/labels.h"
#include "storage/sample.h"
#include "storage/storage.h"

namespace vigil::bench {
namespace {

constexpr size_t kBatch = 2000;
constexpr int64_t kStartMs = 1700000000000;
constexpr int64_t kIntervalMs = 15000;

// One realistic 2,000-series request, compressed, as a sender would post it.
struct Request {
  std::string raw;
  std::string compressed;
};

Request MakeRequest(int64_t round) {
  SeriesSet series({.series = kBatch, .seed = 42});
  BatchEncoder enc(&series, kBatch);
  Request r;
  enc.EncodeCompressed(0, round, kStartMs + round * kIntervalMs, &r.raw,
                       &r.compressed);
  return r;
}

void BM_SnappyUncompress(benchmark::State& state) {
  const Request req = MakeRequest(10);
  std::string out;
  for (auto _ : state) {
    snappy::Uncompress(req.compressed.data(), req.compressed.size(), &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.SetBytesProcessed(state.iterations() * req.raw.size());
  state.counters["compressed_bytes"] = req.compressed.size();
  state.counters["raw_bytes"] = req.raw.size();
}
BENCHMARK(BM_SnappyUncompress);

void BM_ProtobufParse(benchmark::State& state) {
  const Request req = MakeRequest(10);
  prompb::WriteRequest wr;
  for (auto _ : state) {
    if (!wr.ParseFromString(req.raw)) {
      state.SkipWithError("parse failed");
      break;
    }
    benchmark::DoNotOptimize(wr.timeseries_size());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_ProtobufParse);

// What a receiver does before storage sees the data.
void BM_SnappyUncompressAndParse(benchmark::State& state) {
  const Request req = MakeRequest(10);
  std::string raw;
  prompb::WriteRequest wr;
  for (auto _ : state) {
    if (!snappy::Uncompress(req.compressed.data(), req.compressed.size(),
                            &raw) ||
        !wr.ParseFromString(raw)) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(wr.timeseries_size());
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_SnappyUncompressAndParse);

// The generator's own cost per request: values + timestamps around
// pre-encoded labels, then snappy.
void BM_LoadgenEncode(benchmark::State& state) {
  SeriesSet series({.series = kBatch, .seed = 42});
  BatchEncoder enc(&series, kBatch);
  std::string scratch, out;
  int64_t round = 0;
  for (auto _ : state) {
    enc.EncodeCompressed(0, round, kStartMs + round * kIntervalMs, &scratch,
                         &out);
    benchmark::DoNotOptimize(out.data());
    ++round;
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_LoadgenEncode);

// Receiver-side work for one request: snappy, protobuf, label validation,
// then Head::Append. Returns samples appended, or -1 on a decode error.
class HeadIngester {
 public:
  explicit HeadIngester(storage::Head* head) : head_(head) {}

  int64_t Ingest(const std::string& compressed) {
    if (!snappy::Uncompress(compressed.data(), compressed.size(), &raw_) ||
        !wr_.ParseFromString(raw_)) {
      return -1;
    }
    labels_.clear();
    samples_.clear();
    batch_.clear();
    labels_.reserve(wr_.timeseries_size());
    samples_.reserve(wr_.timeseries_size());
    for (const auto& ts : wr_.timeseries()) {
      std::vector<storage::Label> ls;
      ls.reserve(ts.labels_size());
      for (const auto& l : ts.labels()) {
        ls.push_back({l.name(), l.value()});
      }
      auto parsed = storage::Labels::FromUnsorted(std::move(ls));
      if (!parsed.ok() || ts.samples_size() != 1) {
        return -1;
      }
      labels_.push_back(*std::move(parsed));
      samples_.push_back({ts.samples(0).timestamp(), ts.samples(0).value()});
    }
    // Pointers into labels_/samples_ only after both stopped growing.
    for (size_t k = 0; k < labels_.size(); ++k) {
      batch_.push_back({&labels_[k], absl::MakeConstSpan(&samples_[k], 1)});
    }
    auto st = head_->Append(batch_);
    return st.ok() ? st->appended : -1;
  }

 private:
  storage::Head* const head_;
  std::string raw_;
  prompb::WriteRequest wr_;
  std::vector<storage::Labels> labels_;
  std::vector<storage::Sample> samples_;
  std::vector<storage::SeriesSamples> batch_;
};

// Decode + Head::Append of 2,000-sample requests over state.range(0) batches
// of distinct series (range(0) * 2000 active series), each pass over the
// batches one newer scrape round. Series are created before timing starts:
// this is the steady state of a receiver whose series all exist.
void BM_DecodeAndAppendToHead(benchmark::State& state) {
  const size_t batches = static_cast<size_t>(state.range(0));
  SeriesSet series({.series = static_cast<int64_t>(batches * kBatch),
                    .seed = 42});
  BatchEncoder enc(&series, kBatch);
  SimulatedClock clock(absl::FromUnixMillis(kStartMs));
  storage::Head head(storage::HeadOptions{}, &clock);
  HeadIngester ingester(&head);
  std::string scratch, compressed;
  for (size_t b = 0; b < batches; ++b) {
    enc.EncodeCompressed(b, 0, kStartMs, &scratch, &compressed);
    if (ingester.Ingest(compressed) != static_cast<int64_t>(kBatch)) {
      state.SkipWithError("creating series failed");
      return;
    }
  }
  int64_t appended = 0;
  size_t i = batches;
  for (auto _ : state) {
    state.PauseTiming();
    const size_t b = i % batches;
    const int64_t round = static_cast<int64_t>(i / batches);
    enc.EncodeCompressed(b, round, kStartMs + round * kIntervalMs, &scratch,
                         &compressed);
    ++i;
    state.ResumeTiming();
    appended += ingester.Ingest(compressed);
  }
  if (appended != static_cast<int64_t>(state.iterations() * kBatch)) {
    state.SkipWithError("not every sample was appended");
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["active_series"] = batches * kBatch;
}
BENCHMARK(BM_DecodeAndAppendToHead)->Arg(1)->Arg(50);

// Chunk bytes per sample on the load generator's corpus (what
// ingest_compare's vigil_head_chunk_bytes / vigil_head_samples reports), by
// kind of series: each kind in its own Head, 120 scrapes (one full chunk)
// of 10 instances. The time is the append cost; the counters are the point.
void BM_ChunkBytesOnLoadgenCorpus(benchmark::State& state) {
  const size_t n = 10 * SeriesSet::SeriesPerInstance();
  constexpr int kRounds = 120;
  SeriesSet series({.series = static_cast<int64_t>(n), .seed = 42});
  constexpr int kKinds = 5;
  const char* const names[kKinds] = {"counter", "gauge", "bucket", "hist_sum",
                                     "hist_count"};
  std::vector<storage::Labels> labels;
  for (size_t i = 0; i < n; ++i) {
    std::vector<storage::Label> ls;
    for (const auto& [k, v] : series.Labels(i)) ls.push_back({k, v});
    labels.push_back(storage::Labels::FromSorted(std::move(ls)));
  }
  SimulatedClock clock(absl::FromUnixMillis(kStartMs));
  storage::HeadStats by_kind[kKinds];
  storage::HeadStats all;
  for (auto _ : state) {
    std::vector<std::unique_ptr<storage::Head>> heads;
    for (int k = 0; k < kKinds; ++k) {
      heads.push_back(
          std::make_unique<storage::Head>(storage::HeadOptions{}, &clock));
    }
    std::vector<storage::Sample> samples(kRounds);
    for (size_t i = 0; i < n; ++i) {
      for (int r = 0; r < kRounds; ++r) {
        samples[r] = {kStartMs + r * kIntervalMs, series.Value(i, r)};
      }
      storage::SeriesSamples entry{&labels[i], samples};
      auto st = heads[static_cast<int>(series.Kind(i))]->Append({&entry, 1});
      benchmark::DoNotOptimize(st);
    }
    all = storage::HeadStats{};
    for (int k = 0; k < kKinds; ++k) {
      by_kind[k] = heads[k]->Stats();
      all.chunk_bytes += by_kind[k].chunk_bytes;
      all.samples += by_kind[k].samples;
    }
  }
  state.SetItemsProcessed(state.iterations() * n * kRounds);
  state.counters["bytes_per_sample"] =
      static_cast<double>(all.chunk_bytes) / static_cast<double>(all.samples);
  for (int k = 0; k < kKinds; ++k) {
    state.counters[std::string(names[k]) + "_bps"] =
        static_cast<double>(by_kind[k].chunk_bytes) /
        static_cast<double>(std::max<int64_t>(1, by_kind[k].samples));
    state.counters[std::string(names[k]) + "_share"] =
        static_cast<double>(by_kind[k].samples) /
        static_cast<double>(all.samples);
  }
}
BENCHMARK(BM_ChunkBytesOnLoadgenCorpus)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::bench
