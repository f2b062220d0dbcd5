// Loading YAML the way Prometheus' Go YAML reads it, where yaml-cpp alone
// differs: a quoted scalar left open at the end of the file is an error
// (yaml-cpp takes the rest of the file as its value, silently swallowing the
// rules after it), and YAML 1.1 merge keys (`<<: *defaults`) are applied.
// Used for rule files, rule unit test files and the config file.
#ifndef VIGIL_ENGINE_YAML_UTIL_H_
#define VIGIL_ENGINE_YAML_UTIL_H_

#include <string_view>

#include "yaml-cpp/yaml.h"

namespace vigil::engine {

// YAML::Load plus the above. Throws YAML::Exception (with the position) as
// YAML::Load does; callers catch it inside their package.
YAML::Node LoadYaml(std::string_view text);

// Throws YAML::ParserException at the opening quote of the first quoted
// scalar (key or value) in `root` that `text` does not close.
void CheckQuotedScalarsClosed(const YAML::Node& root, std::string_view text);

// Replaces each `<<` key of every map under `root` by the entries of the
// map (or maps, earlier first) it names, keys already in the map winning.
void ApplyMergeKeys(YAML::Node root);

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_YAML_UTIL_H_
