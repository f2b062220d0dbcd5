#include "engine/duration.h"

#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/str_util.h"

namespace vigil::engine {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t ms;
};

// Order matters: Prometheus requires units from largest to smallest.
constexpr Unit kUnits[] = {
    {"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},       {"h", 3600LL * 1000},
    {"m", 60LL * 1000},              {"s", 1000},
    {"ms", 1},
};

absl::Status Invalid(std::string_view s) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a valid duration string: \"", Sv(s), "\""));
}

}  // namespace

absl::StatusOr<absl::Duration> ParsePromDuration(std::string_view s) {
  if (s.empty()) {
    return absl::InvalidArgumentError("empty duration string");
  }
  if (s == "0") {
    return absl::ZeroDuration();
  }
  int64_t total_ms = 0;
  size_t next_unit = 0;  // index into kUnits of the smallest unit still allowed
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] < '0' || s[i] > '9') {
      return Invalid(s);
    }
    int64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) {
        return absl::InvalidArgumentError(
            absl::StrCat("duration out of range: \"", Sv(s), "\""));
      }
      n = n * 10 + (s[i] - '0');
      ++i;
    }
    size_t j = i;
    while (j < s.size() && (s[j] < '0' || s[j] > '9')) {
      ++j;
    }
    std::string_view suffix = s.substr(i, j - i);
    size_t u = next_unit;
    while (u < std::size(kUnits) && kUnits[u].suffix != suffix) {
      ++u;
    }
    if (u == std::size(kUnits)) {
      return Invalid(s);
    }
    if (n > 0 && kUnits[u].ms > std::numeric_limits<int64_t>::max() / n) {
      return absl::InvalidArgumentError(
          absl::StrCat("duration out of range: \"", Sv(s), "\""));
    }
    int64_t part = n * kUnits[u].ms;
    if (total_ms > std::numeric_limits<int64_t>::max() - part) {
      return absl::InvalidArgumentError(
          absl::StrCat("duration out of range: \"", Sv(s), "\""));
    }
    total_ms += part;
    next_unit = u + 1;
    i = j;
  }
  return absl::Milliseconds(total_ms);
}

std::string FormatPromDuration(absl::Duration d) {
  int64_t ms = absl::ToInt64Milliseconds(d);
  if (ms == 0) {
    return "0s";
  }
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  for (const Unit& u : kUnits) {
    // Prometheus prints weeks and years only when they divide evenly.
    if ((u.suffix == "y" || u.suffix == "w") && ms % u.ms != 0) {
      continue;
    }
    if (ms >= u.ms) {
      absl::StrAppend(&out, ms / u.ms, Sv(u.suffix));
      ms %= u.ms;
    }
  }
  return out;
}

}  // namespace vigil::engine
