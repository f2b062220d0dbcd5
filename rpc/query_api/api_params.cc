#include "rpc/query_api/api_params.h"

#include <cmath>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "engine/duration.h"

namespace vigil::rpc {

absl::StatusOr<int64_t> ParseApiTimeMs(std::string_view s) {
  double seconds;
  if (absl::SimpleAtod(absl::string_view(s.data(), s.size()), &seconds) && std::isfinite(seconds)) {
    // Round to milliseconds the way Prometheus does (float seconds * 1000,
    // rounded), so "1.0005" does not drift.
    const double ms = std::round(seconds * 1000.0);
    if (ms >= static_cast<double>(kMinApiTimeMs) &&
        ms <= static_cast<double>(kMaxApiTimeMs)) {
      return static_cast<int64_t>(ms);
    }
  }
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, std::string(s), &t, &err)) {
    return absl::ToUnixMillis(t);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cannot parse \"", std::string(s), "\" to a valid timestamp"));
}

absl::StatusOr<int64_t> ParseApiDurationMs(std::string_view s) {
  double seconds;
  if (absl::SimpleAtod(absl::string_view(s.data(), s.size()), &seconds)) {
    const double ms = std::round(seconds * 1000.0);
    if (std::isfinite(ms) && std::fabs(ms) < 9.2e18) {
      return static_cast<int64_t>(ms);
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot parse \"", std::string(s), "\" to a valid duration. It overflows int64"));
  }
  absl::StatusOr<absl::Duration> d = engine::ParsePromDuration(s);
  if (d.ok()) {
    return absl::ToInt64Milliseconds(*d);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("cannot parse \"", std::string(s), "\" to a valid duration"));
}

}  // namespace vigil::rpc
