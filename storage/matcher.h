// Label matchers (=, !=, =~, !~) as PromQL and the HTTP API use them.
#ifndef VIGIL_STORAGE_MATCHER_H_
#define VIGIL_STORAGE_MATCHER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace re2 {
class RE2;
}

namespace vigil::storage {

enum class MatchType { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

// One label matcher. Regexes are RE2, fully anchored as in Prometheus
// (`^(?:re)$`). Literal alternations (`a|b|c`), literal prefixes (`foo.*`)
// and `.*` / `.+` take fast paths that never run the regex engine.
// Immutable after Create; cheap to copy (the compiled regex is shared);
// thread-safe.
class Matcher {
 public:
  // InvalidArgument naming the regex and RE2's reason when it does not
  // compile.
  static absl::StatusOr<Matcher> Create(MatchType type, std::string name,
                                        std::string value);

  MatchType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }

  // Whether a label value matches. A missing label is matched as "".
  bool Matches(std::string_view label_value) const;
  // True when this matcher matches the empty string (so it also selects
  // series that lack the label).
  bool MatchesEmpty() const { return matches_empty_; }

  // When the regex is a finite set of literals (or type is =/!=), the set;
  // else null. Lets the index look values up instead of scanning. For the
  // negative types (!=, !~) it is the set of values that do NOT match. The set
  // may contain "" (which stands for a missing label). Lives as long as any
  // copy of this matcher.
  const std::vector<std::string>* SetMatches() const;

  // When the regex (=~ or !~) is a literal prefix followed by `.*`
  // (`foo.*`), the prefix; else null. Lets the index scan a sorted value
  // range instead of all values.
  const std::string* Prefix() const;

  // `name="value"`, `name=~"re"`, ... as PromQL prints it.
  std::string ToString() const;

 private:
  struct Compiled;
  Matcher() = default;

  MatchType type_ = MatchType::kEqual;
  std::string name_;
  std::string value_;
  bool matches_empty_ = false;
  std::shared_ptr<const Compiled> compiled_;  // never null after Create
};

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_MATCHER_H_
