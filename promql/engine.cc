#include "promql/engine.h"

#include <utility>

#include "promql/eval/evaluator.h"
#include "promql/parser/parser.h"

namespace vigil::promql {
namespace {

eval::EvalOptions ToEvalOptions(const EngineOptions& o) {
  eval::EvalOptions e;
  e.lookback_delta_ms = o.lookback_delta_ms;
  e.default_step_ms = o.default_subquery_step_ms;
  e.max_samples = o.max_samples;
  e.enable_delayed_name_removal = o.enable_delayed_name_removal;
  e.deadline = absl::Now() + o.timeout;
  return e;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PreparedQuery>> Engine::Prepare(
    std::string_view expr) const {
  parser::ParseOptions po;
  po.enable_experimental_functions = opts_.enable_experimental_functions;
  po.enable_experimental_duration_expr = opts_.enable_experimental_functions;
  absl::StatusOr<std::unique_ptr<parser::Expr>> parsed =
      parser::ParseExpr(expr, po);
  if (!parsed.ok()) return parsed.status();
  return std::unique_ptr<PreparedQuery>(
      new PreparedQuery(std::string(expr), *std::move(parsed), opts_));
}

absl::StatusOr<Result> PreparedQuery::EvalInstant(const storage::Queryable& q,
                                                  int64_t ts_ms) const {
  return eval::Evaluate(*expr_, q, ts_ms, ts_ms, 0, /*instant=*/true,
                        ToEvalOptions(opts_));
}

absl::StatusOr<Result> PreparedQuery::EvalRange(const storage::Queryable& q,
                                                int64_t start_ms,
                                                int64_t end_ms,
                                                int64_t step_ms) const {
  return eval::Evaluate(*expr_, q, start_ms, end_ms, step_ms,
                        /*instant=*/false, ToEvalOptions(opts_));
}

}  // namespace vigil::promql
