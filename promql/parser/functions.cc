// The static function table. Signatures follow Prometheus 3.5's
// promql/parser/functions.go (names, argument types, optional arguments).
#include "promql/parser/functions.h"

#include <algorithm>
#include <cstdint>

namespace vigil::promql::parser {
namespace {

// Sorted by name so lookups can binary-search.
const std::vector<FunctionSignature>& Table() {
  static const auto* const table = new std::vector<FunctionSignature>{
      {"abs", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"absent", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"absent_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"acos", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"acosh", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"asin", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"asinh", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"atan", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"atanh", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"avg_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"ceil", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"changes", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"clamp",
       {ValueType::kVector, ValueType::kScalar, ValueType::kScalar},
       0,
       ValueType::kVector,
       false},
      {"clamp_max",
       {ValueType::kVector, ValueType::kScalar},
       0,
       ValueType::kVector,
       false},
      {"clamp_min",
       {ValueType::kVector, ValueType::kScalar},
       0,
       ValueType::kVector,
       false},
      {"cos", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"cosh", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"count_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"day_of_month", {ValueType::kVector}, 1, ValueType::kVector, false},
      {"day_of_week", {ValueType::kVector}, 1, ValueType::kVector, false},
      {"day_of_year", {ValueType::kVector}, 1, ValueType::kVector, false},
      {"days_in_month", {ValueType::kVector}, 1, ValueType::kVector, false},
      {"deg", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"delta", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"deriv", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"double_exponential_smoothing",
       {ValueType::kMatrix, ValueType::kScalar, ValueType::kScalar},
       0,
       ValueType::kVector,
       true},
      {"exp", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"floor", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"histogram_avg", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"histogram_count", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"histogram_fraction",
       {ValueType::kScalar, ValueType::kScalar, ValueType::kVector},
       0,
       ValueType::kVector,
       false},
      {"histogram_quantile",
       {ValueType::kScalar, ValueType::kVector},
       0,
       ValueType::kVector,
       false},
      {"histogram_stddev", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"histogram_stdvar", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"histogram_sum", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"hour", {ValueType::kVector}, 1, ValueType::kVector, false},
      {"idelta", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"increase", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"info",
       {ValueType::kVector, ValueType::kVector},
       1,
       ValueType::kVector,
       true},
      {"irate", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"label_join",
       {ValueType::kVector, ValueType::kString, ValueType::kString,
        ValueType::kString},
       -1,
       ValueType::kVector,
       false},
      {"label_replace",
       {ValueType::kVector, ValueType::kString, ValueType::kString,
        ValueType::kString, ValueType::kString},
       0,
       ValueType::kVector,
       false},
      {"last_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"ln", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"log10", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"log2", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"mad_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, true},
      {"max_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"min_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"minute", {ValueType::kVector}, 1, ValueType::kVector, false},
      {"month", {ValueType::kVector}, 1, ValueType::kVector, false},
      {"pi", {}, 0, ValueType::kScalar, false},
      {"predict_linear",
       {ValueType::kMatrix, ValueType::kScalar},
       0,
       ValueType::kVector,
       false},
      {"present_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"quantile_over_time",
       {ValueType::kScalar, ValueType::kMatrix},
       0,
       ValueType::kVector,
       false},
      {"rad", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"rate", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"resets", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"round",
       {ValueType::kVector, ValueType::kScalar},
       1,
       ValueType::kVector,
       false},
      {"scalar", {ValueType::kVector}, 0, ValueType::kScalar, false},
      {"sgn", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"sin", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"sinh", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"sort", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"sort_by_label",
       {ValueType::kVector, ValueType::kString},
       -1,
       ValueType::kVector,
       true},
      {"sort_by_label_desc",
       {ValueType::kVector, ValueType::kString},
       -1,
       ValueType::kVector,
       true},
      {"sort_desc", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"sqrt", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"stddev_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"stdvar_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"sum_over_time", {ValueType::kMatrix}, 0, ValueType::kVector, false},
      {"tan", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"tanh", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"time", {}, 0, ValueType::kScalar, false},
      {"timestamp", {ValueType::kVector}, 0, ValueType::kVector, false},
      {"ts_of_last_over_time",
       {ValueType::kMatrix},
       0,
       ValueType::kVector,
       true},
      {"ts_of_max_over_time",
       {ValueType::kMatrix},
       0,
       ValueType::kVector,
       true},
      {"ts_of_min_over_time",
       {ValueType::kMatrix},
       0,
       ValueType::kVector,
       true},
      {"vector", {ValueType::kScalar}, 0, ValueType::kVector, false},
      {"year", {ValueType::kVector}, 1, ValueType::kVector, false},
  };
  return *table;
}

}  // namespace

size_t FunctionSignature::min_args() const {
  if (variadic == 0) {
    return arg_types.size();
  }
  return arg_types.empty() ? 0 : arg_types.size() - 1;
}

size_t FunctionSignature::max_args() const {
  if (variadic == 0) {
    return arg_types.size();
  }
  if (variadic < 0) {
    return SIZE_MAX;
  }
  return min_args() + static_cast<size_t>(variadic);
}

const FunctionSignature* LookupFunction(std::string_view name) {
  const auto& t = Table();
  auto it = std::lower_bound(t.begin(), t.end(), name,
                             [](const FunctionSignature& f,
                                std::string_view n) { return f.name < n; });
  if (it == t.end() || it->name != name) {
    return nullptr;
  }
  return &*it;
}

absl::Span<const FunctionSignature> AllFunctions() { return Table(); }

}  // namespace vigil::promql::parser
