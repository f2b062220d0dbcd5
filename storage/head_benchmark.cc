// Head: append throughput (1 and 2 threads), postings and regex matcher
// resolution over 100k series, and memory per series.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <malloc.h>
#include <unistd.h>

#include "absl/types/span.h"
#include "benchmark/benchmark.h"
#include "storage/base/clock.h"
#include "storage/head.h"

namespace vigil::storage {
namespace {

Labels SeriesLabels(int thread, int i) {
  auto l = Labels::FromUnsorted({
      {"__name__", "metric_" + std::to_string(i % 100)},
      {"job", std::string(1, static_cast<char>('a' + (i / 100) % 10))},
      {"instance", "host-" + std::to_string(i / 10) + ":9100"},
      {"thread", std::to_string(thread)},
      {"region", "eu-west-1"},
      {"env", "prod"},
      {"team", "infra"},
      {"device", "dev" + std::to_string(i % 7)},
  });
  return *l;
}

// Each thread appends to its own 10k series, 1000 series per batch, one
// sample each, as a remote-write receiver would. The series exist before
// timing starts (creation is measured by BM_MemoryPerSeries).
void BM_Append(benchmark::State& state) {
  // Shared by every run and thread; runs use distinct series (the "thread"
  // label carries the run's thread count), so no run sees another's
  // timestamps.
  static Head* head = new Head(HeadOptions{}, new SimulatedClock());
  constexpr int kSeries = 10000;
  constexpr int kBatch = 1000;
  const int me = static_cast<int>(state.range(0)) * 1000 +
                 state.threads() * 100 + state.thread_index();
  std::vector<Labels> labels;
  labels.reserve(kSeries);
  for (int i = 0; i < kSeries; ++i) labels.push_back(SeriesLabels(me, i));
  std::vector<Sample> samples(kSeries);
  std::vector<SeriesSamples> batch(kBatch);
  // by_ref:1 appends as the remote-write receiver does for series it knows:
  // by ref, no labels (AppendWithRefs); by_ref:0 by labels (Append).
  const bool by_ref = state.range(0) == 1;
  std::vector<SeriesRef> refs(kSeries, 0), batch_refs(kBatch);
  std::vector<size_t> stale;
  int64_t round = 0;
  int offset = 0;
  auto append_batch = [&]() -> int64_t {
    for (int i = 0; i < kBatch; ++i) {
      const int k = offset + i;
      samples[k] = {round * 15000, static_cast<double>(round * (k % 5))};
      batch[i] = {refs[k] != 0 ? nullptr : &labels[k], {&samples[k], 1}};
      batch_refs[i] = refs[k];
    }
    absl::StatusOr<AppendStats> r;
    if (by_ref) {
      r = head->AppendWithRefs(batch, absl::MakeSpan(batch_refs), &stale);
      for (int i = 0; i < kBatch; ++i) refs[offset + i] = batch_refs[i];
    } else {
      r = head->Append(batch);
    }
    offset += kBatch;
    if (offset == kSeries) {
      offset = 0;
      ++round;
    }
    return r.ok() ? r->appended : -1;
  };
  for (int i = 0; i < kSeries / kBatch; ++i) append_batch();  // create
  int64_t appended = 0;
  for (auto _ : state) {
    const int64_t n = append_batch();
    if (n < 0) {
      state.SkipWithError("append failed");
      break;
    }
    appended += n;
  }
  state.SetItemsProcessed(appended);
}
BENCHMARK(BM_Append)
    ->ArgName("by_ref")
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// 100k series: 100 metric names x 10 jobs x 10k instances (10 series each).
const Head& BigHead() {
  static Head* head = [] {
    auto* h = new Head(HeadOptions{}, new SimulatedClock());
    constexpr int kSeries = 100000;
    std::vector<Labels> labels;
    std::vector<Sample> sample = {{1000, 1}};
    std::vector<SeriesSamples> batch;
    for (int i = 0; i < kSeries; ++i) {
      labels.push_back(SeriesLabels(0, i));
    }
    for (const Labels& l : labels) batch.push_back({&l, sample});
    (void)h->Append(batch);
    return h;
  }();
  return *head;
}

std::vector<Matcher> Ms(
    std::vector<std::tuple<MatchType, std::string, std::string>> spec) {
  std::vector<Matcher> out;
  for (auto& [t, n, v] : spec) out.push_back(*Matcher::Create(t, n, v));
  return out;
}

const std::vector<std::vector<Matcher>>& Cases() {
  using enum MatchType;
  static auto* cases = new std::vector<std::vector<Matcher>>{
      Ms({{kEqual, "__name__", "metric_5"}, {kEqual, "job", "a"}}),
      Ms({{kRegexMatch, "job", "a|b|c"}}),
      Ms({{kRegexMatch, "instance", "host-1.*"}}),
      Ms({{kRegexMatch, "instance", "host-[0-9]+5:9100"}}),
      Ms({{kEqual, "__name__", "metric_5"}, {kNotEqual, "job", "a"}}),
      Ms({{kEqual, "region", "eu-west-1"}, {kEqual, "env", "prod"}}),
  };
  return *cases;
}
const char* const kCaseNames[] = {
    "name=,job=",  "job=~a|b|c",       "instance=~host-1.*",
    "instance=~generic", "name=,job!=", "two_100k_lists",
};

void BM_MatchingRefs(benchmark::State& state) {
  const Head& head = BigHead();
  const auto& ms = Cases()[state.range(0)];
  state.SetLabel(kCaseNames[state.range(0)]);
  size_t n = 0;
  for (auto _ : state) {
    auto r = head.MatchingRefs(ms);
    n = r->size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["series"] = static_cast<double>(n);
}
BENCHMARK(BM_MatchingRefs)->DenseRange(0, 5)->Unit(benchmark::kMicrosecond);

void BM_Select(benchmark::State& state) {
  const Head& head = BigHead();
  const auto& ms = Cases()[state.range(0)];
  state.SetLabel(kCaseNames[state.range(0)]);
  size_t n = 0;
  for (auto _ : state) {
    auto r = head.Select(ms, 0, 2000);
    n = r->size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["series"] = static_cast<double>(n);
}
BENCHMARK(BM_Select)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

// Reading every series of a selector (30k of BigHead's 100k): one
// ReadSamples per series (arg 0) vs ReadWindows in the evaluator's 4096-ref
// batches (arg 1), which locks each shard once and prefetches ahead.
void BM_ReadWindows(benchmark::State& state) {
  const Head& head = BigHead();
  const std::vector<SeriesRef> refs = *head.MatchingRefs(Cases()[1]);
  const bool batched = state.range(0) == 1;
  state.SetLabel(batched ? "ReadWindows" : "ReadSamples each");
  std::vector<int64_t> ts;
  std::vector<double> vs;
  constexpr size_t kBatch = 4096;
  std::vector<size_t> off(kBatch), n(kBatch);
  for (auto _ : state) {
    ts.clear();
    vs.clear();
    if (batched) {
      for (size_t first = 0; first < refs.size(); first += kBatch) {
        const size_t len = std::min(kBatch, refs.size() - first);
        head.ReadWindows(absl::MakeConstSpan(refs).subspan(first, len), 0,
                         2000, false, &ts, &vs, off.data(), n.data());
      }
    } else {
      for (SeriesRef r : refs) head.ReadSamples(r, 0, 2000, &ts, &vs);
    }
    benchmark::DoNotOptimize(vs.data());
  }
  state.SetItemsProcessed(state.iterations() *
                          static_cast<int64_t>(refs.size()));
}
BENCHMARK(BM_ReadWindows)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_ReadSamples(benchmark::State& state) {
  static SimulatedClock clock;
  Head head(HeadOptions{}, &clock);
  const Labels l = SeriesLabels(0, 1);
  std::vector<Sample> samples;
  for (int i = 0; i < 5760; ++i) samples.push_back({i * 15000, 1.0 * (i / 3)});
  SeriesSamples s{&l, samples};
  (void)head.Append({&s, 1});
  const SeriesRef ref = head.MatchingRefs(Ms({{MatchType::kEqual, "device",
                                               "dev1"}}))
                            ->at(0);
  std::vector<int64_t> ts;
  std::vector<double> vs;
  // A 1h window (240 samples) at the end, as a rate(...[1h]) would read.
  const int64_t maxt = 5759 * 15000;
  for (auto _ : state) {
    ts.clear();
    vs.clear();
    head.ReadSamples(ref, maxt - 3600000, maxt, &ts, &vs);
    benchmark::DoNotOptimize(vs.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(ts.size()));
}
BENCHMARK(BM_ReadSamples);

int64_t ResidentBytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

// 100k series of 8 labels with 100 samples each (a counter, a gauge or a
// constant): resident memory growth and the head's own estimate per series.
void BM_MemoryPerSeries(benchmark::State& state) {
  constexpr int kSeries = 100000;
  constexpr int kSamples = 100;
  for (auto _ : state) {
    SimulatedClock clock;
    // Hand free memory back first, or reused pages would hide the growth.
    malloc_trim(0);
    const int64_t rss_before = ResidentBytes();
    auto head = std::make_unique<Head>(HeadOptions{}, &clock);
    std::vector<Sample> samples(kSamples);
    for (int base = 0; base < kSeries; base += 1000) {
      std::vector<Labels> labels;
      std::vector<SeriesSamples> batch;
      labels.reserve(1000);
      for (int i = base; i < base + 1000; ++i) {
        labels.push_back(SeriesLabels(1, i));
      }
      std::vector<std::vector<Sample>> per(1000);
      for (int j = 0; j < 1000; ++j) {
        const int i = base + j;
        double v = 1000.0 * (i % 13);
        for (int k = 0; k < kSamples; ++k) {
          if (i % 3 == 1) v += k % 7;               // counter
          if (i % 3 == 2 && k % 10 == 0) v += 0.5;  // slow gauge
          per[j].push_back({1700000000000 + k * 15000, v});
        }
        batch.push_back({&labels[j], per[j]});
      }
      (void)head->Append(batch);
    }
    const int64_t rss_after = ResidentBytes();
    const HeadStats st = head->Stats();
    state.counters["rss_bytes_per_series"] =
        static_cast<double>(rss_after - rss_before) / kSeries;
    state.counters["approx_bytes_per_series"] =
        static_cast<double>(st.approx_memory_bytes) / kSeries;
    state.counters["chunk_bytes_per_sample"] =
        static_cast<double>(st.chunk_bytes) / static_cast<double>(st.samples);
    state.counters["label_bytes_per_series"] =
        static_cast<double>(st.label_bytes) / kSeries;
  }
}
BENCHMARK(BM_MemoryPerSeries)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::storage
