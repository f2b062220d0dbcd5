#include "rpc/notifier/config.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::rpc::notifier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseAlertingConfig, FullExample) {
  absl::StatusOr<AlertingConfig> cfg = ParseAlertingConfigYaml(R"(
alert_relabel_configs:
  - source_labels: [dc]
    regex: (.+)\d+
    target_label: dc
alertmanagers:
  - scheme: https
    path_prefix: /am
    timeout: 1m30s
    api_version: v2
    basic_auth:
      username: u
      password: p
    tls_config:
      ca_file: /etc/ca.pem
      insecure_skip_verify: true
      server_name: am.internal
    static_configs:
      - targets: ['am1:9093', 'am2:9093']
      - targets: ['am3:9093']
        labels: {dc: eu}
    alert_relabel_configs:
      - regex: tmp
        action: labeldrop
  - static_configs:
      - targets: [localhost:9093]
    authorization:
      credentials: secret
webhook_configs:
  - url: http://hooks.example/alert
    group_by: [job, alertname, job]
    max_alerts: 10
    send_resolved: false
    timeout: 5s
    max_attempts: 5
    http_config:
      authorization:
        type: Token
        credentials: abc
  - name: all
    url: https://x.example/
    group_by: ['...']
)");
  ASSERT_THAT(cfg, IsOk());
  ASSERT_EQ(cfg->alert_relabel_configs.size(), 1u);
  ASSERT_EQ(cfg->alertmanagers.size(), 2u);
  const AlertmanagerConfig& a = cfg->alertmanagers[0];
  EXPECT_EQ(a.scheme, "https");
  EXPECT_EQ(a.path_prefix, "/am");
  EXPECT_EQ(a.timeout, absl::Seconds(90));
  ASSERT_TRUE(a.http.basic_auth.has_value());
  EXPECT_EQ(a.http.basic_auth->username, "u");
  EXPECT_EQ(a.http.basic_auth->password, "p");
  EXPECT_EQ(a.http.tls.ca_file, "/etc/ca.pem");
  EXPECT_TRUE(a.http.tls.insecure_skip_verify);
  EXPECT_EQ(a.http.tls.server_name, "am.internal");
  EXPECT_THAT(a.targets, ElementsAre("am1:9093", "am2:9093", "am3:9093"));
  ASSERT_EQ(a.target_labels.size(), 3u);
  EXPECT_TRUE(a.target_labels[0].empty());
  EXPECT_EQ(a.target_labels[2].at("dc"), "eu");
  EXPECT_EQ(a.alert_relabel_configs.size(), 1u);
  const AlertmanagerConfig& b = cfg->alertmanagers[1];
  EXPECT_EQ(b.scheme, "http");
  EXPECT_EQ(b.timeout, absl::Seconds(10));
  ASSERT_TRUE(b.http.authorization.has_value());
  EXPECT_EQ(b.http.authorization->type, "Bearer");
  ASSERT_EQ(cfg->webhooks.size(), 2u);
  const WebhookConfig& w = cfg->webhooks[0];
  EXPECT_EQ(w.name, "webhook-0");
  EXPECT_EQ(w.url, "http://hooks.example/alert");
  EXPECT_THAT(w.group_by, ElementsAre("alertname", "job"));
  EXPECT_EQ(w.max_alerts, 10u);
  EXPECT_FALSE(w.send_resolved);
  EXPECT_EQ(w.timeout, absl::Seconds(5));
  EXPECT_EQ(w.max_attempts, 5);
  EXPECT_EQ(w.http.authorization->type, "Token");
  EXPECT_EQ(cfg->webhooks[1].name, "all");
  EXPECT_TRUE(cfg->webhooks[1].group_by_all);
  EXPECT_TRUE(cfg->webhooks[1].send_resolved);
}

TEST(ParseAlertingConfig, GrpcSinks) {
  absl::StatusOr<AlertingConfig> cfg = ParseAlertingConfigYaml(
      "grpc_configs:\n"
      "  - target: 127.0.0.1:9500\n"
      "    timeout: 3s\n");
  ASSERT_THAT(cfg, IsOk());
  ASSERT_EQ(cfg->grpc_sinks.size(), 1u);
  EXPECT_EQ(cfg->grpc_sinks[0].target, "127.0.0.1:9500");
  EXPECT_EQ(cfg->grpc_sinks[0].timeout, absl::Seconds(3));
  EXPECT_THAT(ParseAlertingConfigYaml("grpc_configs:\n  - target: nowhere\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("grpc_configs[0].target")));
  EXPECT_THAT(ParseAlertingConfigYaml("grpc_configs:\n  - timeout: 1s\n"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is required")));
}

TEST(ParseAlertingConfig, EmptyAndNullAreEmpty) {
  EXPECT_THAT(ParseAlertingConfigYaml(""), IsOk());
  absl::StatusOr<AlertingConfig> c = ParseAlertingConfigYaml("alertmanagers:\n");
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->alertmanagers.empty());
}

struct BadCase {
  std::string yaml;
  std::string message;  // substring, including the line number
};

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, NamesFieldAndLine) {
  EXPECT_THAT(ParseAlertingConfigYaml(GetParam().yaml),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr(GetParam().message)));
}

INSTANTIATE_TEST_SUITE_P(
    All, BadConfig,
    ::testing::Values(
        BadCase{"alertmanagers:\n  - api_version: v1\n",
                "line 2: alertmanagers[0].api_version: Alertmanager API "
                "version \"v1\" is not supported"},
        BadCase{"alertmanagers:\n  - timeout: 10\n",
                "line 2: alertmanagers[0].timeout: not a valid duration"},
        BadCase{"alertmanagers:\n  - scheme: ftp\n",
                "alertmanagers[0].scheme: \"ftp\" is not http or https"},
        BadCase{"alertmanagers:\n  - static_configs:\n"
                "      - targets: ['http://am:9093']\n",
                "line 3: alertmanagers[0].static_configs[0].targets[0]: "
                "\"http://am:9093\" is not a valid host:port target"},
        BadCase{"alertmanagers:\n  - frobnicate: 1\n",
                "line 2: alertmanagers[0].frobnicate: unknown field"},
        BadCase{"alertmanagers:\n  - oauth2: {}\n",
                "alertmanagers[0].oauth2: not supported by vigil"},
        BadCase{"alertmanagers:\n  - basic_auth: {username: u, password: p, "
                "password_file: f}\n",
                "at most one of password and password_file"},
        BadCase{"alertmanagers:\n  - basic_auth: {username: u}\n"
                "    authorization: {credentials: c}\n",
                "at most one of basic_auth and authorization"},
        BadCase{"alertmanagers:\n  - authorization: {type: Basic}\n",
                "authorization type cannot be set to \"basic\""},
        BadCase{"alertmanagers:\n  - tls_config: {cert_file: c}\n",
                "cert_file and key_file must be set together"},
        BadCase{"alert_relabel_configs:\n  - action: hashmod\n"
                "    target_label: x\n",
                "line 2: alert_relabel_configs[0]: relabel configuration for "
                "hashmod requires non-zero modulus"},
        BadCase{"alert_relabel_configs:\n  - action: explode\n",
                "line 2: alert_relabel_configs[0].action: unknown relabel "
                "action \"explode\""},
        BadCase{"alert_relabel_configs:\n  - regex: '('\n    target_label: x\n",
                "invalid regex"},
        BadCase{"webhook_configs:\n  - timeout: 1s\n",
                "webhook_configs[0].url: is required"},
        BadCase{"webhook_configs:\n  - url: ftp://x\n",
                "webhook_configs[0].url: \"ftp://x\" is not an http(s) URL"},
        BadCase{"webhook_configs:\n  - url: http://x\n    group_by: ['...', a]\n",
                "wildcard group_by"},
        BadCase{"webhook_configs:\n  - url: http://x\n    send_resolved: maybe\n",
                "webhook_configs[0].send_resolved: expected true or false"},
        BadCase{"webhook_configs:\n  - url: http://x\n  - url: http://y\n"
                "    name: webhook-0\n",
                "duplicate webhook name"},
        BadCase{"alertmanagers: [\n", "yaml-cpp"},
        BadCase{"alertmanagers:\n  - static_configs: {targets: 1}\n",
                "alertmanagers[0].static_configs: expected a list"},
        BadCase{"alertmanagers:\n  - static_configs: [{targets: 1}]\n",
                "static_configs[0].targets: expected a list of strings"},
        BadCase{"alertmanagers:\n  - timeout: [1s]\n",
                "alertmanagers[0].timeout: expected a duration"},
        BadCase{"alert_relabel_configs:\n  - modulus: -1\n",
                "modulus: expected a non-negative integer"},
        BadCase{"alert_relabel_configs:\n  - modulus: 99999999999999999999999\n",
                "modulus: expected a non-negative integer"},
        BadCase{"alert_relabel_configs:\n  - source_labels: {a: b}\n",
                "source_labels: expected a list of strings"},
        BadCase{"alertmanagers:\n  - &a {scheme: http}\n  - *a\n  - [1]\n",
                "line 4: alertmanagers[2]: expected a mapping"},
        BadCase{"- 1\n", "alerting: expected a mapping"}));

TEST(ParsePromDuration, AcceptsPrometheusForms) {
  EXPECT_EQ(*ParsePromDuration("10s"), absl::Seconds(10));
  EXPECT_EQ(*ParsePromDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParsePromDuration("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParsePromDuration("1d"), absl::Hours(24));
  EXPECT_EQ(*ParsePromDuration("1w"), absl::Hours(168));
  EXPECT_EQ(*ParsePromDuration("0"), absl::ZeroDuration());
  for (const char* bad : {"", "1", "1.5s", "s", "1m1h", "1s1s", "-1s", "1x"}) {
    EXPECT_THAT(ParsePromDuration(bad),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(AuthorizationHeader, BasicBearerAndFiles) {
  HttpClientConfig none;
  EXPECT_FALSE(AuthorizationHeader(none)->has_value());

  HttpClientConfig basic;
  basic.basic_auth = BasicAuth{"user", "pass", ""};
  EXPECT_EQ(**AuthorizationHeader(basic), "Basic dXNlcjpwYXNz");

  const std::string file =
      absl::StrCat(::testing::TempDir(), "/notifier_config_test_cred");
  {
    std::ofstream out(file);
    out << "from-file\n";
  }
  HttpClientConfig bearer;
  bearer.authorization = Authorization{"Bearer", "", file};
  EXPECT_EQ(**AuthorizationHeader(bearer), "Bearer from-file");

  HttpClientConfig missing;
  missing.authorization = Authorization{"Bearer", "", file + ".missing"};
  EXPECT_THAT(AuthorizationHeader(missing),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("cannot read credentials file")));
  std::remove(file.c_str());
}

}  // namespace
}  // namespace vigil::rpc::notifier
