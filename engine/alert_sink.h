// AlertSink: how the rule engine hands alerts to whoever delivers them
// (Alertmanager, webhooks, gRPC watchers, the log). The engine owns this
// interface; rpc/ implements it, so calls point down the layers.
#ifndef VIGIL_ENGINE_ALERT_SINK_H_
#define VIGIL_ENGINE_ALERT_SINK_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "storage/labels.h"

namespace vigil::engine {

enum class AlertState { kInactive, kPending, kFiring };

// "inactive", "pending", "firing" as Prometheus' API spells them.
inline const char* AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
  }
  return "unknown";
}

// One alert as it leaves the engine, in Alertmanager's terms. Labels include
// the rule's labels and `alertname`; external labels are added by the sink
// (they belong to the sending process, not to the rule).
struct Alert {
  storage::Labels labels;
  storage::Labels annotations;  // name -> expanded annotation text
  AlertState state = AlertState::kInactive;
  double value = 0;
  absl::Time active_at = absl::InfinitePast();
  absl::Time fired_at = absl::InfinitePast();
  // InfinitePast while not resolved.
  absl::Time resolved_at = absl::InfinitePast();
  // What Alertmanager receives: startsAt / endsAt. For a firing alert endsAt
  // lies ahead (now + 4 x max(resend delay, eval interval)); for a resolved
  // one it is the resolve time.
  absl::Time starts_at = absl::InfinitePast();
  absl::Time ends_at = absl::InfinitePast();
  std::string generator_url;
  // Rule identity, for grouping and gRPC watchers.
  std::string group_name;
  std::string rule_name;
};

// Kind of change a watcher is told about.
enum class AlertTransition { kPending, kFiring, kResolved };

struct AlertStateChange {
  AlertTransition transition;
  Alert alert;
  absl::Time at;
};

// Receives alerts to deliver. Implementations must not block evaluation:
// Send queues and returns. Thread-safe.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // Firing and just-resolved alerts due for (re)sending, as Prometheus'
  // notifier receives them from rules.Manager's sendAlerts.
  virtual void Send(std::vector<Alert> alerts) = 0;
  // Every state change (pending, firing, resolved), in order, for watchers
  // (gRPC stream, log). Default: ignored.
  virtual void OnStateChanges(const std::vector<AlertStateChange>& changes) {
    (void)changes;
  }
};

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_ALERT_SINK_H_
