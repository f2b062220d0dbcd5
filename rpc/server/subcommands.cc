#include "rpc/server/subcommands.h"

#include <string>
#include <vector>

#include "engine/cli.h"
#include "engine/rule_unit_test_runner.h"
#include "promql/promqltest/cli.h"
#include "rpc/server/config.h"

namespace vigil::rpc::server {

int RunCheckConfig(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err) {
  if (args.empty()) {
    err << "usage: vigil check config FILE...\n";
    return 2;
  }
  bool failed = false;
  for (const std::string& path : args) {
    out << "Checking " << path << "\n";
    auto config = LoadConfigFile(path);
    if (!config.ok()) {
      err << "  FAILED: " << config.status().message() << "\n\n";
      failed = true;
      continue;
    }
    auto files = ExpandRuleFiles(*config);
    if (!files.ok()) {
      err << "  FAILED: " << files.status().message() << "\n\n";
      failed = true;
      continue;
    }
    for (const std::string& s : config->ignored_sections) {
      out << "  WARNING: section " << s << " is ignored by vigil\n";
    }
    out << "  SUCCESS: " << files->size() << " rule files found\n";
    out << " SUCCESS: " << path << " is valid prometheus config file syntax\n\n";
    if (!files->empty() && engine::RunCheckRules(*files, out, err) != 0) {
      failed = true;
    }
  }
  return failed ? 1 : 0;
}

const std::vector<Subcommand>& Subcommands() {
  static const auto* table = new std::vector<Subcommand>{
      {"check", "config", "FILE...", RunCheckConfig},
      {"check", "rules", "FILE...",
       [](const std::vector<std::string>& args, std::ostream& out,
          std::ostream& err) { return engine::RunCheckRules(args, out, err); }},
      {"test", "rules", "FILE...", engine::RunTestRules},
      {"test", "promql", "[--json=FILE] [--known-failures=FILE] FILE_OR_DIR...",
       promql::promqltest::RunTestPromql},
  };
  return *table;
}

std::optional<int> RunSubcommand(const std::vector<std::string>& args,
                                 std::ostream& out, std::ostream& err) {
  if (args.empty()) return std::nullopt;
  bool is_group = false;
  for (const Subcommand& c : Subcommands()) {
    if (c.group == args[0]) is_group = true;
  }
  if (!is_group) return std::nullopt;
  if (args.size() >= 2) {
    for (const Subcommand& c : Subcommands()) {
      if (c.group == args[0] && c.name == args[1]) {
        return c.run(std::vector<std::string>(args.begin() + 2, args.end()),
                     out, err);
      }
    }
  }
  err << "usage: vigil " << args[0] << " <command> [<args>...]\ncommands:\n";
  for (const Subcommand& c : Subcommands()) {
    if (c.group == args[0]) {
      err << "  " << c.group << " " << c.name << " " << c.usage << "\n";
    }
  }
  return 2;
}

}  // namespace vigil::rpc::server
