// `vigil check rules` and `vigil test rules`: promtool's rule sub-commands,
// with promtool's output shape and exit codes, callable from the binary.
#ifndef VIGIL_ENGINE_CLI_H_
#define VIGIL_ENGINE_CLI_H_

#include <ostream>
#include <string>
#include <vector>

#include "engine/rule_loader.h"

namespace vigil::engine {

// Exit codes as promtool uses them.
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// `vigil check rules FILE...`: for each file prints "Checking FILE" and either
// "  SUCCESS: N rules found" (to `out`) or "  FAILED:" and the errors (to
// `err`). Returns 0 when every file is valid, 1 when any is not, 2 when no
// file was given. `options` decides how expressions and templates are
// validated (see DefaultRuleLoaderOptions in rule_validation.h).
int RunCheckRules(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err, const RuleLoaderOptions& options);
int RunCheckRules(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err);

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_CLI_H_
