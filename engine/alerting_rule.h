// AlertingRule: one `alert:` rule and the state of its alerts (pending,
// firing, resolved), following Prometheus 3.5's rules/alerting.go: for,
// keep_firing_for, resolved retention, resend timing, ALERTS series and the
// restore of `for` state after a restart.
#ifndef VIGIL_ENGINE_ALERTING_RULE_H_
#define VIGIL_ENGINE_ALERTING_RULE_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/alert_sink.h"
#include "engine/query_func.h"
#include "engine/rule.h"
#include "engine/rule_template.h"
#include "storage/labels.h"
#include "storage/storage.h"

namespace vigil::engine {

// How long a resolved alert stays in the rule, and keeps being re-sent, after
// it resolved (Prometheus' resolvedRetention).
inline constexpr absl::Duration kResolvedRetention = absl::Minutes(15);

inline constexpr std::string_view kAlertMetricName = "ALERTS";
inline constexpr std::string_view kAlertForStateMetricName = "ALERTS_FOR_STATE";
inline constexpr std::string_view kAlertNameLabel = "alertname";
inline constexpr std::string_view kAlertStateLabel = "alertstate";

struct AlertingRuleOptions {
  // Visible to templates as $externalLabels / $externalURL; the URL also
  // prefixes generator URLs.
  storage::Labels external_labels;
  std::string external_url;
  // For templates' `query` function; may be empty.
  QueryFunc template_query;
  // False while the manager still has to restore `for` state from
  // ALERTS_FOR_STATE: ALERTS samples are withheld until then, as Prometheus
  // does, so a restart does not write a spurious pending series.
  bool restored = true;
  // Rule identity on outgoing alerts.
  std::string group_name;
};

// One alerting rule. Eval, AlertsToSend, RestoreForState and CopyStateFrom
// are called by the owning group's thread; the read accessors (ActiveAlerts,
// State, ...) are safe from any thread. Owns its alert table.
class AlertingRule final : public Rule {
 public:
  AlertingRule(RuleSpec spec, InstantQueryFunc query,
               AlertingRuleOptions options);

  absl::StatusOr<std::vector<EvalSample>> Eval(int64_t ts_ms,
                                               int64_t query_offset_ms,
                                               int64_t limit) override;

  // Alerts due for (re)sending after the evaluation at `ts_ms`: firing alerts
  // first time and then whenever more than `resend_delay` has passed since
  // they were last sent; resolved alerts at once and then on the same
  // cadence while retained. Marks them sent and sets their endsAt
  // (firing: ts + 4 x max(resend_delay, interval); resolved: resolve time).
  std::vector<Alert> AlertsToSend(int64_t ts_ms, absl::Duration resend_delay,
                                  absl::Duration interval);

  // Pending and firing alerts, sorted by labels.
  std::vector<Alert> ActiveAlerts() const;
  // Also resolved alerts still retained for re-sending.
  std::vector<Alert> AllAlerts() const;
  // firing if any alert fires, else pending if any is pending, else inactive.
  AlertState State() const;
  // State changes since the last call, in order.
  std::vector<AlertStateChange> TakeStateChanges();

  absl::Duration hold_duration() const { return spec_.for_duration; }
  absl::Duration keep_firing_for() const { return spec_.keep_firing_for; }
  bool restored() const;
  void SetRestored(bool restored);

  // Prometheus' RestoreForState for this rule: moves the ActiveAt of current
  // alerts according to the last ALERTS_FOR_STATE sample in
  // [ts - outage_tolerance, ts], so `for` does not start over after a
  // restart; then marks the rule restored.
  void RestoreForState(const storage::Queryable& queryable, int64_t ts_ms,
                       absl::Duration outage_tolerance,
                       absl::Duration grace_period);

  // Takes over `other`'s alerts (reload of an unchanged rule).
  void CopyStateFrom(const AlertingRule& other);

  // externalURL/graph?g0.expr=<expr>&g0.tab=1, as Prometheus links alerts.
  std::string GeneratorURL() const;

 private:
  static constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

  struct Entry {
    storage::Labels labels;
    // Expanded annotations. With lazy annotations they are expanded when
    // first needed (an alert sent, a state change, the API) from the inputs
    // of the last evaluation, which gives what expanding them at every
    // evaluation would have: the templates cannot see anything else.
    mutable storage::Labels annotations;
    mutable bool annotations_current = true;
    storage::Labels sample_labels;  // $labels of the last evaluation
    int64_t evaluated_at = kNoTime;  // its timestamp
    AlertState state = AlertState::kPending;
    double value = 0;
    int64_t active_at = kNoTime;
    int64_t fired_at = kNoTime;
    int64_t resolved_at = kNoTime;
    int64_t last_sent_at = kNoTime;
    int64_t valid_until = kNoTime;
    int64_t keep_firing_since = kNoTime;
    // Labels of this alert's ALERTS series for `series_state`, and of its
    // ALERTS_FOR_STATE series; built once, not every evaluation.
    storage::Labels series_labels;
    AlertState series_state = AlertState::kInactive;
    storage::Labels for_state_labels;
  };

  // REQUIRES: mu_ held (for lazily expanded annotations).
  Alert ToAlert(const Entry& e) const;
  // Brings e.annotations up to date. REQUIRES: mu_ held.
  void EnsureAnnotations(const Entry& e) const;
  storage::Labels ExpandAnnotations(const storage::Labels& sample_labels,
                                    double value, int64_t ts_ms) const;
  // Calls emit(name, value) for the alert's labels in name order: the
  // sample's labels without __name__, overridden by `override_values`
  // (parallel to overrides_; empty values drop the label).
  template <typename F>
  void MergeOverrides(const storage::Labels& sample,
                      const std::vector<std::string>& override_values,
                      F emit) const;
  EvalSample AlertSample(Entry& e, int64_t t) const;
  EvalSample ForStateSample(Entry& e, int64_t t) const;

  const InstantQueryFunc query_;
  const AlertingRuleOptions options_;
  const std::string generator_url_;
  // Rule labels then `alertname`, sorted by name: what overrides a result
  // sample's labels. `template_index` -1 marks alertname.
  struct LabelOverride {
    std::string name;
    int template_index;
  };
  std::vector<LabelOverride> overrides_;
  std::vector<RuleTemplate> label_templates_;
  std::vector<RuleTemplate> annotation_templates_;
  // Some label template has actions: labels are expanded per sample.
  bool has_label_templates_ = false;
  bool has_annotation_templates_ = false;
  // Annotations expanded on demand: true unless a template may call
  // `query`, whose answer depends on when it runs.
  bool lazy_annotations_ = false;
  // The override values when no label template has actions.
  std::vector<std::string> static_override_values_;

  // The alert-identity hash of a sample's label set (rule labels and
  // alertname applied), by the set's shared contents: a rule re-executed
  // every interval gets the same label sets back from its prepared query,
  // so each is merged and hashed once, not at every evaluation. Entries not
  // used by the latest evaluation are dropped once they outnumber it.
  struct AlertHashMemo {
    storage::Labels pinned;  // keeps ContentsId from being reused
    uint64_t hash = 0;
    uint64_t generation = 0;
  };
  absl::Mutex memo_mu_;
  absl::flat_hash_map<const void*, AlertHashMemo> hash_memo_
      ABSL_GUARDED_BY(memo_mu_);
  uint64_t memo_generation_ ABSL_GUARDED_BY(memo_mu_) = 0;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Entry> active_ ABSL_GUARDED_BY(mu_);
  std::vector<AlertStateChange> changes_ ABSL_GUARDED_BY(mu_);
  bool restored_ ABSL_GUARDED_BY(mu_);
};

// Go's url.QueryEscape.
std::string QueryEscape(std::string_view s);

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_ALERTING_RULE_H_
