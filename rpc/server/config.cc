#include "rpc/server/config.h"

#include <glob.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <yaml-cpp/yaml.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/duration.h"
#include "engine/yaml_util.h"

namespace vigil::rpc::server {

// Generated from testdata/vigil.yml (see BUILD.bazel).
extern const char kDefaultConfigText[];

namespace {

absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

// yaml-cpp reports problems by throwing; everything below throws this (with
// the line) and ParseConfig turns it into a Status at the boundary.
struct ConfigError {
  int line;  // 1-based, 0 when unknown
  std::string message;
};

[[noreturn]] void Fail(const YAML::Node& node, std::string message) {
  int line = node.Mark().is_null() ? 0 : node.Mark().line + 1;
  throw ConfigError{line, std::move(message)};
}

std::string Scalar(const YAML::Node& node, std::string_view what) {
  if (!node.IsScalar()) {
    Fail(node, absl::StrCat(AV(what), ": want a string"));
  }
  return node.Scalar();
}

absl::Duration Duration(const YAML::Node& node, std::string_view what) {
  std::string s = Scalar(node, what);
  auto d = engine::ParsePromDuration(s);
  if (!d.ok()) {
    Fail(node, absl::StrCat(AV(what), ": ", d.status().message()));
  }
  return *d;
}

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
                                              : (c >> 3) == 30  ? 4
                                                                : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t j = 1; j < n; ++j) {
      if ((static_cast<unsigned char>(s[i + j]) & 0xc0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

void ParseGlobal(const YAML::Node& global, Config* config) {
  if (global.IsNull()) return;
  if (!global.IsMap()) Fail(global, "global: want a mapping");
  static const std::set<std::string> kIgnored = {
      "scrape_timeout",
      "scrape_protocols",
      "scrape_failure_log_file",
      "query_log_file",
      "body_size_limit",
      "sample_limit",
      "label_limit",
      "label_name_length_limit",
      "label_value_length_limit",
      "target_limit",
      "keep_dropped_targets",
      "metric_name_validation_scheme",
      "metric_name_escaping_scheme",
      "always_scrape_classic_histograms",
      "convert_classic_histograms_to_nhcb",
      "scrape_native_histograms",
  };
  for (auto it = global.begin(); it != global.end(); ++it) {
    std::string key = Scalar(it->first, "global key");
    const YAML::Node& value = it->second;
    if (key == "scrape_interval") {
      config->scrape_interval = Duration(value, "global.scrape_interval");
      if (config->scrape_interval <= absl::ZeroDuration()) {
        Fail(value, "global.scrape_interval: must be greater than 0");
      }
    } else if (key == "evaluation_interval") {
      config->evaluation_interval =
          Duration(value, "global.evaluation_interval");
      if (config->evaluation_interval <= absl::ZeroDuration()) {
        Fail(value, "global.evaluation_interval: must be greater than 0");
      }
    } else if (key == "rule_query_offset" || key == "query_offset") {
      config->rule_query_offset = Duration(value, "global." + key);
    } else if (key == "external_labels") {
      if (value.IsNull()) continue;
      if (!value.IsMap()) Fail(value, "global.external_labels: want a mapping");
      for (auto l = value.begin(); l != value.end(); ++l) {
        std::string name = Scalar(l->first, "external label name");
        std::string v = Scalar(l->second, "external label value");
        if (name.empty() || !IsValidUtf8(name)) {
          Fail(l->first, absl::StrCat("\"", name, "\" is not a valid label name"));
        }
        if (name == "__name__") {
          Fail(l->first, "external label name \"__name__\" is reserved");
        }
        if (!IsValidUtf8(v)) {
          Fail(l->second, absl::StrCat("external label \"", name,
                                       "\": value is not valid UTF-8"));
        }
        for (const auto& [n, unused] : config->external_labels) {
          if (n == name) {
            Fail(l->first, absl::StrCat("duplicate external label \"", name, "\""));
          }
        }
        if (!v.empty()) config->external_labels.emplace_back(name, v);
      }
      std::sort(config->external_labels.begin(), config->external_labels.end());
    } else if (kIgnored.count(key)) {
      // Scrape settings: vigil does not scrape.
    } else {
      Fail(it->first,
           absl::StrCat("field ", key, " not found in type global"));
    }
  }
}

}  // namespace

absl::StatusOr<Config> ParseConfig(std::string_view yaml, std::string_view path) {
  Config config;
  config.path = std::string(path);
  config.yaml = std::string(yaml);
  std::string where = path.empty() ? "built-in config" : std::string(path);
  try {
    YAML::Node root = engine::LoadYaml(yaml);
    if (root.IsNull()) return config;  // empty file: all defaults
    if (!root.IsMap()) Fail(root, "want a mapping at the top level");
    static const std::set<std::string> kIgnoredSections = {
        "scrape_configs", "scrape_config_files", "remote_write", "remote_read",
        "storage",        "tracing",             "otlp",         "runtime",
    };
    std::set<std::string> seen;
    for (auto it = root.begin(); it != root.end(); ++it) {
      std::string key = Scalar(it->first, "top-level key");
      if (!seen.insert(key).second) {
        Fail(it->first, absl::StrCat("duplicate key ", key));
      }
      const YAML::Node& value = it->second;
      if (key == "global") {
        ParseGlobal(value, &config);
      } else if (key == "rule_files") {
        if (value.IsNull()) continue;
        if (!value.IsSequence()) Fail(value, "rule_files: want a list");
        for (const YAML::Node& f : value) {
          std::string s = Scalar(f, "rule_files entry");
          if (s.empty()) Fail(f, "rule_files: empty entry");
          config.rule_files.push_back(std::move(s));
        }
      } else if (key == "alerting") {
        if (value.IsNull()) continue;
        if (!value.IsMap()) Fail(value, "alerting: want a mapping");
        YAML::Emitter emitter;
        emitter << value;
        config.alerting_yaml = std::string(emitter.c_str()) + "\n";
      } else if (kIgnoredSections.count(key)) {
        config.ignored_sections.push_back(key);
      } else {
        Fail(it->first, absl::StrCat("field ", key,
                                     " not found in type config (want global, "
                                     "rule_files, alerting)"));
      }
    }
  } catch (const ConfigError& e) {
    return absl::InvalidArgumentError(
        e.line > 0 ? absl::StrCat(where, ": line ", e.line, ": ", e.message)
                   : absl::StrCat(where, ": ", e.message));
  } catch (const YAML::Exception& e) {
    // Marks are 0-based; e.msg has no position of its own.
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": line ", e.mark.line + 1, ", column ", e.mark.column + 1,
        ": yaml: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", e.what()));
  }
  return config;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return absl::NotFoundError(
        absl::StrCat("cannot read config file ", path));
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseConfig(ss.str(), path);
}

absl::StatusOr<std::vector<std::string>> ExpandRuleFiles(const Config& config) {
  std::string dir;
  size_t slash = config.path.rfind('/');
  if (slash != std::string::npos) dir = config.path.substr(0, slash + 1);
  std::set<std::string> files;
  for (const std::string& pattern : config.rule_files) {
    std::string full = (pattern.front() == '/' || dir.empty())
                           ? pattern
                           : dir + pattern;
    glob_t g{};
    int rc = ::glob(full.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) files.insert(g.gl_pathv[i]);
    }
    ::globfree(&g);
    if (rc != 0 && rc != GLOB_NOMATCH) {
      return absl::InvalidArgumentError(
          absl::StrCat("rule_files: cannot expand \"", pattern, "\""));
    }
  }
  return std::vector<std::string>(files.begin(), files.end());
}

std::string_view DefaultConfigText() { return kDefaultConfigText; }

}  // namespace vigil::rpc::server
