#include "storage/base/json_string.h"

#include <cstring>

namespace vigil {

size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  const size_t left = s.size() - i;
  const auto cont = [&](size_t k) { return (b(k) & 0xc0) == 0x80; };
  if (c >= 0xc2 && c <= 0xdf) {
    return left >= 2 && cont(i + 1) ? 2 : 0;
  }
  if (c >= 0xe0 && c <= 0xef) {
    if (left < 3 || !cont(i + 1) || !cont(i + 2)) return 0;
    // Overlong forms below U+0800, and the surrogates U+D800..U+DFFF.
    if ((c == 0xe0 && b(i + 1) < 0xa0) || (c == 0xed && b(i + 1) > 0x9f)) {
      return 0;
    }
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (left < 4 || !cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    // Overlong forms below U+10000, and code points above U+10FFFF.
    if ((c == 0xf0 && b(i + 1) < 0x90) || (c == 0xf4 && b(i + 1) > 0x8f)) {
      return 0;
    }
    return 4;
  }
  return 0;
}

namespace {

// Bytes that end a run copied as is: control bytes, non-ASCII (checked as
// UTF-8), '"', '\\' and Go's HTML-safe <, >, &.
struct SpecialBytes {
  bool table[256] = {};
  constexpr SpecialBytes() {
    for (int c = 0; c < 256; ++c) {
      table[c] = c < 0x20 || c >= 0x80 || c == '"' || c == '\\' ||
                 c == '<' || c == '>' || c == '&';
    }
  }
};
constexpr SpecialBytes kSpecial;

}  // namespace

void AppendJsonString(std::string_view s, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size() && !kSpecial.table[static_cast<unsigned char>(s[i])]) {
    ++i;
  }
  if (i == s.size()) {
    // The common case (label names and values): one append, quotes included.
    const size_t at = out->size();
    out->resize(at + s.size() + 2);
    char* p = out->data() + at;
    p[0] = '"';
    if (!s.empty()) std::memcpy(p + 1, s.data(), s.size());
    p[s.size() + 1] = '"';
    return;
  }
  out->push_back('"');
  out->append(s.data(), i);
  while (i < s.size()) {
    // Copy the longest run that needs no escaping in one go.
    size_t j = i;
    while (j < s.size() && !kSpecial.table[static_cast<unsigned char>(s[j])]) {
      ++j;
    }
    out->append(s.data() + i, j - i);
    i = j;
    if (i >= s.size()) break;
    const unsigned char c = s[i];
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out->append("\xEF\xBF\xBD");  // U+FFFD for an ill-formed byte
        ++i;
      } else if (n == 3 && c == 0xE2 && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                 (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
        // U+2028 / U+2029 break JavaScript string literals; Go escapes them.
        out->append(static_cast<unsigned char>(s[i + 2]) == 0xA8 ? "\\u2028"
                                                                 : "\\u2029");
        i += n;
      } else {
        out->append(s.data() + i, n);
        i += n;
      }
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
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:  // other control bytes, and <, >, & (HTML-safe, as Go)
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 0xf]);
    }
    ++i;
  }
  out->push_back('"');
}

}  // namespace vigil
