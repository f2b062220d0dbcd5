// The vectorised PromQL evaluator: evaluates a parsed expression over all
// steps of a query at once. A node produces, for each output series, an
// array of values over the steps with presence flags, so functions,
// aggregations and operators run as loops over arrays.
#ifndef VIGIL_PROMQL_EVAL_EVALUATOR_H_
#define VIGIL_PROMQL_EVAL_EVALUATOR_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "promql/parser/ast.h"
#include "promql/value/value.h"
#include "storage/storage.h"

namespace vigil::promql::eval {

// Remembers the series a selector resolved to, so that a query evaluated
// again and again (a rule) skips the index while the store's
// IndexGeneration() stays the same. Implementations are thread-safe.
class SelectCache {
 public:
  virtual ~SelectCache() = default;
  // The series matching `vs` in `q` (all times; series without samples in
  // the evaluated range are skipped by the caller). The result is shared and
  // immutable.
  virtual absl::StatusOr<std::shared_ptr<const std::vector<storage::SeriesHandle>>>
  Select(const parser::VectorSelector& vs, const storage::Queryable& q) = 0;
};

struct EvalOptions {
  int64_t lookback_delta_ms = 300000;
  // Subquery step when the query gives none (Prometheus' global evaluation
  // interval).
  int64_t default_step_ms = 60000;
  int64_t max_samples = 50'000'000;
  absl::Time deadline = absl::InfiniteFuture();
  bool enable_delayed_name_removal = true;
  // Optional, not owned; null: every evaluation asks the index.
  SelectCache* select_cache = nullptr;
};

// Evaluates `expr` at the steps start, start+step, ..., end (an instant
// query when `instant`, with start == end). Returns a Vector, Scalar or
// String (instant), a Matrix (range, or an instant query of a range vector).
// Errors: InvalidArgument for query errors found while evaluating,
// ResourceExhausted for the sample limit, DeadlineExceeded past the deadline.
absl::StatusOr<Result> Evaluate(const parser::Expr& expr,
                                const storage::Queryable& q, int64_t start_ms,
                                int64_t end_ms, int64_t step_ms, bool instant,
                                const EvalOptions& options);

}  // namespace vigil::promql::eval

#endif  // VIGIL_PROMQL_EVAL_EVALUATOR_H_
