#include "rpc/notifier/config.h"

#include "engine/duration.h"

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "storage/base/status_macros.h"
#include "yaml-cpp/yaml.h"

namespace vigil::rpc::notifier {
namespace {

// "line 7: alertmanagers[0].timeout: <msg>"; the line is 1-based.
absl::Status Err(const YAML::Node& node, absl::string_view path,
                 absl::string_view msg) {
  const YAML::Mark mark = node.Mark();
  if (mark.line >= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", mark.line + 1, ": ", path, ": ", msg));
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", msg));
}

std::string Join(absl::string_view path, absl::string_view field) {
  return path.empty() ? std::string(field) : absl::StrCat(path, ".", field);
}

// Rejects keys not in `allowed`, and keys vigil knows but does not support.
absl::Status CheckKeys(const YAML::Node& map, absl::string_view path,
                       std::initializer_list<absl::string_view> allowed,
                       std::initializer_list<absl::string_view> unsupported =
                           {}) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it->first.IsScalar()) {
      return Err(it->first, path, "keys must be strings");
    }
    const std::string key = it->first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
      continue;
    }
    if (std::find(unsupported.begin(), unsupported.end(), key) !=
        unsupported.end()) {
      return Err(it->first, Join(path, key), "not supported by vigil");
    }
    return Err(it->first, Join(path, key), "unknown field");
  }
  return absl::OkStatus();
}

absl::Status ExpectMap(const YAML::Node& node, absl::string_view path) {
  if (!node.IsMap()) {
    return Err(node, path, "expected a mapping");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const YAML::Node& node,
                                      absl::string_view path) {
  if (node.IsNull()) {
    return std::string();
  }
  if (!node.IsScalar()) {
    return Err(node, path, "expected a string");
  }
  return node.Scalar();
}

absl::StatusOr<bool> GetBool(const YAML::Node& node, absl::string_view path) {
  const std::string s =
      node.IsScalar() ? absl::AsciiStrToLower(node.Scalar()) : "";
  if (s == "true") {
    return true;
  }
  if (s == "false") {
    return false;
  }
  return Err(node, path, "expected true or false");
}

absl::StatusOr<uint64_t> GetUint(const YAML::Node& node,
                                 absl::string_view path) {
  uint64_t v = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &v)) {
    return Err(node, path, "expected a non-negative integer");
  }
  return v;
}

absl::StatusOr<absl::Duration> GetDuration(const YAML::Node& node,
                                           absl::string_view path) {
  if (!node.IsScalar()) {
    return Err(node, path, "expected a duration such as 10s");
  }
  absl::StatusOr<absl::Duration> d = ParsePromDuration(node.Scalar());
  if (!d.ok()) {
    return Err(node, path, d.status().message());
  }
  return *d;
}

absl::StatusOr<std::vector<std::string>> GetStringList(
    const YAML::Node& node, absl::string_view path) {
  std::vector<std::string> out;
  if (node.IsNull()) {
    return out;
  }
  if (!node.IsSequence()) {
    return Err(node, path, "expected a list of strings");
  }
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    if (!item.IsScalar()) {
      return Err(item, absl::StrCat(path, "[", i, "]"), "expected a string");
    }
    out.push_back(item.Scalar());
  }
  return out;
}

absl::StatusOr<RelabelRule> ParseRelabelRule(const YAML::Node& node,
                                             absl::string_view path) {
  RETURN_IF_ERROR(ExpectMap(node, path));
  RETURN_IF_ERROR(CheckKeys(node, path,
                            {"source_labels", "separator", "regex", "modulus",
                             "target_label", "replacement", "action"}));
  RelabelSpec spec;
  if (const YAML::Node n = node["source_labels"]) {
    ASSIGN_OR_RETURN(spec.source_labels,
                     GetStringList(n, Join(path, "source_labels")));
  }
  if (const YAML::Node n = node["separator"]) {
    ASSIGN_OR_RETURN(spec.separator, GetString(n, Join(path, "separator")));
  }
  if (const YAML::Node n = node["regex"]) {
    ASSIGN_OR_RETURN(spec.regex, GetString(n, Join(path, "regex")));
  }
  if (const YAML::Node n = node["modulus"]) {
    ASSIGN_OR_RETURN(spec.modulus, GetUint(n, Join(path, "modulus")));
  }
  if (const YAML::Node n = node["target_label"]) {
    ASSIGN_OR_RETURN(spec.target_label,
                     GetString(n, Join(path, "target_label")));
  }
  if (const YAML::Node n = node["replacement"]) {
    ASSIGN_OR_RETURN(spec.replacement,
                     GetString(n, Join(path, "replacement")));
  }
  if (const YAML::Node n = node["action"]) {
    ASSIGN_OR_RETURN(std::string action, GetString(n, Join(path, "action")));
    absl::StatusOr<RelabelAction> a = ParseRelabelAction(action);
    if (!a.ok()) {
      return Err(n, Join(path, "action"), a.status().message());
    }
    spec.action = *a;
  }
  absl::StatusOr<RelabelRule> rule = RelabelRule::Create(std::move(spec));
  if (!rule.ok()) {
    return Err(node, path, rule.status().message());
  }
  return rule;
}

absl::StatusOr<std::vector<RelabelRule>> ParseRelabelList(
    const YAML::Node& node, absl::string_view path) {
  std::vector<RelabelRule> rules;
  if (node.IsNull()) {
    return rules;
  }
  if (!node.IsSequence()) {
    return Err(node, path, "expected a list of relabel configs");
  }
  for (size_t i = 0; i < node.size(); ++i) {
    ASSIGN_OR_RETURN(RelabelRule r,
                     ParseRelabelRule(node[i], absl::StrCat(path, "[", i, "]")));
    rules.push_back(std::move(r));
  }
  return rules;
}

absl::StatusOr<HttpClientConfig> ParseHttpFields(const YAML::Node& node,
                                                 absl::string_view path) {
  HttpClientConfig http;
  if (const YAML::Node n = node["basic_auth"]) {
    const std::string p = Join(path, "basic_auth");
    RETURN_IF_ERROR(ExpectMap(n, p));
    RETURN_IF_ERROR(
        CheckKeys(n, p, {"username", "password", "password_file"},
                  {"username_file"}));
    BasicAuth b;
    if (n["username"]) {
      ASSIGN_OR_RETURN(b.username, GetString(n["username"], Join(p, "username")));
    }
    if (n["password"]) {
      ASSIGN_OR_RETURN(b.password, GetString(n["password"], Join(p, "password")));
    }
    if (n["password_file"]) {
      ASSIGN_OR_RETURN(b.password_file,
                       GetString(n["password_file"], Join(p, "password_file")));
    }
    if (!b.password.empty() && !b.password_file.empty()) {
      return Err(n, p, "at most one of password and password_file must be set");
    }
    http.basic_auth = std::move(b);
  }
  if (const YAML::Node n = node["authorization"]) {
    const std::string p = Join(path, "authorization");
    RETURN_IF_ERROR(ExpectMap(n, p));
    RETURN_IF_ERROR(
        CheckKeys(n, p, {"type", "credentials", "credentials_file"}));
    Authorization a;
    if (n["type"]) {
      ASSIGN_OR_RETURN(a.type, GetString(n["type"], Join(p, "type")));
      if (a.type.empty()) {
        a.type = "Bearer";
      }
    }
    if (absl::EqualsIgnoreCase(a.type, "basic")) {
      return Err(n["type"], Join(p, "type"),
                 "authorization type cannot be set to \"basic\", use "
                 "\"basic_auth\" instead");
    }
    if (n["credentials"]) {
      ASSIGN_OR_RETURN(a.credentials,
                       GetString(n["credentials"], Join(p, "credentials")));
    }
    if (n["credentials_file"]) {
      ASSIGN_OR_RETURN(a.credentials_file,
                       GetString(n["credentials_file"],
                                 Join(p, "credentials_file")));
    }
    if (!a.credentials.empty() && !a.credentials_file.empty()) {
      return Err(n, p,
                 "at most one of credentials and credentials_file must be set");
    }
    http.authorization = std::move(a);
  }
  if (http.basic_auth && http.authorization) {
    return Err(node, path,
               "at most one of basic_auth and authorization must be set");
  }
  if (const YAML::Node n = node["tls_config"]) {
    const std::string p = Join(path, "tls_config");
    RETURN_IF_ERROR(ExpectMap(n, p));
    RETURN_IF_ERROR(CheckKeys(n, p,
                              {"ca_file", "cert_file", "key_file",
                               "server_name", "insecure_skip_verify"},
                              {"ca", "cert", "key", "min_version",
                               "max_version"}));
    TlsConfig& t = http.tls;
    if (n["ca_file"]) {
      ASSIGN_OR_RETURN(t.ca_file, GetString(n["ca_file"], Join(p, "ca_file")));
    }
    if (n["cert_file"]) {
      ASSIGN_OR_RETURN(t.cert_file,
                       GetString(n["cert_file"], Join(p, "cert_file")));
    }
    if (n["key_file"]) {
      ASSIGN_OR_RETURN(t.key_file, GetString(n["key_file"], Join(p, "key_file")));
    }
    if (n["server_name"]) {
      ASSIGN_OR_RETURN(t.server_name,
                       GetString(n["server_name"], Join(p, "server_name")));
    }
    if (n["insecure_skip_verify"]) {
      ASSIGN_OR_RETURN(t.insecure_skip_verify,
                       GetBool(n["insecure_skip_verify"],
                               Join(p, "insecure_skip_verify")));
    }
    if (t.cert_file.empty() != t.key_file.empty()) {
      return Err(n, p, "cert_file and key_file must be set together");
    }
  }
  if (const YAML::Node n = node["follow_redirects"]) {
    ASSIGN_OR_RETURN(http.follow_redirects,
                     GetBool(n, Join(path, "follow_redirects")));
  }
  if (const YAML::Node n = node["enable_http2"]) {
    // Accepted for compatibility; libcurl negotiates the protocol itself.
    RETURN_IF_ERROR(GetBool(n, Join(path, "enable_http2")).status());
  }
  return http;
}

absl::StatusOr<AlertmanagerConfig> ParseAlertmanager(const YAML::Node& node,
                                                     absl::string_view path) {
  RETURN_IF_ERROR(ExpectMap(node, path));
  RETURN_IF_ERROR(CheckKeys(
      node, path,
      {"static_configs", "scheme", "path_prefix", "timeout", "api_version",
       "basic_auth", "authorization", "tls_config", "follow_redirects",
       "enable_http2", "relabel_configs", "alert_relabel_configs"},
      {"oauth2", "bearer_token", "bearer_token_file", "proxy_url", "no_proxy",
       "proxy_from_environment", "proxy_connect_header", "sigv4",
       "http_headers", "dns_sd_configs", "file_sd_configs",
       "kubernetes_sd_configs", "consul_sd_configs", "ec2_sd_configs",
       "http_sd_configs"}));
  AlertmanagerConfig am;
  ASSIGN_OR_RETURN(am.http, ParseHttpFields(node, path));
  if (const YAML::Node n = node["scheme"]) {
    ASSIGN_OR_RETURN(am.scheme, GetString(n, Join(path, "scheme")));
    if (am.scheme != "http" && am.scheme != "https") {
      return Err(n, Join(path, "scheme"),
                 absl::StrCat("\"", am.scheme, "\" is not http or https"));
    }
  }
  if (const YAML::Node n = node["path_prefix"]) {
    ASSIGN_OR_RETURN(am.path_prefix, GetString(n, Join(path, "path_prefix")));
  }
  if (const YAML::Node n = node["timeout"]) {
    ASSIGN_OR_RETURN(am.timeout, GetDuration(n, Join(path, "timeout")));
    if (am.timeout <= absl::ZeroDuration()) {
      return Err(n, Join(path, "timeout"), "must be positive");
    }
  }
  if (const YAML::Node n = node["api_version"]) {
    ASSIGN_OR_RETURN(std::string v, GetString(n, Join(path, "api_version")));
    if (v != "v2") {
      return Err(n, Join(path, "api_version"),
                 absl::StrCat("Alertmanager API version \"", v,
                              "\" is not supported, only v2"));
    }
  }
  if (const YAML::Node n = node["relabel_configs"]) {
    ASSIGN_OR_RETURN(am.relabel_configs,
                     ParseRelabelList(n, Join(path, "relabel_configs")));
  }
  if (const YAML::Node n = node["alert_relabel_configs"]) {
    ASSIGN_OR_RETURN(am.alert_relabel_configs,
                     ParseRelabelList(n, Join(path, "alert_relabel_configs")));
  }
  if (const YAML::Node sc = node["static_configs"]) {
    const std::string p = Join(path, "static_configs");
    if (!sc.IsSequence() && !sc.IsNull()) {
      return Err(sc, p, "expected a list");
    }
    for (size_t i = 0; i < sc.size(); ++i) {
      const YAML::Node entry = sc[i];
      const std::string ep = absl::StrCat(p, "[", i, "]");
      RETURN_IF_ERROR(ExpectMap(entry, ep));
      RETURN_IF_ERROR(CheckKeys(entry, ep, {"targets", "labels"}));
      std::map<std::string, std::string> labels;
      if (const YAML::Node ln = entry["labels"]) {
        if (!ln.IsMap() && !ln.IsNull()) {
          return Err(ln, Join(ep, "labels"), "expected a mapping");
        }
        for (auto it = ln.begin(); it != ln.end(); ++it) {
          if (!it->first.IsScalar() || !it->second.IsScalar()) {
            return Err(it->first, Join(ep, "labels"),
                       "label names and values must be strings");
          }
          labels[it->first.Scalar()] = it->second.Scalar();
        }
      }
      if (!entry["targets"]) {
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<std::string> targets,
                       GetStringList(entry["targets"], Join(ep, "targets")));
      for (size_t k = 0; k < targets.size(); ++k) {
        const std::string& t = targets[k];
        if (t.empty() || absl::StrContains(t, "/") ||
            absl::StrContains(t, " ")) {
          return Err(entry["targets"][k],
                     absl::StrCat(ep, ".targets[", k, "]"),
                     absl::StrCat("\"", t,
                                  "\" is not a valid host:port target"));
        }
        am.targets.push_back(t);
        am.target_labels.push_back(labels);
      }
    }
  }
  return am;
}

absl::StatusOr<WebhookConfig> ParseWebhook(const YAML::Node& node,
                                           absl::string_view path,
                                           size_t index) {
  RETURN_IF_ERROR(ExpectMap(node, path));
  RETURN_IF_ERROR(CheckKeys(node, path,
                            {"name", "url", "timeout", "group_by", "max_alerts",
                             "send_resolved", "max_attempts", "http_config"}));
  WebhookConfig w;
  w.name = absl::StrCat("webhook-", index);
  if (const YAML::Node n = node["name"]) {
    ASSIGN_OR_RETURN(w.name, GetString(n, Join(path, "name")));
  }
  const YAML::Node url = node["url"];
  if (!url) {
    return Err(node, Join(path, "url"), "is required");
  }
  ASSIGN_OR_RETURN(w.url, GetString(url, Join(path, "url")));
  if (!absl::StartsWith(w.url, "http://") &&
      !absl::StartsWith(w.url, "https://")) {
    return Err(url, Join(path, "url"),
               absl::StrCat("\"", w.url, "\" is not an http(s) URL"));
  }
  if (const YAML::Node n = node["timeout"]) {
    ASSIGN_OR_RETURN(w.timeout, GetDuration(n, Join(path, "timeout")));
    if (w.timeout <= absl::ZeroDuration()) {
      return Err(n, Join(path, "timeout"), "must be positive");
    }
  }
  if (const YAML::Node n = node["group_by"]) {
    ASSIGN_OR_RETURN(std::vector<std::string> g,
                     GetStringList(n, Join(path, "group_by")));
    for (const std::string& name : g) {
      if (name == "...") {
        if (g.size() != 1) {
          return Err(n, Join(path, "group_by"),
                     "cannot have wildcard group_by (`...`) and other labels "
                     "at the same time");
        }
        w.group_by_all = true;
      } else if (!storage::IsValidLegacyLabelName(name)) {
        return Err(n, Join(path, "group_by"),
                   absl::StrCat("invalid label name \"", name, "\""));
      }
    }
    if (!w.group_by_all) {
      std::sort(g.begin(), g.end());
      g.erase(std::unique(g.begin(), g.end()), g.end());
      w.group_by = std::move(g);
    }
  }
  if (const YAML::Node n = node["max_alerts"]) {
    ASSIGN_OR_RETURN(uint64_t m, GetUint(n, Join(path, "max_alerts")));
    w.max_alerts = m;
  }
  if (const YAML::Node n = node["send_resolved"]) {
    ASSIGN_OR_RETURN(w.send_resolved, GetBool(n, Join(path, "send_resolved")));
  }
  if (const YAML::Node n = node["max_attempts"]) {
    ASSIGN_OR_RETURN(uint64_t m, GetUint(n, Join(path, "max_attempts")));
    if (m < 1 || m > 100) {
      return Err(n, Join(path, "max_attempts"), "must be between 1 and 100");
    }
    w.max_attempts = static_cast<int>(m);
  }
  if (const YAML::Node n = node["http_config"]) {
    const std::string p = Join(path, "http_config");
    RETURN_IF_ERROR(ExpectMap(n, p));
    RETURN_IF_ERROR(CheckKeys(n, p,
                              {"basic_auth", "authorization", "tls_config",
                               "follow_redirects", "enable_http2"},
                              {
    "oauth2", "bearer_token", "bearer_token_file", "proxy_url",
    "no_proxy", "proxy_from_environment", "proxy_connect_header",
    "sigv4", "http_headers"}));
    ASSIGN_OR_RETURN(w.http, ParseHttpFields(n, p));
  }
  return w;
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::UnavailableError(
        absl::StrCat("cannot read credentials file ", path));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::string(absl::StripTrailingAsciiWhitespace(ss.str()));
}

}  // namespace

absl::StatusOr<absl::Duration> ParsePromDuration(std::string_view sv) {
  return engine::ParsePromDuration(sv);
}

absl::StatusOr<std::vector<RelabelRule>> ParseRelabelConfigs(
    const YAML::Node& node) {
  try {
    return ParseRelabelList(node, "relabel_configs");
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  }
}

absl::StatusOr<AlertingConfig> ParseAlertingConfig(const YAML::Node& node) {
  try {
    AlertingConfig cfg;
    if (!node || node.IsNull()) {
      return cfg;
    }
    RETURN_IF_ERROR(ExpectMap(node, "alerting"));
    RETURN_IF_ERROR(CheckKeys(
        node, "alerting",
        {"alertmanagers", "alert_relabel_configs", "webhook_configs",
         "grpc_configs"}));
    if (const YAML::Node n = node["alert_relabel_configs"]) {
      ASSIGN_OR_RETURN(cfg.alert_relabel_configs,
                       ParseRelabelList(n, "alert_relabel_configs"));
    }
    if (const YAML::Node n = node["alertmanagers"]) {
      if (!n.IsSequence() && !n.IsNull()) {
        return Err(n, "alertmanagers", "expected a list");
      }
      for (size_t i = 0; i < n.size(); ++i) {
        ASSIGN_OR_RETURN(
            AlertmanagerConfig am,
            ParseAlertmanager(n[i], absl::StrCat("alertmanagers[", i, "]")));
        cfg.alertmanagers.push_back(std::move(am));
      }
    }
    if (const YAML::Node n = node["webhook_configs"]) {
      if (!n.IsSequence() && !n.IsNull()) {
        return Err(n, "webhook_configs", "expected a list");
      }
      for (size_t i = 0; i < n.size(); ++i) {
        ASSIGN_OR_RETURN(
            WebhookConfig w,
            ParseWebhook(n[i], absl::StrCat("webhook_configs[", i, "]"), i));
        for (const WebhookConfig& prev : cfg.webhooks) {
          if (prev.name == w.name) {
            return Err(n[i], absl::StrCat("webhook_configs[", i, "].name"),
                       absl::StrCat("duplicate webhook name \"", w.name, "\""));
          }
        }
        cfg.webhooks.push_back(std::move(w));
      }
    }
    if (const YAML::Node n = node["grpc_configs"]) {
      if (!n.IsSequence() && !n.IsNull()) {
        return Err(n, "grpc_configs", "expected a list");
      }
      for (size_t i = 0; i < n.size(); ++i) {
        const std::string path = absl::StrCat("grpc_configs[", i, "]");
        RETURN_IF_ERROR(ExpectMap(n[i], path));
        RETURN_IF_ERROR(CheckKeys(n[i], path, {"target", "timeout"}));
        GrpcSinkConfig g;
        const YAML::Node target = n[i]["target"];
        if (!target) {
          return Err(n[i], Join(path, "target"), "is required");
        }
        ASSIGN_OR_RETURN(g.target, GetString(target, Join(path, "target")));
        if (g.target.find(':') == std::string::npos) {
          return Err(target, Join(path, "target"),
                     absl::StrCat("\"", g.target, "\" is not host:port"));
        }
        if (const YAML::Node t = n[i]["timeout"]) {
          ASSIGN_OR_RETURN(g.timeout, GetDuration(t, Join(path, "timeout")));
          if (g.timeout <= absl::ZeroDuration()) {
            return Err(t, Join(path, "timeout"), "must be positive");
          }
        }
        cfg.grpc_sinks.push_back(std::move(g));
      }
    }
    return cfg;
  } catch (const YAML::Exception& e) {
    // yaml-cpp reports conversion problems by throwing; keep them inside.
    return absl::InvalidArgumentError(e.what());
  }
}

absl::StatusOr<AlertingConfig> ParseAlertingConfigYaml(std::string_view yaml) {
  YAML::Node node;
  try {
    node = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // e.what() carries "yaml-cpp: error at line L, column C: ...".
    return absl::InvalidArgumentError(e.what());
  }
  return ParseAlertingConfig(node);
}

absl::StatusOr<std::optional<std::string>> AuthorizationHeader(
    const HttpClientConfig& http) {
  if (http.basic_auth) {
    std::string password = http.basic_auth->password;
    if (!http.basic_auth->password_file.empty()) {
      ASSIGN_OR_RETURN(password, ReadSecretFile(http.basic_auth->password_file));
    }
    return std::optional<std::string>(absl::StrCat(
        "Basic ",
        absl::Base64Escape(absl::StrCat(http.basic_auth->username, ":",
                                        password))));
  }
  if (http.authorization) {
    std::string cred = http.authorization->credentials;
    if (!http.authorization->credentials_file.empty()) {
      ASSIGN_OR_RETURN(cred, ReadSecretFile(http.authorization->credentials_file));
    }
    return std::optional<std::string>(
        absl::StrCat(http.authorization->type, " ", cred));
  }
  return std::optional<std::string>();
}

}  // namespace vigil::rpc::notifier
