// One group evaluation end to end over the real head and PromQL engine: a
// recording rule aggregating N series and an alerting rule over the raw
// series, with ALERTS and recording output written back.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "engine/group.h"
#include "engine/promql_query_engine.h"
#include "promql/engine.h"
#include "storage/base/clock.h"
#include "storage/head.h"

namespace vigil::engine {
namespace {

constexpr int64_t kStep = 15000;

void BM_GroupEval(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  SimulatedClock clock(absl::FromUnixSeconds(1700000000));
  storage::Head head(storage::HeadOptions{}, &clock);
  std::vector<storage::Labels> series;
  for (int i = 0; i < n; ++i) {
    series.push_back(*storage::Labels::FromUnsorted(
        {{"__name__", "http_requests_total"},
         {"instance", "host-" + std::to_string(i)},
         {"job", "api-" + std::to_string(i % 10)}}));
  }
  int64_t t = 0;
  auto ingest = [&](int steps) {
    for (int s = 0; s < steps; ++s) {
      t += kStep;
      std::vector<storage::Sample> samples(n);
      std::vector<storage::SeriesSamples> batch(n);
      for (int i = 0; i < n; ++i) {
        samples[i] = {t, static_cast<double>(t / 1000 * (i % 7))};
        batch[i] = {&series[i], absl::MakeConstSpan(&samples[i], 1)};
      }
      (void)head.Append(batch);
    }
  };
  ingest(40);  // 10 minutes of history
  promql::Engine engine;
  PromqlRuleQueryEngine qe(&engine, &head);
  GroupSpec spec;
  spec.file = "bench.yml";
  spec.name = "bench";
  RuleSpec rec;
  rec.kind = RuleSpec::Kind::kRecording;
  rec.name = "job:http_requests:rate5m";
  rec.expr = "sum by (job) (rate(http_requests_total[5m]))";
  RuleSpec alert;
  alert.kind = RuleSpec::Kind::kAlerting;
  alert.name = "Busy";
  alert.expr = "rate(http_requests_total[5m]) > 3";
  alert.for_duration = absl::Minutes(5);
  alert.annotations = {{"summary", "{{ $labels.instance }} at {{ $value }}"}};
  spec.rules = {rec, alert};
  GroupOptions opts;
  opts.appendable = &head;
  opts.queryable = &head;
  opts.clock = &clock;
  auto group = BuildGroup(
      spec, [&](std::string_view e) { return qe.Prepare(e); }, {}, opts);
  if (!group.ok()) {
    state.SkipWithError("group did not build");
    return;
  }
  for (auto _ : state) {
    state.PauseTiming();
    ingest(1);
    state.ResumeTiming();
    (*group)->Eval(t);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_GroupEval)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vigil::engine
