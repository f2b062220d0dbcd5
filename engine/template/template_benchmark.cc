// Cost of expanding a typical alert annotation: three label substitutions
// and a humanize, with Prometheus' $labels/$value prelude.
#include <string>

#include "benchmark/benchmark.h"
#include "engine/template/template.h"

namespace vigil::engine::tmpl {
namespace {

constexpr char kPrelude[] =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}";
constexpr char kAnnotation[] =
    "{{ $labels.instance }} of job {{ $labels.job }} ({{ $labels.severity }}) "
    "has been at {{ humanize $value }} requests/s for more than 5 minutes.";

Data TypicalData() {
  Data d;
  d.labels = {{"__name__", "http_requests_total"},
              {"alertname", "HighRequestRate"},
              {"instance", "host1.example.com:9100"},
              {"job", "api-server"},
              {"severity", "page"}};
  d.external_labels = {{"cluster", "eu1"}};
  d.external_url = "http://prom.example.com:9090";
  d.value = 1234567.891;
  return d;
}

// Parsed once, executed per alert: what a rule evaluator caching parsed
// templates pays.
void BM_ExecuteTypicalAnnotation(benchmark::State& state) {
  const Template t = *ParseAlertTemplate("HighRequestRate", kAnnotation);
  const Data data = TypicalData();
  const Env env;
  for (auto _ : state) {
    std::string out = ExpandAlertTemplate(t, data, env);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ExecuteTypicalAnnotation);

// Parse and execute per alert, as Prometheus' expansion does.
void BM_ExpandAlertTemplate(benchmark::State& state) {
  const Data data = TypicalData();
  const Env env;
  for (auto _ : state) {
    std::string out =
        ExpandAlertTemplate("HighRequestRate", kAnnotation, data, env);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ExpandAlertTemplate);

void BM_Parse(benchmark::State& state) {
  const std::string text = std::string(kPrelude) + kAnnotation;
  for (auto _ : state) {
    absl::StatusOr<Template> t = Template::Parse("__alert_X", text);
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Parse);

}  // namespace
}  // namespace vigil::engine::tmpl
