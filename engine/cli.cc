#include "engine/cli.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "engine/rule_validation.h"

namespace vigil::engine {
namespace {

// promtool's duplicate-rules lint: rules with the same name (record or
// alert) and the same labels, across all groups of a file.
std::vector<std::pair<std::string, std::vector<storage::Label>>> Duplicates(
    const RuleFileResult& r) {
  std::vector<std::pair<std::string, std::vector<storage::Label>>> all;
  for (const GroupSpec& g : r.groups) {
    for (const RuleSpec& rule : g.rules) {
      all.push_back({rule.name, rule.labels});
    }
  }
  auto less = [](const auto& a, const auto& b) {
    if (a.first != b.first) {
      return a.first < b.first;
    }
    return std::lexicographical_compare(
        a.second.begin(), a.second.end(), b.second.begin(), b.second.end(),
        [](const storage::Label& x, const storage::Label& y) {
          return x.name != y.name ? x.name < y.name : x.value < y.value;
        });
  };
  std::sort(all.begin(), all.end(), less);
  std::vector<std::pair<std::string, std::vector<storage::Label>>> dups;
  for (size_t i = 1; i < all.size(); ++i) {
    if (all[i].first == all[i - 1].first && all[i].second == all[i - 1].second) {
      dups.push_back(all[i]);
    }
  }
  return dups;
}

}  // namespace

int RunCheckRules(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err, const RuleLoaderOptions& options) {
  constexpr char kUsage[] =
      "usage: vigil check rules [--lint=duplicate-rules|all|none] "
      "[--lint-fatal] [--ignore-unknown-fields] FILE...\n";
  std::vector<std::string> files;
  bool lint = true, lint_fatal = false;
  RuleLoaderOptions opts = options;
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      out << kUsage
          << "  --lint=...                duplicate-rules (default) and all "
             "report rules with the same name and labels; none does not\n"
             "  --lint-fatal              a lint finding fails the check\n"
             "  --ignore-unknown-fields   unknown fields are not errors\n";
      return kExitSuccess;
    }
    if (absl::StartsWith(a, "--lint=")) {
      const std::string v = a.substr(7);
      if (v != "duplicate-rules" && v != "all" && v != "none") {
        err << "--lint: unknown value " << v << "\n" << kUsage;
        return kExitUsage;
      }
      lint = v != "none";
    } else if (a == "--lint-fatal") {
      lint_fatal = true;
    } else if (a == "--ignore-unknown-fields") {
      opts.ignore_unknown_fields = true;
    } else if (absl::StartsWith(a, "--")) {
      err << "unknown flag " << a << "\n" << kUsage;
      return kExitUsage;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    err << kUsage;
    return kExitUsage;
  }
  bool failed = false;
  for (const std::string& file : files) {
    out << "Checking " << file << "\n";
    RuleFileResult r = LoadRuleFile(file, opts);
    if (r.ok()) {
      auto dups = lint ? Duplicates(r) : decltype(Duplicates(r)){};
      if (dups.empty()) {
        out << "  SUCCESS: " << r.rule_count() << " rules found\n\n";
        continue;
      }
      // A lint finding: reported as promtool does, but not a failure.
      err << "  FAILED:\n"
          << "lint error " << dups.size() << " duplicate rule(s) found.\n";
      for (const auto& [name, labels] : dups) {
        err << "Metric: " << name << "\nLabel(s):\n";
        for (const storage::Label& l : labels) {
          err << "\t" << l.name << ": " << l.value << "\n";
        }
      }
      err << "Might cause inconsistency while recording expressions\n";
      err.flush();
      out << "\n";
      if (lint_fatal) failed = true;
      continue;
    }
    failed = true;
    err << "  FAILED:\n";
    for (const std::string& e : r.errors) {
      err << e << "\n";
    }
    err.flush();
    out << "\n";
  }
  out.flush();
  err.flush();
  return failed ? kExitFailure : kExitSuccess;
}

int RunCheckRules(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err) {
  return RunCheckRules(args, out, err, DefaultRuleLoaderOptions());
}

}  // namespace vigil::engine
