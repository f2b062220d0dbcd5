// Parse (and print) throughput over real-world alerting-rule expressions.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "promql/parser/parser.h"
#include "promql/parser/printer.h"

namespace vigil::promql::parser {
namespace {

const std::vector<std::string>& Rules() {
  static const auto* const rules = new std::vector<std::string>{
      "up == 0",
      "absent(up{job=\"prometheus\"})",
      "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by "
      "(job) "
      "(rate(http_requests_total[5m])) > 0.05",
      "histogram_quantile(0.99, sum by (le, service) "
      "(rate(http_request_duration_seconds_bucket{job=\"api\"}[5m]))) > 0.5",
      "100 * (1 - avg by (instance) "
      "(rate(node_cpu_seconds_total{mode=\"idle\"}[5m]))) > 90",
      "node_filesystem_avail_bytes{fstype!~\"tmpfs|overlay\"} / "
      "node_filesystem_size_bytes{fstype!~\"tmpfs|overlay\"} * 100 < 10",
      "predict_linear(node_filesystem_free_bytes{job=\"node\"}[6h], 4 * 3600) "
      "< 0",
      "(node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100 < "
      "10",
      "increase(kube_pod_container_status_restarts_total[1h]) > 5",
      "label_replace(up{job=\"node\"}, \"host\", \"$1\", \"instance\", "
      "\"(.*):.*\") == 0",
      "sum(rate(container_cpu_usage_seconds_total{container!=\"\"}[5m])) by "
      "(namespace, pod) / "
      "sum(kube_pod_container_resource_limits{resource=\"cpu\"}) "
      "by (namespace, pod) > 0.9",
      "avg_over_time(probe_success{job=\"blackbox\"}[10m]) * 100 < 90",
      "time() - process_start_time_seconds < 300",
      "rate(prometheus_tsdb_compactions_failed_total[3h]) > 0",
      "count by (job) (up == 0) / count by (job) (up) > 0.5",
      "max_over_time(rate(errors_total[1m])[1h:1m]) > 10",
      "kube_deployment_status_replicas_available / on (namespace, deployment) "
      "group_left () kube_deployment_spec_replicas < 1",
      "sum without (instance) "
      "(rate(grpc_server_handled_total{grpc_code!=\"OK\"}[5m]))"
      " / ignoring (grpc_code) group_left sum without (instance, grpc_code) "
      "(rate(grpc_server_handled_total[5m])) > 0.01",
      "absent_over_time(heartbeat_timestamp_seconds{service=\"billing\"}[15m])",
      "topk(10, sum by (path) (rate(http_requests_total[5m] offset 1d)))",
  };
  return *rules;
}

void BM_Parse(benchmark::State& state) {
  const auto& rules = Rules();
  size_t bytes = 0;
  for (const auto& r : rules) {
    bytes += r.size();
  }
  for (auto _ : state) {
    for (const auto& r : rules) {
      auto e = ParseExpr(r);
      benchmark::DoNotOptimize(e);
    }
  }
  state.SetItemsProcessed(state.iterations() * rules.size());
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_Parse);

void BM_ParseAndFormat(benchmark::State& state) {
  const auto& rules = Rules();
  for (auto _ : state) {
    for (const auto& r : rules) {
      auto e = ParseExpr(r);
      std::string s = Format(**e);
      benchmark::DoNotOptimize(s);
    }
  }
  state.SetItemsProcessed(state.iterations() * rules.size());
}
BENCHMARK(BM_ParseAndFormat);

void BM_ParseMetricSelector(benchmark::State& state) {
  const std::string sel =
      "http_requests_total{job=\"api\", code=~\"5..\", method!=\"GET\"}";
  for (auto _ : state) {
    auto m = ParseMetricSelector(sel);
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseMetricSelector);

}  // namespace
}  // namespace vigil::promql::parser
