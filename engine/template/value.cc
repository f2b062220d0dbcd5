// Go's fmt and strconv spellings of template values. The rules follow the Go
// documentation of fmt (verbs, flags, %!verb(type=value) errors) and
// strconv; the code is ours.
#include "engine/template/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace vigil::engine::tmpl::internal {
namespace {

constexpr char kRootTypeName[] =
    "struct { Labels map[string]string; ExternalLabels map[string]string; "
    "ExternalURL string; Value interface {} }";
constexpr int kMaxWidth = 1000000;  // Go's fmt refuses wider, as do we.

}  // namespace

int DecodeRune(std::string_view s, size_t i, uint32_t* rune) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    *rune = b0;
    return 1;
  }
  auto cont = [&](size_t k) -> int {
    if (i + k >= s.size()) return -1;
    const auto b = static_cast<unsigned char>(s[i + k]);
    return (b & 0xC0) == 0x80 ? (b & 0x3F) : -1;
  };
  *rune = 0xFFFD;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    const int c1 = cont(1);
    if (c1 < 0) return 1;
    *rune = ((b0 & 0x1F) << 6) | c1;
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    const int c1 = cont(1), c2 = cont(2);
    if (c1 < 0 || c2 < 0) return 1;
    const uint32_t r = ((b0 & 0x0F) << 12) | (c1 << 6) | c2;
    if (r < 0x800 || (r >= 0xD800 && r <= 0xDFFF)) return 1;
    *rune = r;
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    const int c1 = cont(1), c2 = cont(2), c3 = cont(3);
    if (c1 < 0 || c2 < 0 || c3 < 0) return 1;
    const uint32_t r = ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
    if (r < 0x10000 || r > 0x10FFFF) return 1;
    *rune = r;
    return 4;
  }
  return 1;
}

void AppendRune(uint32_t r, std::string* out) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

bool IsPrintRune(uint32_t r) {
  if (r < 0x20 || r == 0x7F) return false;
  if (r < 0x7F) return true;
  if (r < 0xA0 || r == 0xAD) return false;
  if (r >= 0xD800 && r <= 0xDFFF) return false;
  if (r == 0x2028 || r == 0x2029 || r == 0xFEFF) return false;
  if ((r & 0xFFFE) == 0xFFFE || r > 0x10FFFF) return false;
  if (r >= 0xE000 && r <= 0xF8FF) return false;  // private use
  return true;
}

std::string GoTypeName(const Value& v) {
  switch (v.kind()) {
    case Kind::kNil:
      return "<nil>";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float64";
    case Kind::kString:
      return "string";
    case Kind::kStringMap:
      return "map[string]string";
    case Kind::kAnyMap:
      return "map[string]interface {}";
    case Kind::kList:
      return "template.queryResult";
    case Kind::kSample:
      return "*template.sample";
    case Kind::kTime:
      return "*time.Time";
    case Kind::kDuration:
      return "*time.Duration";
    case Kind::kRoot:
      return kRootTypeName;
  }
  return "?";
}

bool IsTrue(const Value& v) {
  switch (v.kind()) {
    case Kind::kNil:
      return false;
    case Kind::kBool:
    case Kind::kInt:
      return v.as_int() != 0;
    case Kind::kFloat:
      return v.as_float() != 0;
    case Kind::kString:
      return !v.as_string().empty();
    case Kind::kStringMap:
      return !v.as_string_map().empty();
    case Kind::kAnyMap:
      return !v.as_any_map().empty();
    case Kind::kList:
      return !v.as_list().empty();
    case Kind::kSample:
    case Kind::kTime:
    case Kind::kDuration:
    case Kind::kRoot:
      return true;  // non-nil pointers and structs
  }
  return false;
}

// ---------------------------------------------------------------- floats

namespace {

// Shortest decimal digits of |f| (f finite, non-zero) and its decimal point
// position: |f| = 0.d1d2d3... * 10^dp.
void ShortestDigits(double f, std::string* digits, int* dp) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), std::fabs(f),
                           std::chars_format::scientific);
  std::string_view s(buf, res.ptr - buf);
  const size_t e = s.find('e');
  digits->clear();
  for (size_t i = 0; i < e; ++i) {
    if (s[i] != '.') digits->push_back(s[i]);
  }
  int exp = 0;
  std::from_chars(s.data() + e + (s[e + 1] == '+' ? 2 : 1), s.data() + s.size(),
                  exp);
  *dp = exp + 1;
}

void AppendExponent(int exp, char e, std::string* out) {
  out->push_back(e);
  out->push_back(exp < 0 ? '-' : '+');
  if (exp < 0) exp = -exp;
  if (exp < 10) out->push_back('0');
  absl::StrAppend(out, exp);
}

// The digits of strconv's shortest 'g'/'e' formats, without sign.
std::string ShortestUnsigned(double f, char verb) {
  if (f == 0) return verb == 'e' || verb == 'E' ? "0e+00" : "0";
  std::string d;
  int dp;
  ShortestDigits(f, &d, &dp);
  const int nd = static_cast<int>(d.size());
  const int exp = dp - 1;
  std::string out;
  if (verb == 'e' || verb == 'E' || exp < -4 || exp >= 6) {
    out.push_back(d[0]);
    if (nd > 1) {
      out.push_back('.');
      out.append(d, 1, std::string::npos);
    }
    AppendExponent(exp, verb == 'E' || verb == 'G' ? 'E' : 'e', &out);
    return out;
  }
  if (dp <= 0) {
    out = "0.";
    out.append(-dp, '0');
    out += d;
  } else if (dp >= nd) {
    out = d;
    out.append(dp - nd, '0');
  } else {
    out = d.substr(0, dp);
    out.push_back('.');
    out.append(d, dp, std::string::npos);
  }
  return out;
}

}  // namespace

std::string GoFloatString(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  std::string s = ShortestUnsigned(f, 'g');
  if (std::signbit(f)) s.insert(s.begin(), '-');
  return s;
}

std::string GoFormatG(double f, int prec) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%.*g", prec, f);
  return buf;
}

// ---------------------------------------------------------------- strings

std::string GoQuote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t r;
    const int w = DecodeRune(s, i, &r);
    if (w == 1 && r == 0xFFFD) {
      const auto b = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
      i += 1;
      continue;
    }
    if (r == '"' || r == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(r));
    } else if (IsPrintRune(r)) {
      out.append(s.substr(i, w));
    } else {
      switch (r) {
        case '\a': out += "\\a"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\v': out += "\\v"; break;
        default:
          if (r < 0x20 || r == 0x7F) {
            out += "\\x";
            out.push_back(kHex[r >> 4]);
            out.push_back(kHex[r & 15]);
          } else if (r < 0x10000) {
            out += "\\u";
            for (int sh = 12; sh >= 0; sh -= 4) out.push_back(kHex[(r >> sh) & 15]);
          } else {
            out += "\\U";
            for (int sh = 28; sh >= 0; sh -= 4) out.push_back(kHex[(r >> sh) & 15]);
          }
      }
    }
    i += w;
  }
  out.push_back('"');
  return out;
}

namespace {

bool CanBackquote(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t r;
    const int w = DecodeRune(s, i, &r);
    i += w;
    if (w > 1) {
      if (r == 0xFEFF) return false;
      continue;
    }
    if (r == 0xFFFD) return false;
    if ((r < ' ' && r != '\t') || r == '`' || r == 0x7F) return false;
  }
  return true;
}

int RuneCount(std::string_view s) {
  int n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    uint32_t r;
    i += DecodeRune(s, i, &r);
  }
  return n;
}

bool IsDigits(std::string_view s, bool hex) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!(hex ? absl::ascii_isxdigit(c) : absl::ascii_isdigit(c))) return false;
  }
  return true;
}

// Go's float literal syntax (strconv.readFloat), minus underscores.
bool ValidFloatSyntax(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    hex = true;
    s.remove_prefix(2);
  }
  const char exp_char = hex ? 'p' : 'e';
  size_t e = std::string_view::npos;
  for (size_t i = 0; i < s.size(); ++i) {
    if (absl::ascii_tolower(s[i]) == exp_char) {
      e = i;
      break;
    }
  }
  std::string_view mant = s.substr(0, e);
  if (hex && e == std::string_view::npos) return false;
  const size_t dot = mant.find('.');
  std::string_view ip = mant.substr(0, dot);
  std::string_view fp =
      dot == std::string_view::npos ? std::string_view() : mant.substr(dot + 1);
  if (ip.empty() && fp.empty()) return false;
  if (!ip.empty() && !IsDigits(ip, hex)) return false;
  if (!fp.empty() && !IsDigits(fp, hex)) return false;
  if (e != std::string_view::npos) {
    std::string_view ex = s.substr(e + 1);
    if (!ex.empty() && (ex[0] == '+' || ex[0] == '-')) ex.remove_prefix(1);
    if (!IsDigits(ex, false)) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<double> GoParseFloat(std::string_view s) {
  auto syntax = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("strconv.ParseFloat: parsing ", GoQuote(s),
                     ": invalid syntax"));
  };
  // Specials: [+-]inf, [+-]infinity, nan (any case).
  {
    std::string_view t = s;
    double sign = 1;
    if (!t.empty() && (t[0] == '+' || t[0] == '-')) {
      sign = t[0] == '-' ? -1 : 1;
      t.remove_prefix(1);
    }
    const std::string lower = absl::AsciiStrToLower(Av(t));
    if (lower == "inf" || lower == "infinity") return sign * HUGE_VAL;
    if (t.size() == s.size() && lower == "nan") return std::nan("");
  }
  if (s.empty() || s.size() > 1000 || !ValidFloatSyntax(s)) return syntax();
  const std::string copy(s);
  char* end = nullptr;
  const double f = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return syntax();
  if (std::isinf(f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "strconv.ParseFloat: parsing ", GoQuote(s), ": value out of range"));
  }
  return f;
}

// ---------------------------------------------------------------- time

std::string GoTimeString(int64_t unix_nanos) {
  int64_t sec = unix_nanos / 1000000000;
  int64_t nsec = unix_nanos % 1000000000;
  if (nsec < 0) {
    nsec += 1000000000;
    sec -= 1;
  }
  const absl::CivilSecond cs =
      absl::ToCivilSecond(absl::FromUnixSeconds(sec), absl::UTCTimeZone());
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02d %02d:%02d:%02d",
                static_cast<long long>(cs.year()), cs.month(), cs.day(),
                cs.hour(), cs.minute(), cs.second());
  std::string out = buf;
  if (nsec != 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%09lld", static_cast<long long>(nsec));
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += " +0000 UTC";
  return out;
}

const char* const kGoMonthNames[12] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};
const char* const kGoDayNames[7] = {"Sunday",   "Monday", "Tuesday",
                                    "Wednesday", "Thursday", "Friday",
                                    "Saturday"};

CivilTime ToCivil(int64_t unix_nanos) {
  int64_t sec = unix_nanos / 1000000000;
  int64_t nsec = unix_nanos % 1000000000;
  if (nsec < 0) {
    nsec += 1000000000;
    sec -= 1;
  }
  const absl::CivilSecond cs =
      absl::ToCivilSecond(absl::FromUnixSeconds(sec), absl::UTCTimeZone());
  const absl::CivilDay day(cs);
  // absl numbers weekdays from Monday; Go from Sunday.
  const int wd = (static_cast<int>(absl::GetWeekday(day)) + 1) % 7;
  return {cs.year(), cs.month(), cs.day(), cs.hour(), cs.minute(), cs.second(),
          wd, absl::GetYearDay(day), nsec};
}

std::string GoTimeFormat(int64_t unix_nanos, std::string_view layout) {
  const CivilTime t = ToCivil(unix_nanos);
  std::string out;
  auto num = [&out](int64_t v, int width, char pad) {
    std::string s = absl::StrCat(v < 0 ? -v : v);
    if (v < 0) out.push_back('-');
    if (static_cast<int>(s.size()) < width) out.append(width - s.size(), pad);
    out += s;
  };
  const size_t n = layout.size();
  size_t i = 0;
  auto starts = [&](std::string_view p) { return layout.substr(i, p.size()) == p; };
  const int hour12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
  while (i < n) {
    const char c = layout[i];
    if (c == 'J' && starts("January")) {
      out += kGoMonthNames[t.month - 1];
      i += 7;
    } else if (c == 'J' && starts("Jan")) {
      out.append(kGoMonthNames[t.month - 1], 3);
      i += 3;
    } else if (c == 'M' && starts("Monday")) {
      out += kGoDayNames[t.weekday];
      i += 6;
    } else if (c == 'M' && starts("Mon")) {
      out.append(kGoDayNames[t.weekday], 3);
      i += 3;
    } else if (c == 'M' && starts("MST")) {
      out += "UTC";
      i += 3;
    } else if (c == '0' && i + 1 < n && layout[i + 1] >= '1' &&
               layout[i + 1] <= '6') {
      switch (layout[i + 1]) {
        case '1': num(t.month, 2, '0'); break;
        case '2': num(t.day, 2, '0'); break;
        case '3': num(hour12, 2, '0'); break;
        case '4': num(t.minute, 2, '0'); break;
        case '5': num(t.second, 2, '0'); break;
        default: num(((t.year % 100) + 100) % 100, 2, '0'); break;
      }
      i += 2;
    } else if (c == '0' && starts("002")) {
      num(t.yday, 3, '0');
      i += 3;
    } else if (c == '1' && starts("15")) {
      num(t.hour, 2, '0');
      i += 2;
    } else if (c == '1') {
      num(t.month, 1, '0');
      i += 1;
    } else if (c == '2' && starts("2006")) {
      num(t.year, 4, '0');
      i += 4;
    } else if (c == '2') {
      num(t.day, 1, '0');
      i += 1;
    } else if (c == '_' && starts("__2")) {
      num(t.yday, 3, ' ');
      i += 3;
    } else if (c == '_' && starts("_2") && !starts("_2006")) {
      num(t.day, 2, ' ');
      i += 2;
    } else if (c == '3') {
      num(hour12, 1, '0');
      i += 1;
    } else if (c == '4') {
      num(t.minute, 1, '0');
      i += 1;
    } else if (c == '5') {
      num(t.second, 1, '0');
      i += 1;
    } else if (c == 'P' && starts("PM")) {
      out += t.hour >= 12 ? "PM" : "AM";
      i += 2;
    } else if (c == 'p' && starts("pm")) {
      out += t.hour >= 12 ? "pm" : "am";
      i += 2;
    } else if (c == '-' && (starts("-070000") || starts("-07:00:00") ||
                            starts("-0700") || starts("-07:00") ||
                            starts("-07"))) {
      const size_t len = starts("-070000")     ? 7
                         : starts("-07:00:00") ? 9
                         : starts("-0700")     ? 5
                         : starts("-07:00")    ? 6
                                               : 3;
      static constexpr std::string_view kZero = "+00:00:00";
      if (len == 7) {
        out += "+000000";
      } else if (len == 5) {
        out += "+0000";
      } else {
        out += kZero.substr(0, len);
      }
      i += len;
    } else if (c == 'Z' && (starts("Z070000") || starts("Z07:00:00") ||
                            starts("Z0700") || starts("Z07:00") ||
                            starts("Z07"))) {
      out.push_back('Z');  // UTC
      i += starts("Z070000")     ? 7
           : starts("Z07:00:00") ? 9
           : starts("Z0700")     ? 5
           : starts("Z07:00")    ? 6
                                 : 3;
    } else if ((c == '.' || c == ',') && i + 1 < n &&
               (layout[i + 1] == '0' || layout[i + 1] == '9')) {
      const char d = layout[i + 1];
      size_t j = i + 1;
      while (j < n && layout[j] == d) ++j;
      if (j < n && absl::ascii_isdigit(layout[j])) {  // not a fraction
        out.push_back(c);
        ++i;
        continue;
      }
      const size_t digits = std::min<size_t>(j - i - 1, 9);
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%09lld",
                    static_cast<long long>(t.nanos));
      std::string frac(buf, digits);
      if (d == '9') {
        while (!frac.empty() && frac.back() == '0') frac.pop_back();
      }
      if (!frac.empty()) {
        out.push_back(c);
        out += frac;
      }
      i = j;
    } else {
      out.push_back(c);
      ++i;
    }
    if (out.size() > Template::kMaxOutputBytes) break;
  }
  return out;
}

std::string GoDurationString(int64_t d) {
  if (d == 0) return "0s";
  const bool neg = d < 0;
  uint64_t u = neg ? -static_cast<uint64_t>(d) : static_cast<uint64_t>(d);
  // Builds right to left like Go, into a small buffer.
  char buf[40];
  int w = sizeof(buf);
  auto fmt_frac = [&](uint64_t v, int prec) -> uint64_t {
    bool print = false;
    for (int i = 0; i < prec; ++i) {
      const int digit = static_cast<int>(v % 10);
      print = print || digit != 0;
      if (print) buf[--w] = static_cast<char>('0' + digit);
      v /= 10;
    }
    if (print) buf[--w] = '.';
    return v;
  };
  auto fmt_int = [&](uint64_t v) {
    if (v == 0) {
      buf[--w] = '0';
      return;
    }
    while (v > 0) {
      buf[--w] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  buf[--w] = 's';
  if (u < 1000000000ULL) {
    int prec;
    if (u < 1000ULL) {
      prec = 0;
      buf[--w] = 'n';
    } else if (u < 1000000ULL) {
      prec = 3;
      buf[--w] = '\xB5';  // µ is C2 B5 in UTF-8
      buf[--w] = '\xC2';
    } else {
      prec = 6;
      buf[--w] = 'm';
    }
    u = fmt_frac(u, prec);
    fmt_int(u);
  } else {
    u = fmt_frac(u, 9);
    fmt_int(u % 60);
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      fmt_int(u % 60);
      u /= 60;
      if (u > 0) {
        buf[--w] = 'h';
        fmt_int(u);
      }
    }
  }
  if (neg) buf[--w] = '-';
  return std::string(buf + w, sizeof(buf) - w);
}

// ---------------------------------------------------------------- fmt

namespace {

struct Spec {
  bool plus = false, minus = false, sharp = false, space = false, zero = false;
  bool plus_v = false;  // %+v: struct field names
  int width = -1;
  int prec = -1;
};

class Printer {
 public:
  std::string out;

  // Go pads on the left with zeros when asked, strings included.
  void Pad(std::string_view s, const Spec& sp) {
    const int n = sp.width - RuneCount(s);
    if (n <= 0) {
      out.append(s);
      return;
    }
    if (sp.minus) {
      out.append(s);
      out.append(n, ' ');
    } else {
      out.append(n, sp.zero ? '0' : ' ');
      out.append(s);
    }
  }

  // Go prints the value with %v but keeps the failing verb's flags.
  void BadVerb(uint32_t verb, const Value& v, const Spec& sp) {
    out += "%!";
    AppendRune(verb, &out);
    out.push_back('(');
    if (v.is_nil()) {
      out += "<nil>";
    } else {
      out += GoTypeName(v);
      out.push_back('=');
      Format(v, 'v', sp, 0);
    }
    out.push_back(')');
  }

  // Number with sign handling and zero padding after the sign.
  void PadNumber(std::string digits, bool negative, const Spec& sp,
                 bool allow_zero_pad) {
    std::string sign;
    if (negative) {
      sign = "-";
    } else if (sp.plus) {
      sign = "+";
    } else if (sp.space) {
      sign = " ";
    }
    if (allow_zero_pad && sp.zero && !sp.minus && sp.width > 0) {
      const int n = sp.width - static_cast<int>(sign.size() + digits.size());
      out += sign;
      if (n > 0) out.append(n, '0');
      out += digits;
      return;
    }
    Pad(sign + digits, sp);
  }

  void FormatInt(int64_t i, uint32_t verb, const Spec& sp, const Value& v) {
    const bool neg = i < 0;
    uint64_t u = neg ? -static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
    int base = 10;
    switch (verb) {
      case 'v':
      case 'd':
        break;
      case 'b':
        base = 2;
        break;
      case 'o':
      case 'O':
        base = 8;
        break;
      case 'x':
      case 'X':
        base = 16;
        break;
      case 'c': {
        std::string s;
        AppendRune(static_cast<uint32_t>(i), &s);
        Pad(s, sp);
        return;
      }
      case 'q': {
        std::string s;
        AppendRune(static_cast<uint32_t>(i), &s);
        std::string q = GoQuote(s);
        q.front() = '\'';
        q.back() = '\'';
        if (q == "'\\\"'") q = "'\"'";
        if (q == "'''") q = "'\\''";
        Pad(q, sp);
        return;
      }
      case 'U': {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "U+%04llX",
                      static_cast<unsigned long long>(u));
        Pad(buf, sp);
        return;
      }
      default:
        BadVerb(verb, v, sp);
        return;
    }
    static constexpr char kLower[] = "0123456789abcdef";
    static constexpr char kUpper[] = "0123456789ABCDEF";
    const char* dig = verb == 'X' ? kUpper : kLower;
    std::string d;
    if (!(u == 0 && sp.prec == 0)) {
      do {
        d.push_back(dig[u % base]);
        u /= base;
      } while (u > 0);
    }
    while (sp.prec > 0 && static_cast<int>(d.size()) < sp.prec) d.push_back('0');
    if (base == 8 && sp.sharp && (d.empty() || d.back() != '0')) d.push_back('0');
    std::string digits(d.rbegin(), d.rend());
    if (verb == 'O') digits = "0o" + digits;
    if (sp.sharp && base == 16) digits = (verb == 'X' ? "0X" : "0x") + digits;
    if (sp.sharp && base == 2) digits = "0b" + digits;
    PadNumber(digits, neg, sp, sp.prec < 0);
  }

  void FormatFloat(double f, uint32_t verb, const Spec& sp, const Value& v) {
    int prec = sp.prec;
    char c;
    switch (verb) {
      case 'v':
        c = 'g';
        prec = -1;
        if (sp.prec >= 0) prec = sp.prec;
        break;
      case 'g':
      case 'G':
        c = static_cast<char>(verb);
        break;
      case 'e':
      case 'E':
      case 'f':
      case 'F':
        c = static_cast<char>(verb == 'F' ? 'f' : verb);
        if (prec < 0) prec = 6;
        break;
      case 'x':
      case 'X':
        c = static_cast<char>(verb == 'x' ? 'a' : 'A');
        break;
      case 'b': {
        // strconv 'b': decimal mantissa, 'p', binary exponent.
        if (std::isnan(f) || std::isinf(f)) {
          c = 'g';
          break;
        }
        uint64_t bits;
        std::memcpy(&bits, &f, sizeof(bits));
        int exp = static_cast<int>((bits >> 52) & 0x7FF);
        uint64_t mant = bits & ((uint64_t{1} << 52) - 1);
        if (exp == 0) {
          ++exp;
        } else {
          mant |= uint64_t{1} << 52;
        }
        exp -= 1075;
        PadNumber(absl::StrCat(mant, "p", exp >= 0 ? "+" : "-",
                               exp >= 0 ? exp : -exp),
                  std::signbit(f), sp, true);
        return;
      }
      default:
        BadVerb(verb, v, sp);
        return;
    }
    if (std::isnan(f) || std::isinf(f)) {
      std::string s = std::isnan(f) ? "NaN" : "Inf";
      if (std::isinf(f)) {
        s = (f < 0 ? "-" : (sp.space && !sp.plus ? " " : "+")) + s;
      } else if (sp.plus) {
        s = "+" + s;
      } else if (sp.space) {
        s = " " + s;
      }
      Spec no_zero = sp;  // Inf and NaN are never zero-padded
      no_zero.zero = false;
      Pad(s, no_zero);
      return;
    }
    std::string digits;
    if (sp.sharp && verb != 'v' && (c == 'g' || c == 'G')) {
      // %#g keeps trailing zeros, six significant digits by default.
      char buf[512];
      const char fmt[] = {'%', '#', '.', '*', c, 0};
      std::snprintf(buf, sizeof(buf), fmt, prec < 0 ? 6 : std::min(prec, 400),
                    std::fabs(f));
      digits = buf;
    } else if (prec < 0 && (c == 'g' || c == 'G')) {
      digits = ShortestUnsigned(f, c);
    } else {
      char fmt[8] = {'%', '.', '*', c, 0};
      if (prec < 0) {
        fmt[1] = c;
        fmt[2] = 0;
      }
      std::vector<char> buf(static_cast<size_t>(std::max(prec, 0)) + 400);
      if (prec < 0) {
        std::snprintf(buf.data(), buf.size(), fmt, std::fabs(f));
      } else {
        std::snprintf(buf.data(), buf.size(), fmt, prec, std::fabs(f));
      }
      digits = buf.data();
      if (c == 'a' || c == 'A') {
        // Go writes at least two exponent digits: 0x1.f4p+09.
        const size_t p = digits.find_first_of("pP");
        if (p != std::string::npos && p + 3 == digits.size()) {
          digits.insert(p + 2, "0");
        }
      }
    }
    PadNumber(digits, std::signbit(f), sp, true);
  }

  void FormatString(std::string_view s, uint32_t verb, const Spec& sp,
                    const Value& v) {
    if (sp.prec >= 0 && (verb == 'v' || verb == 's' || verb == 'q')) {
      size_t i = 0;  // precision counts runes of the input
      for (int n = 0; n < sp.prec && i < s.size(); ++n) {
        uint32_t r;
        i += DecodeRune(s, i, &r);
      }
      s = s.substr(0, i);
    }
    switch (verb) {
      case 'v':
      case 's':
        Pad(s, sp);
        return;
      case 'q':
        if (sp.sharp && CanBackquote(s)) {
          Pad(absl::StrCat("`", Av(s), "`"), sp);
        } else {
          Pad(GoQuote(s), sp);
        }
        return;
      case 'x':
      case 'X': {
        const char* dig = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        std::string h;
        size_t n = s.size();
        if (sp.prec >= 0 && static_cast<size_t>(sp.prec) < n) n = sp.prec;
        for (size_t i = 0; i < n; ++i) {
          if (sp.space && i > 0) h.push_back(' ');
          if (sp.sharp && (sp.space || i == 0)) h += verb == 'X' ? "0X" : "0x";
          const auto b = static_cast<unsigned char>(s[i]);
          h.push_back(dig[b >> 4]);
          h.push_back(dig[b & 15]);
        }
        Pad(h, sp);
        return;
      }
      default:
        BadVerb(verb, v, sp);
    }
  }

  void Format(const Value& v, uint32_t verb, const Spec& sp, int depth) {
    if (out.size() > Template::kMaxOutputBytes) return;
    switch (v.kind()) {
      case Kind::kNil:
        if (verb == 'v') {
          Pad("<nil>", sp);
        } else {
          BadVerb(verb, v, sp);
        }
        return;
      case Kind::kBool:
        if (verb == 'v' || verb == 't') {
          Pad(v.as_bool() ? "true" : "false", sp);
        } else {
          BadVerb(verb, v, sp);
        }
        return;
      case Kind::kInt:
        FormatInt(v.as_int(), verb, sp, v);
        return;
      case Kind::kFloat:
        FormatFloat(v.as_float(), verb, sp, v);
        return;
      case Kind::kString:
        FormatString(v.as_string(), verb, sp, v);
        return;
      case Kind::kTime:
      case Kind::kDuration: {
        if (verb == 'v' || verb == 's' || verb == 'q' || verb == 'x' ||
            verb == 'X') {
          const std::string s = v.kind() == Kind::kTime
                                    ? GoTimeString(v.as_int())
                                    : GoDurationString(v.as_int());
          FormatString(s, verb, sp, v);
        } else {
          BadVerb(verb, v, sp);
        }
        return;
      }
      case Kind::kStringMap: {
        out += "map[";
        bool first = true;
        for (const auto& [k, val] : v.as_string_map()) {
          if (!first) out.push_back(' ');
          first = false;
          FormatString(k, verb, sp, Value::String(k));
          out.push_back(':');
          FormatString(val, verb, sp, Value::String(val));
        }
        out.push_back(']');
        return;
      }
      case Kind::kAnyMap: {
        out += "map[";
        bool first = true;
        for (const auto& [k, val] : v.as_any_map()) {
          if (!first) out.push_back(' ');
          first = false;
          FormatString(k, verb, sp, Value::String(k));
          out.push_back(':');
          Format(val, verb, sp, depth + 1);
        }
        out.push_back(']');
        return;
      }
      case Kind::kList: {
        out.push_back('[');
        bool first = true;
        for (const Value& e : v.as_list()) {
          if (!first) out.push_back(' ');
          first = false;
          Format(e, verb, sp, depth + 1);
        }
        out.push_back(']');
        return;
      }
      case Kind::kSample: {
        // Below the top level Go prints pointers as addresses, and any
        // verb but v/b/o/d/x/X as a bad verb.
        if (depth > 0 && verb != 'v' && verb != 'b' && verb != 'o' &&
            verb != 'd' && verb != 'x' && verb != 'X') {
          BadVerb(verb, v, sp);
          return;
        }
        const SampleValue& s = v.as_sample();
        out += "&{";
        if (sp.plus_v) out += "Labels:";
        Format(Value::StringMapRef(BorrowMap(s.labels)), verb, sp, depth + 1);
        out.push_back(' ');
        if (sp.plus_v) out += "Value:";
        FormatFloat(s.value, verb, sp, Value::Float(s.value));
        out.push_back('}');
        return;
      }
      case Kind::kRoot: {
        const Data& d = v.as_root();
        out.push_back('{');
        if (sp.plus_v) out += "Labels:";
        Format(Value::StringMapRef(BorrowMap(d.labels)), verb, sp, depth + 1);
        out.push_back(' ');
        if (sp.plus_v) out += "ExternalLabels:";
        Format(Value::StringMapRef(BorrowMap(d.external_labels)), verb, sp,
               depth + 1);
        out.push_back(' ');
        if (sp.plus_v) out += "ExternalURL:";
        FormatString(d.external_url, verb, sp, Value::String(d.external_url));
        out.push_back(' ');
        if (sp.plus_v) out += "Value:";
        FormatFloat(d.value, verb, sp, Value::Float(d.value));
        out.push_back('}');
        return;
      }
    }
  }
};

}  // namespace

void AppendGoValue(const Value& v, std::string* out) {
  switch (v.kind()) {
    case Kind::kString:
      out->append(v.as_string());
      return;
    case Kind::kFloat:
      out->append(GoFloatString(v.as_float()));
      return;
    case Kind::kInt:
      absl::StrAppend(out, v.as_int());
      return;
    default: {
      Printer p;
      p.Format(v, 'v', Spec(), 0);
      out->append(p.out);
    }
  }
}

std::string GoValueString(const Value& v) {
  std::string s;
  AppendGoValue(v, &s);
  return s;
}

std::string GoSprint(const std::vector<Value>& args) {
  std::string out;
  bool prev_string = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const bool is_string = args[i].kind() == Kind::kString;
    if (i > 0 && !is_string && !prev_string) out.push_back(' ');
    AppendGoValue(args[i], &out);
    prev_string = is_string;
    if (out.size() > Template::kMaxOutputBytes) break;
  }
  return out;
}

std::string GoSprintln(const std::vector<Value>& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out.push_back(' ');
    AppendGoValue(args[i], &out);
    if (out.size() > Template::kMaxOutputBytes) break;
  }
  out.push_back('\n');
  return out;
}

std::string GoSprintf(std::string_view format, const std::vector<Value>& args) {
  Printer p;
  size_t arg = 0;
  const size_t n = format.size();
  size_t i = 0;
  while (i < n) {
    if (p.out.size() > Template::kMaxOutputBytes) return p.out;
    const size_t pct = format.find('%', i);
    if (pct == std::string_view::npos) {
      p.out.append(format.substr(i));
      break;
    }
    p.out.append(format.substr(i, pct - i));
    i = pct + 1;
    Spec sp;
    for (; i < n; ++i) {
      const char c = format[i];
      if (c == '#') {
        sp.sharp = true;
      } else if (c == '0') {
        sp.zero = true;
      } else if (c == '+') {
        sp.plus = true;
      } else if (c == '-') {
        sp.minus = true;
      } else if (c == ' ') {
        sp.space = true;
      } else {
        break;
      }
    }
    bool bad_width = false, bad_prec = false;
    auto read_num = [&](int* dst, bool* bad) {
      if (i < n && format[i] == '*') {
        ++i;
        if (arg < args.size() && args[arg].kind() == Kind::kInt) {
          int64_t w = args[arg].as_int();
          ++arg;
          if (w < -kMaxWidth || w > kMaxWidth) {
            *bad = true;
            return;
          }
          *dst = static_cast<int>(w);
        } else {
          if (arg < args.size()) ++arg;
          *bad = true;
        }
        return;
      }
      int64_t v = -1;
      while (i < n && absl::ascii_isdigit(format[i])) {
        v = (v < 0 ? 0 : v) * 10 + (format[i] - '0');
        if (v > kMaxWidth) *bad = true;
        ++i;
      }
      if (v >= 0 && !*bad) *dst = static_cast<int>(v);
    };
    read_num(&sp.width, &bad_width);
    if (sp.width < 0 && sp.width != -1) {
      sp.minus = true;
      sp.width = -sp.width;
    }
    if (i < n && format[i] == '.') {
      ++i;
      sp.prec = 0;
      read_num(&sp.prec, &bad_prec);
      if (sp.prec < 0) sp.prec = -1;
    }
    if (bad_width) p.out += "%!(BADWIDTH)";
    if (bad_prec) p.out += "%!(BADPREC)";
    if (i >= n) {
      p.out += "%!(NOVERB)";
      break;
    }
    uint32_t verb;
    i += DecodeRune(format, i, &verb);
    if (verb == '%') {
      p.out.push_back('%');
      continue;
    }
    if (arg >= args.size()) {
      p.out += "%!";
      AppendRune(verb, &p.out);
      p.out += "(MISSING)";
      continue;
    }
    const Value& v = args[arg++];
    if (verb == 'T') {
      p.FormatString(GoTypeName(v), 's', sp, v);
      continue;
    }
    if (verb == 'v' && sp.plus) {
      sp.plus_v = true;
      sp.plus = false;
    }
    p.Format(v, verb, sp, 0);
  }
  if (arg < args.size()) {
    p.out += "%!(EXTRA ";
    for (size_t k = arg; k < args.size(); ++k) {
      if (k > arg) p.out += ", ";
      if (args[k].is_nil()) {
        p.out += "<nil>";
      } else {
        p.out += GoTypeName(args[k]);
        p.out.push_back('=');
        p.Format(args[k], 'v', Spec(), 0);
      }
    }
    p.out.push_back(')');
  }
  return p.out;
}

}  // namespace vigil::engine::tmpl::internal
