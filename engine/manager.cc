#include "engine/manager.h"

#include <pthread.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vigil::engine {

Manager::Manager(ManagerOptions options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()) {}

Manager::~Manager() { Stop(); }

absl::Status Manager::Update(const std::vector<std::string>& patterns) {
  absl::StatusOr<std::vector<GroupSpec>> specs =
      LoadRuleFiles(patterns, options_.loader_options);
  if (!specs.ok()) {
    return specs.status();
  }
  return UpdateGroups(*std::move(specs));
}

absl::Status Manager::UpdateGroups(std::vector<GroupSpec> specs) {
  absl::MutexLock update_lock(&update_mu_);
  bool should_restore;
  {
    absl::MutexLock lock(&mu_);
    should_restore = !restored_;
  }
  GroupOptions gopts;
  gopts.appendable = options_.appendable;
  gopts.queryable = options_.queryable;
  gopts.sink = options_.sink;
  gopts.clock = clock_;
  gopts.default_interval = options_.evaluation_interval;
  gopts.default_query_offset = options_.rule_query_offset;
  gopts.resend_delay = options_.resend_delay;
  gopts.outage_tolerance = options_.outage_tolerance;
  gopts.for_grace_period = options_.for_grace_period;
  gopts.legacy_label_hash = options_.legacy_label_hash;

  AlertingRuleOptions aopts;
  aopts.external_labels = options_.external_labels;
  aopts.external_url = options_.external_url;
  aopts.restored = !should_restore;
  RuleQueryEngine* qe = options_.query_engine;
  if (qe != nullptr) {
    aopts.template_query = [qe](std::string_view expr, int64_t ts) {
      return qe->Query(expr, ts);
    };
  }
  auto prepare =
      [qe](std::string_view expr) -> absl::StatusOr<InstantQueryFunc> {
    if (qe == nullptr) {
      return absl::FailedPreconditionError("no query engine configured");
    }
    return qe->Prepare(expr);
  };

  // Build everything first, so a bad file changes nothing.
  std::vector<std::string> errors;
  std::map<Key, std::unique_ptr<Group>> built;  // new or changed groups
  std::set<Key> keep;                           // unchanged groups
  {
    absl::MutexLock lock(&mu_);
    for (const GroupSpec& spec : specs) {
      Key key(spec.file, spec.name);
      if (built.contains(key) || keep.contains(key)) {
        errors.push_back(absl::StrCat(spec.file, ": groupname: \"", spec.name,
                                      "\" is repeated in the same file"));
        continue;
      }
      auto it = runners_.find(key);
      if (it != runners_.end() && it->second->group->SameDefinition(spec)) {
        keep.insert(key);
        continue;
      }
      absl::StatusOr<std::unique_ptr<Group>> g =
          BuildGroup(spec, prepare, aopts, gopts);
      if (!g.ok()) {
        errors.push_back(std::string(g.status().message()));
        continue;
      }
      built[key] = *std::move(g);
    }
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }

  // Swap in the new set.
  std::map<Key, std::unique_ptr<Runner>> old;
  bool running;
  {
    absl::MutexLock lock(&mu_);
    old.swap(runners_);
    running = running_;
  }
  std::map<Key, std::unique_ptr<Runner>> next;
  for (const Key& k : keep) {
    next[k] = std::move(old[k]);
    old.erase(k);
  }
  for (auto& [k, g] : built) {
    auto r = std::make_unique<Runner>();
    auto it = old.find(k);
    if (it != old.end()) {
      StopRunner(it->second.get());
      g->CopyStateFrom(*it->second->group);
      old.erase(it);
    }
    r->group = std::move(g);
    r->should_restore = should_restore;
    next[k] = std::move(r);
  }
  // Removed groups: stop and mark their series stale.
  for (auto& [k, r] : old) {
    StopRunner(r.get());
    r->group->MarkAllStale(clock_->NowMillis());
  }
  absl::MutexLock lock(&mu_);
  runners_ = std::move(next);
  restored_ = true;
  if (running) {
    for (auto& [k, r] : runners_) {
      if (!r->thread.joinable()) {
        Start(r.get());
      }
    }
  }
  return absl::OkStatus();
}

void Manager::Run() {
  absl::MutexLock update_lock(&update_mu_);
  absl::MutexLock lock(&mu_);
  if (running_) {
    return;
  }
  running_ = true;
  for (auto& [k, r] : runners_) {
    if (!r->thread.joinable()) {
      Start(r.get());
    }
  }
}

void Manager::Stop() {
  absl::MutexLock update_lock(&update_mu_);
  std::vector<Runner*> rs;
  {
    absl::MutexLock lock(&mu_);
    running_ = false;
    for (auto& [k, r] : runners_) {
      rs.push_back(r.get());
    }
  }
  for (Runner* r : rs) {
    StopRunner(r);
    // A stopped runner may be started again by a later Run().
    absl::MutexLock lock(&r->mu);
    r->stop = false;
  }
}

void Manager::Start(Runner* r) {
  {
    absl::MutexLock lock(&r->mu);
    r->stop = false;
  }
  const int64_t interval_ms =
      absl::ToInt64Milliseconds(r->group->interval());
  r->first_eval_ms =
      r->group->EvalTimestamp(clock_->NowMillis()) + interval_ms;
  r->thread = std::thread([this, r] { Loop(r); });
}

void Manager::StopRunner(Runner* r) {
  {
    absl::MutexLock lock(&r->mu);
    r->stop = true;
  }
  if (r->thread.joinable()) {
    r->thread.join();
  }
}

bool Manager::WaitUntil(Runner* r, absl::Time t) {
  absl::MutexLock lock(&r->mu);
  while (!r->stop) {
    absl::Time now = clock_->Now();
    if (now >= t) {
      return true;
    }
    r->mu.AwaitWithTimeout(absl::Condition(&r->stop),
                           std::min(t - now, options_.max_wait));
  }
  return false;
}

void Manager::Loop(Runner* r) {
  Group& g = *r->group;
  // "g:" and the group name's first 13 bytes, so that `top -H` and
  // /proc/PID/task/*/comm tell which group a busy thread evaluates (the
  // bench harness reads a group's own CPU time this way).
  pthread_setname_np(pthread_self(),
                     ("g:" + g.name().substr(0, 13)).c_str());
  const int64_t interval_ms = absl::ToInt64Milliseconds(g.interval());
  if (interval_ms <= 0) {
    return;
  }
  int64_t next = r->first_eval_ms;
  if (!WaitUntil(r, absl::FromUnixMillis(next))) {
    return;
  }
  g.Eval(next);
  auto advance = [&]() -> bool {
    if (!WaitUntil(r, absl::FromUnixMillis(next + interval_ms))) {
      return false;
    }
    const int64_t missed = (clock_->NowMillis() - next) / interval_ms - 1;
    if (missed > 0) {
      g.AddMissedIterations(missed);
    }
    next += (std::max<int64_t>(missed, 0) + 1) * interval_ms;
    g.Eval(next);
    return true;
  };
  if (r->should_restore) {
    // Restore after a second evaluation, so recording rules the alerts
    // depend on have run once, as Prometheus does.
    if (!advance()) {
      return;
    }
    g.RestoreForState(clock_->NowMillis());
    r->should_restore = false;
  }
  while (advance()) {
  }
}

std::vector<std::shared_ptr<Group>> Manager::Groups() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Group>> out;
  out.reserve(runners_.size());
  for (const auto& [k, r] : runners_) {
    out.push_back(r->group);
  }
  return out;
}

std::vector<Alert> Manager::ActiveAlerts() const {
  std::vector<Alert> out;
  for (const std::shared_ptr<Group>& g : Groups()) {
    std::vector<Alert> a = g->ActiveAlerts();
    out.insert(out.end(), std::make_move_iterator(a.begin()),
               std::make_move_iterator(a.end()));
  }
  return out;
}

}  // namespace vigil::engine
