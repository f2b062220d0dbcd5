#include "rpc/query_api/rules_handler.h"

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/manager.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/clock.h"

namespace vigil::rpc {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

storage::Labels L(std::vector<storage::Label> l) {
  return *storage::Labels::FromUnsorted(std::move(l));
}

// "hot" returns one series at 42; "dup" two samples with the same labels,
// which the alerting rule must reject; anything else returns nothing.
class FakeEngine : public engine::RuleQueryEngine {
 public:
  absl::StatusOr<engine::InstantQueryFunc> Prepare(
      std::string_view expr) override {
    std::string e(expr);
    return engine::InstantQueryFunc(
        [e](int64_t ts) -> absl::StatusOr<std::vector<engine::EvalSample>> {
          if (e == "hot") return std::vector<engine::EvalSample>{{L({{"instance", "a"}}), ts, 42}};
          if (e == "dup") {
            return std::vector<engine::EvalSample>{{L({{"instance", "a"}}), ts, 1},
                                                   {L({{"instance", "a"}}), ts, 2}};
          }
          return std::vector<engine::EvalSample>{};
        });
  }
  absl::StatusOr<std::vector<engine::EvalSample>> Query(std::string_view,
                                                        int64_t) override {
    return std::vector<engine::EvalSample>{};
  }
};

engine::RuleSpec Alert(std::string name, std::string expr, absl::Duration for_d) {
  engine::RuleSpec r;
  r.kind = engine::RuleSpec::Kind::kAlerting;
  r.name = std::move(name);
  r.expr = std::move(expr);
  r.for_duration = for_d;
  return r;
}

class RulesApiTest : public ::testing::Test {
 protected:
  RulesApiTest() : clock_(absl::FromUnixSeconds(1700000000)) {
    engine::ManagerOptions o;
    o.query_engine = &engine_;
    o.clock = &clock_;
    manager_ = std::make_unique<engine::Manager>(o);
    engine::GroupSpec g;
    g.file = "rules.yml";
    g.name = "g";
    g.interval = absl::Seconds(30);
    engine::RuleSpec hot = Alert("Hot", "hot", absl::Minutes(1));
    hot.labels = {{"severity", "page"}};
    hot.annotations = {{"summary", "{{ $labels.instance }} at {{ $value }}"}};
    g.rules.push_back(hot);
    g.rules.push_back(Alert("Dup", "dup", absl::ZeroDuration()));
    g.rules.push_back(Alert("Quiet", "quiet", absl::ZeroDuration()));
    engine::RuleSpec rec;
    rec.kind = engine::RuleSpec::Kind::kRecording;
    rec.name = "job:hot";
    rec.expr = "hot";
    g.rules.push_back(rec);
    EXPECT_TRUE(manager_->UpdateGroups({g}).ok());
  }

  nlohmann::json Get(const std::string& path,
                     std::vector<std::pair<std::string, std::string>> params = {}) {
    http::Request r;
    r.method = "GET";
    r.path = path;
    r.params = std::move(params);
    RulesApi api(manager_.get());
    http::Response resp = path == "/api/v1/rules" ? api.Rules(r) : api.Alerts(r);
    EXPECT_EQ(resp.status, 200) << resp.body;
    return nlohmann::json::parse(resp.body);
  }

  void EvalAt(int64_t ts_ms) { manager_->Groups()[0]->Eval(ts_ms); }

  FakeEngine engine_;
  SimulatedClock clock_;
  std::unique_ptr<engine::Manager> manager_;
};

TEST_F(RulesApiTest, RulesBeforeAnyEvaluationAreUnknownAndInactive) {
  nlohmann::json j = Get("/api/v1/rules");
  ASSERT_EQ(j["status"], "success");
  const nlohmann::json& rules = j["data"]["groups"][0]["rules"];
  ASSERT_THAT(rules, SizeIs(4));
  EXPECT_EQ(rules[0]["health"], "unknown");
  EXPECT_EQ(rules[0]["state"], "inactive");
  EXPECT_FALSE(rules[0].contains("lastError"));
}

TEST_F(RulesApiTest, RulesShowStateHealthErrorsAndAlerts) {
  const int64_t t0 = 1700000000000;
  EvalAt(t0);
  nlohmann::json j = Get("/api/v1/rules");
  const nlohmann::json& g = j["data"]["groups"][0];
  EXPECT_EQ(g["name"], "g");
  EXPECT_EQ(g["file"], "rules.yml");
  EXPECT_EQ(g["interval"], 30);
  const nlohmann::json& hot = g["rules"][0];
  EXPECT_EQ(hot["type"], "alerting");
  EXPECT_EQ(hot["name"], "Hot");
  EXPECT_EQ(hot["query"], "hot");
  EXPECT_EQ(hot["duration"], 60);
  EXPECT_EQ(hot["labels"]["severity"], "page");
  EXPECT_EQ(hot["annotations"]["summary"], "{{ $labels.instance }} at {{ $value }}");
  EXPECT_EQ(hot["health"], "ok");
  EXPECT_FALSE(hot.contains("lastError") && hot["lastError"] != "");
  EXPECT_EQ(hot["state"], "pending");
  ASSERT_THAT(hot["alerts"], SizeIs(1));
  const nlohmann::json& a = hot["alerts"][0];
  EXPECT_EQ(a["state"], "pending");
  EXPECT_EQ(a["value"], "4.2e+01");
  EXPECT_EQ(a["labels"]["alertname"], "Hot");
  EXPECT_EQ(a["labels"]["instance"], "a");
  EXPECT_EQ(a["annotations"]["summary"], "a at 42");
  EXPECT_EQ(a["activeAt"], "2023-11-14T22:13:20Z");

  const nlohmann::json& dup = g["rules"][1];
  EXPECT_EQ(dup["health"], "err");
  EXPECT_THAT(dup["lastError"].get<std::string>(), HasSubstr("same labelset"));
  EXPECT_EQ(dup["state"], "inactive");
  EXPECT_THAT(dup["alerts"], SizeIs(0));

  EXPECT_EQ(g["rules"][2]["state"], "inactive");
  EXPECT_EQ(g["rules"][2]["health"], "ok");
  EXPECT_EQ(g["rules"][3]["type"], "recording");
  EXPECT_FALSE(g["rules"][3].contains("state"));

  // A minute later the pending alert fires.
  EvalAt(t0 + 60000);
  j = Get("/api/v1/rules", {{"type", "alert"}, {"rule_name[]", "Hot"}});
  const nlohmann::json& rules = j["data"]["groups"][0]["rules"];
  ASSERT_THAT(rules, SizeIs(1));
  EXPECT_EQ(rules[0]["state"], "firing");
  EXPECT_EQ(rules[0]["alerts"][0]["state"], "firing");
}

TEST_F(RulesApiTest, AlertsListsActiveAlerts) {
  EvalAt(1700000000000);
  nlohmann::json j = Get("/api/v1/alerts");
  ASSERT_EQ(j["status"], "success");
  ASSERT_THAT(j["data"]["alerts"], SizeIs(1));
  const nlohmann::json& a = j["data"]["alerts"][0];
  EXPECT_EQ(a["labels"]["alertname"], "Hot");
  EXPECT_EQ(a["labels"]["severity"], "page");
  EXPECT_EQ(a["state"], "pending");
  EXPECT_EQ(a["value"], "4.2e+01");
  EXPECT_EQ(a["activeAt"], "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace vigil::rpc
