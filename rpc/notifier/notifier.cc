#include "rpc/notifier/notifier.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "rpc/notifier/payload.h"
#include "rpc/notifier/relabel.h"
#include "storage/base/status_macros.h"

namespace vigil::rpc::notifier {

// One batch as handed to every target; tracks whether each Alertmanager set
// got it from at least one of its targets (Prometheus' success rule).
struct Notifier::Batch {
  size_t count = 0;
  std::vector<int> pending_per_set;  // targets still working, per set
  std::vector<bool> ok_per_set;
  int sets_pending = 0;
  bool failed = false;
};

struct Notifier::Job {
  std::shared_ptr<const std::string> payload;
  size_t count = 0;  // alerts in this payload
  std::shared_ptr<Batch> batch;
  int set = 0;
};

struct Notifier::AmSet {
  const AlertmanagerConfig* cfg = nullptr;
  std::vector<Target*> targets;
};

struct Notifier::Target {
  Notifier* owner = nullptr;
  std::string url;
  int set = 0;
  const AlertmanagerConfig* cfg = nullptr;
  std::deque<Job> queue;  // guarded by Notifier::mu_
  size_t queued_alerts = 0;
  bool busy = false;
  absl::Time last_error_log = absl::InfinitePast();
  size_t suppressed_errors = 0;
  prometheus::Counter* sent = nullptr;
  prometheus::Counter* errors = nullptr;
  prometheus::Summary* latency = nullptr;
  prometheus::Histogram* latency_hist = nullptr;
  std::thread thread;
};

namespace {

// path.Join("/", prefix, "/api/v2/alerts") as Go cleans it.
std::string AlertsPath(const std::string& prefix) {
  std::vector<std::string> parts;
  for (absl::string_view p : absl::StrSplit(prefix, '/', absl::SkipEmpty())) {
    if (p == ".") {
      continue;
    }
    if (p == "..") {
      if (!parts.empty()) {
        parts.pop_back();
      }
      continue;
    }
    parts.emplace_back(p);
  }
  parts.push_back("api");
  parts.push_back("v2");
  parts.push_back("alerts");
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Notifier>> Notifier::Create(
    NotifierOptions options, AlertingConfig config,
    std::shared_ptr<HttpSender> sender, prometheus::Registry* registry) {
  if (registry == nullptr || sender == nullptr) {
    return absl::InvalidArgumentError("notifier needs a registry and sender");
  }
  std::unique_ptr<Notifier> n(new Notifier(std::move(options),
                                           std::move(config), std::move(sender),
                                           registry));
  RETURN_IF_ERROR(n->Init());
  return n;
}

Notifier::Notifier(NotifierOptions options, AlertingConfig config,
                   std::shared_ptr<HttpSender> sender,
                   prometheus::Registry* registry)
    : opts_(std::move(options)),
      cfg_(std::move(config)),
      sender_(std::move(sender)),
      registry_(registry),
      clock_(opts_.clock != nullptr ? opts_.clock : Clock::Real()),
      logger_(opts_.logger != nullptr ? opts_.logger : &Logger::Default()) {
  prometheus::Registry& r = *registry_;
  sent_family_ = &prometheus::BuildCounter()
                      .Name("prometheus_notifications_sent_total")
                      .Help("Total number of alerts sent.")
                      .Register(r);
  errors_family_ = &prometheus::BuildCounter()
                        .Name("prometheus_notifications_errors_total")
                        .Help("Total number of sent alerts affected by errors.")
                        .Register(r);
  latency_family_ =
      &prometheus::BuildSummary()
           .Name("prometheus_notifications_latency_seconds")
           .Help("Latency quantiles for sending alert notifications.")
           .Register(r);
  latency_hist_family_ =
      &prometheus::BuildHistogram()
           .Name("prometheus_notifications_latency_histogram_seconds")
           .Help("Latency histogram for sending alert notifications.")
           .Register(r);
  dropped_counter_ =
      &prometheus::BuildCounter()
           .Name("prometheus_notifications_dropped_total")
           .Help("Total number of alerts dropped due to errors when sending "
                 "to Alertmanager.")
           .Register(r)
           .Add({});
  delivered_counter_ =
      &prometheus::BuildCounter()
           .Name("prometheus_notifications_delivered_total")
           .Help("Total number of alerts successfully delivered to at least "
                 "one Alertmanager.")
           .Register(r)
           .Add({});
  queue_length_gauge_ =
      &prometheus::BuildGauge()
           .Name("prometheus_notifications_queue_length")
           .Help("The number of alert notifications in the queue.")
           .Register(r)
           .Add({});
  queue_capacity_gauge_ =
      &prometheus::BuildGauge()
           .Name("prometheus_notifications_queue_capacity")
           .Help("The capacity of the alert notifications queue.")
           .Register(r)
           .Add({});
  discovered_gauge_ =
      &prometheus::BuildGauge()
           .Name("prometheus_notifications_alertmanagers_discovered")
           .Help("The number of alertmanagers discovered and active.")
           .Register(r)
           .Add({});
  queue_capacity_gauge_->Set(static_cast<double>(opts_.queue_capacity));
  queue_length_gauge_->Set(0);
}

absl::Status Notifier::Init() {
  for (const AlertmanagerConfig& am : cfg_.alertmanagers) {
    auto set = std::make_unique<AmSet>();
    set->cfg = &am;
    const int set_index = static_cast<int>(sets_.size());
    std::vector<std::string> seen;
    for (size_t ti = 0; ti < am.targets.size(); ++ti) {
      const std::string& address = am.targets[ti];
      std::map<std::string, std::string> tl;
      if (ti < am.target_labels.size()) {
        tl = am.target_labels[ti];
      }
      tl["__address__"] = address;
      tl.emplace("__scheme__", am.scheme);
      tl.emplace("__alerts_path__", AlertsPath(am.path_prefix));
      if (!ApplyRelabel(am.relabel_configs, &tl)) {
        continue;  // dropped by relabel_configs, as Prometheus does
      }
      const std::string& addr = tl["__address__"];
      if (addr.empty() || addr.find('/') != std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            "alertmanager target \"", address,
            "\": relabelling produced invalid address \"", addr, "\""));
      }
      std::string scheme = tl["__scheme__"];
      if (scheme.empty()) {
        scheme = am.scheme;
      }
      std::string path = tl["__alerts_path__"];
      const std::string url = absl::StrCat(scheme, "://", addr, path);
      if (std::find(seen.begin(), seen.end(), url) != seen.end()) {
        continue;  // same Alertmanager listed twice: send once
      }
      seen.push_back(url);
      auto t = std::make_unique<Target>();
      t->owner = this;
      t->url = url;
      t->set = set_index;
      t->cfg = &am;
      const prometheus::Labels l = {{"alertmanager", url}};
      t->sent = &sent_family_->Add(l);
      t->errors = &errors_family_->Add(l);
      t->latency = &latency_family_->Add(
          l, prometheus::Summary::Quantiles{
                 {0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}});
      t->latency_hist = &latency_hist_family_->Add(
          l, prometheus::Histogram::BucketBoundaries{0.01, 0.1, 1, 10});
      set->targets.push_back(t.get());
      targets_.push_back(std::move(t));
    }
    sets_.push_back(std::move(set));
  }
  discovered_gauge_->Set(static_cast<double>(targets_.size()));
  for (const WebhookConfig& w : cfg_.webhooks) {
    WebhookOptions wo;
    wo.external_url = opts_.external_url;
    wo.user_agent = opts_.user_agent;
    wo.queue_capacity = opts_.queue_capacity;
    wo.initial_backoff = opts_.webhook_initial_backoff;
    wo.max_backoff = opts_.webhook_max_backoff;
    wo.error_log_interval = opts_.error_log_interval;
    wo.clock = clock_;
    wo.logger = logger_;
    wo.backoff_sleep = opts_.webhook_backoff_sleep;
    webhooks_.push_back(
        std::make_unique<WebhookSender>(w, std::move(wo), sender_, registry_));
  }
  for (const auto& t : targets_) {
    Target* raw = t.get();
    t->thread = std::thread([this, raw] { TargetLoop(raw); });
  }
  dispatcher_ = std::thread([this] { DispatchLoop(); });
  return absl::OkStatus();
}

Notifier::~Notifier() { Stop(absl::ZeroDuration()); }

void Notifier::Send(std::vector<engine::Alert> alerts) {
  // Labels are rewritten outside the lock: relabelling runs regexes.
  std::vector<engine::Alert> kept;
  kept.reserve(alerts.size());
  const bool rewrite = !opts_.external_labels.empty() ||
                       !cfg_.alert_relabel_configs.empty();
  for (engine::Alert& a : alerts) {
    if (!rewrite) {
      if (!a.labels.empty()) {
        kept.push_back(std::move(a));
      }
      continue;
    }
    std::map<std::string, std::string> m;
    for (const storage::Label& l : a.labels) {
      m.emplace(l.name, l.value);
    }
    for (const storage::Label& l : opts_.external_labels) {
      m.emplace(l.name, l.value);  // no-op when the alert has the label
    }
    if (!ApplyRelabel(cfg_.alert_relabel_configs, &m) || m.empty()) {
      continue;
    }
    std::vector<storage::Label> v;
    v.reserve(m.size());
    for (auto& [name, value] : m) {
      v.push_back({name, std::move(value)});
    }
    a.labels = storage::Labels::FromSorted(std::move(v));
    kept.push_back(std::move(a));
  }
  if (kept.empty()) {
    return;
  }
  for (const auto& w : webhooks_) {
    w->Enqueue(kept);
  }
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    AddDropped(kept.size());
    return;
  }
  const size_t cap = std::max<size_t>(1, opts_.queue_capacity);
  size_t skip = 0;
  if (kept.size() > cap) {
    skip = kept.size() - cap;
    AddDropped(skip);
    logger_->Warn("Alert batch larger than queue capacity, dropping alerts",
                  {{"num_dropped", skip}});
  }
  const size_t incoming = kept.size() - skip;
  if (queue_.size() + incoming > cap) {
    const size_t d = queue_.size() + incoming - cap;
    queue_.erase(queue_.begin(), queue_.begin() + d);
    AddDropped(d);
    if (TakeLogTurn(&last_drop_log_, &suppressed_drop_logs_)) {
      logger_->Warn("Alert notification queue full, dropping alerts",
                    {{"num_dropped", d},
                     {"suppressed", suppressed_drop_logs_}});
      suppressed_drop_logs_ = 0;
    }
  }
  queue_.insert(queue_.end(), std::make_move_iterator(kept.begin() + skip),
                std::make_move_iterator(kept.end()));
  UpdateQueueGauge();
}

void Notifier::DispatchLoop() {
  for (;;) {
    std::vector<engine::Alert> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Notifier* n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(n->mu_) {
            return (!n->queue_.empty() && !n->paused_) || n->stopping_;
          },
          this));
      if (queue_.empty()) {
        dispatcher_done_ = true;
        return;
      }
      const size_t n = std::min(queue_.size(),
                                std::max<size_t>(1, opts_.max_batch_size));
      batch.assign(std::make_move_iterator(queue_.begin()),
                   std::make_move_iterator(queue_.begin() + n));
      queue_.erase(queue_.begin(), queue_.begin() + n);
      dispatching_ = true;
      UpdateQueueGauge();
    }
    Dispatch(std::move(batch));
    absl::MutexLock lock(&mu_);
    dispatching_ = false;
  }
}

void Notifier::Dispatch(std::vector<engine::Alert> batch) {
  // Encode once per distinct alert list: sets without their own relabelling
  // share one payload.
  std::shared_ptr<const std::string> shared_payload;
  std::vector<std::pair<int, Job>> jobs;
  auto tracker = std::make_shared<Batch>();
  tracker->count = batch.size();
  tracker->pending_per_set.assign(sets_.size(), 0);
  tracker->ok_per_set.assign(sets_.size(), false);
  for (size_t s = 0; s < sets_.size(); ++s) {
    const AmSet& set = *sets_[s];
    if (set.targets.empty()) {
      continue;
    }
    Job job;
    job.batch = tracker;
    job.set = static_cast<int>(s);
    if (set.cfg->alert_relabel_configs.empty()) {
      if (shared_payload == nullptr) {
        shared_payload = std::make_shared<const std::string>(EncodeAlertsV2(batch));
      }
      job.payload = shared_payload;
      job.count = batch.size();
    } else {
      std::vector<engine::Alert> mine;
      for (const engine::Alert& a : batch) {
        storage::Labels out;
        if (RelabelLabels(set.cfg->alert_relabel_configs, a.labels, &out) &&
            !out.empty()) {
          engine::Alert copy = a;
          copy.labels = std::move(out);
          mine.push_back(std::move(copy));
        }
      }
      if (mine.empty()) {
        continue;  // nothing for this set; it does not count as attempted
      }
      job.payload = std::make_shared<const std::string>(EncodeAlertsV2(mine));
      job.count = mine.size();
    }
    tracker->pending_per_set[s] = static_cast<int>(set.targets.size());
    tracker->sets_pending++;
    for (size_t i = 0; i < set.targets.size(); ++i) {
      jobs.emplace_back(static_cast<int>(i), job);
    }
  }
  if (jobs.empty()) {
    return;
  }
  absl::MutexLock lock(&mu_);
  for (auto& [index, job] : jobs) {
    PushJob(sets_[job.set]->targets[index], std::move(job));
  }
}

void Notifier::PushJob(Target* t, Job job) {
  const size_t cap = std::max(opts_.target_queue_capacity, job.count);
  size_t dropped = 0;
  while (!t->queue.empty() && t->queued_alerts + job.count > cap) {
    Job old = std::move(t->queue.front());
    t->queue.pop_front();
    t->queued_alerts -= old.count;
    dropped += old.count;
    t->errors->Increment(static_cast<double>(old.count));
    FinishJob(old, false);
  }
  if (dropped > 0 && TakeLogTurn(&t->last_error_log, &t->suppressed_errors)) {
    logger_->Warn("Alertmanager queue full, dropping oldest alerts",
                  {{"alertmanager", t->url},
                   {"num_dropped", dropped},
                   {"suppressed", t->suppressed_errors}});
    t->suppressed_errors = 0;
  }
  t->queued_alerts += job.count;
  t->queue.push_back(std::move(job));
}

void Notifier::FinishJob(const Job& job, bool ok) {
  Batch& b = *job.batch;
  if (ok) {
    b.ok_per_set[job.set] = true;
  }
  if (--b.pending_per_set[job.set] > 0) {
    return;
  }
  if (!b.ok_per_set[job.set]) {
    b.failed = true;
  }
  if (--b.sets_pending > 0) {
    return;
  }
  if (b.failed) {
    AddDropped(b.count);
  } else {
    delivered_counter_->Increment(static_cast<double>(b.count));
  }
}

void Notifier::TargetLoop(Target* t) {
  for (;;) {
    Job job;
    absl::Time deadline;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Target* target) {
            Notifier* n = target->owner;
            n->mu_.AssertHeld();
            return !target->queue.empty() ||
                   (n->stopping_ && n->dispatcher_done_);
          },
          t));
      if (t->queue.empty()) {
        return;
      }
      if (absl::Now() >= drain_deadline_ ||
          (stopping_ && !opts_.drain_on_shutdown)) {
        // Shutdown deadline passed: what is left is dropped.
        while (!t->queue.empty()) {
          FinishJob(t->queue.front(), false);
          t->queued_alerts -= t->queue.front().count;
          t->queue.pop_front();
        }
        continue;
      }
      job = std::move(t->queue.front());
      t->queue.pop_front();
      t->queued_alerts -= job.count;
      t->busy = true;
      deadline = drain_deadline_;
    }
    HttpRequest req;
    req.url = t->url;
    req.body = *job.payload;
    req.client = &t->cfg->http;
    req.timeout = std::min(t->cfg->timeout, deadline - absl::Now());
    req.headers = {{"Content-Type", "application/json"},
                   {"User-Agent", opts_.user_agent}};
    absl::Status err;
    absl::StatusOr<std::optional<std::string>> auth =
        AuthorizationHeader(t->cfg->http);
    const absl::Time begin = absl::Now();
    if (!auth.ok()) {
      err = auth.status();
    } else {
      if (auth->has_value()) {
        req.headers.emplace_back("Authorization", **auth);
      }
      absl::StatusOr<int> status = sender_->Post(req);
      if (!status.ok()) {
        err = status.status();
      } else if (*status / 100 != 2) {
        err = absl::UnavailableError(
            absl::StrCat("bad response status ", *status));
      }
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - begin);
    t->latency->Observe(seconds);
    t->latency_hist->Observe(seconds);
    t->sent->Increment(static_cast<double>(job.count));
    absl::MutexLock lock(&mu_);
    if (!err.ok()) {
      t->errors->Increment(static_cast<double>(job.count));
      if (TakeLogTurn(&t->last_error_log, &t->suppressed_errors)) {
        logger_->Error("Error sending alerts",
                       {{"alertmanager", t->url},
                        {"count", job.count},
                        {"err", err},
                        {"suppressed", t->suppressed_errors}});
        t->suppressed_errors = 0;
      }
    }
    FinishJob(job, err.ok());
    t->busy = false;
  }
}

bool Notifier::TakeLogTurn(absl::Time* last, size_t* suppressed) {
  const absl::Time now = clock_->Now();
  if (*last == absl::InfinitePast() || now - *last >= opts_.error_log_interval) {
    *last = now;
    return true;
  }
  ++*suppressed;
  return false;
}

void Notifier::AddDropped(size_t n) {
  dropped_ += n;
  dropped_counter_->Increment(static_cast<double>(n));
}

void Notifier::UpdateQueueGauge() {
  queue_length_gauge_->Set(static_cast<double>(queue_.size()));
}

bool Notifier::IdleLocked() const {
  if ((!queue_.empty() && !paused_) || dispatching_) {
    return false;
  }
  for (const auto& t : targets_) {
    if (!t->queue.empty() || t->busy) {
      return false;
    }
  }
  return true;
}

bool Notifier::WaitIdle(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  {
    absl::MutexLock lock(&mu_);
    if (!mu_.AwaitWithDeadline(
            absl::Condition(
                +[](Notifier* n) {
                  n->mu_.AssertHeld();
                  return n->IdleLocked();
                },
                this),
            deadline)) {
      return false;
    }
  }
  for (const auto& w : webhooks_) {
    if (!w->WaitIdle(deadline - absl::Now())) {
      return false;
    }
  }
  return true;
}

void Notifier::Stop(absl::Duration timeout) {
  absl::MutexLock stop_lock(&stop_mu_);
  if (stopped_) {
    return;
  }
  stopped_ = true;
  const absl::Time deadline = absl::Now() + timeout;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    drain_deadline_ = deadline;
    if (!opts_.drain_on_shutdown && !queue_.empty()) {
      logger_->Warn(
          "Draining remaining notifications on shutdown is disabled, and some "
          "notifications have been dropped",
          {{"count", queue_.size()}});
      AddDropped(queue_.size());
      queue_.clear();
      UpdateQueueGauge();
    }
  }
  dispatcher_.join();
  for (const auto& t : targets_) {
    t->thread.join();
  }
  for (const auto& w : webhooks_) {
    w->Stop(deadline, opts_.drain_on_shutdown);
  }
}

bool Notifier::WaitDispatchedForTest(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(
      absl::Condition(
          +[](Notifier* n) {
            n->mu_.AssertHeld();
            return n->queue_.empty() && !n->dispatching_;
          },
          this),
      timeout);
}

void Notifier::PauseDispatchForTest(bool paused) {
  absl::MutexLock lock(&mu_);
  paused_ = paused;
}

size_t Notifier::queue_length() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

size_t Notifier::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

std::vector<std::string> Notifier::AlertmanagerUrls() const {
  std::vector<std::string> urls;
  for (const auto& t : targets_) {
    urls.push_back(t->url);
  }
  return urls;
}

}  // namespace vigil::rpc::notifier
