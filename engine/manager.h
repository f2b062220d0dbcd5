// Manager: owns the rule groups loaded from `rule_files`, reloads them
// (keeping alert state of unchanged rules), and runs each group on its own
// thread at Prometheus-aligned timestamps read from a Clock.
#ifndef VIGIL_ENGINE_MANAGER_H_
#define VIGIL_ENGINE_MANAGER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/alert_sink.h"
#include "engine/group.h"
#include "engine/query_func.h"
#include "engine/rule_loader.h"
#include "engine/rule_validation.h"
#include "storage/base/clock.h"
#include "storage/labels.h"
#include "storage/storage.h"

namespace vigil::engine {

struct ManagerOptions {
  // Required. Borrowed; must outlive the manager.
  RuleQueryEngine* query_engine = nullptr;
  Clock* clock = nullptr;  // null: Clock::Real()
  // Optional (see GroupOptions).
  storage::Appendable* appendable = nullptr;
  const storage::Queryable* queryable = nullptr;
  AlertSink* sink = nullptr;

  absl::Duration evaluation_interval = absl::Minutes(1);  // global default
  absl::Duration rule_query_offset = absl::ZeroDuration();
  absl::Duration resend_delay = absl::Minutes(1);
  absl::Duration outage_tolerance = absl::Hours(1);  // for-outage-tolerance
  absl::Duration for_grace_period = absl::Minutes(10);
  bool legacy_label_hash = false;  // see GroupOptions
  storage::Labels external_labels;
  std::string external_url;
  // How rule files are validated; by default with the real PromQL parser and
  // template engine, as `check rules` does.
  RuleLoaderOptions loader_options = DefaultRuleLoaderOptions();
  // Longest real-time wait between two looks at the clock; lets a group
  // thread follow a simulated clock and notice Stop promptly.
  absl::Duration max_wait = absl::Seconds(1);
};

// Thread-safe. Groups are shared with readers (the HTTP API) through
// shared_ptr, so a reload never frees a group a reader still holds.
class Manager {
 public:
  explicit Manager(ManagerOptions options);
  ~Manager();  // Stops all group threads.
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Expands the patterns, loads and validates every file, compiles every
  // expression. On any error returns InvalidArgument listing the errors and
  // keeps the current groups running unchanged (as Prometheus rejects a bad
  // reload as a whole). Otherwise replaces the group set: unchanged groups
  // keep running untouched, changed groups take over the alert state of the
  // group they replace, removed groups write stale markers and stop.
  absl::Status Update(const std::vector<std::string>& patterns);
  // Same, from already-loaded specs.
  absl::Status UpdateGroups(std::vector<GroupSpec> specs);

  // Starts a thread per group (and for groups added later by Update). Each
  // group first evaluates at its first slot after the time of this call.
  void Run();
  // Stops every group thread; groups stay readable. Idempotent.
  void Stop();

  // Current groups ordered by file, then name.
  std::vector<std::shared_ptr<Group>> Groups() const;
  // Pending and firing alerts of all groups.
  std::vector<Alert> ActiveAlerts() const;

 private:
  // A group and the thread that evaluates it.
  struct Runner {
    std::shared_ptr<Group> group;
    bool should_restore = false;
    // First slot strictly after the time Start ran, so evaluations stay on
    // the group's phase. Set before the thread starts.
    int64_t first_eval_ms = 0;
    absl::Mutex mu;
    bool stop ABSL_GUARDED_BY(mu) = false;
    std::thread thread;
  };
  using Key = std::pair<std::string, std::string>;  // file, name

  void Start(Runner* r);
  void StopRunner(Runner* r);
  void Loop(Runner* r);
  // Waits until the clock reaches `t`; false when told to stop first.
  bool WaitUntil(Runner* r, absl::Time t);

  const ManagerOptions options_;
  Clock* const clock_;

  absl::Mutex update_mu_;  // serialises Update/Run/Stop
  mutable absl::Mutex mu_;
  std::map<Key, std::unique_ptr<Runner>> runners_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool restored_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_MANAGER_H_
