// RecordingRule: one `record:` rule. Its output is the query result renamed
// to the record name with the rule's labels applied, as Prometheus 3.5's
// rules/recording.go produces it.
#ifndef VIGIL_ENGINE_RECORDING_RULE_H_
#define VIGIL_ENGINE_RECORDING_RULE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/query_func.h"
#include "engine/rule.h"

namespace vigil::engine {

// Called by one group thread at a time; status() from any thread.
class RecordingRule final : public Rule {
 public:
  RecordingRule(RuleSpec spec, InstantQueryFunc query);

  // Samples stamped with the query time (ts - offset). InvalidArgument
  // "vector contains metrics with the same labelset after applying rule
  // labels"; ResourceExhausted "exceeded limit of N with M series".
  absl::StatusOr<std::vector<EvalSample>> Eval(int64_t ts_ms,
                                               int64_t query_offset_ms,
                                               int64_t limit) override;

 private:
  const InstantQueryFunc query_;
};

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_RECORDING_RULE_H_
