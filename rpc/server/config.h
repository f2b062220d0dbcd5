// vigil's configuration file: Prometheus' prometheus.yml shape (global,
// rule_files, alerting), so an existing file can be pointed at vigil.
#ifndef VIGIL_RPC_SERVER_CONFIG_H_
#define VIGIL_RPC_SERVER_CONFIG_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil::rpc::server {

struct Config {
  absl::Duration scrape_interval = absl::Minutes(1);
  absl::Duration evaluation_interval = absl::Minutes(1);
  // global.rule_query_offset (Prometheus 2.53+); `query_offset` is accepted
  // as an alias.
  absl::Duration rule_query_offset = absl::ZeroDuration();
  // Sorted by name.
  std::vector<std::pair<std::string, std::string>> external_labels;
  // As written: paths or globs, relative to the config file's directory.
  std::vector<std::string> rule_files;
  // The `alerting` section re-emitted as YAML ("" when absent), for the
  // notifier to parse.
  std::string alerting_yaml;
  // Prometheus sections vigil has no use for (scrape_configs, remote_write,
  // ...): accepted so that prometheus.yml loads, reported for a warning.
  std::vector<std::string> ignored_sections;
  // The text it was parsed from, as /api/v1/status/config shows it.
  std::string yaml;
  // Where it came from ("" for the built-in default); rule file paths are
  // relative to its directory.
  std::string path;
};

// Parses YAML text. InvalidArgument with the file name and line for YAML
// syntax errors, unknown keys ("line 7: field scrape_intervall not found in
// type global"), bad durations or label names.
absl::StatusOr<Config> ParseConfig(std::string_view yaml, std::string_view path);
// Reads and parses a file. NotFound when it cannot be read.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// Expands rule_files globs (relative to the config's directory), sorted,
// duplicates removed. A pattern matching nothing is not an error (as in
// Prometheus); a malformed one is.
absl::StatusOr<std::vector<std::string>> ExpandRuleFiles(const Config& config);

// The configuration built into the binary (testdata/vigil.yml at build time).
std::string_view DefaultConfigText();

}  // namespace vigil::rpc::server

#endif  // VIGIL_RPC_SERVER_CONFIG_H_
