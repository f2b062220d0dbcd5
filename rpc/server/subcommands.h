// vigil's sub-commands (`vigil check config FILE`, `vigil check rules`,
// `vigil test rules`, `vigil test promql`): a dispatch table that other
// libraries plug their promtool-style commands into.
#ifndef VIGIL_RPC_SERVER_SUBCOMMANDS_H_
#define VIGIL_RPC_SERVER_SUBCOMMANDS_H_

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::rpc::server {

// Gets the arguments after the command words; returns the exit code
// (promtool's: 0 success, 1 failure, 2 usage).
using SubcommandFn = std::function<int(const std::vector<std::string>& args,
                                       std::ostream& out, std::ostream& err)>;

struct Subcommand {
  std::string_view group;  // "check", "test"
  std::string_view name;   // "config", "rules", "promql"
  std::string_view usage;  // e.g. "FILE..."
  SubcommandFn run;
};

const std::vector<Subcommand>& Subcommands();

// When args[0] names a command group ("check", "test"), runs the matching
// sub-command and returns its exit code (2 with a usage message when the
// second word is missing or unknown); std::nullopt when args is not a
// sub-command invocation (the server's flags, then).
std::optional<int> RunSubcommand(const std::vector<std::string>& args,
                                 std::ostream& out, std::ostream& err);

// `vigil check config FILE...`: promtool's output shape. Also checks the
// rule files the config names.
int RunCheckConfig(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err);

}  // namespace vigil::rpc::server

#endif  // VIGIL_RPC_SERVER_SUBCOMMANDS_H_
