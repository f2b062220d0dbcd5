#include "engine/cli.h"

#include "engine/rule_validation.h"

namespace vigil::engine {

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
      out << "  SUCCESS: " << r.rule_count() << " rules found\n\n";
      continue;
    }
    failed = true;
    err << "  FAILED:\n";
    for (const std::string& e : r.errors) {
      err << e << "\n";
    }
    err << "\n";
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
