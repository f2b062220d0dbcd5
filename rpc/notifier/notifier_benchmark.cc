// Cost of the notifier's per-alert work: v2 JSON encoding of a 64-alert
// batch, webhook payloads, and Send() (external labels + relabelling +
// queueing) with a no-op sender.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "rpc/notifier/notifier.h"
#include "rpc/notifier/payload.h"
#include "rpc/notifier/webhook.h"

namespace vigil::rpc::notifier {
namespace {

std::vector<engine::Alert> MakeAlerts(int n) {
  std::vector<engine::Alert> alerts;
  for (int i = 0; i < n; ++i) {
    engine::Alert a;
    a.labels = *storage::Labels::FromUnsorted({
        {"alertname", "HighRequestLatency"},
        {"instance", absl::StrCat("10.0.", i / 256, ".", i % 256, ":9100")},
        {"job", "node"},
        {"severity", i % 2 ? "page" : "ticket"},
        {"team", "storage"},
    });
    a.annotations = *storage::Labels::FromUnsorted({
        {"summary", absl::StrCat("High latency on instance ", i)},
        {"description", "p99 request latency above 500ms for 10 minutes"},
    });
    a.state = engine::AlertState::kFiring;
    a.starts_at = absl::FromUnixMillis(1700000000000 + i);
    a.ends_at = a.starts_at + absl::Minutes(4);
    a.generator_url =
        "http://vigil:9090/graph?g0.expr=job%3Arequest_latency%3Amean5m+%3E+0.5";
    alerts.push_back(std::move(a));
  }
  return alerts;
}

void BM_EncodeAlertsV2(benchmark::State& state) {
  const std::vector<engine::Alert> alerts =
      MakeAlerts(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string body = EncodeAlertsV2(alerts);
    bytes += body.size();
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations() * alerts.size());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodeAlertsV2)->Arg(64)->Arg(256);

void BM_EncodeWebhookPayload(benchmark::State& state) {
  WebhookConfig cfg;
  cfg.name = "hook";
  cfg.group_by = {"alertname"};
  const std::vector<engine::Alert> alerts = MakeAlerts(64);
  for (auto _ : state) {
    for (const AlertGroup& g : GroupAlerts(alerts, cfg)) {
      std::string body = EncodeWebhookPayload(g, cfg, "http://vigil:9090");
      benchmark::DoNotOptimize(body);
    }
  }
  state.SetItemsProcessed(state.iterations() * alerts.size());
}
BENCHMARK(BM_EncodeWebhookPayload);

class NullSender final : public HttpSender {
 public:
  absl::StatusOr<int> Post(const HttpRequest&) override { return 200; }
};

void BM_NotifierSend(benchmark::State& state) {
  absl::StatusOr<AlertingConfig> cfg = ParseAlertingConfigYaml(R"(
alert_relabel_configs:
  - source_labels: [severity]
    regex: page|ticket
    action: keep
  - source_labels: [instance]
    regex: '(.*):\d+'
    target_label: host
alertmanagers:
  - static_configs: [{targets: ['am1:9093']}]
)");
  prometheus::Registry registry;
  Logger quiet([](std::string_view) {});
  NotifierOptions opts;
  opts.logger = &quiet;
  opts.external_labels =
      *storage::Labels::FromUnsorted({{"cluster", "eu1"}, {"replica", "a"}});
  auto n = Notifier::Create(opts, *cfg, std::make_shared<NullSender>(),
                            &registry);
  const std::vector<engine::Alert> alerts = MakeAlerts(64);
  for (auto _ : state) {
    n.value()->Send(alerts);
  }
  n.value()->Stop(absl::Seconds(10));
  state.SetItemsProcessed(state.iterations() * alerts.size());
}
BENCHMARK(BM_NotifierSend);

void BM_LabelsFingerprint(benchmark::State& state) {
  const std::vector<engine::Alert> alerts = MakeAlerts(64);
  for (auto _ : state) {
    for (const engine::Alert& a : alerts) {
      benchmark::DoNotOptimize(LabelsFingerprint(a.labels));
    }
  }
  state.SetItemsProcessed(state.iterations() * alerts.size());
}
BENCHMARK(BM_LabelsFingerprint);

}  // namespace
}  // namespace vigil::rpc::notifier
