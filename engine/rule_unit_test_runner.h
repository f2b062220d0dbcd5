// `vigil test rules FILE...`: promtool's rule unit tests (input series in
// expanding notation, alert_rule_test, promql_expr_test) run against vigil's
// rule engine, PromQL engine and head, with promtool's output and exit codes.
#ifndef VIGIL_ENGINE_RULE_UNIT_TEST_RUNNER_H_
#define VIGIL_ENGINE_RULE_UNIT_TEST_RUNNER_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace vigil::engine {

// For each file prints "Unit Testing:  FILE" then "  SUCCESS" (stdout) or
// "  FAILED:" and the failures (stderr), each followed by a blank line.
// Returns 0 when all pass, 1 when any fails, 2 without files.
int RunTestRules(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err);

// Go's time.Duration String for whole milliseconds ("0s", "1m30s",
// "1h0m0s", "500ms", "1.5s"), as promtool prints evaluation times.
std::string GoDurationString(int64_t ms);

// strconv.FormatFloat(v, 'E', -1, 64): "1E+00", "2.5E-07", "NaN", "+Inf".
std::string FormatFloatE(double v);

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_RULE_UNIT_TEST_RUNNER_H_
