// The `alerting:` section of a Prometheus configuration file (Alertmanager
// targets, alert relabelling) plus vigil's `webhook_configs:` extension,
// parsed and validated into plain structs.
#ifndef VIGIL_RPC_NOTIFIER_CONFIG_H_
#define VIGIL_RPC_NOTIFIER_CONFIG_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/notifier/relabel.h"

namespace YAML {
class Node;
}  // namespace YAML

namespace vigil::rpc::notifier {

struct BasicAuth {
  std::string username;
  std::string password;
  std::string password_file;  // read at each request, as Prometheus does
};

struct Authorization {
  std::string type = "Bearer";
  std::string credentials;
  std::string credentials_file;  // read at each request
};

struct TlsConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  bool insecure_skip_verify = false;
};

// Prometheus' common HTTP client settings, the subset vigil supports.
struct HttpClientConfig {
  std::optional<BasicAuth> basic_auth;
  std::optional<Authorization> authorization;
  TlsConfig tls;
  bool follow_redirects = true;
};

// One `alertmanagers:` entry: a set of targets sharing settings.
struct AlertmanagerConfig {
  std::string scheme = "http";
  std::string path_prefix;  // as written; joined with /api/v2/alerts
  absl::Duration timeout = absl::Seconds(10);
  HttpClientConfig http;
  // host:port from every static_configs entry, in order.
  std::vector<std::string> targets;
  // The `labels:` of each target's static_configs entry (parallel to
  // `targets`); visible to relabel_configs.
  std::vector<std::map<std::string, std::string>> target_labels;
  // Relabelling of the targets (__address__, __scheme__, __alerts_path__).
  std::vector<RelabelRule> relabel_configs;
  // Relabelling applied to alerts sent to this set only.
  std::vector<RelabelRule> alert_relabel_configs;
};

// vigil's extension: deliver Alertmanager-style webhook payloads directly.
struct WebhookConfig {
  std::string name;  // the payload's "receiver"; default "webhook-<index>"
  std::string url;
  absl::Duration timeout = absl::Seconds(10);
  std::vector<std::string> group_by;  // sorted, unique
  bool group_by_all = false;          // group_by: ['...']
  size_t max_alerts = 0;              // 0: no limit
  bool send_resolved = true;
  int max_attempts = 3;  // delivery attempts per payload, >= 1
  HttpClientConfig http;
};

// vigil's `grpc_configs` entry: an AlertReceiver (rpc/proto/alerts.proto)
// that alert batches are pushed to.
struct GrpcSinkConfig {
  std::string target;  // host:port
  absl::Duration timeout = absl::Seconds(10);
};

struct AlertingConfig {
  std::vector<RelabelRule> alert_relabel_configs;
  std::vector<AlertmanagerConfig> alertmanagers;
  std::vector<WebhookConfig> webhooks;
  std::vector<GrpcSinkConfig> grpc_sinks;
};

// Parses the value of the `alerting:` key (a mapping; null means empty).
// InvalidArgument naming the field and its line on any error; unknown fields
// are errors, as in Prometheus' strict parsing.
absl::StatusOr<AlertingConfig> ParseAlertingConfig(const YAML::Node& node);
// Same, from YAML text whose top level is the `alerting:` mapping.
absl::StatusOr<AlertingConfig> ParseAlertingConfigYaml(std::string_view yaml);

// A list of relabel rules (as under `alert_relabel_configs:`).
absl::StatusOr<std::vector<RelabelRule>> ParseRelabelConfigs(
    const YAML::Node& node);

// Prometheus durations: "1h30m", "500ms", "2d", "1w", "1y" (no fractions);
// the engine's parser (engine/duration.h), kept here for config callers.
absl::StatusOr<absl::Duration> ParsePromDuration(std::string_view s);

// The value for an Authorization header from basic_auth or authorization
// (reading *_file each time), or nullopt when neither is set. Unavailable
// when a credentials file can't be read.
absl::StatusOr<std::optional<std::string>> AuthorizationHeader(
    const HttpClientConfig& http);

}  // namespace vigil::rpc::notifier

#endif  // VIGIL_RPC_NOTIFIER_CONFIG_H_
