// How rules reach PromQL: a prepared instant query per rule, and a one-off
// query for templates' `query` function. Keeps the alert state machine
// testable without the PromQL engine (tests pass lambdas).
#ifndef VIGIL_ENGINE_QUERY_FUNC_H_
#define VIGIL_ENGINE_QUERY_FUNC_H_

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/labels.h"

namespace vigil::engine {

// One element of an instant-vector result, or one sample a rule writes.
// A scalar result arrives as one sample with empty labels.
struct EvalSample {
  storage::Labels labels;
  int64_t t = 0;  // milliseconds
  double value = 0;
};

// Evaluates one fixed expression at `ts_ms`. InvalidArgument for results
// that are neither vector nor scalar.
using InstantQueryFunc =
    std::function<absl::StatusOr<std::vector<EvalSample>>(int64_t ts_ms)>;

// Evaluates any expression at `ts_ms` (templates' `query`).
using QueryFunc = std::function<absl::StatusOr<std::vector<EvalSample>>(
    std::string_view expr, int64_t ts_ms)>;

// Compiles rule expressions. The manager owns one; thread-safe.
class RuleQueryEngine {
 public:
  virtual ~RuleQueryEngine() = default;
  // Compiles `expr` once; the returned function may be called from one
  // group's thread at a time. InvalidArgument with position for bad PromQL.
  virtual absl::StatusOr<InstantQueryFunc> Prepare(std::string_view expr) = 0;
  // One-off evaluation, for templates. Thread-safe.
  virtual absl::StatusOr<std::vector<EvalSample>> Query(std::string_view expr,
                                                        int64_t ts_ms) = 0;
};

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_QUERY_FUNC_H_
