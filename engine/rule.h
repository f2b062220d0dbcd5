// Rule: what alerting and recording rules share — their spec, the evaluation
// entry point a group calls, and the health the HTTP API reports.
#ifndef VIGIL_ENGINE_RULE_H_
#define VIGIL_ENGINE_RULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "engine/query_func.h"
#include "engine/rule_loader.h"

namespace vigil::engine {

enum class RuleHealth { kUnknown, kOk, kErr };

// "unknown", "ok", "err" as the rules API spells them.
const char* RuleHealthName(RuleHealth h);

// A rule's last evaluation, for the rules API.
struct RuleEvalStatus {
  RuleHealth health = RuleHealth::kUnknown;
  std::string last_error;  // empty when health is ok
  absl::Time last_evaluation = absl::InfinitePast();
  absl::Duration evaluation_time = absl::ZeroDuration();
};

// Base of AlertingRule and RecordingRule. Eval is called from one group
// thread at a time; status() may be read from any thread.
class Rule {
 public:
  explicit Rule(RuleSpec spec) : spec_(std::move(spec)) {}
  virtual ~Rule() = default;
  Rule(const Rule&) = delete;
  Rule& operator=(const Rule&) = delete;

  const RuleSpec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name; }
  bool is_alerting() const { return spec_.is_alerting(); }

  // Evaluates the rule for the group timestamp `ts_ms`; the query runs at
  // `ts_ms - query_offset_ms`. Returns the samples to write to storage
  // (recording output, or ALERTS / ALERTS_FOR_STATE). `limit` > 0 caps the
  // series (recording) or alerts (alerting). InvalidArgument on query errors,
  // duplicate label sets; ResourceExhausted when over the limit.
  virtual absl::StatusOr<std::vector<EvalSample>> Eval(
      int64_t ts_ms, int64_t query_offset_ms, int64_t limit) = 0;

  // The group records each evaluation's outcome here.
  void RecordEval(const absl::Status& result, absl::Time at,
                  absl::Duration took);
  // Marks the rule unhealthy after Eval succeeded (e.g. storage refused
  // samples).
  void RecordError(const absl::Status& error);
  RuleEvalStatus status() const;

  // Name and labels: how a reload matches a new rule to an old one.
  std::string IdentityKey() const;

 protected:
  const RuleSpec spec_;

 private:
  mutable absl::Mutex status_mu_;
  RuleEvalStatus status_ ABSL_GUARDED_BY(status_mu_);
};

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_RULE_H_
