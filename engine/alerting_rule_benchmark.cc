// Cost of one alerting rule evaluation (state machine, labels, templates,
// ALERTS output) for N result series, without PromQL: the query is a fixed
// vector built once.
#include <cstdint>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/alerting_rule.h"
#include "engine/recording_rule.h"

namespace vigil::engine {
namespace {

std::vector<EvalSample> MakeResult(int n) {
  std::vector<EvalSample> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    out.push_back({*storage::Labels::FromUnsorted(
                       {{"__name__", "http_errors"},
                        {"instance", "host-" + std::to_string(i) + ":9100"},
                        {"job", "api"},
                        {"region", "eu-west-" + std::to_string(i % 3)}}),
                   0, static_cast<double>(i)});
  }
  return out;
}

RuleSpec Spec(bool templated) {
  RuleSpec s;
  s.kind = RuleSpec::Kind::kAlerting;
  s.name = "HighErrors";
  s.expr = "http_errors > 0";
  s.for_duration = absl::Minutes(5);
  s.labels = {{"severity", "page"}};
  if (templated) {
    s.annotations = {{"summary", "{{ $labels.instance }} has {{ $value }}"}};
  } else {
    s.annotations = {{"summary", "errors are high"}};
  }
  return s;
}

// Steady state: every series already has an alert; each iteration is one
// evaluation one minute later.
void BM_AlertingRuleEval(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const bool templated = state.range(1) != 0;
  const std::vector<EvalSample> result = MakeResult(n);
  AlertingRule rule(
      Spec(templated),
      [&](int64_t) -> absl::StatusOr<std::vector<EvalSample>> {
        return result;
      },
      {});
  int64_t ts = 0;
  for (auto _ : state) {
    ts += 60000;
    auto out = rule.Eval(ts, 0, 0);
    benchmark::DoNotOptimize(out);
    auto sent = rule.AlertsToSend(ts, absl::Minutes(1), absl::Minutes(1));
    benchmark::DoNotOptimize(sent);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_AlertingRuleEval)
    ->Args({100, 0})
    ->Args({10000, 0})
    ->Args({100, 1})
    ->Args({10000, 1});

void BM_RecordingRuleEval(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::vector<EvalSample> result = MakeResult(n);
  RuleSpec s;
  s.kind = RuleSpec::Kind::kRecording;
  s.name = "job:http_errors:rate5m";
  s.expr = "x";
  s.labels = {{"team", "infra"}};
  RecordingRule rule(s, [&](int64_t) -> absl::StatusOr<std::vector<EvalSample>> {
    return result;
  });
  int64_t ts = 0;
  for (auto _ : state) {
    ts += 60000;
    auto out = rule.Eval(ts, 0, 0);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_RecordingRuleEval)->Arg(100)->Arg(10000);

}  // namespace
}  // namespace vigil::engine
