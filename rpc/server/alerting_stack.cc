#include "rpc/server/alerting_stack.h"

#include <filesystem>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rpc/notifier/config.h"
#include "rpc/notifier/http_sender.h"
#include "storage/base/logfmt.h"

namespace vigil::rpc::server {

void FanoutSink::Send(std::vector<engine::Alert> alerts) {
  for (size_t i = 0; i < sinks_.size(); ++i) {
    if (i + 1 == sinks_.size()) {
      sinks_[i]->Send(std::move(alerts));
    } else {
      sinks_[i]->Send(alerts);
    }
  }
}

void FanoutSink::OnStateChanges(
    const std::vector<engine::AlertStateChange>& changes) {
  for (engine::AlertSink* s : sinks_) s->OnStateChanges(changes);
}

void LogSink::OnStateChanges(
    const std::vector<engine::AlertStateChange>& changes) {
  for (const engine::AlertStateChange& c : changes) {
    const char* what = c.transition == engine::AlertTransition::kPending
                           ? "pending"
                           : c.transition == engine::AlertTransition::kFiring
                                 ? "firing"
                                 : "resolved";
    log::Info("alert state changed",
              {{"alertname", c.alert.labels.Get("alertname")},
               {"state", what},
               {"labels", c.alert.labels.ToString()},
               {"value", c.alert.value},
               {"at", absl::FormatTime(absl::RFC3339_full, c.at,
                                       absl::UTCTimeZone())}});
  }
}

std::vector<std::string> RulePatterns(const Config& config) {
  std::vector<std::string> out;
  std::filesystem::path dir;
  if (!config.path.empty()) {
    dir = std::filesystem::path(config.path).parent_path();
  }
  for (const std::string& p : config.rule_files) {
    std::filesystem::path path(p);
    out.push_back(path.is_absolute() || dir.empty() ? p : (dir / path).string());
  }
  return out;
}

absl::StatusOr<std::unique_ptr<AlertingStack>> AlertingStack::Create(
    const Flags& flags, const Config& config, storage::Head* head,
    prometheus::Registry* registry, Clock* clock) {
  std::unique_ptr<AlertingStack> s(new AlertingStack());
  promql::EngineOptions eopts;
  eopts.lookback_delta_ms = absl::ToInt64Milliseconds(flags.lookback_delta);
  eopts.max_samples = flags.query_max_samples;
  eopts.timeout = flags.query_timeout;
  eopts.default_subquery_step_ms =
      absl::ToInt64Milliseconds(config.evaluation_interval);
  // The head lives as long as the server: queries through the HTTP API
  // (dashboards asking the same every refresh) reuse recent selections.
  eopts.keep_recent_selections = 64;
  s->promql_engine_ = promql::Engine(eopts);
  // The cache relies on in-order appends (see window_cache.h).
  const storage::Queryable* rules_read = head;
  if (flags.rules_window_cache_bytes > 0 &&
      flags.out_of_order_window == absl::ZeroDuration()) {
    promql::WindowCacheOptions wopts;
    wopts.max_bytes = flags.rules_window_cache_bytes;
    s->window_cache_ = std::make_unique<promql::WindowCache>(head, wopts);
    rules_read = s->window_cache_.get();
  }
  s->rule_query_engine_ = std::make_unique<engine::PromqlRuleQueryEngine>(
      &s->promql_engine_, rules_read);

  absl::StatusOr<notifier::AlertingConfig> alerting =
      notifier::ParseAlertingConfigYaml(config.alerting_yaml);
  if (!alerting.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("alerting: ", alerting.status().message()));
  }
  std::vector<storage::Label> ext;
  for (const auto& [n, v] : config.external_labels) ext.push_back({n, v});
  const storage::Labels external_labels = storage::Labels::FromSorted(ext);

  std::vector<engine::AlertSink*> sinks;
  const bool has_receivers = !alerting->alertmanagers.empty() ||
                             !alerting->webhooks.empty() ||
                             !alerting->grpc_sinks.empty();
  if (!alerting->alertmanagers.empty() || !alerting->webhooks.empty()) {
    notifier::NotifierOptions nopts;
    nopts.queue_capacity = static_cast<size_t>(flags.notification_queue_capacity);
    nopts.external_labels = external_labels;
    nopts.external_url = flags.external_url;
    nopts.clock = clock;
    std::vector<notifier::GrpcSinkConfig> grpc_sinks = alerting->grpc_sinks;
    absl::StatusOr<std::unique_ptr<notifier::Notifier>> n =
        notifier::Notifier::Create(nopts, *std::move(alerting),
                                   std::make_shared<notifier::CurlHttpSender>(),
                                   registry);
    if (!n.ok()) return n.status();
    s->notifier_ = *std::move(n);
    sinks.push_back(s->notifier_.get());
    alerting = notifier::AlertingConfig{};
    alerting->grpc_sinks = std::move(grpc_sinks);
  }
  if (!alerting->grpc_sinks.empty()) {
    // One push sink (the first target); more are rarely useful and each
    // would need its own queue.
    rpc::GrpcPushOptions gopts;
    gopts.target = alerting->grpc_sinks[0].target;
    gopts.timeout = alerting->grpc_sinks[0].timeout;
    gopts.sender = flags.external_url;
    s->grpc_push_ = std::make_unique<rpc::GrpcPushSink>(gopts);
    sinks.push_back(s->grpc_push_.get());
  }
  sinks.push_back(&s->watch_hub_);
  if (!has_receivers) {
    // With nowhere to deliver, alert state changes go to the log.
    sinks.push_back(&s->log_sink_);
  }
  s->fanout_ = std::make_unique<FanoutSink>(std::move(sinks));

  engine::ManagerOptions mopts;
  mopts.query_engine = s->rule_query_engine_.get();
  mopts.clock = clock;
  mopts.appendable = head;
  mopts.queryable = head;
  mopts.sink = s->fanout_.get();
  mopts.evaluation_interval = config.evaluation_interval;
  mopts.rule_query_offset = config.rule_query_offset;
  mopts.resend_delay = flags.resend_delay;
  mopts.outage_tolerance = flags.for_outage_tolerance;
  mopts.for_grace_period = flags.for_grace_period;
  mopts.legacy_label_hash = flags.legacy_group_hash;
  mopts.external_labels = external_labels;
  mopts.external_url = flags.external_url;
  s->manager_ = std::make_unique<engine::Manager>(mopts);
  s->query_api_ =
      std::make_unique<rpc::QueryApi>(&s->promql_engine_, head, clock);
  s->rules_api_ = std::make_unique<rpc::RulesApi>(s->manager_.get());
  s->grpc_service_ =
      std::make_unique<rpc::VigilServiceImpl>(s->manager_.get(), &s->watch_hub_);
  s->grpc_address_ = flags.grpc_listen_address;
  s->rule_patterns_ = RulePatterns(config);
  return s;
}

AlertingStack::~AlertingStack() { Stop(); }

void AlertingStack::Register(http::Router* router) const {
  query_api_->Register(router);
  rules_api_->Register(router);
}

absl::Status AlertingStack::Start() {
  absl::Status st = manager_->Update(rule_patterns_);
  if (!st.ok()) return st;
  manager_->Run();
  // Entries unread for two to three periods go: longer than any sensible
  // evaluation interval.
  if (window_cache_ != nullptr) window_cache_->StartBackgroundSweep(absl::Minutes(5));
  if (!grpc_address_.empty()) {
    absl::StatusOr<std::unique_ptr<rpc::GrpcServer>> server =
        rpc::GrpcServer::Start(grpc_address_, {grpc_service_.get()});
    if (!server.ok()) return server.status();
    grpc_server_ = *std::move(server);
    log::Info("gRPC server listening",
              {{"address", grpc_address_}, {"port", grpc_server_->port()}});
  }
  return absl::OkStatus();
}

absl::Status AlertingStack::ReloadRules(const Config& config) {
  std::vector<std::string> patterns = RulePatterns(config);
  absl::Status st = manager_->Update(patterns);
  if (st.ok()) rule_patterns_ = std::move(patterns);
  return st;
}

std::vector<prometheus::MetricFamily> AlertingStack::RuleGroupMetrics() const {
  struct Family {
    const char* name;
    const char* help;
    prometheus::MetricType type;
    double (*value)(const engine::Group&, const engine::GroupEvalStatus&);
  };
  static const Family kFamilies[] = {
      {"vigil_rule_group_last_duration_seconds",
       "The duration of the last rule group evaluation.",
       prometheus::MetricType::Gauge,
       [](const engine::Group&, const engine::GroupEvalStatus& st) {
         return absl::ToDoubleSeconds(st.evaluation_time);
       }},
      {"vigil_rule_group_interval_seconds",
       "The interval of a rule group.", prometheus::MetricType::Gauge,
       [](const engine::Group& g, const engine::GroupEvalStatus&) {
         return absl::ToDoubleSeconds(g.interval());
       }},
      {"vigil_rule_group_last_evaluation_timestamp_seconds",
       "The timestamp of the last rule group evaluation in seconds.",
       prometheus::MetricType::Gauge,
       [](const engine::Group&, const engine::GroupEvalStatus& st) {
         return st.iterations == 0
                    ? 0.0
                    : static_cast<double>(st.last_eval_timestamp_ms) / 1000.0;
       }},
      {"vigil_rule_group_rules", "The number of rules.",
       prometheus::MetricType::Gauge,
       [](const engine::Group& g, const engine::GroupEvalStatus&) {
         return static_cast<double>(g.rules().size());
       }},
      {"vigil_rule_group_iterations_total",
       "The total number of scheduled rule group evaluations, whether "
       "executed or missed.",
       prometheus::MetricType::Counter,
       [](const engine::Group&, const engine::GroupEvalStatus& st) {
         return static_cast<double>(st.iterations + st.missed_iterations);
       }},
      {"vigil_rule_group_iterations_missed_total",
       "The total number of rule group evaluations missed due to slow rule "
       "group evaluation.",
       prometheus::MetricType::Counter,
       [](const engine::Group&, const engine::GroupEvalStatus& st) {
         return static_cast<double>(st.missed_iterations);
       }},
      {"vigil_rule_group_cpu_seconds_total",
       "CPU time of the group's evaluations (its own thread, waits "
       "excluded).",
       prometheus::MetricType::Counter,
       [](const engine::Group&, const engine::GroupEvalStatus& st) {
         return absl::ToDoubleSeconds(st.cpu_time);
       }},
      {"vigil_rule_group_query_cpu_seconds_total",
       "The part of vigil_rule_group_cpu_seconds_total spent in the rules' "
       "queries (prepared expressions re-executed), not in alert state or "
       "the upkeep of their output series.",
       prometheus::MetricType::Counter,
       [](const engine::Group&, const engine::GroupEvalStatus& st) {
         return absl::ToDoubleSeconds(st.query_cpu_time);
       }},
      {"vigil_rule_evaluations_total",
       "The total number of rule evaluations.",
       prometheus::MetricType::Counter,
       [](const engine::Group&, const engine::GroupEvalStatus& st) {
         return static_cast<double>(st.rule_evaluations);
       }},
      {"vigil_rule_evaluation_failures_total",
       "The total number of rule evaluation failures.",
       prometheus::MetricType::Counter,
       [](const engine::Group&, const engine::GroupEvalStatus& st) {
         return static_cast<double>(st.rule_evaluation_failures);
       }},
  };
  std::vector<std::shared_ptr<engine::Group>> groups = manager_->Groups();
  std::vector<engine::GroupEvalStatus> status;
  status.reserve(groups.size());
  for (const auto& g : groups) status.push_back(g->status());
  std::vector<prometheus::MetricFamily> out;
  for (const Family& f : kFamilies) {
    prometheus::MetricFamily fam;
    fam.name = f.name;
    fam.help = f.help;
    fam.type = f.type;
    for (size_t i = 0; i < groups.size(); ++i) {
      prometheus::ClientMetric m;
      m.label = {{"rule_group",
                  absl::StrCat(groups[i]->file(), ";", groups[i]->name())}};
      const double v = f.value(*groups[i], status[i]);
      if (f.type == prometheus::MetricType::Counter) {
        m.counter.value = v;
      } else {
        m.gauge.value = v;
      }
      fam.metric.push_back(std::move(m));
    }
    out.push_back(std::move(fam));
  }
  return out;
}

void AlertingStack::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  manager_->Stop();
  if (window_cache_ != nullptr) window_cache_->Stop();
  watch_hub_.Shutdown();
  if (grpc_server_ != nullptr) grpc_server_->Stop();
  if (grpc_push_ != nullptr) grpc_push_->Stop();
  if (notifier_ != nullptr) notifier_->Stop(absl::Seconds(5));
}

int AlertingStack::grpc_port() const {
  return grpc_server_ != nullptr ? grpc_server_->port() : 0;
}

}  // namespace vigil::rpc::server
