// Loading and validating Prometheus rule files (`groups:` YAML) into plain
// specs the rule engine builds groups from, with promtool-style errors that
// name file, line, group and rule.
#ifndef VIGIL_ENGINE_RULE_LOADER_H_
#define VIGIL_ENGINE_RULE_LOADER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/labels.h"

namespace vigil::engine {

// One alerting or recording rule as written in the file (templates not yet
// expanded).
struct RuleSpec {
  enum class Kind { kAlerting, kRecording };
  Kind kind = Kind::kAlerting;
  std::string name;  // `alert` or `record`
  std::string expr;
  absl::Duration for_duration = absl::ZeroDuration();
  absl::Duration keep_firing_for = absl::ZeroDuration();
  // Sorted by name; values are template text and may be empty.
  std::vector<storage::Label> labels;
  std::vector<storage::Label> annotations;
  int line = 0;  // 1-based line of the rule in its file

  bool is_alerting() const { return kind == Kind::kAlerting; }
};

// One group of a rule file.
struct GroupSpec {
  std::string file;  // the path the group was read from
  std::string name;
  // Zero when the file does not say: the manager's default applies.
  absl::Duration interval = absl::ZeroDuration();
  // Unset when the file does not say: the manager's default applies.
  std::optional<absl::Duration> query_offset;
  int64_t limit = 0;  // 0: no limit
  // Group labels, already merged into each rule's labels by the loader (a
  // rule's own label wins); kept for display.
  std::vector<storage::Label> labels;
  std::vector<RuleSpec> rules;
  int line = 0;
};

// Validation hooks, so the loader does not depend on the PromQL parser or the
// template engine directly. Each returns InvalidArgument with a message that
// the loader prefixes with file, line, group and rule.
struct RuleLoaderOptions {
  // Parses a PromQL expression. Default (unset): the expression only has to
  // be non-empty.
  std::function<absl::Status(std::string_view expr)> validate_expr;
  // Parses a label or annotation template. `name` is the template's name as
  // Prometheus gives it (`__alert_<AlertName>`). Default (unset): accepted.
  std::function<absl::Status(std::string_view name, std::string_view text)>
      validate_template;
  // Errors reported per file before the rest are dropped.
  int max_errors_per_file = 50;
  // Unknown fields are ignored instead of reported (promtool's
  // --ignore-unknown-fields).
  bool ignore_unknown_fields = false;
};

// The outcome of reading one file. `errors` are complete lines
// ("rules.yml:12: group \"api\", rule 2 (\"HighErrorRate\"): ...").
struct RuleFileResult {
  std::vector<GroupSpec> groups;
  std::vector<std::string> errors;
  bool ok() const { return errors.empty(); }
  size_t rule_count() const;
};

// Parses and validates `content` as the rule file `file_name`. Never throws.
RuleFileResult ParseRuleFile(std::string_view file_name,
                             std::string_view content,
                             const RuleLoaderOptions& options = {});

// Reads and parses one file from disk (an unreadable file is one error).
RuleFileResult LoadRuleFile(const std::string& path,
                            const RuleLoaderOptions& options = {});

// Expands `rule_files` patterns (shell globs; a pattern matching nothing
// contributes nothing, as Prometheus does) into sorted, unique paths.
// InvalidArgument for a malformed pattern.
absl::StatusOr<std::vector<std::string>> ExpandRuleFilePatterns(
    const std::vector<std::string>& patterns);

// Expands the patterns and loads every file. On any error returns
// InvalidArgument whose message lists every error, one per line.
absl::StatusOr<std::vector<GroupSpec>> LoadRuleFiles(
    const std::vector<std::string>& patterns,
    const RuleLoaderOptions& options = {});

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_RULE_LOADER_H_
