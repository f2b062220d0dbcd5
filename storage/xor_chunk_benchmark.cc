// Encode/decode speed and size of XOR chunks on scrape-like data.
#include <cstdint>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "storage/xor_chunk.h"

namespace vigil::storage {
namespace {

constexpr int kSamplesPerChunk = 120;

enum Shape { kConstant, kCounter, kMixed, kFloatGauge };

// 120 samples at a 15s interval. kConstant: one value throughout. kCounter:
// an integer counter growing by 0..49 per scrape. kFloatGauge: a 2-decimal
// value that changes every scrape (the worst case for XOR). kMixed is what an
// exporter-like target looks like: 40% constant series, 40% request counters,
// 10% byte counters, 10% float gauges changing every few scrapes, and 1 in 10
// scrapes a few ms late.
void MakeSeries(Shape shape, uint64_t seed, std::vector<int64_t>* ts,
                std::vector<double>* vs) {
  std::mt19937_64 rng(seed);
  ts->clear();
  vs->clear();
  int64_t t = 1700000000000 + static_cast<int64_t>(rng() % 15000);
  double v = static_cast<double>(rng() % 100000);
  const int kind = static_cast<int>(rng() % 10);
  for (int i = 0; i < kSamplesPerChunk; ++i) {
    int64_t jitter = 0;
    switch (shape) {
      case kConstant:
        break;
      case kCounter:
        v += static_cast<double>(rng() % 50);
        break;
      case kFloatGauge:
        v = 20 + static_cast<double>(rng() % 1000) / 100.0;
        break;
      case kMixed:
        if (rng() % 10 == 0) jitter = static_cast<int64_t>(rng() % 7) - 3;
        if (kind < 4) {
          // constant (up, info metrics, config gauges)
        } else if (kind < 8) {
          // request-style counter
          if (rng() % 2 == 0) v += static_cast<double>(rng() % 20);
        } else if (kind < 9) {
          // byte counter
          v += static_cast<double>(rng() % 100000);
        } else if (rng() % 5 == 0) {
          // float gauge (temperature-like), changing every few scrapes
          v = 20 + static_cast<double>(rng() % 1000) / 100.0;
        }
        break;
    }
    ts->push_back(t + jitter);
    vs->push_back(v);
    t += 15000;
  }
}

void BM_Encode(benchmark::State& state) {
  const Shape shape = static_cast<Shape>(state.range(0));
  constexpr int kSeries = 256;
  std::vector<std::vector<int64_t>> ts(kSeries);
  std::vector<std::vector<double>> vs(kSeries);
  for (int s = 0; s < kSeries; ++s) MakeSeries(shape, s, &ts[s], &vs[s]);
  int64_t bytes = 0, samples = 0;
  int s = 0;
  for (auto _ : state) {
    XorEncoder enc;
    for (int i = 0; i < kSamplesPerChunk; ++i) enc.Append(ts[s][i], vs[s][i]);
    bytes += enc.bytes().size();
    samples += kSamplesPerChunk;
    benchmark::DoNotOptimize(enc.bytes().data());
    s = (s + 1) % kSeries;
  }
  state.SetItemsProcessed(samples);
  state.counters["bytes_per_sample"] =
      static_cast<double>(bytes) / static_cast<double>(samples);
}
BENCHMARK(BM_Encode)
    ->ArgName("shape")
    ->Arg(kConstant)
    ->Arg(kCounter)
    ->Arg(kMixed)
    ->Arg(kFloatGauge);

void BM_Decode(benchmark::State& state) {
  const Shape shape = static_cast<Shape>(state.range(0));
  constexpr int kSeries = 256;
  std::vector<std::vector<uint8_t>> chunks;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (int s = 0; s < kSeries; ++s) {
    MakeSeries(shape, s, &ts, &vs);
    XorEncoder enc;
    for (int i = 0; i < kSamplesPerChunk; ++i) enc.Append(ts[i], vs[i]);
    chunks.push_back(enc.Release());
  }
  std::vector<int64_t> out_t;
  std::vector<double> out_v;
  out_t.reserve(kSamplesPerChunk);
  out_v.reserve(kSamplesPerChunk);
  int64_t samples = 0;
  int s = 0;
  for (auto _ : state) {
    out_t.clear();
    out_v.clear();
    auto n = DecodeXorChunk(chunks[s], INT64_MIN, INT64_MAX, &out_t, &out_v);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(out_v.data());
    samples += kSamplesPerChunk;
    s = (s + 1) % kSeries;
  }
  state.SetItemsProcessed(samples);
}
BENCHMARK(BM_Decode)
    ->ArgName("shape")
    ->Arg(kConstant)
    ->Arg(kCounter)
    ->Arg(kMixed)
    ->Arg(kFloatGauge);

}  // namespace
}  // namespace vigil::storage
