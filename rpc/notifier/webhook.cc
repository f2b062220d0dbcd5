#include "rpc/notifier/webhook.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "rpc/notifier/payload.h"

namespace vigil::rpc::notifier {
namespace {

bool IsFiring(const engine::Alert& a) {
  return a.state == engine::AlertState::kFiring;
}

nlohmann::json LabelsObject(const storage::Labels& labels) {
  nlohmann::json obj = nlohmann::json::object();
  for (const storage::Label& l : labels) {
    obj[l.name] = l.value;
  }
  return obj;
}

// Labels present with the same value in every set.
storage::Labels Common(const std::vector<const storage::Labels*>& sets) {
  if (sets.empty()) {
    return storage::Labels();
  }
  std::vector<storage::Label> common;
  for (const storage::Label& l : *sets[0]) {
    bool everywhere = true;
    for (size_t i = 1; i < sets.size() && everywhere; ++i) {
      everywhere = sets[i]->Has(l.name) && sets[i]->Get(l.name) == l.value;
    }
    if (everywhere) {
      common.push_back(l);
    }
  }
  return storage::Labels::FromSorted(std::move(common));
}

// Alertmanager's LabelSet.String(): {a="1", b="2"}.
std::string LabelSetString(const storage::Labels& labels) {
  std::string out = "{";
  bool first = true;
  for (const storage::Label& l : labels) {
    if (!first) {
      out += ", ";
    }
    first = false;
    absl::StrAppend(&out, l.name, "=", storage::QuoteGo(l.value));
  }
  out += "}";
  return out;
}

bool Retryable(const absl::StatusOr<int>& r) {
  if (!r.ok()) {
    return true;
  }
  return *r >= 500 || *r == 429;
}

}  // namespace

std::vector<AlertGroup> GroupAlerts(absl::Span<const engine::Alert> alerts,
                                    const WebhookConfig& cfg) {
  std::map<storage::Labels, size_t> index;
  std::vector<AlertGroup> groups;
  for (const engine::Alert& a : alerts) {
    if (!cfg.send_resolved && !IsFiring(a)) {
      continue;
    }
    storage::Labels key;
    if (cfg.group_by_all) {
      key = a.labels;
    } else {
      std::vector<storage::Label> picked;
      for (const std::string& name : cfg.group_by) {  // sorted by config
        if (a.labels.Has(name)) {
          picked.push_back({name, std::string(a.labels.Get(name))});
        }
      }
      key = storage::Labels::FromSorted(std::move(picked));
    }
    auto [it, inserted] = index.emplace(key, groups.size());
    if (inserted) {
      groups.push_back(AlertGroup{std::move(key), {}});
    }
    groups[it->second].alerts.push_back(a);
  }
  std::sort(groups.begin(), groups.end(),
            [](const AlertGroup& x, const AlertGroup& y) {
              return x.group_labels < y.group_labels;
            });
  return groups;
}

std::string EncodeWebhookPayload(const AlertGroup& group,
                                 const WebhookConfig& cfg,
                                 std::string_view external_url) {
  std::vector<const storage::Labels*> labels, annotations;
  bool firing = false;
  for (const engine::Alert& a : group.alerts) {
    labels.push_back(&a.labels);
    annotations.push_back(&a.annotations);
    firing = firing || IsFiring(a);
  }
  size_t n = group.alerts.size();
  size_t truncated = 0;
  if (cfg.max_alerts > 0 && n > cfg.max_alerts) {
    truncated = n - cfg.max_alerts;
    n = cfg.max_alerts;
  }
  nlohmann::json alerts = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i) {
    const engine::Alert& a = group.alerts[i];
    nlohmann::json obj = nlohmann::json::object();
    obj["status"] = IsFiring(a) ? "firing" : "resolved";
    obj["labels"] = LabelsObject(a.labels);
    obj["annotations"] = LabelsObject(a.annotations);
    obj["startsAt"] = FormatRfc3339Millis(a.starts_at);
    obj["endsAt"] = FormatRfc3339Millis(
        IsFiring(a) ? absl::InfinitePast() : a.ends_at);
    obj["generatorURL"] = a.generator_url;
    obj["fingerprint"] = FingerprintString(LabelsFingerprint(a.labels));
    alerts.push_back(std::move(obj));
  }
  nlohmann::json msg = nlohmann::json::object();
  msg["version"] = "4";
  msg["groupKey"] = absl::StrCat("{}:", LabelSetString(group.group_labels));
  msg["truncatedAlerts"] = truncated;
  msg["status"] = firing ? "firing" : "resolved";
  msg["receiver"] = cfg.name;
  msg["groupLabels"] = LabelsObject(group.group_labels);
  msg["commonLabels"] = LabelsObject(Common(labels));
  msg["commonAnnotations"] = LabelsObject(Common(annotations));
  msg["externalURL"] = std::string(external_url);
  msg["alerts"] = std::move(alerts);
  return msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

WebhookSender::WebhookSender(WebhookConfig cfg, WebhookOptions opts,
                             std::shared_ptr<HttpSender> sender,
                             prometheus::Registry* registry)
    : cfg_(std::move(cfg)),
      opts_(std::move(opts)),
      sender_(std::move(sender)),
      clock_(opts_.clock != nullptr ? opts_.clock : Clock::Real()),
      logger_(opts_.logger != nullptr ? opts_.logger : &Logger::Default()) {
  const prometheus::Labels l = {{"webhook", cfg_.name}};
  sent_ = &prometheus::BuildCounter()
               .Name("vigil_webhook_notifications_sent_total")
               .Help("Total number of webhook payloads delivered.")
               .Register(*registry)
               .Add(l);
  errors_ = &prometheus::BuildCounter()
                 .Name("vigil_webhook_notifications_errors_total")
                 .Help("Total number of webhook payloads that failed after "
                       "all attempts.")
                 .Register(*registry)
                 .Add(l);
  dropped_counter_ =
      &prometheus::BuildCounter()
           .Name("vigil_webhook_notifications_dropped_total")
           .Help("Total number of alerts dropped for a webhook: queue "
                 "overflow, failed delivery or shutdown.")
           .Register(*registry)
           .Add(l);
  retries_ = &prometheus::BuildCounter()
                  .Name("vigil_webhook_notifications_retries_total")
                  .Help("Total number of webhook post retries.")
                  .Register(*registry)
                  .Add(l);
  thread_ = std::thread([this] { Run(); });
}

WebhookSender::~WebhookSender() { Stop(absl::Now(), /*drain=*/false); }

void WebhookSender::Enqueue(absl::Span<const engine::Alert> alerts) {
  if (alerts.empty()) {
    return;
  }
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    dropped_ += alerts.size();
    dropped_counter_->Increment(static_cast<double>(alerts.size()));
    return;
  }
  const size_t cap = std::max<size_t>(1, opts_.queue_capacity);
  size_t skip = 0;
  if (alerts.size() > cap) {
    skip = alerts.size() - cap;
  }
  const size_t incoming = alerts.size() - skip;
  size_t drop = 0;
  if (queue_.size() + incoming > cap) {
    drop = queue_.size() + incoming - cap;
    queue_.erase(queue_.begin(), queue_.begin() + drop);
  }
  if (skip + drop > 0) {
    dropped_ += skip + drop;
    dropped_counter_->Increment(static_cast<double>(skip + drop));
    logger_->Warn("Webhook queue full, dropping oldest alerts",
                  {{"webhook", cfg_.name}, {"num_dropped", skip + drop}});
  }
  queue_.insert(queue_.end(), alerts.begin() + skip, alerts.end());
}

size_t WebhookSender::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

void WebhookSender::Run() {
  for (;;) {
    std::vector<engine::Alert> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WebhookSender* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return !s->queue_.empty() || s->stopping_;
          },
          this));
      if (stopping_ && (!drain_ || absl::Now() >= deadline_)) {
        if (!queue_.empty()) {
          dropped_ += queue_.size();
          dropped_counter_->Increment(static_cast<double>(queue_.size()));
          queue_.clear();
        }
        return;
      }
      if (queue_.empty()) {
        return;  // stopping and drained
      }
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.end()));
      queue_.clear();
      busy_ = true;
    }
    for (const AlertGroup& g : GroupAlerts(batch, cfg_)) {
      const std::string body = EncodeWebhookPayload(g, cfg_, opts_.external_url);
      if (!Deliver(body, g.alerts.size())) {
        absl::MutexLock lock(&mu_);
        dropped_ += g.alerts.size();
        dropped_counter_->Increment(static_cast<double>(g.alerts.size()));
      }
    }
    absl::MutexLock lock(&mu_);
    busy_ = false;
  }
}

bool WebhookSender::Deliver(const std::string& body, size_t alerts) {
  HttpRequest req;
  req.url = cfg_.url;
  req.body = body;
  req.client = &cfg_.http;
  req.headers = {{"Content-Type", "application/json"},
                 {"User-Agent", opts_.user_agent}};
  absl::StatusOr<std::optional<std::string>> auth =
      AuthorizationHeader(cfg_.http);
  absl::Status last;
  if (!auth.ok()) {
    last = auth.status();
  } else {
    if (auth->has_value()) {
      req.headers.emplace_back("Authorization", **auth);
    }
    absl::Duration backoff = opts_.initial_backoff;
    for (int attempt = 1; attempt <= cfg_.max_attempts; ++attempt) {
      absl::Time deadline;
      {
        absl::MutexLock lock(&mu_);
        deadline = deadline_;
      }
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        last = absl::DeadlineExceededError("shutdown deadline passed");
        break;
      }
      req.timeout = std::min(cfg_.timeout, left);
      const absl::StatusOr<int> r = sender_->Post(req);
      if (r.ok() && *r / 100 == 2) {
        sent_->Increment();
        return true;
      }
      last = r.ok() ? absl::UnavailableError(
                          absl::StrCat("unexpected status code ", *r))
                    : r.status();
      if (!Retryable(r) || attempt == cfg_.max_attempts) {
        break;
      }
      retries_->Increment();
      SleepBackoff(backoff);
      backoff = std::min(backoff * 2, opts_.max_backoff);
    }
  }
  errors_->Increment();
  // One line per burst of failures, with how many were not logged.
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  if (now - last_error_log_ >= opts_.error_log_interval) {
    logger_->Error("Error sending webhook notification",
                   {{"webhook", cfg_.name},
                    {"count", alerts},
                    {"err", last},
                    {"suppressed", suppressed_errors_}});
    last_error_log_ = now;
    suppressed_errors_ = 0;
  } else {
    ++suppressed_errors_;
  }
  return false;
}

void WebhookSender::SleepBackoff(absl::Duration d) {
  if (opts_.backoff_sleep) {
    opts_.backoff_sleep(d);
    return;
  }
  absl::MutexLock lock(&mu_);
  // Wakes early when Stop is called so shutdown never waits out a backoff.
  mu_.AwaitWithTimeout(
      absl::Condition(
          +[](bool* stopping) { return *stopping; }, &stopping_),
      d);
}

bool WebhookSender::WaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(
          +[](WebhookSender* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) {
            return s->queue_.empty() && !s->busy_;
          },
          this),
      timeout);
}

void WebhookSender::Stop(absl::Time deadline, bool drain) {
  absl::MutexLock stop_lock(&stop_mu_);
  if (joined_) {
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    drain_ = drain;
    deadline_ = deadline;
  }
  thread_.join();
  joined_ = true;
}

}  // namespace vigil::rpc::notifier
