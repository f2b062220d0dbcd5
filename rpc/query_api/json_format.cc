#include "rpc/query_api/json_format.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace vigil::rpc {
namespace {

// Go's 'f' form with precision -1 writes the shortest round-trip digits and
// pads the integer part with zeros; std::to_chars' fixed form instead picks,
// among representations of the same length, the one closest to the exact
// binary value, so above 2^53 it writes the exact integer
// (999999999999999868928 where Go writes 999999999999999900000). Such
// magnitudes are built from the shortest scientific digits instead.
constexpr double kExactIntegerLimit = 1e15;

void AppendFixedFromShortestDigits(double v, std::string* out) {
  char sci[40];
  const std::to_chars_result r = std::to_chars(
      sci, sci + sizeof(sci), v, std::chars_format::scientific);
  // "-d.ddddde+XX": sign, digits without the point, decimal exponent.
  const char* p = sci;
  if (*p == '-') {
    out->push_back('-');
    ++p;
  }
  char digits[24];
  int n = 0;
  for (; p < r.ptr && *p != 'e'; ++p) {
    if (*p != '.') digits[n++] = *p;
  }
  int exp = 0;
  std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), r.ptr, exp);
  const int int_digits = exp + 1;  // >= 16 here
  if (n <= int_digits) {
    out->append(digits, n);
    out->append(static_cast<size_t>(int_digits - n), '0');
  } else {
    out->append(digits, int_digits);
    out->push_back('.');
    out->append(digits + int_digits, n - int_digits);
  }
}

}  // namespace

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
  if (!exponent_form && abs >= kExactIntegerLimit) {
    AppendFixedFromShortestDigits(v, out);
    return;
  }
  char buf[64];
  // Shortest representation that round-trips, as Go's precision -1.
  std::to_chars_result r = std::to_chars(
      buf, buf + sizeof(buf), v,
      exponent_form ? std::chars_format::scientific : std::chars_format::fixed);
  out->append(buf, r.ptr);
}

void AppendPromTimestamp(int64_t t_ms, std::string* out) {
  // Written for every point of every answer: no allocation, no printf.
  char buf[32];
  char* p = buf;
  uint64_t u;
  if (t_ms < 0) {
    *p++ = '-';
    // -INT64_MIN overflows; such timestamps are not representable anyway.
    u = t_ms == INT64_MIN ? static_cast<uint64_t>(INT64_MAX)
                          : static_cast<uint64_t>(-t_ms);
  } else {
    u = static_cast<uint64_t>(t_ms);
  }
  p = std::to_chars(p, buf + sizeof(buf), u / 1000).ptr;
  const unsigned fraction = static_cast<unsigned>(u % 1000);
  if (fraction != 0) {
    // Always three digits, as Prometheus writes them: 1500 -> "1.500".
    p[0] = '.';
    p[1] = static_cast<char>('0' + fraction / 100);
    p[2] = static_cast<char>('0' + fraction / 10 % 10);
    p[3] = static_cast<char>('0' + fraction % 10);
    p += 4;
  }
  out->append(buf, p);
}

}  // namespace vigil::rpc
