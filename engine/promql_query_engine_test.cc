#include "engine/promql_query_engine.h"

#include <cmath>
#include <memory>
#include <vector>

#include "engine/group.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/clock.h"
#include "storage/base/status_matchers.h"
#include "storage/head.h"

namespace vigil::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr int64_t kMin = 60 * 1000;

storage::Labels L(std::vector<storage::Label> l) {
  return *storage::Labels::FromUnsorted(std::move(l));
}

void Put(storage::Head& head, const storage::Labels& l, int64_t t, double v) {
  storage::Sample s{t, v};
  storage::SeriesSamples ss{&l, absl::MakeConstSpan(&s, 1)};
  ASSERT_THAT(head.Append(absl::MakeConstSpan(&ss, 1)), IsOk());
}

TEST(PromqlRuleQueryEngine, VectorScalarAndErrors) {
  SimulatedClock clock(absl::FromUnixSeconds(1000));
  storage::Head head(storage::HeadOptions{}, &clock);
  Put(head, L({{"__name__", "up"}, {"job", "a"}}), kMin, 0);
  promql::Engine engine;
  PromqlRuleQueryEngine qe(&engine, &head);

  absl::StatusOr<InstantQueryFunc> f = qe.Prepare("up == 0");
  ASSERT_THAT(f, IsOk());
  absl::StatusOr<std::vector<EvalSample>> r = (*f)(2 * kMin);
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(*r, SizeIs(1));
  EXPECT_EQ((*r)[0].labels, L({{"__name__", "up"}, {"job", "a"}}));
  EXPECT_EQ((*r)[0].t, 2 * kMin);

  r = qe.Query("1 + 1", 5);
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(*r, SizeIs(1));
  EXPECT_TRUE((*r)[0].labels.empty());
  EXPECT_EQ((*r)[0].value, 2);

  EXPECT_THAT(qe.Query("\"str\"", 5),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "rule result is not a vector or scalar"));
  EXPECT_THAT(qe.Prepare("sum(up"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("parse error")));
}

// End to end over the real head and PromQL: a recording rule feeds an alert
// in the same group evaluation, and ALERTS is queryable afterwards.
TEST(PromqlRuleQueryEngine, GroupOverHead) {
  SimulatedClock clock(absl::FromUnixSeconds(1000));
  storage::Head head(storage::HeadOptions{}, &clock);
  promql::Engine engine;
  PromqlRuleQueryEngine qe(&engine, &head);
  for (int m = 0; m <= 3; ++m) {
    Put(head, L({{"__name__", "errors"}, {"job", "api"}}), m * kMin, m * 10.0);
  }
  GroupSpec spec;
  spec.file = "f.yml";
  spec.name = "g";
  RuleSpec rec;
  rec.kind = RuleSpec::Kind::kRecording;
  rec.name = "job:errors:max";
  rec.expr = "max by (job) (errors)";
  RuleSpec alert;
  alert.kind = RuleSpec::Kind::kAlerting;
  alert.name = "TooMany";
  alert.expr = "job:errors:max > 5";
  alert.annotations = {{"summary", "{{ $labels.job }} has {{ $value }}"}};
  spec.rules = {rec, alert};
  GroupOptions opts;
  opts.appendable = &head;
  opts.queryable = &head;
  opts.clock = &clock;
  absl::StatusOr<std::unique_ptr<Group>> g = BuildGroup(
      spec, [&](std::string_view e) { return qe.Prepare(e); }, {}, opts);
  ASSERT_THAT(g, IsOk());
  (*g)->Eval(3 * kMin);
  // The group's CPU accounting: its queries took some of its CPU time,
  // never more than all of it.
  const GroupEvalStatus st = (*g)->status();
  EXPECT_GT(st.query_cpu_time, absl::ZeroDuration());
  EXPECT_GE(st.cpu_time, st.query_cpu_time);
  EXPECT_EQ((*g)->rules()[0]->status().health, RuleHealth::kOk);
  EXPECT_EQ((*g)->rules()[1]->status().health, RuleHealth::kOk)
      << (*g)->rules()[1]->status().last_error;
  std::vector<Alert> active = (*g)->ActiveAlerts();
  ASSERT_THAT(active, SizeIs(1));
  EXPECT_EQ(active[0].state, AlertState::kFiring);
  EXPECT_EQ(active[0].annotations.Get("summary"), "api has 30");
  absl::StatusOr<std::vector<EvalSample>> alerts =
      qe.Query("ALERTS{alertstate=\"firing\"}", 3 * kMin);
  ASSERT_THAT(alerts, IsOk());
  ASSERT_THAT(*alerts, SizeIs(1));
  EXPECT_EQ((*alerts)[0].labels.Get("alertname"), "TooMany");
}

// After a restart the first evaluation writes no ALERTS; RestoreForState
// picks ActiveAt up from ALERTS_FOR_STATE in the head, then series flow.
TEST(PromqlRuleQueryEngine, GroupRestoresForState) {
  SimulatedClock clock(absl::FromUnixSeconds(1000));
  storage::Head head(storage::HeadOptions{}, &clock);
  promql::Engine engine;
  PromqlRuleQueryEngine qe(&engine, &head);
  const int64_t down_at = 100 * kMin;
  const int64_t restart = 105 * kMin;
  // Before going down the alert had been pending for 20 of its 30 minutes.
  Put(head,
      L({{"__name__", "ALERTS_FOR_STATE"}, {"alertname", "Slow"}, {"job", "a"}}),
      down_at, static_cast<double>((down_at - 20 * kMin) / 1000));
  Put(head, L({{"__name__", "latency"}, {"job", "a"}}), restart, 9);
  GroupSpec spec;
  spec.file = "f.yml";
  spec.name = "g";
  RuleSpec alert;
  alert.kind = RuleSpec::Kind::kAlerting;
  alert.name = "Slow";
  alert.expr = "latency > 5";
  alert.for_duration = absl::Minutes(30);
  spec.rules = {alert};
  GroupOptions opts;
  opts.appendable = &head;
  opts.queryable = &head;
  opts.clock = &clock;
  AlertingRuleOptions aopts;
  aopts.restored = false;
  absl::StatusOr<std::unique_ptr<Group>> g = BuildGroup(
      spec, [&](std::string_view e) { return qe.Prepare(e); }, aopts, opts);
  ASSERT_THAT(g, IsOk());
  (*g)->Eval(restart);
  absl::StatusOr<std::vector<EvalSample>> alerts = qe.Query("ALERTS", restart);
  ASSERT_THAT(alerts, IsOk());
  EXPECT_THAT(*alerts, SizeIs(0));
  (*g)->RestoreForState(restart);
  // 10m were left, not less than the 10m grace period: ActiveAt moves by the
  // 5m outage, so the alert fires 10m after the restart.
  std::vector<Alert> active = (*g)->ActiveAlerts();
  ASSERT_THAT(active, SizeIs(1));
  EXPECT_EQ(active[0].active_at,
            absl::FromUnixMillis(down_at - 20 * kMin + 5 * kMin));
  Put(head, L({{"__name__", "latency"}, {"job", "a"}}), restart + kMin, 9);
  (*g)->Eval(restart + kMin);
  alerts = qe.Query("ALERTS", restart + kMin);
  ASSERT_THAT(alerts, IsOk());
  ASSERT_THAT(*alerts, SizeIs(1));
  EXPECT_EQ((*alerts)[0].labels.Get("alertstate"), "pending");
}

}  // namespace
}  // namespace vigil::engine
