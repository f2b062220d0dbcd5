#include "rpc/query_api/json_format.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace vigil::rpc {

void AppendPromFloat(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  const double abs = std::fabs(v);
  const bool exponent_form = abs != 0 && (abs < 1e-6 || abs >= 1e21);
  char buf[64];
  // Shortest representation that round-trips, as Go's precision -1.
  std::to_chars_result r = std::to_chars(
      buf, buf + sizeof(buf), v,
      exponent_form ? std::chars_format::scientific : std::chars_format::fixed);
  out->append(buf, r.ptr);
}

void AppendPromTimestamp(int64_t t_ms, std::string* out) {
  if (t_ms < 0) {
    out->push_back('-');
    // -INT64_MIN overflows; such timestamps are not representable anyway.
    t_ms = t_ms == INT64_MIN ? INT64_MAX : -t_ms;
  }
  out->append(std::to_string(t_ms / 1000));
  const int64_t fraction = t_ms % 1000;
  if (fraction != 0) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), ".%03d", static_cast<int>(fraction));
    // Always three digits, as Prometheus writes them: 1500 -> "1.500".
    out->append(buf);
  }
}

}  // namespace vigil::rpc
