// A stand-alone `check rules` / `test rules` binary for engine/ development
// and for comparing against promtool; the vigil binary exposes the same
// functions as sub-commands.
#include <iostream>
#include <string>
#include <vector>

#include "engine/cli.h"
#include "engine/rule_unit_test_runner.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() >= 2 && args[0] == "check" && args[1] == "rules") {
    return vigil::engine::RunCheckRules({args.begin() + 2, args.end()},
                                        std::cout, std::cerr);
  }
  if (args.size() >= 2 && args[0] == "test" && args[1] == "rules") {
    return vigil::engine::RunTestRules({args.begin() + 2, args.end()},
                                       std::cout, std::cerr);
  }
  std::cerr << "usage: " << argv[0] << " (check|test) rules FILE...\n";
  return vigil::engine::kExitUsage;
}
