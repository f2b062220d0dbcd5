// The promqltest script format (Prometheus' promql/promqltest .test files):
// parsing scripts into commands and running them against vigil's engine over
// a real storage::Head, with Prometheus' comparison rules.
#ifndef VIGIL_PROMQL_PROMQLTEST_SCRIPT_H_
#define VIGIL_PROMQL_PROMQLTEST_SCRIPT_H_

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "storage/labels.h"

namespace vigil::promql::promqltest {

// One point of an expanded series description.
struct Point {
  enum Kind { kFloat, kMissing, kStale, kHistogram };
  Kind kind = kFloat;
  double v = 0;
};

struct SeriesSpec {
  storage::Labels labels;
  std::vector<Point> points;  // one per interval (load) or step (eval range)
  bool has_histogram = false;
};

struct LoadCmd {
  int64_t interval_ms = 0;
  bool with_nhcb = false;
  std::vector<SeriesSpec> series;
};

struct Expectation {
  enum Type { kFail, kWarn, kInfo, kNoWarn, kNoInfo, kOrdered };
  enum Match { kAny, kMsg, kRegex };
  Type type = kFail;
  Match match = kAny;
  std::string text;
};

struct EvalCmd {
  std::string expr;
  bool range = false;
  int64_t start_ms = 0, end_ms = 0, step_ms = 0;  // instant: start == end
  // The deprecated eval_* variants.
  bool fail = false, warn = false, info = false, ordered = false;
  std::vector<Expectation> expects;
  std::optional<std::string> fail_message, fail_regexp;
  // Expected result: either a scalar, or series (a range query's scalar
  // result is a series with no labels).
  std::optional<double> scalar;
  std::optional<std::string> string_value;
  std::vector<SeriesSpec> series;
  bool expects_histogram = false;  // some expected point is a {{...}}
};

struct Command {
  enum Kind { kLoad, kClear, kEval };
  Kind kind = kClear;
  int line = 0;             // 1-based line of the command in the file
  std::string text;         // the command line itself
  LoadCmd load;
  EvalCmd eval;
};

// Parses a whole script. InvalidArgument naming the line on a syntax error.
absl::StatusOr<std::vector<Command>> ParseScript(absl::string_view text);

// Parses `metric{a="b"}` / `{__name__="m", "x"="y"}` (as the test format
// writes series).
absl::StatusOr<storage::Labels> ParseSeriesDesc(absl::string_view s);

// Expands a points description (`1+2x3 _ stale {{...}}x2`).
absl::StatusOr<std::vector<Point>> ParsePoints(absl::string_view s);

// Parses a duration (`5m`, `1h30m`, `10s53ms`) or a number of seconds.
absl::StatusOr<int64_t> ParseDurationMs(absl::string_view s);

// The outcome of one eval command.
struct CaseResult {
  std::string file;
  int line = 0;
  std::string command;
  bool histogram = false;  // a native-histogram case (see conformance README)
  bool passed = false;
  std::string message;  // why it failed: expected vs got
};

// Runs a parsed script from the beginning, with a fresh store. `file` names
// the cases. Prometheus' test settings: lookback 5m, all features on.
std::vector<CaseResult> RunScript(const std::vector<Command>& commands,
                                  const std::string& file);

}  // namespace vigil::promql::promqltest

#endif  // VIGIL_PROMQL_PROMQLTEST_SCRIPT_H_
