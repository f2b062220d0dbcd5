// Prometheus' template function bodies, reproducing the output formats
// documented for template/template.go and prometheus/common's helpers.
#include "engine/template/funcs.h"

#include <arpa/inet.h>
#include <locale.h>
#include <wctype.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/template/value.h"
#include "re2/re2.h"

namespace vigil::engine::tmpl::internal {
namespace {

constexpr const char* kBigPrefixes[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
constexpr const char* kSmallPrefixes[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
constexpr const char* kBinPrefixes[] = {"ki", "Mi", "Gi", "Ti",
                                        "Pi", "Ei", "Zi", "Yi"};

// Scales |v| below 1 up by 1000s; returns the prefix used.
std::string SmallPrefix(double* v) {
  std::string prefix;
  for (const char* p : kSmallPrefixes) {
    if (std::fabs(*v) >= 1) break;
    prefix = p;
    *v *= 1000;
  }
  return prefix;
}

}  // namespace

std::string Humanize(double v) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return GoFormatG(v, 4);
  if (std::fabs(v) >= 1) {
    std::string prefix;
    for (const char* p : kBigPrefixes) {
      if (std::fabs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
    return GoFormatG(v, 4) + prefix;
  }
  const std::string prefix = SmallPrefix(&v);
  return GoFormatG(v, 4) + prefix;
}

std::string Humanize1024(double v) {
  if (std::fabs(v) <= 1 || std::isnan(v) || std::isinf(v)) {
    return GoFormatG(v, 4);
  }
  std::string prefix;
  for (const char* p : kBinPrefixes) {
    if (std::fabs(v) < 1024) break;
    prefix = p;
    v /= 1024;
  }
  return GoFormatG(v, 4) + prefix;
}

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return GoFormatG(v, 4);
  if (v == 0) return GoFormatG(v, 4) + "s";
  if (std::fabs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    // Go converts with int64(v); beyond its range the result is
    // implementation-defined, so clamp instead of invoking UB.
    const int64_t d = v >= 9.2e18 ? INT64_MAX : static_cast<int64_t>(v);
    const int64_t seconds = d % 60;
    const int64_t minutes = (d / 60) % 60;
    const int64_t hours = (d / 60 / 60) % 24;
    const int64_t days = d / 60 / 60 / 24;
    if (days != 0) {
      return absl::StrCat(sign, days, "d ", hours, "h ", minutes, "m ", seconds,
                          "s");
    }
    if (hours != 0) {
      return absl::StrCat(sign, hours, "h ", minutes, "m ", seconds, "s");
    }
    if (minutes != 0) return absl::StrCat(sign, minutes, "m ", seconds, "s");
    return absl::StrCat(sign, GoFormatG(v, 4), "s");
  }
  const std::string prefix = SmallPrefix(&v);
  return absl::StrCat(GoFormatG(v, 4), prefix, "s");
}

std::string HumanizePercentage(double v) { return GoFormatG(v * 100, 4) + "%"; }

absl::StatusOr<int64_t> FloatToUnixNanos(double v) {
  if (std::isnan(v) || std::isinf(v)) {
    return absl::InvalidArgumentError("value is NaN or Inf");
  }
  const double ts = v * 1e9;
  if (ts >= 9223372036854775808.0 || ts < -9223372036854775808.0) {
    return absl::InvalidArgumentError(
        absl::StrCat(GoFloatString(v),
                     " cannot be represented as a nanoseconds timestamp since "
                     "it overflows int64"));
  }
  const int64_t ns = static_cast<int64_t>(ts);
  return (ns / 1000000) * 1000000;  // model.Time keeps milliseconds
}

absl::StatusOr<std::string> HumanizeTimestamp(double v) {
  if (std::isnan(v) || std::isinf(v)) return GoFormatG(v, 4);
  absl::StatusOr<int64_t> ns = FloatToUnixNanos(v);
  if (!ns.ok()) return ns.status();
  return GoTimeString(*ns);
}

namespace {

// net.SplitHostPort; false when Go would return an error.
bool SplitHostPort(std::string_view hp, std::string_view* host,
                   std::string_view* port) {
  const size_t i = hp.rfind(':');
  if (i == std::string_view::npos) return false;  // missing port
  size_t j = 0, k = 0;
  if (!hp.empty() && hp[0] == '[') {
    const size_t end = hp.find(']');
    if (end == std::string_view::npos) return false;
    if (end + 1 == hp.size()) return false;  // missing port
    if (end + 1 != i) return false;          // too many colons / junk
    *host = hp.substr(1, end - 1);
    j = 1;
    k = end + 1;
  } else {
    *host = hp.substr(0, i);
    if (host->find(':') != std::string_view::npos) return false;
  }
  if (hp.substr(j).find('[') != std::string_view::npos) return false;
  if (hp.substr(k).find(']') != std::string_view::npos) return false;
  *port = hp.substr(i + 1);
  return true;
}

bool IsIP(std::string_view host) {
  if (host.size() > 64) return false;
  const std::string h(host);
  unsigned char buf[16];
  if (inet_pton(AF_INET, h.c_str(), buf) == 1) return true;
  // Go accepts IPv6 zones only in ParseAddr, not ParseIP.
  return inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

}  // namespace

std::string StripPort(std::string_view hp) {
  std::string_view host, port;
  if (!SplitHostPort(hp, &host, &port)) return std::string(hp);
  return std::string(host);
}

std::string StripDomain(std::string_view hp) {
  std::string_view host, port;
  if (!SplitHostPort(hp, &host, &port)) {
    host = hp;
    port = {};
  }
  if (IsIP(host)) return std::string(hp);
  host = host.substr(0, host.find('.'));
  if (port.empty()) return std::string(host);
  if (host.find(':') != std::string_view::npos) {
    return absl::StrCat("[", Av(host), "]:", Av(port));
  }
  return absl::StrCat(Av(host), ":", Av(port));
}

namespace {

// Unicode simple case mapping, as Go's unicode.ToUpper/ToLower, from glibc's
// built-in C.UTF-8 locale (full Unicode tables, always present since 2.35).
locale_t Utf8Locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr);
  return loc;
}

int32_t UpperRune(int32_t r) {
  if (r < 0x80) return absl::ascii_toupper(static_cast<unsigned char>(r));
  const locale_t loc = Utf8Locale();
  return loc == nullptr ? r : static_cast<int32_t>(towupper_l(r, loc));
}

int32_t LowerRune(int32_t r) {
  if (r < 0x80) return absl::ascii_tolower(static_cast<unsigned char>(r));
  const locale_t loc = Utf8Locale();
  return loc == nullptr ? r : static_cast<int32_t>(towlower_l(r, loc));
}

bool IsLetterOrDigit(int32_t r) {
  if (r < 0x80) return absl::ascii_isalnum(static_cast<unsigned char>(r));
  const locale_t loc = Utf8Locale();
  return loc == nullptr || iswalnum_l(r, loc);
}

// Applies f to every rune of s, as Go's strings.Map (a byte that is not
// valid UTF-8 reads as U+FFFD).
template <typename F>
std::string MapRunes(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    uint32_t r;
    i += static_cast<size_t>(DecodeRune(s, i, &r));
    AppendRune(static_cast<uint32_t>(f(static_cast<int32_t>(r))), &out);
  }
  return out;
}

}  // namespace

std::string Title(std::string_view s) {
  // The first letter of each word upper-cased, the rest left as they are
  // (cases.Title with NoLower, as Prometheus' title).
  bool at_word_start = true;
  return MapRunes(s, [&](int32_t r) {
    const bool word_char = IsLetterOrDigit(r) || r == '_' || r == '\'';
    const int32_t out = at_word_start && word_char ? UpperRune(r) : r;
    at_word_start = !word_char;
    return out;
  });
}

std::string ToUpper(std::string_view s) { return MapRunes(s, UpperRune); }
std::string ToLower(std::string_view s) { return MapRunes(s, LowerRune); }

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (absl::ascii_isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

std::string GraphLink(std::string_view expr) {
  return absl::StrCat("/graph?g0.expr=", QueryEscape(expr), "&g0.tab=0");
}

std::string TableLink(std::string_view expr) {
  return absl::StrCat("/graph?g0.expr=", QueryEscape(expr), "&g0.tab=1");
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\0': out += "\xEF\xBF\xBD"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string JsEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '\\': out += "\\\\"; break;
        case '\'': out += "\\'"; break;
        case '"': out += "\\\""; break;
        case '<': out += "\\u003C"; break;
        case '>': out += "\\u003E"; break;
        case '&': out += "\\u0026"; break;
        case '=': out += "\\u003D"; break;
        default:
          if (c < ' ') {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    uint32_t r;
    const int w = DecodeRune(s, i, &r);
    if (IsPrintRune(r) && !(w == 1 && r == 0xFFFD)) {
      out.append(s.substr(i, w));
    } else {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "\\u%04X", r);
      out += buf;
    }
    i += w;
  }
  return out;
}

absl::StatusOr<double> ParsePromDuration(std::string_view s) {
  if (s.empty()) return absl::InvalidArgumentError("empty duration string");
  if (s == "0") return 0.0;
  auto invalid = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid duration string: ", GoQuote(s)));
  };
  struct Unit {
    const char* name;
    int64_t ms;
  };
  // Largest first; each may appear once, in this order.
  static constexpr Unit kUnits[] = {
      {"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000},
      {"d", 24LL * 3600 * 1000},       {"h", 3600LL * 1000},
      {"m", 60LL * 1000},              {"s", 1000},
      {"ms", 1},
  };
  int next_unit = 0;
  __int128 total_ms = 0;
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    __int128 n = 0;
    while (i < s.size() && absl::ascii_isdigit(s[i])) {
      n = n * 10 + (s[i] - '0');
      if (n > (static_cast<__int128>(1) << 80)) return invalid();
      ++i;
    }
    if (i == start) return invalid();
    int unit = -1;
    if (s.substr(i, 2) == "ms") {
      unit = 6;
      i += 2;
    } else if (i < s.size()) {
      for (int u = 0; u < 6; ++u) {
        if (s[i] == kUnits[u].name[0]) {
          unit = u;
          break;
        }
      }
      if (unit >= 0) ++i;
    }
    if (unit < next_unit) return invalid();
    next_unit = unit + 1;
    total_ms += n * kUnits[unit].ms;
    if (total_ms > INT64_MAX / 1000000) {
      return absl::InvalidArgumentError("duration out of range");
    }
  }
  return static_cast<double>(static_cast<int64_t>(total_ms) * 1000000) / 1e9;
}

namespace {

// Go's regexp extract(): a name or {name} after '$'.
bool ExtractGroupRef(std::string_view s, std::string_view* name, int* num,
                     size_t* consumed) {
  if (s.empty()) return false;
  bool brace = false;
  size_t i = 0;
  if (s[0] == '{') {
    brace = true;
    i = 1;
  }
  const size_t name_start = i;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (absl::ascii_isalnum(c) || c == '_') {
      ++i;
    } else if (c >= 0x80) {
      uint32_t r;
      i += DecodeRune(s, i, &r);
    } else {
      break;
    }
  }
  if (i == name_start) return false;
  *name = s.substr(name_start, i - name_start);
  if (brace) {
    if (i >= s.size() || s[i] != '}') return false;
    ++i;
  }
  *num = 0;
  for (char c : *name) {
    if (c < '0' || c > '9' || *num >= 100000000) {
      *num = -1;
      break;
    }
    *num = *num * 10 + (c - '0');
  }
  if ((*name)[0] == '0' && name->size() > 1) *num = -1;
  *consumed = i;
  return true;
}

void Expand(const re2::RE2& re, std::string_view repl,
            const std::vector<re2::StringPiece>& groups, std::string* out) {
  while (!repl.empty()) {
    const size_t d = repl.find('$');
    if (d == std::string_view::npos) break;
    out->append(repl.substr(0, d));
    repl.remove_prefix(d + 1);
    if (!repl.empty() && repl[0] == '$') {
      out->push_back('$');
      repl.remove_prefix(1);
      continue;
    }
    std::string_view name;
    int num;
    size_t consumed;
    if (!ExtractGroupRef(repl, &name, &num, &consumed)) {
      out->push_back('$');
      continue;
    }
    repl.remove_prefix(consumed);
    int idx = num;
    if (num < 0) {
      const auto& named = re.NamedCapturingGroups();
      auto it = named.find(std::string(name));
      idx = it == named.end() ? -1 : it->second;
    }
    if (idx >= 0 && static_cast<size_t>(idx) < groups.size() &&
        groups[idx].data() != nullptr) {
      out->append(groups[idx].data(), groups[idx].size());
    }
  }
  out->append(repl);
}

}  // namespace

absl::StatusOr<std::string> GoReplaceAll(const re2::RE2& re,
                                         std::string_view text,
                                         std::string_view repl,
                                         size_t max_bytes) {
  const int ngroups = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(ngroups);
  std::string out;
  size_t last_match_end = 0;
  size_t search_pos = 0;
  const re2::StringPiece input(text.data(), text.size());
  while (search_pos <= text.size()) {
    if (!re.Match(input, search_pos, text.size(), re2::RE2::UNANCHORED,
                  groups.data(), ngroups)) {
      break;
    }
    const size_t a0 = groups[0].data() - text.data();
    const size_t a1 = a0 + groups[0].size();
    out.append(text.substr(last_match_end, a0 - last_match_end));
    if (a1 > last_match_end || a0 == 0) Expand(re, repl, groups, &out);
    if (out.size() > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("reReplaceAll result exceeds ", max_bytes, " bytes"));
    }
    last_match_end = a1;
    size_t width = 0;
    if (search_pos < text.size()) {
      uint32_t r;
      width = DecodeRune(text, search_pos, &r);
    }
    if (search_pos + width > a1) {
      search_pos += width;
    } else if (search_pos + 1 > a1) {
      ++search_pos;
    } else {
      search_pos = a1;
    }
  }
  out.append(text.substr(std::min(last_match_end, text.size())));
  return out;
}

std::string UrlPath(std::string_view url) {
  std::string_view rest = url;
  const size_t frag = rest.find('#');
  if (frag != std::string_view::npos) rest = rest.substr(0, frag);
  const size_t q = rest.find('?');
  if (q != std::string_view::npos) rest = rest.substr(0, q);
  const size_t scheme = rest.find("://");
  if (scheme != std::string_view::npos) {
    rest.remove_prefix(scheme + 3);
    const size_t slash = rest.find('/');
    rest = slash == std::string_view::npos ? std::string_view()
                                           : rest.substr(slash);
  }
  std::string out;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size() &&
        absl::ascii_isxdigit(rest[i + 1]) && absl::ascii_isxdigit(rest[i + 2])) {
      out.push_back(static_cast<char>(
          std::stoi(std::string(rest.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(rest[i]);
    }
  }
  return out;
}

}  // namespace vigil::engine::tmpl::internal
