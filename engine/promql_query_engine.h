// RuleQueryEngine over vigil's PromQL engine and a store: each rule's
// expression is prepared once and evaluated as an instant query per tick.
#ifndef VIGIL_ENGINE_PROMQL_QUERY_ENGINE_H_
#define VIGIL_ENGINE_PROMQL_QUERY_ENGINE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/query_func.h"
#include "promql/engine.h"
#include "promql/value/value.h"
#include "storage/storage.h"

namespace vigil::engine {

// Turns an instant-query result into rule input, as Prometheus'
// EngineQueryFunc does: a vector as is, a scalar as one sample without
// labels, anything else InvalidArgument "rule result is not a vector or
// scalar".
absl::StatusOr<std::vector<EvalSample>> ToEvalSamples(promql::Result result,
                                                      int64_t ts_ms);

// Borrows the engine and the store, which must outlive it. Thread-safe.
class PromqlRuleQueryEngine final : public RuleQueryEngine {
 public:
  PromqlRuleQueryEngine(const promql::Engine* engine,
                        const storage::Queryable* queryable)
      : engine_(engine), queryable_(queryable) {}

  absl::StatusOr<InstantQueryFunc> Prepare(std::string_view expr) override;
  absl::StatusOr<std::vector<EvalSample>> Query(std::string_view expr,
                                                int64_t ts_ms) override;

 private:
  const promql::Engine* const engine_;
  const storage::Queryable* const queryable_;
};

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_PROMQL_QUERY_ENGINE_H_
