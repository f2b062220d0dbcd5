#include "engine/cli.h"

#include <algorithm>
#include <utility>

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
  if (args.empty()) {
    err << "usage: vigil check rules FILE...\n";
    return kExitUsage;
  }
  bool failed = false;
  for (const std::string& file : args) {
    out << "Checking " << file << "\n";
    RuleFileResult r = LoadRuleFile(file, options);
    if (r.ok()) {
      auto dups = Duplicates(r);
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
