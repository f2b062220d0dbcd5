// AlertingStack: everything above the store that the vigil server runs —
// the PromQL engine and query API, the rule manager and rules/alerts API,
// alert delivery (Alertmanager, webhooks, gRPC push, the log) and the gRPC
// service — built from the config and flags, reloadable as a unit.
#ifndef VIGIL_RPC_SERVER_ALERTING_STACK_H_
#define VIGIL_RPC_SERVER_ALERTING_STACK_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "engine/alert_sink.h"
#include "engine/manager.h"
#include "engine/promql_query_engine.h"
#include "promql/engine.h"
#include "rpc/grpc/alert_service.h"
#include "rpc/http/http.h"
#include "rpc/notifier/notifier.h"
#include "rpc/query_api/query_handler.h"
#include "rpc/query_api/rules_handler.h"
#include "rpc/server/config.h"
#include <prometheus/metric_family.h>

#include "promql/window_cache.h"
#include "rpc/server/flags.h"
#include "storage/base/clock.h"
#include "storage/head.h"

namespace prometheus {
class Registry;
}

namespace vigil::rpc::server {

// Forwards to several sinks; the list is fixed at construction. Thread-safe
// when the sinks are.
class FanoutSink final : public engine::AlertSink {
 public:
  explicit FanoutSink(std::vector<engine::AlertSink*> sinks)
      : sinks_(std::move(sinks)) {}
  void Send(std::vector<engine::Alert> alerts) override;
  void OnStateChanges(
      const std::vector<engine::AlertStateChange>& changes) override;

 private:
  const std::vector<engine::AlertSink*> sinks_;
};

// Logs every alert state change as one logfmt line. Thread-safe.
class LogSink final : public engine::AlertSink {
 public:
  void Send(std::vector<engine::Alert> alerts) override { (void)alerts; }
  void OnStateChanges(
      const std::vector<engine::AlertStateChange>& changes) override;
};

// Owns the components named above. Borrowed: head, registry, clock, which
// must outlive it. Thread-safe.
class AlertingStack {
 public:
  // Builds everything; starts nothing. InvalidArgument for a bad alerting
  // section.
  static absl::StatusOr<std::unique_ptr<AlertingStack>> Create(
      const Flags& flags, const Config& config, storage::Head* head,
      prometheus::Registry* registry, Clock* clock);
  ~AlertingStack();

  // Adds /api/v1/query, /query_range, /rules, /alerts.
  void Register(http::Router* router) const;
  // Loads the rule files and starts group evaluation and the gRPC server.
  // InvalidArgument listing rule file errors (nothing started then).
  absl::Status Start();
  // Loads the config's rule files again; on error the running rules stay as
  // they are and the error is returned.
  absl::Status ReloadRules(const Config& config);
  void Stop();

  // The gRPC port actually bound (0 when gRPC is off).
  int grpc_port() const;
  const engine::Manager& manager() const { return *manager_; }
  // Per-group metrics with Prometheus' names under vigil_
  // (vigil_rule_group_last_duration_seconds{rule_group="FILE;NAME"},
  // _iterations_total, _iterations_missed_total, _interval_seconds,
  // _last_evaluation_timestamp_seconds, _rules, vigil_rule_evaluations_total,
  // vigil_rule_evaluation_failures_total).
  std::vector<prometheus::MetricFamily> RuleGroupMetrics() const;
  // What rules read through; null when the cache is off.
  const promql::WindowCache* window_cache() const {
    return window_cache_.get();
  }

 private:
  AlertingStack() = default;

  promql::Engine promql_engine_;
  std::unique_ptr<promql::WindowCache> window_cache_;
  std::unique_ptr<engine::PromqlRuleQueryEngine> rule_query_engine_;
  std::unique_ptr<notifier::Notifier> notifier_;
  std::unique_ptr<rpc::GrpcPushSink> grpc_push_;
  rpc::AlertWatchHub watch_hub_;
  LogSink log_sink_;
  std::unique_ptr<FanoutSink> fanout_;
  std::unique_ptr<engine::Manager> manager_;
  std::unique_ptr<rpc::QueryApi> query_api_;
  std::unique_ptr<rpc::RulesApi> rules_api_;
  std::unique_ptr<rpc::VigilServiceImpl> grpc_service_;
  std::unique_ptr<rpc::GrpcServer> grpc_server_;
  std::string grpc_address_;
  std::vector<std::string> rule_patterns_;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// The rule file patterns of `config`, made absolute against the config
// file's directory (as Prometheus resolves them).
std::vector<std::string> RulePatterns(const Config& config);

}  // namespace vigil::rpc::server

#endif  // VIGIL_RPC_SERVER_ALERTING_STACK_H_
