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

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const unsigned char c = s[i];
  size_t len;
  uint32_t cp;
  if (c < 0x80) {
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    const unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80) {
      return 0;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Reject overlong forms, surrogates and out-of-range code points.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(s, i);
      if (len == 0) {
        out->append("\xEF\xBF\xBD");  // U+FFFD
        ++i;
        continue;
      }
      // U+2028 and U+2029 are escaped by Go for JavaScript safety.
      if (len == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
          (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
        out->append(static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028"
                                                                 : "\\u2029");
      } else {
        out->append(s.substr(i, len));
      }
      i += len;
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '<':
      case '>':
      case '&':
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xF]);
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xF]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

}  // namespace vigil::rpc
