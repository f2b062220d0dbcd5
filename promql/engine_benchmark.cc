// Benchmarks of PromQL evaluation over a storage::Head: the query shapes
// alerting rules use most, at 10k series (100k with VIGIL_BENCH_LARGE=1).
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "promql/engine.h"
#include "promql/window_cache.h"
#include "storage/base/clock.h"
#include "storage/head.h"

namespace vigil::promql {
namespace {

constexpr int64_t kStepMs = 15000;
constexpr int64_t kSpanMs = 3600 * 1000;  // one hour of samples
constexpr int kBuckets = 10;

// Counters x_total{job, instance} and, for a tenth of the series count,
// classic histograms x_bucket{job, instance, le} with kBuckets buckets.
// Built once per size with a fixed seed.
const storage::Head& Data(int series) {
  static auto* heads = new std::map<int, std::unique_ptr<storage::Head>>();
  auto it = heads->find(series);
  if (it != heads->end()) return *it->second;
  auto head = std::make_unique<storage::Head>(storage::HeadOptions{},
                                              Clock::Real());
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> inc(0, 10);
  std::vector<storage::Sample> samples;
  auto add = [&](std::vector<storage::Label> labels, double scale) {
    auto l = storage::Labels::FromUnsorted(std::move(labels));
    samples.clear();
    double v = 0;
    for (int64_t t = 0; t <= kSpanMs; t += kStepMs) {
      v += inc(rng) * scale;
      samples.push_back({t, v});
    }
    storage::SeriesSamples batch{&*l, samples};
    (void)head->Append(absl::MakeConstSpan(&batch, 1));
  };
  for (int i = 0; i < series; ++i) {
    add({{"__name__", "x_total"},
         {"job", "job" + std::to_string(i % 10)},
         {"instance", std::to_string(i)}},
        1.0);
  }
  static const char* kLe[kBuckets] = {"0.005", "0.01", "0.025", "0.05", "0.1",
                                      "0.25",  "0.5",  "1",     "2.5",  "+Inf"};
  for (int i = 0; i < series / 10 / kBuckets; ++i) {
    for (int b = 0; b < kBuckets; ++b) {
      add({{"__name__", "x_bucket"},
           {"job", "job" + std::to_string(i % 10)},
           {"instance", std::to_string(i)},
           {"le", kLe[b]}},
          b + 1.0);
    }
  }
  const storage::Head& ref = *head;
  (*heads)[series] = std::move(head);
  return ref;
}

void Sizes(benchmark::internal::Benchmark* b) {
  b->Arg(10000);
  if (std::getenv("VIGIL_BENCH_LARGE") != nullptr) b->Arg(100000);
  b->Unit(benchmark::kMicrosecond);
}

void RunInstant(benchmark::State& state, const char* query) {
  const storage::Head& head = Data(static_cast<int>(state.range(0)));
  Engine engine;
  auto q = engine.Prepare(query);
  if (!q.ok()) {
    state.SkipWithError(std::string(q.status().message()).c_str());
    return;
  }
  size_t out = 0;
  for (auto _ : state) {
    auto res = (*q)->EvalInstant(head, kSpanMs);
    if (!res.ok()) {
      state.SkipWithError(std::string(res.status().message()).c_str());
      return;
    }
    out = std::get<Vector>(res->value).size();
    benchmark::DoNotOptimize(res);
  }
  state.counters["out_series"] = static_cast<double>(out);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_Rate(benchmark::State& state) { RunInstant(state, "rate(x_total[5m])"); }
BENCHMARK(BM_Rate)->Apply(Sizes);

void BM_SumByJobRate(benchmark::State& state) {
  RunInstant(state, "sum by (job) (rate(x_total[5m]))");
}
BENCHMARK(BM_SumByJobRate)->Apply(Sizes);

void BM_DivideAggregations(benchmark::State& state) {
  RunInstant(state,
             "sum by (job) (rate(x_total[5m])) / on(job) "
             "count by (job) (x_total)");
}
BENCHMARK(BM_DivideAggregations)->Apply(Sizes);

void BM_HistogramQuantile(benchmark::State& state) {
  RunInstant(state,
             "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))");
}
BENCHMARK(BM_HistogramQuantile)->Apply(Sizes);

void BM_RegexSelector(benchmark::State& state) {
  RunInstant(state, "x_total{instance=~\"1.*\", job=~\"job[13]\"}");
}
BENCHMARK(BM_RegexSelector)->Apply(Sizes);

void BM_RangeQuery1h15s(benchmark::State& state) {
  const storage::Head& head = Data(static_cast<int>(state.range(0)));
  Engine engine;
  auto q = engine.Prepare("sum by (job) (rate(x_total[5m]))");
  for (auto _ : state) {
    auto res = (*q)->EvalRange(head, 0, kSpanMs, kStepMs);
    if (!res.ok()) {
      state.SkipWithError(std::string(res.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(res);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0) *
                          (kSpanMs / kStepMs + 1));
}
BENCHMARK(BM_RangeQuery1h15s)->Apply(Sizes);

// A rule re-evaluating its prepared query at successive timestamps.
void BM_PreparedReevaluation(benchmark::State& state) {
  const storage::Head& head = Data(static_cast<int>(state.range(0)));
  Engine engine;
  auto q = engine.Prepare("sum by (job) (rate(x_total[5m])) > 0");
  int64_t t = kSpanMs / 2;
  for (auto _ : state) {
    auto res = (*q)->EvalInstant(head, t);
    t += kStepMs;
    if (t > kSpanMs) t = kSpanMs / 2;
    benchmark::DoNotOptimize(res);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_PreparedReevaluation)->Apply(Sizes);

// A rule's life in the server: every interval each series gets one new
// sample, then the rule's prepared query runs at the new time through the
// window cache (range(1) == 1) or is parsed, planned and evaluated afresh
// against the store (range(1) == 0), which is what Prometheus does for an
// ad-hoc query. The ratio of the two is the re-execution saving.
void BM_RuleReevaluation(benchmark::State& state) {
  const int series = static_cast<int>(state.range(0));
  const bool prepared = state.range(1) == 1;
  storage::Head head(storage::HeadOptions{}, Clock::Real());
  std::vector<storage::Labels> labels;
  for (int i = 0; i < series; ++i) {
    labels.push_back(*storage::Labels::FromUnsorted(
        {{"__name__", "x_total"},
         {"job", "job" + std::to_string(i % 10)},
         {"instance", std::to_string(i)}}));
  }
  std::vector<storage::Sample> samples(series);
  std::vector<storage::SeriesSamples> batch(series);
  int64_t t = 0;
  auto ingest = [&] {
    t += kStepMs;
    for (int i = 0; i < series; ++i) {
      samples[i] = {t, static_cast<double>(t / 1000 * (i % 7 + 1))};
      batch[i] = {&labels[i], absl::MakeConstSpan(&samples[i], 1)};
    }
    (void)head.Append(batch);
  };
  for (int k = 0; k < 40; ++k) ingest();
  Engine engine;
  WindowCache cache(&head, WindowCacheOptions{});
  constexpr const char* kQuery = "sum by (job) (rate(x_total[5m])) > 0";
  auto q = engine.Prepare(kQuery);
  if (prepared) (void)(*q)->EvalInstant(cache, t);  // fills the caches
  size_t out = 0;
  for (auto _ : state) {
    state.PauseTiming();
    ingest();
    state.ResumeTiming();
    absl::StatusOr<Result> res;
    if (prepared) {
      res = (*q)->EvalInstant(cache, t);
    } else {
      auto fresh = engine.Prepare(kQuery);
      res = (*fresh)->EvalInstant(head, t);
    }
    if (!res.ok()) {
      state.SkipWithError(std::string(res.status().message()).c_str());
      return;
    }
    out = std::get<Vector>(res->value).size();
  }
  state.counters["out_series"] = static_cast<double>(out);
  state.SetItemsProcessed(state.iterations() * series);
}
// As the server does: Debian's Abseil checks every lock for deadlock cycles
// by default.
const bool kNoDeadlockDetection = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

BENCHMARK(BM_RuleReevaluation)
    ->ArgsProduct({{10000}, {0, 1}})
    ->ArgNames({"series", "prepared"})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vigil::promql
