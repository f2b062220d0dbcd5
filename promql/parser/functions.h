// The table of PromQL functions (Prometheus 3.5 plus the experimental ones)
// with their argument and return types, used for parse-time type checks.
#ifndef VIGIL_PROMQL_PARSER_FUNCTIONS_H_
#define VIGIL_PROMQL_PARSER_FUNCTIONS_H_

#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "promql/parser/ast.h"

namespace vigil::promql::parser {

// One function's signature. Entries live in a static table for the life of
// the process; compare by pointer or by name. Thread-safe (immutable).
struct FunctionSignature {
  std::string_view name;
  std::vector<ValueType> arg_types;
  // 0: exactly arg_types.size() arguments. n > 0: between size()-1 and
  // size()-1+n arguments. -1: at least size()-1, unbounded. Arguments past
  // the end of arg_types have the last type.
  int variadic = 0;
  ValueType return_type = ValueType::kVector;
  // Rejected unless ParseOptions::enable_experimental_functions.
  bool experimental = false;

  size_t min_args() const;
  // SIZE_MAX when unbounded.
  size_t max_args() const;
};

// The signature for `name`, or null when no such function exists.
const FunctionSignature* LookupFunction(std::string_view name);

// All functions, sorted by name.
absl::Span<const FunctionSignature> AllFunctions();

}  // namespace vigil::promql::parser

#endif  // VIGIL_PROMQL_PARSER_FUNCTIONS_H_
