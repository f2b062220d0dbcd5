#include "storage/matcher.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"
#include "storage/labels.h"

namespace vigil::storage {

namespace {

// Debian's Abseil has its own absl::string_view, distinct from
// std::string_view, so we use std's own helpers.
inline bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}
inline bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// How a matcher decides. Everything but kRegex avoids the regex engine.
struct FastPath {
  enum class Kind {
    kLiteral,   // value == literal
    kSet,       // value in set
    kPrefix,    // starts with literal (`foo.*`)
    kSuffix,    // ends with literal (`.*foo`)
    kContains,  // contains literal (`.*foo.*`)
    kAny,       // `.*`
    kNonEmpty,  // `.+`
    kRegex,     // anything else: RE2
  };
  Kind kind = Kind::kLiteral;
  std::string literal;
  std::vector<std::string> set;  // deduplicated, sorted
  absl::flat_hash_set<std::string> set_index;  // only for larger sets
  std::unique_ptr<re2::RE2> re;

  bool PositiveMatch(std::string_view v) const {
    switch (kind) {
      case Kind::kLiteral:
        return v == literal;
      case Kind::kSet:
        if (!set_index.empty()) return set_index.contains(absl::string_view(v.data(), v.size()));
        for (const std::string& s : set) {
          if (s == v) return true;
        }
        return false;
      case Kind::kPrefix:
        return StartsWith(v, literal);
      case Kind::kSuffix:
        return EndsWith(v, literal);
      case Kind::kContains:
        return v.find(literal) != std::string_view::npos;
      case Kind::kAny:
        return true;
      case Kind::kNonEmpty:
        return !v.empty();
      case Kind::kRegex:
        return re2::RE2::FullMatch(re2::StringPiece(v.data(), v.size()), *re);
    }
    return false;
  }
};



bool IsMeta(char c) {
  switch (c) {
    case '.': case '[': case ']': case '{': case '}': case '(': case ')':
    case '*': case '+': case '?': case '^': case '$': case '|': case '\\':
      return true;
    default:
      return false;
  }
}

// Parses `s` as a plain literal, allowing backslash-escaped punctuation
// (`\.`). Returns nullopt when it has any regex meaning beyond that.
std::optional<std::string> ParseLiteral(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      if (i + 1 >= s.size()) return std::nullopt;
      const char e = s[i + 1];
      // Only escaped punctuation is a literal; \d, \b, \pL and friends are not.
      const bool punct = (e >= 0x21 && e <= 0x2f) || (e >= 0x3a && e <= 0x40) ||
                         (e >= 0x5b && e <= 0x60) || (e >= 0x7b && e <= 0x7e);
      if (!punct) return std::nullopt;
      out.push_back(e);
      ++i;
      continue;
    }
    if (IsMeta(c)) return std::nullopt;
    out.push_back(c);
  }
  return out;
}

// Splits `s` on top-level `|`; nullopt when there are groups or classes
// (which we leave to RE2) or a dangling escape.
std::optional<std::vector<std::string_view>> SplitAlternation(
    std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (c == '(' || c == ')' || c == '[' || c == ']') return std::nullopt;
    if (c == '|') {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(s.substr(start));
  return parts;
}

// Removes one outer `(...)` or `(?:...)` group spanning all of `s`.
std::string_view StripOuterGroup(std::string_view s) {
  size_t open = 0;
  if (StartsWith(s, "(?:")) {
    open = 3;
  } else if (StartsWith(s, "(") && !StartsWith(s, "(?")) {
    open = 1;
  } else {
    return s;
  }
  if (!EndsWith(s, ")") || EndsWith(s, "\\)")) return s;
  // The group must close only at the very end.
  int depth = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
      continue;
    }
    if (s[i] == '(') ++depth;
    if (s[i] == ')') {
      --depth;
      if (depth == 0 && i != s.size() - 1) return s;
    }
  }
  return s.substr(open, s.size() - open - 1);
}

// Fills `c` with a fast path for regex `re` when there is one.
bool TryFastPath(std::string_view re, FastPath* c) {
  using K = FastPath::Kind;
  if (re == ".*") {
    c->kind = K::kAny;
    return true;
  }
  if (re == ".+") {
    c->kind = K::kNonEmpty;
    return true;
  }
  if (auto lit = ParseLiteral(re)) {
    c->kind = K::kLiteral;
    c->literal = std::move(*lit);
    return true;
  }
  const bool lead = StartsWith(re, ".*");
  const bool trail = EndsWith(re, ".*") && !EndsWith(re, "\\.*");
  if (lead || trail) {
    std::string_view mid = re;
    if (lead) mid.remove_prefix(2);
    if (trail && mid.size() >= 2) mid.remove_suffix(2);
    if (auto lit = ParseLiteral(mid)) {
      c->literal = std::move(*lit);
      c->kind = lead && trail ? K::kContains : lead ? K::kSuffix : K::kPrefix;
      if (lead && trail && c->literal.empty()) c->kind = K::kAny;
      return true;
    }
  }
  std::string_view inner = StripOuterGroup(re);
  auto parts = SplitAlternation(inner);
  if (!parts) return false;
  if (parts->size() == 1 && inner != re) return TryFastPath(inner, c);
  std::vector<std::string> values;
  for (std::string_view p : *parts) {
    auto lit = ParseLiteral(p);
    if (!lit) return false;
    values.push_back(std::move(*lit));
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  c->kind = K::kSet;
  c->set = std::move(values);
  if (c->set.size() > 8) {
    c->set_index.insert(c->set.begin(), c->set.end());
  }
  return true;
}

}  // namespace

struct Matcher::Compiled : FastPath {};

absl::StatusOr<Matcher> Matcher::Create(MatchType type, std::string name,
                                        std::string value) {
  auto c = std::make_shared<Compiled>();
  using K = FastPath::Kind;
  if (type == MatchType::kEqual || type == MatchType::kNotEqual) {
    c->kind = K::kLiteral;
    c->literal = value;
    c->set.push_back(value);
  } else if (!TryFastPath(value, c.get())) {
    re2::RE2::Options opts;
    opts.set_log_errors(false);
    // Prometheus 3 lets `.` match a newline.
    opts.set_dot_nl(true);
    c->kind = K::kRegex;
    c->re = std::make_unique<re2::RE2>("^(?:" + value + ")$", opts);
    if (!c->re->ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid regular expression ", QuoteGo(value),
                       " for label ", QuoteGo(name), ": ", c->re->error()));
    }
  } else if (c->kind == K::kLiteral) {
    // A literal regex behaves as a one-element set for the index.
    c->set.push_back(c->literal);
  }
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  m.compiled_ = std::move(c);
  m.matches_empty_ = m.Matches("");
  return m;
}

bool Matcher::Matches(std::string_view label_value) const {
  const bool positive = compiled_->PositiveMatch(label_value);
  return (type_ == MatchType::kEqual || type_ == MatchType::kRegexMatch)
             ? positive
             : !positive;
}

const std::vector<std::string>* Matcher::SetMatches() const {
  using K = FastPath::Kind;
  if (compiled_->kind == K::kLiteral || compiled_->kind == K::kSet) {
    return &compiled_->set;
  }
  return nullptr;
}

const std::string* Matcher::Prefix() const {
  if (compiled_->kind == FastPath::Kind::kPrefix) return &compiled_->literal;
  return nullptr;
}

std::string Matcher::ToString() const {
  std::string out = IsValidLegacyLabelName(name_) ? name_ : QuoteGo(name_);
  switch (type_) {
    case MatchType::kEqual: out.append("="); break;
    case MatchType::kNotEqual: out.append("!="); break;
    case MatchType::kRegexMatch: out.append("=~"); break;
    case MatchType::kRegexNoMatch: out.append("!~"); break;
  }
  out.append(QuoteGo(value_));
  return out;
}

}  // namespace vigil::storage
