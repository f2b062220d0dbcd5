// The CPU cost of one full rule evaluation cycle (every group evaluated once)
// over the real head and PromQL engine, with a corpus shaped like the load
// generator's (bench/loadgen/series.cc, rebuilt here since engine/ cannot
// depend on bench/) and alerting rules of the shapes real rule files use:
// gauge thresholds, rate thresholds, error ratios by job, histogram p99s,
// absent() and avg_over_time(). ALERTS / ALERTS_FOR_STATE are written back
// to the head as the server does.
//
// Always registered: 2,000 series x 100 rules (kept small: the smoke test
// runs every registered benchmark, setup included). The real sizes (100k
// series x 1,000 rules, 1M series x 1,000 rules) only with
// VIGIL_BENCH_LARGE=1:
//   VIGIL_BENCH_LARGE=1 .bazel/bin/engine/rule_cycle_benchmark
//       --benchmark_filter='series:100000/'
// (the trailing slash keeps the 1M size out).
// The CPU column is process CPU time (MeasureProcessCPUTime), so work on any
// thread counts; ingest between cycles is excluded.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "engine/alerting_rule.h"
#include "engine/group.h"
#include "engine/promql_query_engine.h"
#include "promql/engine.h"
#include "promql/window_cache.h"
#include "storage/base/clock.h"
#include "storage/head.h"

namespace vigil::engine {
namespace {

constexpr int64_t kStepMs = 15000;
constexpr int kHistorySteps = 40;  // 10 minutes of 15 s samples
constexpr int kRulesPerGroup = 10;
constexpr const char* kJobs[] = {"api", "node", "db", "frontend"};
constexpr int kNumJobs = 4;
constexpr const char* kLe[] = {"0.005", "0.01", "0.05", "0.1",
                               "0.5",   "1",    "5",    "+Inf"};
// Cumulative share of observations at or below each bound.
constexpr double kLeShare[] = {0.05, 0.15, 0.4, 0.6, 0.85, 0.95, 0.995, 1.0};
constexpr const char* kHandlers[] = {"/api/v1/query", "/api/v1/write",
                                     "/metrics", "/-/healthy"};

// One synthetic series: its value at time t is base + slope * seconds.
struct SynthSeries {
  storage::Labels labels;
  double base;
  double slope;  // per second; 0 for constant gauges
};

class Corpus {
 public:
  explicit Corpus(int want_series) {
    for (int target = 0; static_cast<int>(series_.size()) < want_series;
         ++target) {
      AddTarget(target);
    }
  }

  int size() const { return static_cast<int>(series_.size()); }

  // Appends one sample per series at `t_ms`.
  bool Ingest(storage::Head* head, int64_t t_ms) {
    const double sec = static_cast<double>(t_ms) / 1000.0;
    samples_.resize(series_.size());
    batch_.resize(series_.size());
    for (size_t i = 0; i < series_.size(); ++i) {
      const SynthSeries& s = series_[i];
      samples_[i] = {t_ms, s.base + s.slope * sec};
      batch_[i] = {&s.labels, absl::MakeConstSpan(&samples_[i], 1)};
    }
    return head->Append(batch_).ok();
  }

 private:
  void Add(std::string name, int target, std::vector<storage::Label> extra,
           double base, double slope) {
    extra.push_back({"__name__", std::move(name)});
    extra.push_back({"job", kJobs[target % kNumJobs]});
    extra.push_back({"instance", absl::StrCat("host-", target, ":9100")});
    series_.push_back(
        {*storage::Labels::FromUnsorted(std::move(extra)), base, slope});
  }

  // About 80 series per target, in the families the load generator emits.
  void AddTarget(int t) {
    const double spread = static_cast<double>(t % 100) / 100.0;  // [0, 1)
    int n = 0;
    for (const char* handler : kHandlers) {
      for (const char* method : {"GET", "POST"}) {
        for (const char* status : {"200", "404", "500"}) {
          double slope = std::string_view(status) == "500"
                             ? 0.01 + 0.7 * spread
                             : 1.0 + (n++ % 7);
          Add("http_requests_total", t,
              {{"handler", handler}, {"method", method}, {"status", status}},
              0, slope);
        }
      }
    }
    for (const char* cpu : {"0", "1"}) {
      for (const char* mode : {"idle", "user", "system", "iowait"}) {
        Add("node_cpu_seconds_total", t, {{"cpu", cpu}, {"mode", mode}}, 0,
            0.1 + 0.2 * spread);
      }
    }
    for (const char* device : {"eth0", "lo"}) {
      Add("node_network_receive_bytes_total", t, {{"device", device}}, 0,
          1500);
    }
    Add("up", t, {}, 1, 0);
    Add("process_resident_memory_bytes", t, {}, (256 + 400 * spread) * 1048576,
        0);
    Add("process_open_fds", t, {}, 10 + 100 * spread, 0);
    Add("go_goroutines", t, {}, 20 + 200 * spread, 0);
    for (const char* queue : {"ingest", "notify", "compact"}) {
      Add("queue_length", t, {{"queue", queue}}, 100 * spread, 0);
    }
    for (const char* mount : {"/", "/var"}) {
      Add("node_filesystem_avail_bytes", t, {{"mountpoint", mount}},
          (1 + 9 * spread) * 1073741824.0, 0);
    }
    for (const char* handler : kHandlers) {
      const double obs_rate = 5 + 20 * spread;
      for (int j = 0; j < 8; ++j) {
        Add("http_request_duration_seconds_bucket", t,
            {{"handler", handler}, {"le", kLe[j]}}, 0,
            obs_rate * kLeShare[j]);
      }
      Add("http_request_duration_seconds_count", t, {{"handler", handler}}, 0,
          obs_rate);
      Add("http_request_duration_seconds_sum", t, {{"handler", handler}}, 0,
          obs_rate * 0.2);
    }
  }

  std::vector<SynthSeries> series_;
  std::vector<storage::Sample> samples_;
  std::vector<storage::SeriesSamples> batch_;
};

// Rule k of the benchmark. Thresholds vary with k so that no two rules share
// an expression (no accidental sharing). Per-series rules put the threshold
// near the top of the corpus' spread (`hi`), so that about 1.5% of the
// series each selects fire, as in a healthy fleet; aggregated rules fire
// more often but yield at most one alert per job.
RuleSpec MakeRule(int k) {
  RuleSpec r;
  r.kind = RuleSpec::Kind::kAlerting;
  const std::string job = kJobs[k % kNumJobs];
  const double f = static_cast<double>((k * 37) % 100) / 100.0;  // [0, 1)
  const double hi = 0.97 + 0.03 * f;
  switch (k % 6) {
    case 0:
      r.name = "HighMemory";
      r.expr = absl::StrFormat(
          "process_resident_memory_bytes{job=\"%s\"} > %.0f", job,
          (256 + 400 * hi) * 1048576 + k);
      break;
    case 1:
      r.name = "ErrorRate";
      r.expr = absl::StrFormat(
          "rate(http_requests_total{job=\"%s\",status=\"500\"}[5m]) > %.6f",
          job, 0.01 + 0.7 * hi + k * 1e-6);
      break;
    case 2:
      r.name = "ErrorRatio";
      r.expr = absl::StrFormat(
          "sum by (job) (rate(http_requests_total{status=\"500\"}[5m])) / "
          "sum by (job) (rate(http_requests_total[5m])) > %.6f",
          0.1 * f + k * 1e-6);
      break;
    case 3:
      r.name = "SlowRequests";
      r.expr = absl::StrFormat(
          "histogram_quantile(0.99, sum by (le, job) "
          "(rate(http_request_duration_seconds_bucket{job=\"%s\"}[5m]))) > "
          "%.6f",
          job, 6 * f + k * 1e-6);
      break;
    case 4:
      r.name = "TargetMissing";
      // Half watch a job that exists (no alert), half one that does not
      // (fires).
      r.expr = (k / 6) % 2 == 0
                   ? absl::StrFormat("absent(up{job=\"%s\"})", job)
                   : absl::StrFormat("absent(up{job=\"missing-%d\"})", k);
      break;
    default:
      r.name = "QueueBacklog";
      r.expr = absl::StrFormat(
          "avg_over_time(queue_length{job=\"%s\"}[5m]) > %.6f", job,
          100 * hi + k * 1e-6);
      break;
  }
  r.name = absl::StrCat(r.name, "_", k);
  if (k % 2 == 0) r.for_duration = absl::Minutes(5);
  r.labels = {{"severity", k % 3 == 0 ? "critical" : "warning"},
              {"team", absl::StrCat("team-", k % 5)}};
  r.annotations = {
      {"description", "{{ $labels.job }} is over the limit"},
      {"summary", "{{ $labels.instance }} at {{ $value }}"}};
  return r;
}

void BM_RuleCycle(benchmark::State& state) {
  const int want_series = static_cast<int>(state.range(0));
  const int num_rules = static_cast<int>(state.range(1));
  SimulatedClock clock(absl::FromUnixSeconds(1700000000));
  storage::Head head(storage::HeadOptions{}, &clock);
  Corpus corpus(want_series);
  int64_t t = 0;
  for (int s = 0; s < kHistorySteps; ++s) {
    t += kStepMs;
    if (!corpus.Ingest(&head, t)) {
      state.SkipWithError("ingest failed");
      return;
    }
  }
  promql::Engine engine;
  // As the server does: rules read through the window cache.
  promql::WindowCache window_cache(&head, promql::WindowCacheOptions{});
  PromqlRuleQueryEngine qe(&engine, &window_cache);
  GroupOptions opts;
  opts.appendable = &head;
  opts.queryable = &head;
  opts.clock = &clock;
  std::vector<std::unique_ptr<Group>> groups;
  for (int first = 0; first < num_rules; first += kRulesPerGroup) {
    GroupSpec spec;
    spec.file = "bench.yml";
    spec.name = absl::StrCat("group-", first / kRulesPerGroup);
    for (int k = first; k < num_rules && k < first + kRulesPerGroup; ++k) {
      spec.rules.push_back(MakeRule(k));
    }
    auto group = BuildGroup(
        spec, [&](std::string_view e) { return qe.Prepare(e); }, {}, opts);
    if (!group.ok()) {
      state.SkipWithError(
          absl::StrCat("group did not build: ", group.status().ToString())
              .c_str());
      return;
    }
    groups.push_back(*std::move(group));
  }
  // As in the server, each group evaluates at its own offset into the
  // interval (there derived from a hash of its name), after the round of
  // samples at t and before the next one: so a rule reads past the newest
  // sample and the cache must know, without asking the store for each
  // series, that nothing newer arrived.
  auto cycle = [&] {
    const int64_t num_groups = static_cast<int64_t>(groups.size());
    for (int64_t g = 0; g < num_groups; ++g) {
      groups[g]->Eval(t + g * kStepMs / num_groups);
    }
  };
  // One cycle outside the timing: every rule must evaluate cleanly, else the
  // figure would measure error paths.
  cycle();
  for (const auto& g : groups) {
    for (const auto& rule : g->rules()) {
      RuleEvalStatus st = rule->status();
      if (st.health != RuleHealth::kOk) {
        state.SkipWithError(
            absl::StrCat(rule->name(), ": ", st.last_error).c_str());
        return;
      }
    }
  }
  for (auto _ : state) {
    state.PauseTiming();
    t += kStepMs;
    clock.Advance(absl::Milliseconds(kStepMs));
    if (!corpus.Ingest(&head, t)) {
      state.SkipWithError("ingest failed");
      return;
    }
    state.ResumeTiming();
    cycle();
  }
  int64_t alerts = 0;
  for (const auto& g : groups) {
    for (const auto& rule : g->rules()) {
      if (auto* a = dynamic_cast<const AlertingRule*>(rule.get())) {
        alerts += static_cast<int64_t>(a->ActiveAlerts().size());
      }
    }
  }
  state.counters["series"] = corpus.size();
  state.counters["rules"] = num_rules;
  state.counters["alerts"] = static_cast<double>(alerts);
  const promql::WindowCacheStats cache = window_cache.Stats();
  state.counters["cache_MB"] = static_cast<double>(cache.bytes) / 1e6;
  state.counters["cache_hit_pct"] =
      100.0 * static_cast<double>(cache.hits) /
      static_cast<double>(std::max<int64_t>(1, cache.hits + cache.misses));
  state.SetItemsProcessed(state.iterations() * num_rules);
}

void Register(int series, int rules) {
  benchmark::RegisterBenchmark("BM_RuleCycle", BM_RuleCycle)
      ->Args({series, rules})
      ->ArgNames({"series", "rules"})
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
}

const bool kRegistered = [] {
  // As the server does: Debian's Abseil checks every lock for deadlock
  // cycles by default, a few percent of a cycle.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Register(2000, 100);
  const char* large = std::getenv("VIGIL_BENCH_LARGE");
  if (large != nullptr && std::string_view(large) == "1") {
    Register(100000, 1000);
    Register(1000000, 1000);
  }
  return true;
}();

}  // namespace
}  // namespace vigil::engine
