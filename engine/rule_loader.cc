#include "engine/rule_loader.h"

#include <glob.h>

#include <algorithm>
#include <exception>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/duration.h"
#include "engine/str_util.h"
#include "engine/yaml_util.h"
#include "yaml-cpp/yaml.h"

namespace vigil::engine {
namespace {

// 1-based line of a node, or `fallback` when yaml-cpp has no mark for it
// (null nodes).
int LineOf(const YAML::Node& n, int fallback) {
  if (!n.IsDefined()) {
    return fallback;
  }
  int line = n.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

// Collects errors for one file, prefixing each with its location, and
// stops collecting at the cap.
class ErrorList {
 public:
  ErrorList(absl::string_view file, int cap, std::vector<std::string>* out)
      : file_(file), cap_(cap), out_(out) {}

  // promtool's --ignore-unknown-fields: unknown keys are not errors.
  bool ignore_unknown_fields = false;

  void Add(int line, absl::string_view context, absl::string_view msg) {
    if (static_cast<int>(out_->size()) > cap_) {
      return;
    }
    if (static_cast<int>(out_->size()) == cap_) {
      out_->push_back(absl::StrCat(file_, ": too many errors, rest omitted"));
      return;
    }
    std::string loc = line > 0 ? absl::StrCat(file_, ":", line) : file_;
    if (context.empty()) {
      out_->push_back(absl::StrCat(loc, ": ", msg));
    } else {
      out_->push_back(absl::StrCat(loc, ": ", context, ": ", msg));
    }
  }

 private:
  std::string file_;
  int cap_;
  std::vector<std::string>* out_;
};

std::string GroupContext(absl::string_view group) {
  return absl::StrCat("group \"", group, "\"");
}

std::string RuleContext(absl::string_view group, int index,
                        absl::string_view rule_name) {
  return absl::StrCat("group \"", group, "\", rule ", index, " (\"", rule_name,
                      "\")");
}

// Reads a scalar as a string. Null (`key:` with no value) reads as "".
bool ScalarString(const YAML::Node& n, std::string* out) {
  if (n.IsNull()) {
    out->clear();
    return true;
  }
  if (!n.IsScalar()) {
    return false;
  }
  *out = n.Scalar();
  return true;
}

// Reads a `name: value` map of strings (labels or annotations), reporting
// problems through `err`. Returns the pairs sorted by name.
std::vector<storage::Label> ReadStringMap(const YAML::Node& n,
                                          absl::string_view what,
                                          absl::string_view context,
                                          int fallback_line, ErrorList* err) {
  std::vector<storage::Label> out;
  if (n.IsNull()) {
    return out;
  }
  if (!n.IsMap()) {
    err->Add(LineOf(n, fallback_line), context,
             absl::StrCat("field '", what, "' must be a map of strings"));
    return out;
  }
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string key;
    std::string value;
    if (!ScalarString(it->first, &key)) {
      err->Add(LineOf(it->first, fallback_line), context,
               absl::StrCat("'", what, "' keys must be strings"));
      continue;
    }
    if (!seen.insert(key).second) {
      err->Add(LineOf(it->first, fallback_line), context,
               absl::StrCat("'", what, "' key \"", key,
                            "\" already defined"));
      continue;
    }
    if (!ScalarString(it->second, &value)) {
      err->Add(LineOf(it->second, fallback_line), context,
               absl::StrCat("'", what, "' value for \"", key,
                            "\" must be a string"));
      continue;
    }
    out.push_back({std::move(key), std::move(value)});
  }
  std::sort(out.begin(), out.end(),
            [](const storage::Label& a, const storage::Label& b) {
              return a.name < b.name;
            });
  return out;
}

// Checks that every key of map `n` is one of `known`, reporting the others.
// Also reports keys given twice.
void CheckKeys(const YAML::Node& n, std::initializer_list<std::string_view> known,
               absl::string_view type, absl::string_view context,
               int fallback_line, ErrorList* err) {
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    std::string key;
    if (!ScalarString(it->first, &key)) {
      err->Add(LineOf(it->first, fallback_line), context,
               absl::StrCat("non-string key in ", type));
      continue;
    }
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      if (!err->ignore_unknown_fields) {
        err->Add(LineOf(it->first, fallback_line), context,
                 absl::StrCat("field ", key, " not found in type ", type));
      }
    } else if (!seen.insert(key).second) {
      err->Add(LineOf(it->first, fallback_line), context,
               absl::StrCat("mapping key \"", key, "\" already defined"));
    }
  }
}

bool ReadDuration(const YAML::Node& n, absl::string_view field,
                  absl::string_view context, int fallback_line, ErrorList* err,
                  absl::Duration* out) {
  std::string s;
  if (!ScalarString(n, &s)) {
    err->Add(LineOf(n, fallback_line), context,
             absl::StrCat("field '", field, "' must be a duration"));
    return false;
  }
  if (s.empty()) {
    *out = absl::ZeroDuration();
    return true;
  }
  absl::StatusOr<absl::Duration> d = ParsePromDuration(s);
  if (!d.ok()) {
    err->Add(LineOf(n, fallback_line), context,
             absl::StrCat("field '", field, "': ", d.status().message()));
    return false;
  }
  *out = *d;
  return true;
}

void MergeGroupLabels(const std::vector<storage::Label>& group_labels,
                      std::vector<storage::Label>* rule_labels) {
  for (const storage::Label& g : group_labels) {
    bool present = std::any_of(
        rule_labels->begin(), rule_labels->end(),
        [&](const storage::Label& l) { return l.name == g.name; });
    if (!present) {
      rule_labels->push_back(g);
    }
  }
  std::sort(rule_labels->begin(), rule_labels->end(),
            [](const storage::Label& a, const storage::Label& b) {
              return a.name < b.name;
            });
}

void ParseRule(const YAML::Node& rn, const std::string& group_name, int index,
               const RuleLoaderOptions& options, ErrorList* err,
               std::vector<RuleSpec>* rules) {
  RuleSpec rule;
  rule.line = LineOf(rn, 0);
  if (!rn.IsMap()) {
    err->Add(rule.line, RuleContext(group_name, index, ""),
             "rule must be a map");
    return;
  }
  std::string alert;
  std::string record;
  const YAML::Node alert_node = rn["alert"];
  const YAML::Node record_node = rn["record"];
  bool has_alert = alert_node.IsDefined() &&
                   ScalarString(alert_node, &alert) && !alert.empty();
  bool has_record = record_node.IsDefined() &&
                    ScalarString(record_node, &record) && !record.empty();
  rule.name = has_alert ? alert : record;
  const std::string ctx = RuleContext(group_name, index, rule.name);
  CheckKeys(rn,
            {"alert", "record", "expr", "for", "keep_firing_for", "labels",
             "annotations"},
            "rule", ctx, rule.line, err);

  if (has_alert && has_record) {
    err->Add(rule.line, ctx, "only one of 'record' and 'alert' must be set");
  } else if (!has_alert && !has_record) {
    err->Add(rule.line, ctx, "one of 'record' or 'alert' must be set");
  }
  rule.kind = has_record && !has_alert ? RuleSpec::Kind::kRecording
                                       : RuleSpec::Kind::kAlerting;

  const YAML::Node expr_node = rn["expr"];
  if (!expr_node.IsDefined() || !ScalarString(expr_node, &rule.expr) ||
      rule.expr.empty()) {
    err->Add(LineOf(expr_node, rule.line), ctx,
             "field 'expr' must be set in rule");
  } else if (options.validate_expr) {
    absl::Status st = options.validate_expr(rule.expr);
    if (!st.ok()) {
      err->Add(LineOf(expr_node, rule.line), ctx,
               absl::StrCat("could not parse expression: ", st.message()));
    }
  }

  const YAML::Node for_node = rn["for"];
  const YAML::Node kff_node = rn["keep_firing_for"];
  const YAML::Node labels_node = rn["labels"];
  const YAML::Node ann_node = rn["annotations"];
  if (for_node.IsDefined()) {
    ReadDuration(for_node, "for", ctx, rule.line, err, &rule.for_duration);
  }
  if (kff_node.IsDefined()) {
    ReadDuration(kff_node, "keep_firing_for", ctx, rule.line, err,
                 &rule.keep_firing_for);
  }
  if (labels_node.IsDefined()) {
    rule.labels =
        ReadStringMap(labels_node, "labels", ctx, rule.line, err);
  }
  if (ann_node.IsDefined()) {
    rule.annotations =
        ReadStringMap(ann_node, "annotations", ctx, rule.line, err);
  }

  if (rule.kind == RuleSpec::Kind::kRecording && !has_alert) {
    if (ann_node.IsDefined() && !rule.annotations.empty()) {
      err->Add(LineOf(ann_node, rule.line), ctx,
               "invalid field 'annotations' in recording rule");
    }
    if (for_node.IsDefined() && rule.for_duration != absl::ZeroDuration()) {
      err->Add(LineOf(for_node, rule.line), ctx,
               "invalid field 'for' in recording rule");
    }
    if (kff_node.IsDefined() &&
        rule.keep_firing_for != absl::ZeroDuration()) {
      err->Add(LineOf(kff_node, rule.line), ctx,
               "invalid field 'keep_firing_for' in recording rule");
    }
    if (!storage::IsValidLegacyMetricName(rule.name)) {
      err->Add(LineOf(record_node, rule.line), ctx,
               absl::StrCat("invalid recording rule name: ", rule.name));
    }
  }

  for (const storage::Label& l : rule.labels) {
    if (!storage::IsValidLegacyLabelName(l.name) ||
        l.name == storage::kMetricNameLabel) {
      err->Add(LineOf(labels_node, rule.line), ctx,
               absl::StrCat("invalid label name: ", l.name));
    }
  }
  for (const storage::Label& a : rule.annotations) {
    if (!storage::IsValidLegacyLabelName(a.name)) {
      err->Add(LineOf(ann_node, rule.line), ctx,
               absl::StrCat("invalid annotation name: ", a.name));
    }
  }
  if (rule.kind == RuleSpec::Kind::kAlerting && options.validate_template) {
    const std::string tmpl_name = absl::StrCat("__alert_", rule.name);
    for (const storage::Label& l : rule.labels) {
      absl::Status st = options.validate_template(tmpl_name, l.value);
      if (!st.ok()) {
        err->Add(LineOf(labels_node, rule.line), ctx,
                 absl::StrCat("label \"", l.name, "\": ", st.message()));
      }
    }
    for (const storage::Label& a : rule.annotations) {
      absl::Status st = options.validate_template(tmpl_name, a.value);
      if (!st.ok()) {
        err->Add(LineOf(ann_node, rule.line), ctx,
                 absl::StrCat("annotation \"", a.name, "\": ", st.message()));
      }
    }
  }
  rules->push_back(std::move(rule));
}

void ParseGroup(const YAML::Node& gn, std::string_view file,
                const RuleLoaderOptions& options, std::set<std::string>* names,
                ErrorList* err, std::vector<GroupSpec>* groups) {
  GroupSpec group;
  group.file = std::string(file);
  group.line = LineOf(gn, 0);
  if (!gn.IsMap()) {
    err->Add(group.line, "", "rule group must be a map");
    return;
  }
  const YAML::Node name_node = gn["name"];
  if (name_node.IsDefined() && !ScalarString(name_node, &group.name)) {
    err->Add(LineOf(name_node, group.line), "", "group name must be a string");
  }
  const std::string ctx = GroupContext(group.name);
  CheckKeys(gn, {"name", "interval", "query_offset", "limit", "rules", "labels"},
            "rule group", ctx, group.line, err);
  if (group.name.empty()) {
    err->Add(group.line, "", "Groupname must not be empty");
  } else if (!names->insert(group.name).second) {
    err->Add(LineOf(name_node, group.line), "",
             absl::StrCat("groupname: \"", group.name,
                          "\" is repeated in the same file"));
  }
  if (const YAML::Node n = gn["interval"]; n.IsDefined()) {
    ReadDuration(n, "interval", ctx, group.line, err, &group.interval);
  }
  if (const YAML::Node n = gn["query_offset"]; n.IsDefined() && !n.IsNull()) {
    absl::Duration d;
    if (ReadDuration(n, "query_offset", ctx, group.line, err, &d)) {
      group.query_offset = d;
    }
  }
  if (const YAML::Node n = gn["limit"]; n.IsDefined() && !n.IsNull()) {
    std::string s;
    int64_t limit = 0;
    bool ok = ScalarString(n, &s) && !s.empty();
    if (ok) {
      try {
        limit = n.as<int64_t>();
      } catch (const std::exception&) {
        ok = false;
      }
    }
    // Any integer, as in Prometheus' rulefmt: zero or less means no limit.
    if (!ok) {
      err->Add(LineOf(n, group.line), ctx,
               absl::StrCat("field 'limit' must be an integer, got \"",
                            s, "\""));
    } else {
      group.limit = limit;
    }
  }
  if (const YAML::Node n = gn["labels"]; n.IsDefined()) {
    group.labels = ReadStringMap(n, "labels", ctx, group.line, err);
    for (const storage::Label& l : group.labels) {
      if (!storage::IsValidLegacyLabelName(l.name) ||
          l.name == storage::kMetricNameLabel) {
        err->Add(LineOf(n, group.line), ctx,
                 absl::StrCat("invalid label name: ", l.name));
      }
    }
  }
  const YAML::Node rules = gn["rules"];
  if (rules.IsDefined() && !rules.IsNull()) {
    if (!rules.IsSequence()) {
      err->Add(LineOf(rules, group.line), ctx, "field 'rules' must be a list");
    } else {
      int index = 0;
      for (const YAML::Node& rn : rules) {
        ++index;
        ParseRule(rn, group.name, index, options, err, &group.rules);
      }
    }
  }
  for (RuleSpec& r : group.rules) {
    MergeGroupLabels(group.labels, &r.labels);
  }
  groups->push_back(std::move(group));
}

}  // namespace

size_t RuleFileResult::rule_count() const {
  size_t n = 0;
  for (const GroupSpec& g : groups) {
    n += g.rules.size();
  }
  return n;
}

RuleFileResult ParseRuleFile(std::string_view file_name,
                             std::string_view content,
                             const RuleLoaderOptions& options) {
  RuleFileResult result;
  ErrorList err(Sv(file_name), options.max_errors_per_file, &result.errors);
  err.ignore_unknown_fields = options.ignore_unknown_fields;
  try {
    YAML::Node root = LoadYaml(content);
    if (root.IsNull() || !root.IsDefined()) {
      return result;  // An empty file holds no groups, as in Prometheus.
    }
    if (!root.IsMap()) {
      err.Add(LineOf(root, 0), "", "rule file must be a map with 'groups'");
      return result;
    }
    CheckKeys(root, {"groups"}, "rule file", "", 0, &err);
    const YAML::Node groups = root["groups"];
    if (!groups.IsDefined() || groups.IsNull()) {
      return result;
    }
    if (!groups.IsSequence()) {
      err.Add(LineOf(groups, 0), "", "field 'groups' must be a list");
      return result;
    }
    std::set<std::string> names;
    for (const YAML::Node& gn : groups) {
      ParseGroup(gn, file_name, options, &names, &err, &result.groups);
    }
  } catch (const YAML::Exception& e) {
    err.Add(e.mark.line >= 0 ? e.mark.line + 1 : 0, "",
            absl::StrCat("yaml: ", e.msg));
  } catch (const std::exception& e) {
    err.Add(0, "", absl::StrCat("yaml: ", e.what()));
  }
  if (!result.errors.empty()) {
    result.groups.clear();
  }
  return result;
}

RuleFileResult LoadRuleFile(const std::string& path,
                            const RuleLoaderOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    RuleFileResult r;
    r.errors.push_back(absl::StrCat(path, ": cannot read file"));
    return r;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseRuleFile(path, ss.str(), options);
}

absl::StatusOr<std::vector<std::string>> ExpandRuleFilePatterns(
    const std::vector<std::string>& patterns) {
  std::set<std::string> paths;
  for (const std::string& p : patterns) {
    glob_t g{};
    int rc = glob(p.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        paths.insert(g.gl_pathv[i]);
      }
    }
    globfree(&g);
    if (rc != 0 && rc != GLOB_NOMATCH) {
      return absl::InvalidArgumentError(
          absl::StrCat("error retrieving rule files for ", p));
    }
  }
  return std::vector<std::string>(paths.begin(), paths.end());
}

absl::StatusOr<std::vector<GroupSpec>> LoadRuleFiles(
    const std::vector<std::string>& patterns,
    const RuleLoaderOptions& options) {
  absl::StatusOr<std::vector<std::string>> files =
      ExpandRuleFilePatterns(patterns);
  if (!files.ok()) {
    return files.status();
  }
  std::vector<GroupSpec> groups;
  std::vector<std::string> errors;
  for (const std::string& f : *files) {
    RuleFileResult r = LoadRuleFile(f, options);
    errors.insert(errors.end(), r.errors.begin(), r.errors.end());
    for (GroupSpec& g : r.groups) {
      groups.push_back(std::move(g));
    }
  }
  if (!errors.empty()) {
    return absl::InvalidArgumentError(absl::StrJoin(errors, "\n"));
  }
  return groups;
}

}  // namespace vigil::engine
