#include "rpc/notifier/webhook.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rpc/notifier/fake_http_sender.h"
#include "rpc/notifier/payload.h"
#include "rpc/notifier/test_util.h"
#include "storage/base/status_matchers.h"

namespace vigil::rpc::notifier {
namespace {

using ::testing::ElementsAre;
using testing::FiringAlert;
using testing::L;
using testing::MetricValue;

constexpr absl::Duration kWait = absl::Seconds(10);
const char kUrl[] = "http://hook.example/alerts";

engine::Alert Resolved(engine::Alert a) {
  a.state = engine::AlertState::kInactive;
  a.resolved_at = a.starts_at + absl::Minutes(2);
  a.ends_at = a.resolved_at;
  return a;
}

WebhookConfig Cfg(std::vector<std::string> group_by = {"alertname"}) {
  WebhookConfig c;
  c.name = "team-hook";
  c.url = kUrl;
  c.group_by = std::move(group_by);
  return c;
}

TEST(LabelsFingerprint, MatchesAlertmanager) {
  // Values computed with an independent FNV-1a 64 implementation over
  // name 0xff value 0xff, as prometheus/common's model does.
  EXPECT_EQ(FingerprintString(LabelsFingerprint(storage::Labels())),
            "cbf29ce484222325");
  EXPECT_EQ(FingerprintString(LabelsFingerprint(L({{"a", "b"}}))),
            "d2b371819297f98a");
  EXPECT_EQ(FingerprintString(LabelsFingerprint(
                L({{"job", "api"}, {"alertname", "HighLatency"}}))),
            "144419c8ae624785");
}

TEST(FormatRfc3339Millis, UtcMillisAndZeroTime) {
  EXPECT_EQ(FormatRfc3339Millis(absl::FromUnixMillis(1700000000123)),
            "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(FormatRfc3339Millis(absl::FromUnixMillis(0)),
            "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(absl::InfinitePast()),
            "0001-01-01T00:00:00.000Z");
}

TEST(GroupAlerts, ByLabelsAndAll) {
  const std::vector<engine::Alert> alerts = {
      FiringAlert("A", {{"job", "x"}}), FiringAlert("B", {{"job", "x"}}),
      FiringAlert("A", {{"job", "y"}})};
  std::vector<AlertGroup> by_name = GroupAlerts(alerts, Cfg({"alertname"}));
  ASSERT_EQ(by_name.size(), 2u);
  EXPECT_EQ(by_name[0].group_labels, L({{"alertname", "A"}}));
  EXPECT_EQ(by_name[0].alerts.size(), 2u);
  EXPECT_EQ(by_name[1].group_labels, L({{"alertname", "B"}}));

  std::vector<AlertGroup> none = GroupAlerts(alerts, Cfg({}));
  ASSERT_EQ(none.size(), 1u);
  EXPECT_TRUE(none[0].group_labels.empty());
  EXPECT_EQ(none[0].alerts.size(), 3u);

  WebhookConfig all = Cfg({});
  all.group_by_all = true;
  EXPECT_EQ(GroupAlerts(alerts, all).size(), 3u);

  // A label missing from an alert just isn't part of its group key.
  std::vector<AlertGroup> missing = GroupAlerts(alerts, Cfg({"nope"}));
  ASSERT_EQ(missing.size(), 1u);
}

TEST(GroupAlerts, SendResolvedFalseLeavesResolvedOut) {
  WebhookConfig c = Cfg();
  c.send_resolved = false;
  std::vector<AlertGroup> g =
      GroupAlerts({FiringAlert("A"), Resolved(FiringAlert("B"))}, c);
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].group_labels, L({{"alertname", "A"}}));
}

TEST(EncodeWebhookPayload, FieldByField) {
  engine::Alert firing = FiringAlert("A", {{"job", "api"}, {"inst", "1"}});
  firing.annotations = L({{"summary", "s"}, {"desc", "d1"}});
  engine::Alert resolved =
      Resolved(FiringAlert("A", {{"job", "api"}, {"inst", "2"}}));
  resolved.annotations = L({{"summary", "s"}, {"desc", "d2"}});
  AlertGroup g{L({{"alertname", "A"}}), {firing, resolved}};
  WebhookConfig c = Cfg();
  const nlohmann::json p =
      nlohmann::json::parse(EncodeWebhookPayload(g, c, "http://vigil:9090"));
  EXPECT_EQ(p["version"], "4");
  EXPECT_EQ(p["groupKey"], "{}:{alertname=\"A\"}");
  EXPECT_EQ(p["truncatedAlerts"], 0);
  EXPECT_EQ(p["status"], "firing");
  EXPECT_EQ(p["receiver"], "team-hook");
  EXPECT_EQ(p["groupLabels"], nlohmann::json({{"alertname", "A"}}));
  EXPECT_EQ(p["commonLabels"],
            nlohmann::json({{"alertname", "A"}, {"job", "api"}}));
  EXPECT_EQ(p["commonAnnotations"], nlohmann::json({{"summary", "s"}}));
  EXPECT_EQ(p["externalURL"], "http://vigil:9090");
  ASSERT_EQ(p["alerts"].size(), 2u);
  const nlohmann::json& a0 = p["alerts"][0];
  EXPECT_EQ(a0["status"], "firing");
  EXPECT_EQ(a0["labels"], nlohmann::json({{"alertname", "A"},
                                          {"inst", "1"},
                                          {"job", "api"}}));
  EXPECT_EQ(a0["annotations"],
            nlohmann::json({{"desc", "d1"}, {"summary", "s"}}));
  EXPECT_EQ(a0["startsAt"], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(a0["endsAt"], "0001-01-01T00:00:00.000Z");
  EXPECT_EQ(a0["generatorURL"], "http://vigil:9090/graph?g0.expr=up");
  EXPECT_EQ(a0["fingerprint"],
            FingerprintString(LabelsFingerprint(firing.labels)));
  EXPECT_EQ(a0["fingerprint"].get<std::string>().size(), 16u);
  const nlohmann::json& a1 = p["alerts"][1];
  EXPECT_EQ(a1["status"], "resolved");
  EXPECT_EQ(a1["endsAt"], "2023-11-14T22:15:20.123Z");

  // All resolved -> group resolved; max_alerts truncates.
  AlertGroup r{L({{"alertname", "A"}}),
               {Resolved(FiringAlert("A")), Resolved(FiringAlert("A"))}};
  c.max_alerts = 1;
  const nlohmann::json p2 = nlohmann::json::parse(EncodeWebhookPayload(r, c, ""));
  EXPECT_EQ(p2["status"], "resolved");
  EXPECT_EQ(p2["truncatedAlerts"], 1);
  EXPECT_EQ(p2["alerts"].size(), 1u);
}

TEST(EncodeWebhookPayload, InvalidUtf8IsReplacedNotThrown) {
  AlertGroup g{storage::Labels(), {FiringAlert("bad\xff")}};
  const std::string body = EncodeWebhookPayload(g, Cfg(), "");
  EXPECT_NO_THROW(nlohmann::json::parse(body));
}

class WebhookSenderTest : public ::testing::Test {
 protected:
  std::unique_ptr<WebhookSender> Make(WebhookConfig cfg) {
    WebhookOptions o;
    o.user_agent = "vigil/test";
    o.logger = &logger_;
    o.backoff_sleep = [this](absl::Duration d) {
      absl::MutexLock lock(&mu_);
      sleeps_.push_back(d);
    };
    return std::make_unique<WebhookSender>(std::move(cfg), std::move(o),
                                           sender_, &registry_);
  }
  std::vector<absl::Duration> Sleeps() {
    absl::MutexLock lock(&mu_);
    return sleeps_;
  }

  std::shared_ptr<FakeHttpSender> sender_ = std::make_shared<FakeHttpSender>();
  prometheus::Registry registry_;
  Logger logger_{[](std::string_view) {}};
  absl::Mutex mu_;
  std::vector<absl::Duration> sleeps_;
};

TEST_F(WebhookSenderTest, PostsOnePayloadPerGroup) {
  WebhookConfig c = Cfg();
  c.http.authorization = Authorization{"Bearer", "tok", ""};
  auto w = Make(c);
  w->Enqueue({FiringAlert("A"), FiringAlert("B"), FiringAlert("A")});
  ASSERT_TRUE(w->WaitIdle(kWait));
  const auto reqs = sender_->RequestsTo(kUrl);
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].Header("Authorization"), "Bearer tok");
  EXPECT_EQ(reqs[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(reqs[0].Header("User-Agent"), "vigil/test");
  EXPECT_EQ(nlohmann::json::parse(reqs[0].body)["alerts"].size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(reqs[1].body)["groupLabels"]["alertname"],
            "B");
  EXPECT_EQ(MetricValue(registry_, "vigil_webhook_notifications_sent_total",
                        {{"webhook", "team-hook"}}),
            2);
}

TEST_F(WebhookSenderTest, RetriesServerErrorsWithExponentialBackoff) {
  sender_->Script(kUrl, {503, absl::UnavailableError("reset"), 429, 200});
  WebhookConfig c = Cfg();
  c.max_attempts = 5;
  auto w = Make(c);
  w->Enqueue({FiringAlert("A")});
  ASSERT_TRUE(w->WaitIdle(kWait));
  EXPECT_EQ(sender_->RequestsTo(kUrl).size(), 4u);
  EXPECT_THAT(Sleeps(), ElementsAre(absl::Milliseconds(500), absl::Seconds(1),
                                    absl::Seconds(2)));
  EXPECT_EQ(MetricValue(registry_, "vigil_webhook_notifications_retries_total",
                        {{"webhook", "team-hook"}}),
            3);
  EXPECT_EQ(w->dropped(), 0u);
}

TEST_F(WebhookSenderTest, GivesUpAfterMaxAttempts) {
  sender_->SetDefault(kUrl, 500);
  WebhookConfig c = Cfg();
  c.max_attempts = 3;
  auto w = Make(c);
  w->Enqueue({FiringAlert("A"), FiringAlert("A")});
  ASSERT_TRUE(w->WaitIdle(kWait));
  EXPECT_EQ(sender_->RequestsTo(kUrl).size(), 3u);
  EXPECT_EQ(Sleeps().size(), 2u);
  EXPECT_EQ(w->dropped(), 2u);
  EXPECT_EQ(MetricValue(registry_, "vigil_webhook_notifications_errors_total",
                        {{"webhook", "team-hook"}}),
            1);
}

TEST_F(WebhookSenderTest, ClientErrorsAreNotRetried) {
  sender_->SetDefault(kUrl, 400);
  auto w = Make(Cfg());
  w->Enqueue({FiringAlert("A")});
  ASSERT_TRUE(w->WaitIdle(kWait));
  EXPECT_EQ(sender_->RequestsTo(kUrl).size(), 1u);
  EXPECT_TRUE(Sleeps().empty());
  EXPECT_EQ(w->dropped(), 1u);
}

TEST_F(WebhookSenderTest, FullQueueDropsOldest) {
  WebhookOptions o;
  o.queue_capacity = 2;
  o.logger = &logger_;
  WebhookSender w(Cfg({}), o, sender_, &registry_);
  ScopedHold hold(sender_.get(), kUrl);
  w.Enqueue({FiringAlert("first")});
  ASSERT_TRUE(sender_->WaitForRequests(kUrl, 1));  // now busy, queue empty
  w.Enqueue({FiringAlert("a"), FiringAlert("b")});
  w.Enqueue({FiringAlert("c")});  // drops a
  EXPECT_EQ(w.dropped(), 1u);
  sender_->Release(kUrl);  // (the ScopedHold also does, should we fail early)
  ASSERT_TRUE(w.WaitIdle(kWait));
  const auto reqs = sender_->RequestsTo(kUrl);
  ASSERT_EQ(reqs.size(), 2u);
  std::vector<std::string> names;
  const nlohmann::json body = nlohmann::json::parse(reqs[1].body);
  for (const auto& a : body["alerts"]) {
    names.push_back(a["labels"]["alertname"]);
  }
  EXPECT_THAT(names, ElementsAre("b", "c"));
  EXPECT_EQ(MetricValue(registry_, "vigil_webhook_notifications_dropped_total",
                        {{"webhook", "team-hook"}}),
            1);
}

TEST_F(WebhookSenderTest, StopDrainsAndThenRejects) {
  auto w = Make(Cfg());
  w->Enqueue({FiringAlert("A")});
  w->Stop(absl::Now() + kWait);
  EXPECT_EQ(sender_->RequestsTo(kUrl).size(), 1u);
  w->Enqueue({FiringAlert("late")});
  EXPECT_EQ(w->dropped(), 1u);
}

}  // namespace
}  // namespace vigil::rpc::notifier
