// PromQL parsing: query text -> type-checked AST (ast.h), and metric
// selectors for the HTTP API's match[] parameters.
#ifndef VIGIL_PROMQL_PARSER_PARSER_H_
#define VIGIL_PROMQL_PARSER_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "promql/parser/ast.h"
#include "storage/matcher.h"

namespace vigil::promql::parser {

struct ParseOptions {
  // Experimental functions (sort_by_label, mad_over_time, info, ...) and
  // the limitk / limit_ratio aggregations. Prometheus gates them behind
  // --enable-feature=promql-experimental-functions.
  bool enable_experimental_functions = true;
  // Arithmetic in durations: `foo[5m+1m]`, `offset (1h*2)`.
  bool enable_experimental_duration_expr = true;
  // Deepest allowed AST (nesting of parentheses, calls, operator chains).
  // Bounds recursion in the parser and in every later tree walk. At the
  // default, parsing needs at most ~0.5 MB of stack (measured, -c opt).
  int max_depth = 1000;
  // Longest accepted query, in bytes.
  size_t max_length = 1 << 20;
};

// Parses and type-checks a PromQL expression. Errors are InvalidArgument with
// Prometheus' text, e.g. `1:14: parse error: unexpected "}"` (line:column,
// both 1-based, column counted in bytes). Thread-safe; never crashes on any
// input.
absl::StatusOr<std::unique_ptr<Expr>> ParseExpr(
    std::string_view input, const ParseOptions& opts = ParseOptions());

// Parses a series selector such as `foo{job="x"}` or `{__name__=~"a.*"}`
// into its matchers (the metric name as a `__name__` equality matcher,
// last). Like Prometheus it does not require a non-empty matcher; callers
// that need one check it themselves.
absl::StatusOr<std::vector<storage::Matcher>> ParseMetricSelector(
    std::string_view input);

// Parses a Prometheus duration string ("1h30m", "5m", "100ms", "2y") into
// milliseconds. Unit order is enforced as in Prometheus.
absl::StatusOr<int64_t> ParseDuration(std::string_view s);

}  // namespace vigil::promql::parser

#endif  // VIGIL_PROMQL_PARSER_PARSER_H_
