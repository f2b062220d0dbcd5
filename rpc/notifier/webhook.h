// Webhook delivery: groups alerts by the configured labels and POSTs
// Alertmanager's webhook payload (version 4) to a URL, retrying failed posts
// with bounded exponential backoff from its own thread and bounded queue.
#ifndef VIGIL_RPC_NOTIFIER_WEBHOOK_H_
#define VIGIL_RPC_NOTIFIER_WEBHOOK_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/alert_sink.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/registry.h"
#include "rpc/notifier/config.h"
#include "rpc/notifier/http_sender.h"
#include "storage/base/clock.h"
#include "storage/base/logfmt.h"
#include "storage/labels.h"

namespace vigil::rpc::notifier {

// Alerts sharing the values of the group_by labels.
struct AlertGroup {
  storage::Labels group_labels;
  std::vector<engine::Alert> alerts;  // in arrival order
};

// Splits `alerts` into groups by `cfg.group_by` (or every label when
// group_by_all), groups ordered by their labels. Resolved alerts are left out
// when !cfg.send_resolved; empty groups are not returned.
std::vector<AlertGroup> GroupAlerts(absl::Span<const engine::Alert> alerts,
                                    const WebhookConfig& cfg);

// Alertmanager's webhook JSON for one group: version "4", groupKey,
// truncatedAlerts (beyond cfg.max_alerts), status, receiver (cfg.name),
// groupLabels, commonLabels, commonAnnotations, externalURL and alerts with
// status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint.
std::string EncodeWebhookPayload(const AlertGroup& group,
                                 const WebhookConfig& cfg,
                                 std::string_view external_url);

struct WebhookOptions {
  std::string external_url;
  std::string user_agent = "vigil";
  // Alerts waiting to be sent; when full the oldest are dropped.
  size_t queue_capacity = 10000;
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  absl::Duration error_log_interval = absl::Seconds(30);
  Clock* clock = nullptr;    // null: Clock::Real()
  Logger* logger = nullptr;  // null: Logger::Default()
  // Waits between attempts. Null: a real wait that Stop interrupts. Tests
  // pass a recorder so no test sleeps.
  std::function<void(absl::Duration)> backoff_sleep;
};

// Delivers to one webhook. Owns its sender thread (started by the
// constructor, joined by Stop or the destructor). Thread-safe.
class WebhookSender {
 public:
  WebhookSender(WebhookConfig cfg, WebhookOptions opts,
                std::shared_ptr<HttpSender> sender,
                prometheus::Registry* registry);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Queues alerts (already relabelled); never blocks on the network.
  void Enqueue(absl::Span<const engine::Alert> alerts);
  // Sends what is queued until `deadline` (nothing more when !drain), then
  // drops the rest and joins the thread. Idempotent.
  void Stop(absl::Time deadline, bool drain = true);
  // Blocks until the queue is empty and no post is in flight, or `timeout`
  // passed; true when idle. For tests and orderly shutdown.
  bool WaitIdle(absl::Duration timeout);

  const WebhookConfig& config() const { return cfg_; }
  size_t dropped() const;

 private:
  void Run();
  // Posts one payload with retries; true on a 2xx.
  bool Deliver(const std::string& body, size_t alerts);
  void SleepBackoff(absl::Duration d);

  const WebhookConfig cfg_;
  const WebhookOptions opts_;
  const std::shared_ptr<HttpSender> sender_;
  Clock* const clock_;
  Logger* const logger_;
  prometheus::Counter* sent_;
  prometheus::Counter* errors_;
  prometheus::Counter* dropped_counter_;
  prometheus::Counter* retries_;

  mutable absl::Mutex mu_;
  std::deque<engine::Alert> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool drain_ ABSL_GUARDED_BY(mu_) = true;
  absl::Time deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  size_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_error_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  size_t suppressed_errors_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
  bool joined_ = false;  // only touched by Stop under stop_mu_
  absl::Mutex stop_mu_;
};

}  // namespace vigil::rpc::notifier

#endif  // VIGIL_RPC_NOTIFIER_WEBHOOK_H_
