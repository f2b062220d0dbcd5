// Notifier: the AlertSink that delivers the engine's alerts to every
// configured Alertmanager (API v2) and webhook, as Prometheus' notifier does:
// external labels, alert relabelling, a bounded queue, batches, metrics.
#ifndef VIGIL_RPC_NOTIFIER_NOTIFIER_H_
#define VIGIL_RPC_NOTIFIER_NOTIFIER_H_

#include <cstddef>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/alert_sink.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "prometheus/summary.h"
#include "rpc/notifier/config.h"
#include "rpc/notifier/http_sender.h"
#include "rpc/notifier/webhook.h"
#include "storage/base/clock.h"
#include "storage/base/logfmt.h"
#include "storage/labels.h"

namespace vigil::rpc::notifier {

inline constexpr char kDefaultUserAgent[] = "vigil/0.1.0";

struct NotifierOptions {
  // --alertmanager.notification-queue-capacity: alerts waiting for dispatch.
  // When full, the oldest are dropped (prometheus_notifications_dropped_total).
  size_t queue_capacity = 10000;
  // Alerts per POST, as Prometheus' DefaultMaxBatchSize.
  size_t max_batch_size = 256;
  // Alerts waiting for one Alertmanager. A slow or dead target drops its
  // oldest batches past this instead of holding up the others.
  size_t target_queue_capacity = 10000;
  // Added to every alert that lacks the label (the alert's own value wins).
  storage::Labels external_labels;
  std::string external_url;  // webhook payloads' externalURL
  std::string user_agent = kDefaultUserAgent;
  // On Stop, send what is queued (until the Stop deadline) or drop it.
  bool drain_on_shutdown = true;
  // Repeated send errors for one target are logged at most this often.
  absl::Duration error_log_interval = absl::Seconds(30);
  Clock* clock = nullptr;    // null: Clock::Real()
  Logger* logger = nullptr;  // null: Logger::Default()
  // Webhook retry tuning (see WebhookOptions).
  absl::Duration webhook_initial_backoff = absl::Milliseconds(500);
  absl::Duration webhook_max_backoff = absl::Seconds(30);
  std::function<void(absl::Duration)> webhook_backoff_sleep;
};

// Owns a dispatcher thread, one sender thread per Alertmanager target and
// one per webhook; all are started by Create and joined by Stop (or the
// destructor). Send and the accessors are thread-safe. The HttpSender is
// shared and must be thread-safe.
class Notifier final : public engine::AlertSink {
 public:
  // InvalidArgument when a target's relabelling leaves no usable address.
  // `registry` must outlive the Notifier.
  static absl::StatusOr<std::unique_ptr<Notifier>> Create(
      NotifierOptions options, AlertingConfig config,
      std::shared_ptr<HttpSender> sender, prometheus::Registry* registry);
  ~Notifier() override;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Adds external labels, relabels, drops alerts left with no labels, and
  // queues the rest. Never blocks on the network.
  void Send(std::vector<engine::Alert> alerts) override;

  // Stops accepting alerts, sends what is queued (when drain_on_shutdown)
  // until `timeout` has passed, drops the rest, joins all threads. A post
  // already in flight may run to its own timeout. Idempotent.
  void Stop(absl::Duration timeout);

  // Blocks until every queue is empty and no post is in flight, or `timeout`
  // passed; true when idle. For tests and orderly handover.
  bool WaitIdle(absl::Duration timeout);

  // Holds the dispatcher (alerts stay in the main queue) while true, so tests
  // can fill the queue deterministically.
  void PauseDispatchForTest(bool paused);

  // Blocks until the main queue is empty and every batch taken from it has
  // been handed to the targets' queues (or `timeout` passed).
  bool WaitDispatchedForTest(absl::Duration timeout);

  // Alerts in the main queue (prometheus_notifications_queue_length).
  size_t queue_length() const;
  // Alerts dropped so far (prometheus_notifications_dropped_total).
  size_t dropped() const;
  // Where alerts go: <scheme>://<target><path_prefix>/api/v2/alerts.
  std::vector<std::string> AlertmanagerUrls() const;

 private:
  struct Batch;
  struct Job;
  struct Target;
  struct AmSet;

  Notifier(NotifierOptions options, AlertingConfig config,
           std::shared_ptr<HttpSender> sender, prometheus::Registry* registry);
  absl::Status Init();
  void DispatchLoop();
  void TargetLoop(Target* t);
  void Dispatch(std::vector<engine::Alert> batch);
  void PushJob(Target* t, Job job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishJob(const Job& job, bool ok) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddDropped(size_t n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateQueueGauge() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool TakeLogTurn(absl::Time* last, size_t* suppressed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IdleLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const NotifierOptions opts_;
  const AlertingConfig cfg_;
  const std::shared_ptr<HttpSender> sender_;
  prometheus::Registry* const registry_;
  Clock* const clock_;
  Logger* const logger_;

  // Metrics (Prometheus' names; dashboards query these).
  prometheus::Family<prometheus::Counter>* sent_family_;
  prometheus::Family<prometheus::Counter>* errors_family_;
  prometheus::Family<prometheus::Summary>* latency_family_;
  prometheus::Family<prometheus::Histogram>* latency_hist_family_;
  prometheus::Counter* dropped_counter_;
  prometheus::Counter* delivered_counter_;
  prometheus::Gauge* queue_length_gauge_;
  prometheus::Gauge* queue_capacity_gauge_;
  prometheus::Gauge* discovered_gauge_;

  std::vector<std::unique_ptr<AmSet>> sets_;      // fixed after Init
  std::vector<std::unique_ptr<Target>> targets_;  // fixed after Init
  std::vector<std::unique_ptr<WebhookSender>> webhooks_;

  mutable absl::Mutex mu_;
  std::deque<engine::Alert> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool dispatcher_done_ ABSL_GUARDED_BY(mu_) = false;
  bool dispatching_ ABSL_GUARDED_BY(mu_) = false;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  size_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_drop_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  size_t suppressed_drop_logs_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread dispatcher_;
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace vigil::rpc::notifier

#endif  // VIGIL_RPC_NOTIFIER_NOTIFIER_H_
