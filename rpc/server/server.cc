#include "rpc/server/server.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <prometheus/registry.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/http/http.h"
#include "rpc/http/server.h"
#include "rpc/query_api/json_format.h"
#include "rpc/remote_write/write_handler.h"
#include "rpc/server/alerting_stack.h"
#include "rpc/server/for_state_file.h"
#include "rpc/server/metadata_api.h"
#include "rpc/server/self_metrics.h"
#include "storage/base/logfmt.h"

namespace vigil::rpc::server {

class Server::Impl {
 public:
  Impl(const Flags& flags, Config config, Clock* clock)
      : flags_(flags),
        config_(std::move(config)),
        clock_(clock),
        registry_(std::make_shared<prometheus::Registry>()),
        head_(std::make_unique<storage::Head>(MakeHeadOptions(flags), clock)),
        write_handler_(head_.get(), registry_.get(), MakeWriteOptions(flags)),
        metadata_api_(head_.get()) {}

  ~Impl() { Stop(); }

  absl::Status Start();
  void Stop();
  int port() const { return http_ ? http_->port() : 0; }
  std::string MetricsText();
  void SelfScrapeOnce();
  std::vector<prometheus::MetricFamily> CollectFamilies();

  storage::Head* head() { return head_.get(); }
  absl::Status Reload();
  int grpc_port() const { return alerting_ ? alerting_->grpc_port() : 0; }
  prometheus::Registry* registry() { return registry_.get(); }

 private:
  static storage::HeadOptions MakeHeadOptions(const Flags& f) {
    storage::HeadOptions o;
    o.out_of_order_window_ms = absl::ToInt64Milliseconds(f.out_of_order_window);
    o.retention_ms = absl::ToInt64Milliseconds(f.retention);
    o.max_series = f.max_series;
    o.max_chunk_bytes = f.max_memory_bytes;
    return o;
  }
  static remote_write::WriteHandlerOptions MakeWriteOptions(const Flags& f) {
    remote_write::WriteHandlerOptions o;
    o.max_body_bytes = static_cast<size_t>(f.max_request_bytes);
    // Remote-write bodies compress 5-10x; leave room beyond that.
    o.max_decoded_bytes = std::max<size_t>(o.max_decoded_bytes,
                                           o.max_body_bytes * 16);
    return o;
  }

  http::Router BuildRouter();
  void ScrapeLoop();
  void ForStateLoop();
  void SaveForStateOnce();
  // Head::Stats for /metrics: the series count is always current; the rest
  // (a walk over every series, ~0.1 CPU s at 1M series, which scrapes every
  // few seconds would repeat) is recomputed at most every kHeadStatsMaxAge.
  storage::HeadStats HeadStatsForMetrics();
  static constexpr absl::Duration kHeadStatsMaxAge = absl::Seconds(10);

  const Flags flags_;
  const Config config_;
  Clock* const clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<storage::Head> head_;
  remote_write::WriteHandler write_handler_;
  MetadataApi metadata_api_;
  std::unique_ptr<AlertingStack> alerting_;
  std::unique_ptr<http::Server> http_;
  std::atomic<bool> ready_{false};
  absl::Mutex reload_mu_;
  std::vector<storage::Label> target_;  // job, instance for self-scrape

  absl::Mutex head_stats_mu_;
  storage::HeadStats head_stats_ ABSL_GUARDED_BY(head_stats_mu_);
  absl::Time head_stats_at_ ABSL_GUARDED_BY(head_stats_mu_) =
      absl::InfinitePast();

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread scrape_thread_;
  std::thread for_state_thread_;
};

http::Router Server::Impl::BuildRouter() {
  http::Router router;
  write_handler_.Register(&router);
  metadata_api_.Register(&router);
  alerting_->Register(&router);
  for (const char* method : {"POST", "PUT"}) {
    router.Handle(method, "/-/reload", [this](const http::Request&) {
      absl::Status st = Reload();
      if (!st.ok()) {
        return http::Response::Text(
            500, absl::StrCat("failed to reload config: ", st.message(), "\n"));
      }
      return http::Response::Text(200, "");
    });
  }
  router.Handle("GET", "/metrics", [this](const http::Request&) {
    http::Response r = http::Response::Text(200, MetricsText());
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
  });
  for (const char* method : {"GET", "HEAD"}) {
    router.Handle(method, "/-/healthy", [](const http::Request&) {
      return http::Response::Text(200, "vigil is Healthy.\n");
    });
    router.Handle(method, "/-/ready", [this](const http::Request&) {
      if (!ready_.load()) {
        return http::Response::Text(503, "Service Unavailable\n");
      }
      return http::Response::Text(200, "vigil is Ready.\n");
    });
  }
  router.Handle("GET", "/api/v1/status/buildinfo", [](const http::Request&) {
    std::string body = "{\"status\":\"success\",\"data\":{\"version\":";
    rpc::AppendJsonString(kVersion, &body);
    body += ",\"revision\":";
    rpc::AppendJsonString(kRevision, &body);
    body += ",\"branch\":";
    rpc::AppendJsonString(kBranch, &body);
    body += ",\"buildUser\":\"unknown\",\"buildDate\":\"unknown\",\"goVersion\":";
    rpc::AppendJsonString(absl::StrCat("gcc ", __VERSION__), &body);
    body += "}}";
    return http::Response::Json(200, std::move(body));
  });
  router.Handle("GET", "/api/v1/status/config", [this](const http::Request&) {
    std::string body = "{\"status\":\"success\",\"data\":{\"yaml\":";
    rpc::AppendJsonString(config_.yaml, &body);
    body += "}}";
    return http::Response::Json(200, std::move(body));
  });
  router.Handle("GET", "/api/v1/status/flags", [this](const http::Request&) {
    std::string body = "{\"status\":\"success\",\"data\":{";
    bool first = true;
    for (const auto& [name, value] : FlagValues(flags_)) {
      if (!first) body.push_back(',');
      first = false;
      rpc::AppendJsonString(name, &body);
      body.push_back(':');
      rpc::AppendJsonString(value, &body);
    }
    body += "}}";
    return http::Response::Json(200, std::move(body));
  });
  router.Handle("GET", "/", [](const http::Request&) {
    return http::Response::Text(
        200,
        "vigil: a Prometheus-compatible alert rule evaluation engine.\n"
        "POST /api/v1/write, GET /metrics, /-/healthy, /-/ready,\n"
        "/api/v1/series, /api/v1/labels, /api/v1/label/<name>/values,\n"
        "/api/v1/export, /api/v1/status/buildinfo\n");
  });
  return router;
}

absl::Status Server::Impl::Start() {
  http::ServerOptions options;
  absl::Status st =
      http::SplitHostPort(flags_.listen_address, &options.host, &options.port);
  if (!st.ok()) return st;
  options.num_threads =
      flags_.web_threads > 0
          ? flags_.web_threads
          : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  options.max_body_bytes = static_cast<size_t>(flags_.max_request_bytes);
  absl::StatusOr<std::unique_ptr<AlertingStack>> alerting =
      AlertingStack::Create(flags_, config_, head_.get(), registry_.get(),
                            clock_);
  if (!alerting.ok()) return alerting.status();
  alerting_ = *std::move(alerting);
  auto server = http::Server::Start(options, BuildRouter());
  if (!server.ok()) return server.status();
  http_ = *std::move(server);

  std::string host = options.host == "0.0.0.0" || options.host == "::"
                         ? "localhost"
                         : options.host;
  target_ = {{"instance", absl::StrCat(host, ":", http_->port())},
             {"job", "vigil"}};
  absl::Duration period = std::clamp(flags_.retention / 10, absl::Seconds(1),
                                     absl::Minutes(1));
  head_->StartBackgroundRetention(period);
  scrape_thread_ = std::thread([this] { ScrapeLoop(); });
  if (!flags_.for_state_file.empty()) {
    // Before the groups start, so their restore step sees the samples. A
    // bad file must not keep vigil from serving: pending alerts start over.
    absl::StatusOr<size_t> loaded =
        LoadForState(flags_.for_state_file, head_.get());
    if (loaded.ok()) {
      log::Info("Loaded alert for-state",
                {{"file", flags_.for_state_file},
                 {"series", static_cast<int64_t>(*loaded)}});
    } else {
      log::Error("Ignoring unreadable alert for-state file",
                 {{"file", flags_.for_state_file}, {"err", loaded.status()}});
    }
    for_state_thread_ = std::thread([this] { ForStateLoop(); });
  }
  st = alerting_->Start();
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("error loading rules: ", st.message()));
  }
  ready_.store(true);
  return absl::OkStatus();
}

absl::Status Server::Impl::Reload() {
  absl::MutexLock lock(&reload_mu_);
  Config config = config_;
  if (!config_.path.empty()) {
    absl::StatusOr<Config> loaded = LoadConfigFile(config_.path);
    if (!loaded.ok()) {
      log::Error("Reloading configuration failed",
                 {{"file", config_.path}, {"err", loaded.status()}});
      return loaded.status();
    }
    config = *std::move(loaded);
  }
  absl::Status st = alerting_->ReloadRules(config);
  if (!st.ok()) {
    log::Error("Reloading rules failed; the previous rules keep running",
               {{"err", st}});
    return st;
  }
  log::Info("Completed loading of configuration file",
            {{"file", config_.path.empty() ? "(built-in)" : config_.path}});
  return absl::OkStatus();
}

void Server::Impl::ScrapeLoop() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    // Wakes early only to stop.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), config_.scrape_interval);
    if (stopping_) return;
    mu_.Unlock();
    SelfScrapeOnce();
    mu_.Lock();
  }
}

void Server::Impl::ForStateLoop() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                         flags_.for_state_write_interval);
    if (stopping_) return;
    mu_.Unlock();
    SaveForStateOnce();
    mu_.Lock();
  }
}

void Server::Impl::SaveForStateOnce() {
  absl::StatusOr<size_t> saved =
      SaveForState(*head_, clock_->NowMillis(), flags_.for_outage_tolerance,
                   flags_.for_state_file);
  if (!saved.ok()) {
    log::Warn("Saving alert for-state failed",
              {{"file", flags_.for_state_file}, {"err", saved.status()}});
  }
}

storage::HeadStats Server::Impl::HeadStatsForMetrics() {
  absl::MutexLock lock(&head_stats_mu_);
  const absl::Time now = absl::Now();
  if (now - head_stats_at_ >= kHeadStatsMaxAge) {
    head_stats_ = head_->Stats();
    head_stats_at_ = now;
  } else {
    head_stats_.series = head_->NumSeries();
  }
  return head_stats_;
}

// What /metrics shows and the self-scrape stores: the registry's metrics,
// process, head, rule group and window cache figures, build info.
std::vector<prometheus::MetricFamily> Server::Impl::CollectFamilies() {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (auto& f : ProcessMetrics()) families.push_back(std::move(f));
  for (auto& f : HeadMetrics(HeadStatsForMetrics())) families.push_back(std::move(f));
  if (alerting_ != nullptr) {
    for (auto& f : alerting_->RuleGroupMetrics()) {
      families.push_back(std::move(f));
    }
  }
  if (alerting_ != nullptr && alerting_->window_cache() != nullptr) {
    for (auto& f : WindowCacheMetrics(alerting_->window_cache()->Stats())) {
      families.push_back(std::move(f));
    }
  }
  families.push_back(BuildInfoMetric());
  return families;
}

void Server::Impl::SelfScrapeOnce() {
  const absl::Time start = absl::Now();
  std::vector<prometheus::MetricFamily> families = CollectFamilies();
  const int64_t t_ms = clock_->NowMillis();
  SelfScrape scrape(families, target_, t_ms);
  scrape.AddReportSeries(target_,
                         absl::ToDoubleSeconds(absl::Now() - start), t_ms);
  std::vector<storage::SeriesSamples> batch = scrape.batch();
  auto result = head_->Append(batch);
  if (!result.ok()) {
    log::Warn("Self-scrape append failed", {{"err", result.status()}});
  }
}

std::string Server::Impl::MetricsText() {
  std::vector<prometheus::MetricFamily> families = CollectFamilies();
  return SerializeText(families);
}

void Server::Impl::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  ready_.store(false);
  if (alerting_) alerting_->Stop();
  if (http_) http_->Stop();
  if (scrape_thread_.joinable()) scrape_thread_.join();
  if (for_state_thread_.joinable()) {
    for_state_thread_.join();
    SaveForStateOnce();  // the state of the last evaluations
  }
  head_->Stop();
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const Flags& flags,
                                                      Config config,
                                                      Clock* clock) {
  auto impl = std::make_unique<Impl>(flags, std::move(config), clock);
  absl::Status st = impl->Start();
  if (!st.ok()) return st;
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const { return impl_->port(); }
storage::Head* Server::head() { return impl_->head(); }
prometheus::Registry* Server::registry() { return impl_->registry(); }
std::string Server::MetricsText() { return impl_->MetricsText(); }
void Server::SelfScrapeOnce() { impl_->SelfScrapeOnce(); }
absl::Status Server::Reload() { return impl_->Reload(); }
int Server::grpc_port() const { return impl_->grpc_port(); }
void Server::Stop() {
  if (impl_) impl_->Stop();
}

}  // namespace vigil::rpc::server
