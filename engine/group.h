// RuleGroup: an ordered list of rules evaluated together at one aligned
// timestamp, writing each rule's output to storage before the next rule runs,
// sending alerts, and writing staleness markers, as Prometheus' rules/group.go.
#ifndef VIGIL_ENGINE_GROUP_H_
#define VIGIL_ENGINE_GROUP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/alert_sink.h"
#include "engine/alerting_rule.h"
#include "engine/rule.h"
#include "engine/rule_loader.h"
#include "storage/base/clock.h"
#include "storage/labels.h"
#include "storage/storage.h"

namespace vigil::engine {

// What a group needs from its surroundings. Pointers are borrowed and must
// outlive the group; any of them may be null (nothing is written, restored or
// sent, and durations read as zero without a clock).
struct GroupOptions {
  storage::Appendable* appendable = nullptr;
  const storage::Queryable* queryable = nullptr;  // for RestoreForState
  AlertSink* sink = nullptr;
  Clock* clock = nullptr;
  // Used when the group's file does not set them.
  absl::Duration default_interval = absl::Minutes(1);
  absl::Duration default_query_offset = absl::ZeroDuration();
  absl::Duration resend_delay = absl::Minutes(1);
  absl::Duration outage_tolerance = absl::Hours(1);
  absl::Duration for_grace_period = absl::Minutes(10);
  // Hash group identities the way Prometheus builds without `stringlabels`
  // do (2.43 and older, e.g. Debian's 2.42): name 0xff value 0xff ...
  // instead of length-prefixed strings. Only the evaluation slot within the
  // interval changes; used to line up with such a Prometheus.
  bool legacy_label_hash = false;
};

// A group's evaluation status, for the rules API.
struct GroupEvalStatus {
  absl::Time last_evaluation = absl::InfinitePast();  // wall clock at start
  int64_t last_eval_timestamp_ms = 0;                  // the aligned ts
  absl::Duration evaluation_time = absl::ZeroDuration();
  int64_t iterations = 0;
  int64_t missed_iterations = 0;
  // Rule evaluations, and those that failed (query or append error), over
  // the group's life, as Prometheus' rule_evaluations_total and
  // rule_evaluation_failures_total count them.
  int64_t rule_evaluations = 0;
  int64_t rule_evaluation_failures = 0;
  // CPU time of the evaluations (the group's thread, waits excluded), and
  // the part of it spent in the rules' queries.
  absl::Duration cpu_time = absl::ZeroDuration();
  absl::Duration query_cpu_time = absl::ZeroDuration();
};

// Owns its rules. Eval, CopyStateFrom, RestoreForState and MarkAllStale must
// not run concurrently with each other (the manager calls them from the
// group's own thread or while it is stopped); status and rule accessors are
// safe from any thread.
class Group {
 public:
  Group(GroupSpec spec, std::vector<std::unique_ptr<Rule>> rules,
        GroupOptions options);
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  const GroupSpec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name; }
  const std::string& file() const { return spec_.file; }
  absl::Duration interval() const { return interval_; }
  absl::Duration query_offset() const { return query_offset_; }
  int64_t limit() const { return spec_.limit; }
  const std::vector<std::unique_ptr<Rule>>& rules() const { return rules_; }

  // Prometheus' group hash (of labels {file, name}, as its release binaries
  // compute it), fixing the group's phase within its interval.
  uint64_t Hash() const;
  // The latest slot at or before `now_ms`: slots lie at offset + k x
  // interval, offset = Hash() % interval (in nanoseconds, as Prometheus).
  int64_t EvalTimestamp(int64_t now_ms) const;

  // Evaluates every rule in order at `ts_ms`, appending each rule's output
  // before the next rule runs, sending due alerts, and marking series that
  // vanished since the last evaluation stale.
  void Eval(int64_t ts_ms);

  // Takes over alert state and staleness tracking from the group this one
  // replaces (rules matched by name and labels, duplicates in order); series
  // of rules that are gone get stale markers at the next Eval.
  void CopyStateFrom(Group& old);

  // Restores `for` state of every alerting rule (see AlertingRule).
  void RestoreForState(int64_t ts_ms);

  // Writes stale markers at `ts_ms` for every series this group wrote last
  // time (the group is being removed).
  void MarkAllStale(int64_t ts_ms);

  void AddMissedIterations(int64_t n);
  GroupEvalStatus status() const;

  // All alerting rules' pending and firing alerts.
  std::vector<Alert> ActiveAlerts() const;

  // Same file, name, interval, offset, limit, labels and rules: a reload
  // keeps such a group running untouched.
  bool SameDefinition(const GroupSpec& other) const;

 private:
  // A written series' labels with their hash, taken once per sample: the
  // set's probes and the staleness pass then never go back to the labels'
  // contents, only compare their identity (equal sets almost always share
  // it).
  struct SeriesKey {
    storage::Labels labels;
    uint64_t hash = 0;
    friend bool operator==(const SeriesKey& a, const SeriesKey& b) {
      return a.hash == b.hash && a.labels == b.labels;
    }
  };
  struct SeriesKeyHash {
    size_t operator()(const SeriesKey& k) const { return k.hash; }
  };
  struct Written {
    storage::SeriesRef ref = 0;  // the store's ref (0: unknown)
    uint64_t eval = 0;           // the evaluation that last wrote it
  };
  // The series a rule wrote, with the store's ref for each, so that the
  // next evaluation appends to them by ref rather than finding each by its
  // labels again. Updated in place: the series a rule writes every time
  // are neither copied nor re-inserted.
  using SeriesSet = absl::flat_hash_map<SeriesKey, Written, SeriesKeyHash>;

  // Appends `samples`, by ref where `written` knows the series, and marks
  // the series accepted with `eval` in `written` (adding new ones); returns
  // the first rejection as an error (OK when none).
  absl::Status Append(const std::vector<EvalSample>& samples, uint64_t eval,
                      SeriesSet* written);
  void AppendStale(const std::vector<storage::Labels>& series, int64_t t);
  absl::Time Now() const;

  const GroupSpec spec_;
  const std::vector<std::unique_ptr<Rule>> rules_;
  const GroupOptions options_;
  const absl::Duration interval_;
  const absl::Duration query_offset_;

  absl::Mutex eval_mu_;  // serialises Eval with state hand-over
  std::vector<SeriesSet> series_in_previous_eval_ ABSL_GUARDED_BY(eval_mu_);
  uint64_t evals_ ABSL_GUARDED_BY(eval_mu_) = 0;
  std::vector<storage::Labels> stale_series_ ABSL_GUARDED_BY(eval_mu_);

  mutable absl::Mutex status_mu_;
  GroupEvalStatus status_ ABSL_GUARDED_BY(status_mu_);
};

// Builds the rule objects of `spec`, compiling each expression through
// `prepare`. InvalidArgument naming file, group and rule when one does not
// compile.
absl::StatusOr<std::unique_ptr<Group>> BuildGroup(
    const GroupSpec& spec,
    const std::function<absl::StatusOr<InstantQueryFunc>(std::string_view)>&
        prepare,
    const AlertingRuleOptions& alert_options, GroupOptions options);

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_GROUP_H_
