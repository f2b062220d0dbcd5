// Prints an AST back as canonical PromQL, the way Prometheus' String()
// methods do (`sum by (job) (rate(foo[5m]))`, `a + on (x) group_left (y) b`).
#ifndef VIGIL_PROMQL_PARSER_PRINTER_H_
#define VIGIL_PROMQL_PARSER_PRINTER_H_

#include <cstdint>
#include <string>

#include "promql/parser/ast.h"

namespace vigil::promql::parser {

// Canonical PromQL text for `e`. Parsing the result gives an equal tree.
std::string Format(const Expr& e);

// A duration in milliseconds as Prometheus prints it: "1h30m", "5m", "1d",
// "2w", "1y", "0s", "1s500ms"; negative values get a leading "-".
std::string FormatDuration(int64_t ms);

// A float as Go's fmt %v prints it: "1", "0.5", "1e+06", "+Inf", "NaN".
std::string FormatFloat(double v);

}  // namespace vigil::promql::parser

#endif  // VIGIL_PROMQL_PARSER_PRINTER_H_
