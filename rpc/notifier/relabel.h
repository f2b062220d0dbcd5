// Prometheus relabelling (`alert_relabel_configs`, `relabel_configs`):
// compiled rules and their application to a label set, with Prometheus 3.5
// semantics (anchored RE2 regexes, Go-style `$1` / `${name}` expansion).
#ifndef VIGIL_RPC_NOTIFIER_RELABEL_H_
#define VIGIL_RPC_NOTIFIER_RELABEL_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "re2/re2.h"
#include "storage/labels.h"

namespace vigil::rpc::notifier {

enum class RelabelAction {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

// Case-insensitive, as Prometheus accepts "Replace" and "replace".
absl::StatusOr<RelabelAction> ParseRelabelAction(std::string_view s);
std::string_view RelabelActionName(RelabelAction a);

// The fields of one rule as written in YAML, with Prometheus' defaults.
struct RelabelSpec {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string regex = "(.*)";
  uint64_t modulus = 0;
  std::string target_label;
  std::string replacement = "$1";
  RelabelAction action = RelabelAction::kReplace;
};

// A validated rule with its compiled regex. Immutable, cheap to copy (the
// regex is shared), safe to use from many threads.
class RelabelRule {
 public:
  // Validates as Prometheus does (required target_label, non-zero modulus for
  // hashmod, no extra fields for labeldrop/labelkeep/keepequal/dropequal) and
  // compiles the regex anchored at both ends. InvalidArgument on error.
  static absl::StatusOr<RelabelRule> Create(RelabelSpec spec);

  const RelabelSpec& spec() const { return spec_; }

  // Applies this rule to `labels` (name -> value; an empty value deletes).
  // Returns false when the label set is to be dropped.
  bool Apply(std::map<std::string, std::string>* labels) const;

 private:
  RelabelRule(RelabelSpec spec, std::shared_ptr<const RE2> re)
      : spec_(std::move(spec)), re_(std::move(re)) {}

  RelabelSpec spec_;
  std::shared_ptr<const RE2> re_;
};

// Applies `rules` in order; false (and `labels` unspecified) when dropped.
bool ApplyRelabel(absl::Span<const RelabelRule> rules,
                  std::map<std::string, std::string>* labels);

// Convenience over storage::Labels; nullopt-like: returns false when dropped.
bool RelabelLabels(absl::Span<const RelabelRule> rules,
                   const storage::Labels& in, storage::Labels* out);

// Go's regexp.Expand over an anchored match: `$1`, `${1}`, `$name`,
// `${name}`, `$$` for a literal `$`. `groups[i]` is submatch i (group 0 is the
// whole match); a group that did not participate is a null view.
std::string ExpandTemplate(const RE2& re, std::string_view tmpl,
                           absl::Span<const std::string_view> groups);

// MD5 of `data` (RFC 1321), for the hashmod action.
std::array<uint8_t, 16> Md5(std::string_view data);

}  // namespace vigil::rpc::notifier

#endif  // VIGIL_RPC_NOTIFIER_RELABEL_H_
