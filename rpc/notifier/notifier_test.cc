#include "rpc/notifier/notifier.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rpc/notifier/fake_http_sender.h"
#include "rpc/notifier/test_util.h"
#include "storage/base/status_matchers.h"

namespace vigil::rpc::notifier {
namespace {

using ::testing::ElementsAre;
using testing::FiringAlert;
using testing::L;
using testing::MetricValue;

constexpr absl::Duration kWait = absl::Seconds(10);
const char kAm1[] = "http://am1:9093/api/v2/alerts";
const char kAm2[] = "http://am2:9093/api/v2/alerts";

AlertingConfig Config(const std::string& yaml) {
  absl::StatusOr<AlertingConfig> c = ParseAlertingConfigYaml(yaml);
  EXPECT_THAT(c, IsOk());
  return c.ok() ? *std::move(c) : AlertingConfig();
}

// Two Alertmanager sets with one target each, so that each must get the
// alerts on its own.
const char kTwoSets[] = R"(
alertmanagers:
  - static_configs: [{targets: ['am1:9093']}]
  - static_configs: [{targets: ['am2:9093']}]
)";
const char kOneSetTwoTargets[] = R"(
alertmanagers:
  - static_configs: [{targets: ['am1:9093', 'am2:9093']}]
)";

class NotifierTest : public ::testing::Test {
 protected:
  std::unique_ptr<Notifier> Make(const std::string& yaml,
                                 NotifierOptions opts = {}) {
    opts.logger = &logger_;
    absl::StatusOr<std::unique_ptr<Notifier>> n = Notifier::Create(
        std::move(opts), Config(yaml), sender_, &registry_);
    EXPECT_THAT(n, IsOk());
    return n.ok() ? *std::move(n) : nullptr;
  }

  // alertnames in each request body to `url`, one vector per request.
  std::vector<std::vector<std::string>> Names(const std::string& url) {
    std::vector<std::vector<std::string>> out;
    for (const auto& r : sender_->RequestsTo(url)) {
      std::vector<std::string> names;
      for (const auto& a : nlohmann::json::parse(r.body)) {
        names.push_back(a["labels"]["alertname"]);
      }
      out.push_back(names);
    }
    return out;
  }

  std::shared_ptr<FakeHttpSender> sender_ = std::make_shared<FakeHttpSender>();
  prometheus::Registry registry_;
  std::vector<std::string> log_lines_;
  absl::Mutex log_mu_;
  Logger logger_{[this](std::string_view line) {
    absl::MutexLock lock(&log_mu_);
    log_lines_.emplace_back(line);
  }};
};

TEST_F(NotifierTest, PostsV2PayloadWithHeaders) {
  auto n = Make(R"(
alertmanagers:
  - path_prefix: /prefix/
    basic_auth: {username: user, password: pass}
    static_configs: [{targets: ['am1:9093']}]
)");
  engine::Alert a = FiringAlert("HighLatency", {{"job", "api"}});
  a.annotations = L({{"summary", "p99 > 1s"}});
  n->Send({a});
  ASSERT_TRUE(n->WaitIdle(kWait));

  const std::string url = "http://am1:9093/prefix/api/v2/alerts";
  EXPECT_THAT(n->AlertmanagerUrls(), ElementsAre(url));
  const auto reqs = sender_->RequestsTo(url);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(reqs[0].Header("User-Agent"), "vigil/0.1.0");
  EXPECT_EQ(reqs[0].Header("Authorization"), "Basic dXNlcjpwYXNz");
  EXPECT_EQ(reqs[0].timeout, absl::Seconds(10));
  const nlohmann::json body = nlohmann::json::parse(reqs[0].body);
  ASSERT_TRUE(body.is_array());
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0]["labels"],
            nlohmann::json({{"alertname", "HighLatency"}, {"job", "api"}}));
  EXPECT_EQ(body[0]["annotations"], nlohmann::json({{"summary", "p99 > 1s"}}));
  EXPECT_EQ(body[0]["startsAt"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(body[0]["endsAt"], "2023-11-14T22:17:20.123Z");
  EXPECT_EQ(body[0]["generatorURL"], "http://vigil:9090/graph?g0.expr=up");

  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_sent_total",
                        {{"alertmanager", url}}),
            1);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_errors_total",
                        {{"alertmanager", url}}),
            0);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_latency_seconds",
                        {{"alertmanager", url}}),
            1);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_delivered_total"),
            1);
  EXPECT_EQ(MetricValue(registry_,
                        "prometheus_notifications_alertmanagers_discovered"),
            1);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_queue_capacity"),
            10000);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_queue_length"), 0);
}

TEST_F(NotifierTest, BatchesInOrder) {
  NotifierOptions o;
  o.max_batch_size = 2;
  auto n = Make(kTwoSets, o);
  n->Send({FiringAlert("a0"), FiringAlert("a1"), FiringAlert("a2"),
           FiringAlert("a3"), FiringAlert("a4")});
  ASSERT_TRUE(n->WaitIdle(kWait));
  using V = std::vector<std::string>;
  EXPECT_THAT(Names(kAm1), ElementsAre(V{"a0", "a1"}, V{"a2", "a3"}, V{"a4"}));
  EXPECT_THAT(Names(kAm2), ElementsAre(V{"a0", "a1"}, V{"a2", "a3"}, V{"a4"}));
}

TEST_F(NotifierTest, FullQueueDropsOldestAndCounts) {
  NotifierOptions o;
  o.queue_capacity = 3;
  o.max_batch_size = 10;
  auto n = Make(kTwoSets, o);
  n->PauseDispatchForTest(true);
  n->Send({FiringAlert("a0"), FiringAlert("a1")});
  n->Send({FiringAlert("a2"), FiringAlert("a3")});  // a0 goes
  EXPECT_EQ(n->queue_length(), 3u);
  EXPECT_EQ(n->dropped(), 1u);
  // Larger than the queue: the oldest incoming and everything queued go.
  n->Send({FiringAlert("b0"), FiringAlert("b1"), FiringAlert("b2"),
           FiringAlert("b3"), FiringAlert("b4")});
  EXPECT_EQ(n->dropped(), 6u);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_dropped_total"), 6);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_queue_length"), 3);
  n->PauseDispatchForTest(false);
  ASSERT_TRUE(n->WaitIdle(kWait));
  using V = std::vector<std::string>;
  EXPECT_THAT(Names(kAm1), ElementsAre(V{"b2", "b3", "b4"}));
}

TEST_F(NotifierTest, ExternalLabelsOnlyFillMissingLabels) {
  NotifierOptions o;
  o.external_labels = L({{"env", "prod"}, {"region", "eu"}});
  auto n = Make(kTwoSets, o);
  n->Send({FiringAlert("A", {{"env", "staging"}})});
  ASSERT_TRUE(n->WaitIdle(kWait));
  const auto reqs = sender_->RequestsTo(kAm1);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(reqs[0].body)[0]["labels"],
            nlohmann::json(
                {{"alertname", "A"}, {"env", "staging"}, {"region", "eu"}}));
}

TEST_F(NotifierTest, AlertRelabelKeepDropReplace) {
  auto n = Make(R"(
alert_relabel_configs:
  - source_labels: [severity]
    regex: page|ticket
    action: keep
  - source_labels: [team]
    regex: ignored
    action: drop
  - source_labels: [severity]
    regex: (.*)
    target_label: priority
    replacement: p-$1
alertmanagers:
  - static_configs: [{targets: ['am1:9093']}]
)");
  n->Send({FiringAlert("info", {{"severity", "info"}}),
           FiringAlert("ign", {{"severity", "page"}, {"team", "ignored"}}),
           FiringAlert("kept", {{"severity", "ticket"}})});
  ASSERT_TRUE(n->WaitIdle(kWait));
  const auto reqs = sender_->RequestsTo(kAm1);
  ASSERT_EQ(reqs.size(), 1u);
  const nlohmann::json body = nlohmann::json::parse(reqs[0].body);
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0]["labels"],
            nlohmann::json({{"alertname", "kept"},
                            {"priority", "p-ticket"},
                            {"severity", "ticket"}}));
}

TEST_F(NotifierTest, AlertsLeftWithoutLabelsAreDropped) {
  auto n = Make(R"(
alert_relabel_configs:
  - regex: .*
    action: labeldrop
alertmanagers:
  - static_configs: [{targets: ['am1:9093']}]
)");
  n->Send({FiringAlert("A")});
  ASSERT_TRUE(n->WaitIdle(kWait));
  EXPECT_TRUE(sender_->requests().empty());
  EXPECT_EQ(n->queue_length(), 0u);
}

TEST_F(NotifierTest, PerSetAlertRelabelling) {
  auto n = Make(R"(
alertmanagers:
  - static_configs: [{targets: ['am1:9093']}]
  - static_configs: [{targets: ['am2:9093']}]
    alert_relabel_configs:
      - source_labels: [severity]
        regex: info
        action: drop
)");
  n->Send({FiringAlert("i", {{"severity", "info"}}),
           FiringAlert("p", {{"severity", "page"}})});
  ASSERT_TRUE(n->WaitIdle(kWait));
  using V = std::vector<std::string>;
  EXPECT_THAT(Names(kAm1), ElementsAre(V{"i", "p"}));
  EXPECT_THAT(Names(kAm2), ElementsAre(V{"p"}));
}

TEST_F(NotifierTest, SlowAlertmanagerDoesNotBlockTheOthers) {
  auto n = Make(kTwoSets);
  ScopedHold hold(sender_.get(), kAm1);
  n->Send({FiringAlert("first")});
  ASSERT_TRUE(sender_->WaitForRequests(kAm2, 1));
  ASSERT_TRUE(sender_->WaitForRequests(kAm1, 1));  // and stuck there
  n->Send({FiringAlert("second"), FiringAlert("third")});
  // am2 gets the next batch while am1 is still answering the first.
  const bool am2_got_it = sender_->WaitForRequests(kAm2, 2);
  const size_t am1_requests = sender_->RequestsTo(kAm1).size();
  sender_->Release(kAm1);
  ASSERT_TRUE(am2_got_it);
  EXPECT_EQ(am1_requests, 1u);
  ASSERT_TRUE(n->WaitIdle(kWait));
  using V = std::vector<std::string>;
  EXPECT_THAT(Names(kAm1), ElementsAre(V{"first"}, V{"second", "third"}));
  EXPECT_THAT(Names(kAm2), ElementsAre(V{"first"}, V{"second", "third"}));
}

TEST_F(NotifierTest, SlowAlertmanagerBacklogDropsOldest) {
  NotifierOptions o;
  o.max_batch_size = 1;
  o.target_queue_capacity = 2;
  auto n = Make(kTwoSets, o);
  ScopedHold hold1(sender_.get(), kAm1);
  ScopedHold hold2(sender_.get(), kAm2);
  n->Send({FiringAlert("a0")});
  ASSERT_TRUE(sender_->WaitForRequests(kAm1, 1));
  ASSERT_TRUE(sender_->WaitForRequests(kAm2, 1));
  n->Send({FiringAlert("a1"), FiringAlert("a2"), FiringAlert("a3"),
           FiringAlert("a4")});
  const bool dispatched = n->WaitDispatchedForTest(kWait);
  sender_->Release(kAm1);
  sender_->Release(kAm2);
  ASSERT_TRUE(dispatched);
  ASSERT_TRUE(n->WaitIdle(kWait));
  using V = std::vector<std::string>;
  EXPECT_THAT(Names(kAm1), ElementsAre(V{"a0"}, V{"a3"}, V{"a4"}));
  EXPECT_THAT(Names(kAm2), ElementsAre(V{"a0"}, V{"a3"}, V{"a4"}));
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_errors_total",
                        {{"alertmanager", kAm1}}),
            2);
  // a1 and a2 reached no Alertmanager: dropped, counted once per alert.
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_dropped_total"), 2);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_delivered_total"),
            3);
}

TEST_F(NotifierTest, BatchSentWhenOneTargetOfTheSetTookIt) {
  auto n = Make(kOneSetTwoTargets);
  sender_->SetDefault(kAm1, 503);
  n->Send({FiringAlert("A"), FiringAlert("B")});
  ASSERT_TRUE(n->WaitIdle(kWait));
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_errors_total",
                        {{"alertmanager", kAm1}}),
            2);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_sent_total",
                        {{"alertmanager", kAm1}}),
            2);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_dropped_total"), 0);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_delivered_total"),
            2);
}

TEST_F(NotifierTest, FailureEverywhereCountsDroppedAndLogsOncePerBurst) {
  auto n = Make(kOneSetTwoTargets);
  sender_->SetDefault(kAm1, absl::UnavailableError("connection refused"));
  sender_->SetDefault(kAm2, 500);
  for (int i = 0; i < 5; ++i) {
    n->Send({FiringAlert(absl::StrCat("A", i))});
    ASSERT_TRUE(n->WaitIdle(kWait));
  }
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_dropped_total"), 5);
  EXPECT_EQ(MetricValue(registry_, "prometheus_notifications_errors_total",
                        {{"alertmanager", kAm2}}),
            5);
  absl::MutexLock lock(&log_mu_);
  int error_lines = 0;
  for (const std::string& line : log_lines_) {
    if (line.find("Error sending alerts") != std::string::npos) {
      ++error_lines;
      EXPECT_NE(line.find("alertmanager="), std::string::npos) << line;
    }
  }
  // One line per target for the whole burst (rate limit: 30s real clock).
  EXPECT_EQ(error_lines, 2);
}

TEST_F(NotifierTest, StopDrainsThenRejects) {
  auto n = Make(kTwoSets);
  ScopedHold hold(sender_.get(), kAm1);
  n->Send({FiringAlert("A")});
  n->Send({FiringAlert("B")});
  ASSERT_TRUE(sender_->WaitForRequests(kAm1, 1));
  sender_->Release(kAm1);
  n->Stop(kWait);
  // Dispatch may have combined A and B into one batch or not.
  std::vector<std::string> all;
  for (const auto& v : Names(kAm1)) {
    all.insert(all.end(), v.begin(), v.end());
  }
  EXPECT_THAT(all, ElementsAre("A", "B"));
  n->Send({FiringAlert("late")});
  EXPECT_EQ(n->dropped(), 1u);
}

TEST_F(NotifierTest, StopWithoutDrainDropsQueued) {
  NotifierOptions o;
  o.drain_on_shutdown = false;
  auto n = Make(kTwoSets, o);
  n->PauseDispatchForTest(true);
  n->Send({FiringAlert("A"), FiringAlert("B")});
  n->Stop(kWait);
  EXPECT_TRUE(sender_->requests().empty());
  EXPECT_EQ(n->dropped(), 2u);
}

TEST_F(NotifierTest, TargetRelabelling) {
  auto n = Make(R"(
alertmanagers:
  - static_configs:
      - targets: ['am1:9093', 'am1:9093']
      - targets: ['am2:9093']
        labels: {dc: old}
    relabel_configs:
      - source_labels: [dc]
        regex: old
        action: drop
      - target_label: __alerts_path__
        replacement: /custom/alerts
)");
  EXPECT_THAT(n->AlertmanagerUrls(),
              ElementsAre("http://am1:9093/custom/alerts"));
  EXPECT_EQ(MetricValue(registry_,
                        "prometheus_notifications_alertmanagers_discovered"),
            1);
}

TEST_F(NotifierTest, WebhooksGetRelabelledAlerts) {
  NotifierOptions o;
  o.external_labels = L({{"cluster", "c1"}});
  o.external_url = "http://vigil.example";
  auto n = Make(R"(
webhook_configs:
  - url: http://hook.example/x
    group_by: [alertname]
)", o);
  n->Send({FiringAlert("A", {{"instance", "i1"}})});
  ASSERT_TRUE(n->WaitIdle(kWait));
  const auto reqs = sender_->RequestsTo("http://hook.example/x");
  ASSERT_EQ(reqs.size(), 1u);
  const nlohmann::json body = nlohmann::json::parse(reqs[0].body);
  EXPECT_EQ(body["externalURL"], "http://vigil.example");
  EXPECT_EQ(body["alerts"][0]["labels"]["cluster"], "c1");
}

}  // namespace
}  // namespace vigil::rpc::notifier
