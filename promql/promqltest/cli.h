// `vigil test promql`: runs promqltest scripts and reports pass/fail counts,
// float and native-histogram cases apart, optionally against a list of
// known failures.
#ifndef VIGIL_PROMQL_PROMQLTEST_CLI_H_
#define VIGIL_PROMQL_PROMQLTEST_CLI_H_

#include <ostream>
#include <string>
#include <vector>

namespace vigil::promql::promqltest {

// args: [--json=FILE] [--known-failures=FILE] [--verbose] FILE_OR_DIR...
// (directories: their *.test files, sorted). Prints per-file and total
// counts to `out` and each failure (file:line, command, expected, got).
// Returns 0 when every case passed or, with --known-failures, when every
// failing case is listed and every listed case still fails; 1 otherwise;
// 2 on bad usage or unreadable input.
int RunTestPromql(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err);

}  // namespace vigil::promql::promqltest

#endif  // VIGIL_PROMQL_PROMQLTEST_CLI_H_
