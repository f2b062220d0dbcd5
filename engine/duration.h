// Prometheus duration strings ("1h30m", "500ms", "1d", "1w", "1y") as rule
// files, test files and flags spell them, parsed and printed.
#ifndef VIGIL_ENGINE_DURATION_H_
#define VIGIL_ENGINE_DURATION_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil::engine {

// Parses Prometheus' model.Duration syntax: units y(=365d), w, d, h, m, s, ms,
// each at most once and in that order, integer amounts; "0" is zero.
// InvalidArgument `not a valid duration string: "x"` otherwise.
absl::StatusOr<absl::Duration> ParsePromDuration(std::string_view s);

// The canonical Prometheus form: largest units first, zero parts left out,
// "0s" for zero ("1h30m", "1d", "500ms", "1w").
std::string FormatPromDuration(absl::Duration d);

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_DURATION_H_
