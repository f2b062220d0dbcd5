#include "engine/alerting_rule.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"
#include "storage/sample.h"

namespace vigil::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kMin = 60 * 1000;

storage::Labels L(std::vector<storage::Label> l) {
  return *storage::Labels::FromUnsorted(std::move(l));
}

// A rule whose query returns whatever `result` holds at call time.
struct Fixture {
  std::vector<EvalSample> result;
  std::vector<int64_t> query_times;
  std::unique_ptr<AlertingRule> rule;

  explicit Fixture(RuleSpec spec, AlertingRuleOptions opts = {}) {
    rule = std::make_unique<AlertingRule>(
        std::move(spec),
        [this](int64_t ts) -> absl::StatusOr<std::vector<EvalSample>> {
          query_times.push_back(ts);
          std::vector<EvalSample> out = result;
          for (EvalSample& s : out) {
            s.t = ts;
          }
          return out;
        },
        std::move(opts));
  }
  void Set(std::vector<std::pair<std::string, double>> instances) {
    result.clear();
    for (auto& [inst, v] : instances) {
      result.push_back(
          {L({{"__name__", "up"}, {"instance", inst}, {"job", "api"}}), 0, v});
    }
  }
};

RuleSpec Spec(absl::Duration for_d, absl::Duration keep = absl::ZeroDuration()) {
  RuleSpec s;
  s.kind = RuleSpec::Kind::kAlerting;
  s.name = "Down";
  s.expr = "up == 0";
  s.for_duration = for_d;
  s.keep_firing_for = keep;
  s.labels = {{"severity", "page"}};
  return s;
}

// Alert state names of the rule's alerts (incl. resolved), by instance.
std::map<std::string, std::string> States(const AlertingRule& r) {
  std::map<std::string, std::string> out;
  for (const Alert& a : r.AllAlerts()) {
    out[std::string(a.labels.Get("instance"))] = AlertStateName(a.state);
  }
  return out;
}

TEST(AlertingRule, PendingFiresAtExactlyFor) {
  Fixture f(Spec(absl::Minutes(5)));
  f.Set({{"a", 0}});
  // Table: eval minute -> expected state of instance a.
  const std::vector<std::pair<int, std::string>> table = {
      {0, "pending"}, {1, "pending"}, {4, "pending"},
      {5, "firing"},  {6, "firing"},
  };
  for (const auto& [minute, want] : table) {
    ASSERT_THAT(f.rule->Eval(minute * kMin, 0, 0), IsOk());
    EXPECT_EQ(States(*f.rule)["a"], want) << "minute " << minute;
  }
  std::vector<Alert> active = f.rule->ActiveAlerts();
  ASSERT_THAT(active, SizeIs(1));
  EXPECT_EQ(active[0].active_at, absl::FromUnixMillis(0));
  EXPECT_EQ(active[0].fired_at, absl::FromUnixMillis(5 * kMin));
  EXPECT_EQ(active[0].labels,
            L({{"alertname", "Down"},
               {"instance", "a"},
               {"job", "api"},
               {"severity", "page"}}));
  EXPECT_EQ(f.rule->State(), AlertState::kFiring);
}

// A prepared query hands the same label sets back every evaluation, and
// the rule keeps their alert identities by those sets' contents; the
// identities must not change when the sets are rebuilt (same labels, new
// contents) or when the memo of them is pruned after the output shrinks.
TEST(AlertingRule, AlertIdentityDoesNotDependOnWhichCopyOfTheLabels) {
  Fixture f(Spec(absl::Minutes(10)));
  f.Set({});
  for (int i = 0; i < 200; ++i) {
    f.result.push_back({L({{"__name__", "up"},
                           {"instance", absl::StrCat("i", i)},
                           {"job", "api"}}),
                        0, 0});
  }
  const std::vector<EvalSample> all = f.result;
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  // The first ten, same label-set objects: the memo drops the rest.
  f.result.assign(all.begin(), all.begin() + 10);
  ASSERT_THAT(f.rule->Eval(kMin, 0, 0), IsOk());
  ASSERT_THAT(f.rule->Eval(2 * kMin, 0, 0), IsOk());
  ASSERT_THAT(f.rule->ActiveAlerts(), SizeIs(10));
  // All 200 again as fresh copies: the first ten keep their alerts.
  f.result.clear();
  for (const EvalSample& s : all) {
    std::vector<storage::Label> copy(s.labels.begin(), s.labels.end());
    f.result.push_back({L(copy), 0, 0});
    ASSERT_FALSE(f.result.back().labels.SharesContentsWith(s.labels));
  }
  ASSERT_THAT(f.rule->Eval(3 * kMin, 0, 0), IsOk());
  std::vector<Alert> active = f.rule->ActiveAlerts();
  ASSERT_THAT(active, SizeIs(200));
  int kept = 0;
  for (const Alert& a : active) {
    const bool early = a.active_at == absl::FromUnixMillis(0);
    kept += early;
    if (!early) EXPECT_EQ(a.active_at, absl::FromUnixMillis(3 * kMin));
  }
  EXPECT_EQ(kept, 10);
}

TEST(AlertingRule, ForZeroFiresOnFirstEvaluation) {
  Fixture f(Spec(absl::ZeroDuration()));
  f.Set({{"a", 0}});
  absl::StatusOr<std::vector<EvalSample>> out = f.rule->Eval(7 * kMin, 0, 0);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(States(*f.rule)["a"], "firing");
  ASSERT_THAT(*out, SizeIs(2));
  std::vector<Alert> active = f.rule->ActiveAlerts();
  EXPECT_EQ(active[0].fired_at, absl::FromUnixMillis(7 * kMin));
  EXPECT_EQ(active[0].active_at, absl::FromUnixMillis(7 * kMin));
}

TEST(AlertingRule, ForShorterThanIntervalFiresOnNextEvaluation) {
  Fixture f(Spec(absl::Seconds(30)));
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  EXPECT_EQ(States(*f.rule)["a"], "pending");
  ASSERT_THAT(f.rule->Eval(kMin, 0, 0), IsOk());
  EXPECT_EQ(States(*f.rule)["a"], "firing");
}

TEST(AlertingRule, OutputsAlertsAndForStateSeries) {
  Fixture f(Spec(absl::Minutes(5)));
  f.result = {{L({{"__name__", "up"}, {"alertstate", "x"}, {"instance", "a"}}),
               0, 0}};
  absl::StatusOr<std::vector<EvalSample>> out =
      f.rule->Eval(61 * 1000 + 500, 0, 0);
  ASSERT_THAT(out, IsOk());
  ASSERT_THAT(*out, SizeIs(2));
  EXPECT_EQ((*out)[0].labels, L({{"__name__", "ALERTS"},
                                 {"alertname", "Down"},
                                 {"alertstate", "pending"},
                                 {"instance", "a"},
                                 {"severity", "page"}}));
  EXPECT_EQ((*out)[0].value, 1.0);
  EXPECT_EQ((*out)[0].t, 61500);
  EXPECT_EQ((*out)[1].labels, L({{"__name__", "ALERTS_FOR_STATE"},
                                 {"alertname", "Down"},
                                 {"alertstate", "x"},
                                 {"instance", "a"},
                                 {"severity", "page"}}));
  EXPECT_EQ((*out)[1].value, 61.0);  // ActiveAt in whole seconds
}

TEST(AlertingRule, FlappingPendingAlertStartsOver) {
  Fixture f(Spec(absl::Minutes(2)));
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  ASSERT_THAT(f.rule->Eval(kMin, 0, 0), IsOk());
  f.Set({});
  ASSERT_THAT(f.rule->Eval(2 * kMin, 0, 0), IsOk());
  // A pending alert that disappears is dropped, not resolved.
  EXPECT_THAT(f.rule->AllAlerts(), IsEmpty());
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(3 * kMin, 0, 0), IsOk());
  ASSERT_THAT(f.rule->Eval(4 * kMin, 0, 0), IsOk());
  EXPECT_EQ(States(*f.rule)["a"], "pending");
  ASSERT_THAT(f.rule->Eval(5 * kMin, 0, 0), IsOk());
  EXPECT_EQ(States(*f.rule)["a"], "firing");
  EXPECT_EQ(f.rule->ActiveAlerts()[0].active_at,
            absl::FromUnixMillis(3 * kMin));
}

TEST(AlertingRule, ResolvedAlertRetainedFifteenMinutesThenDropped) {
  Fixture f(Spec(absl::ZeroDuration()));
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  f.Set({});
  absl::StatusOr<std::vector<EvalSample>> out = f.rule->Eval(kMin, 0, 0);
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(*out, IsEmpty());  // no ALERTS series for inactive alerts
  EXPECT_EQ(States(*f.rule)["a"], "inactive");
  EXPECT_THAT(f.rule->ActiveAlerts(), IsEmpty());
  EXPECT_EQ(f.rule->AllAlerts()[0].resolved_at, absl::FromUnixMillis(kMin));
  ASSERT_THAT(f.rule->Eval(16 * kMin, 0, 0), IsOk());  // exactly 15m: kept
  EXPECT_THAT(f.rule->AllAlerts(), SizeIs(1));
  ASSERT_THAT(f.rule->Eval(16 * kMin + 1, 0, 0), IsOk());
  EXPECT_THAT(f.rule->AllAlerts(), IsEmpty());
}

TEST(AlertingRule, ReturningAlertAfterResolveIsNew) {
  Fixture f(Spec(absl::Minutes(1)));
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  ASSERT_THAT(f.rule->Eval(kMin, 0, 0), IsOk());
  EXPECT_EQ(States(*f.rule)["a"], "firing");
  f.Set({});
  ASSERT_THAT(f.rule->Eval(2 * kMin, 0, 0), IsOk());
  EXPECT_EQ(States(*f.rule)["a"], "inactive");
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(3 * kMin, 0, 0), IsOk());
  EXPECT_EQ(States(*f.rule)["a"], "pending");
  std::vector<Alert> active = f.rule->ActiveAlerts();
  EXPECT_EQ(active[0].active_at, absl::FromUnixMillis(3 * kMin));
  EXPECT_EQ(active[0].resolved_at, absl::InfinitePast());
}

TEST(AlertingRule, KeepFiringFor) {
  Fixture f(Spec(absl::ZeroDuration(), absl::Minutes(2)));
  f.Set({{"a", 5}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  f.Set({});
  const std::vector<std::pair<int, std::string>> table = {
      {1, "firing"}, {2, "firing"}, {3, "inactive"}};
  for (const auto& [minute, want] : table) {
    absl::StatusOr<std::vector<EvalSample>> out =
        f.rule->Eval(minute * kMin, 0, 0);
    ASSERT_THAT(out, IsOk());
    EXPECT_EQ(States(*f.rule)["a"], want) << "minute " << minute;
    EXPECT_THAT(*out, SizeIs(want == "firing" ? 2 : 0));
  }
  EXPECT_EQ(f.rule->AllAlerts()[0].resolved_at,
            absl::FromUnixMillis(3 * kMin));
  EXPECT_EQ(f.rule->AllAlerts()[0].value, 5);
}

TEST(AlertingRule, KeepFiringResetsWhenSeriesReturns) {
  Fixture f(Spec(absl::ZeroDuration(), absl::Minutes(2)));
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  f.Set({});
  ASSERT_THAT(f.rule->Eval(kMin, 0, 0), IsOk());
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(2 * kMin, 0, 0), IsOk());
  f.Set({});
  ASSERT_THAT(f.rule->Eval(3 * kMin, 0, 0), IsOk());
  ASSERT_THAT(f.rule->Eval(4 * kMin, 0, 0), IsOk());
  EXPECT_EQ(States(*f.rule)["a"], "firing");  // 1m into a new 2m window
  ASSERT_THAT(f.rule->Eval(5 * kMin, 0, 0), IsOk());
  EXPECT_EQ(States(*f.rule)["a"], "inactive");
}

TEST(AlertingRule, DuplicateLabelsetIsAnErrorAndChangesNothing) {
  Fixture f(Spec(absl::ZeroDuration()));
  f.result = {{L({{"__name__", "a"}, {"x", "1"}}), 0, 1},
              {L({{"__name__", "b"}, {"x", "1"}}), 0, 1}};
  EXPECT_THAT(f.rule->Eval(0, 0, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("vector contains metrics with the same "
                                 "labelset after applying alert labels")));
  EXPECT_THAT(f.rule->AllAlerts(), IsEmpty());
}

TEST(AlertingRule, LimitDropsAllAlerts) {
  Fixture f(Spec(absl::ZeroDuration()));
  f.Set({{"a", 0}, {"b", 0}});
  ASSERT_THAT(f.rule->Eval(0, 0, 2), IsOk());
  EXPECT_THAT(f.rule->ActiveAlerts(), SizeIs(2));
  f.Set({{"a", 0}, {"b", 0}, {"c", 0}});
  EXPECT_THAT(f.rule->Eval(kMin, 0, 2),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "exceeded limit of 2 with 3 alerts"));
  EXPECT_THAT(f.rule->AllAlerts(), IsEmpty());
}

TEST(AlertingRule, TemplatesSeeLabelsAndValue) {
  RuleSpec s = Spec(absl::ZeroDuration());
  s.labels = {{"instance", "{{ $labels.instance }}-x"},
              {"severity", "page"}};
  s.annotations = {{"summary", "{{ $labels.job }} at {{ $value }}"},
                   {"url", "{{ $externalURL }}"}};
  AlertingRuleOptions opts;
  opts.external_url = "http://vigil:9090";
  Fixture f(s, opts);
  f.Set({{"a", 1500000}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  std::vector<Alert> active = f.rule->ActiveAlerts();
  ASSERT_THAT(active, SizeIs(1));
  EXPECT_EQ(active[0].labels.Get("instance"), "a-x");
  EXPECT_EQ(active[0].annotations.Get("summary"), "api at 1.5e+06");
  EXPECT_EQ(active[0].annotations.Get("url"), "http://vigil:9090");
  EXPECT_EQ(active[0].generator_url,
            "http://vigil:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1");
  // Annotations follow the latest value.
  f.Set({{"a", 2}});
  ASSERT_THAT(f.rule->Eval(kMin, 0, 0), IsOk());
  EXPECT_EQ(f.rule->ActiveAlerts()[0].annotations.Get("summary"), "api at 2");
  EXPECT_EQ(f.rule->ActiveAlerts()[0].value, 2);
}

// Annotations without `query` are expanded when first looked at, from the
// inputs of the latest evaluation: every way out (state changes, the API)
// sees what expanding them at each evaluation would have given.
TEST(AlertingRule, AnnotationsSeeTheLatestEvaluationWhereverTheyAreRead) {
  RuleSpec s = Spec(absl::Minutes(1));
  s.annotations = {{"summary", "{{ $labels.instance }} at {{ $value }}"}};
  Fixture f(s);
  f.Set({{"a", 1}, {"b", 10}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  f.Set({{"a", 2}, {"b", 20}});
  ASSERT_THAT(f.rule->Eval(kMin, 0, 0), IsOk());  // both fire
  f.Set({{"a", 3}});
  ASSERT_THAT(f.rule->Eval(2 * kMin, 0, 0), IsOk());  // b resolves
  std::map<std::string, std::vector<std::string>> seen;
  for (const AlertStateChange& c : f.rule->TakeStateChanges()) {
    seen[std::string(c.alert.labels.Get("instance"))].push_back(
        absl::StrCat(c.transition == AlertTransition::kPending  ? "pending"
                     : c.transition == AlertTransition::kFiring ? "firing"
                                                                : "resolved",
                     ":", std::string(c.alert.annotations.Get("summary"))));
  }
  EXPECT_THAT(seen["a"], ElementsAre("pending:a at 1", "firing:a at 2"));
  EXPECT_THAT(seen["b"], ElementsAre("pending:b at 10", "firing:b at 20",
                                     "resolved:b at 20"));
  std::map<std::string, std::string> now;
  for (const Alert& a : f.rule->AllAlerts()) {
    now[std::string(a.labels.Get("instance"))] =
        std::string(a.annotations.Get("summary"));
  }
  EXPECT_THAT(now, ElementsAre(std::pair<const std::string, std::string>(
                                   "a", "a at 3"),
                               std::pair<const std::string, std::string>(
                                   "b", "b at 20")));
}

// `query` answers depend on when they run, so such annotations are expanded
// at the evaluation, as Prometheus does.
TEST(AlertingRule, QueryingAnnotationsAreExpandedAtTheEvaluation) {
  RuleSpec s = Spec(absl::ZeroDuration());
  s.annotations = {{"summary", "{{ query \"x\" | first | value }}"}};
  double answer = 1;
  AlertingRuleOptions opts;
  opts.template_query = [&](std::string_view, int64_t)
      -> absl::StatusOr<std::vector<EvalSample>> {
    return std::vector<EvalSample>{{L({{"__name__", "x"}}), 0, answer}};
  };
  Fixture f(s, opts);
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  answer = 2;
  std::vector<Alert> active = f.rule->ActiveAlerts();
  ASSERT_THAT(active, SizeIs(1));
  EXPECT_EQ(active[0].annotations.Get("summary"), "1");
  ASSERT_THAT(f.rule->Eval(kMin, 0, 0), IsOk());
  EXPECT_EQ(f.rule->ActiveAlerts()[0].annotations.Get("summary"), "2");
}

TEST(AlertingRule, QueryOffsetShiftsQueryAndSamples) {
  Fixture f(Spec(absl::ZeroDuration()));
  f.Set({{"a", 0}});
  absl::StatusOr<std::vector<EvalSample>> out =
      f.rule->Eval(10 * kMin, kMin, 0);
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(f.query_times, ElementsAre(9 * kMin));
  EXPECT_EQ((*out)[0].t, 9 * kMin);
  // ActiveAt stays the evaluation time, as in Prometheus.
  EXPECT_EQ(f.rule->ActiveAlerts()[0].active_at,
            absl::FromUnixMillis(10 * kMin));
}

TEST(AlertingRule, QueryErrorLeavesStateAlone) {
  RuleSpec s = Spec(absl::ZeroDuration());
  bool fail = false;
  AlertingRule rule(
      s,
      [&](int64_t) -> absl::StatusOr<std::vector<EvalSample>> {
        if (fail) {
          return absl::InvalidArgumentError("boom");
        }
        return std::vector<EvalSample>{{L({{"instance", "a"}}), 0, 1}};
      },
      {});
  ASSERT_THAT(rule.Eval(0, 0, 0), IsOk());
  fail = true;
  EXPECT_THAT(rule.Eval(kMin, 0, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, "boom"));
  EXPECT_THAT(rule.ActiveAlerts(), SizeIs(1));
}

TEST(AlertingRule, UnrestoredRuleWritesNoSeries) {
  AlertingRuleOptions opts;
  opts.restored = false;
  Fixture f(Spec(absl::ZeroDuration()), opts);
  f.Set({{"a", 0}});
  absl::StatusOr<std::vector<EvalSample>> out = f.rule->Eval(0, 0, 0);
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(*out, IsEmpty());
  EXPECT_THAT(f.rule->ActiveAlerts(), SizeIs(1));
  f.rule->SetRestored(true);
  out = f.rule->Eval(kMin, 0, 0);
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(*out, SizeIs(2));
}

// Sending follows Prometheus' sendAlerts: firing at once, then when more than
// the resend delay has passed; resolved at once and on the same cadence.
TEST(AlertingRule, SendTimeline) {
  Fixture f(Spec(absl::Minutes(1)));
  const absl::Duration resend = absl::Minutes(1);
  const absl::Duration interval = absl::Minutes(1);
  struct Step {
    int minute;
    bool present;
    int sent;            // alerts sent after this evaluation
    std::string state;   // state of the sent alert
    int ends_at_minute;  // endsAt of the sent alert
  } table[] = {
      {0, true, 0, "", 0},           // pending: never sent
      {1, true, 1, "firing", 5},     // fires: sent, endsAt = ts + 4 x 1m
      {2, true, 0, "", 0},           // exactly 1m since sent: not more
      {3, true, 1, "firing", 7},     // resend
      {4, false, 1, "inactive", 4},  // resolved: sent at once, endsAt=4m
      {5, false, 0, "", 0},
      {6, false, 1, "inactive", 4},  // resend of the resolved alert
  };
  for (const Step& s : table) {
    f.Set(s.present ? std::vector<std::pair<std::string, double>>{{"a", 0}}
                    : std::vector<std::pair<std::string, double>>{});
    ASSERT_THAT(f.rule->Eval(s.minute * kMin, 0, 0), IsOk());
    std::vector<Alert> sent =
        f.rule->AlertsToSend(s.minute * kMin, resend, interval);
    ASSERT_THAT(sent, SizeIs(s.sent)) << "minute " << s.minute;
    if (s.sent == 1) {
      EXPECT_EQ(AlertStateName(sent[0].state), s.state) << s.minute;
      EXPECT_EQ(sent[0].starts_at, absl::FromUnixMillis(kMin)) << s.minute;
      EXPECT_EQ(sent[0].ends_at, absl::FromUnixMillis(s.ends_at_minute * kMin))
          << s.minute;
    }
  }
}

TEST(AlertingRule, EndsAtUsesLongerOfResendDelayAndInterval) {
  Fixture f(Spec(absl::ZeroDuration()));
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  std::vector<Alert> sent =
      f.rule->AlertsToSend(0, absl::Minutes(1), absl::Minutes(5));
  ASSERT_THAT(sent, SizeIs(1));
  EXPECT_EQ(sent[0].ends_at, absl::FromUnixMillis(20 * kMin));
}

TEST(AlertingRule, StateChangesAreReported) {
  Fixture f(Spec(absl::Minutes(1)));
  f.Set({{"a", 0}});
  ASSERT_THAT(f.rule->Eval(0, 0, 0), IsOk());
  ASSERT_THAT(f.rule->Eval(kMin, 0, 0), IsOk());
  f.Set({});
  ASSERT_THAT(f.rule->Eval(2 * kMin, 0, 0), IsOk());
  std::vector<AlertStateChange> changes = f.rule->TakeStateChanges();
  ASSERT_THAT(changes, SizeIs(3));
  EXPECT_EQ(changes[0].transition, AlertTransition::kPending);
  EXPECT_EQ(changes[1].transition, AlertTransition::kFiring);
  EXPECT_EQ(changes[2].transition, AlertTransition::kResolved);
  EXPECT_EQ(changes[2].at, absl::FromUnixMillis(2 * kMin));
  EXPECT_THAT(f.rule->TakeStateChanges(), IsEmpty());
}

// A store holding a few series, for RestoreForState.
class FakeQueryable : public storage::Queryable {
 public:
  void Add(storage::Labels l, std::vector<storage::Sample> s) {
    series_.push_back({std::move(l), std::move(s)});
  }
  absl::StatusOr<std::vector<storage::SeriesHandle>> Select(
      absl::Span<const storage::Matcher> matchers, int64_t mint,
      int64_t maxt) const override {
    std::vector<storage::SeriesHandle> out;
    for (size_t i = 0; i < series_.size(); ++i) {
      bool ok = true;
      for (const storage::Matcher& m : matchers) {
        ok = ok && m.Matches(series_[i].first.Get(m.name()));
      }
      if (ok) {
        out.push_back({i, series_[i].first});
      }
    }
    return out;
  }
  size_t ReadSamples(storage::SeriesRef ref, int64_t mint, int64_t maxt,
                     std::vector<int64_t>* ts,
                     std::vector<double>* vs) const override {
    size_t n = 0;
    for (const storage::Sample& s : series_[ref].second) {
      if (s.t >= mint && s.t <= maxt) {
        ts->push_back(s.t);
        vs->push_back(s.v);
        ++n;
      }
    }
    return n;
  }
  absl::StatusOr<std::vector<std::string>> LabelNames(
      absl::Span<const storage::Matcher>, int64_t, int64_t) const override {
    return std::vector<std::string>{};
  }
  absl::StatusOr<std::vector<std::string>> LabelValues(
      std::string_view, absl::Span<const storage::Matcher>, int64_t,
      int64_t) const override {
    return std::vector<std::string>{};
  }
  uint64_t IndexGeneration() const override { return 0; }

 private:
  std::vector<std::pair<storage::Labels, std::vector<storage::Sample>>>
      series_;
};

TEST(AlertingRule, RestoreForState) {
  const absl::Duration hold = absl::Minutes(30);
  const absl::Duration grace = absl::Minutes(10);
  const absl::Duration tolerance = absl::Hours(1);
  const int64_t down_at = 100 * kMin;
  const int64_t restart = 110 * kMin;
  struct Case {
    const char* name;
    int64_t active_at_s;  // stored ActiveAt, seconds
    int64_t want_active_at_ms;
  } cases[] = {
      // 20m pending before going down, 10m left >= grace: shifted by the
      // 10m outage.
      {"shift", (down_at - 20 * kMin) / 1000, down_at - 20 * kMin + 10 * kMin},
      // 25m pending, 5m left < grace: fires grace after restart.
      {"grace", (down_at - 25 * kMin) / 1000,
       restart + 10 * kMin - 30 * kMin},
      // Was already firing: ActiveAt restored unchanged.
      {"firing", (down_at - 40 * kMin) / 1000, down_at - 40 * kMin},
  };
  for (const Case& c : cases) {
    RuleSpec s = Spec(hold);
    AlertingRuleOptions opts;
    opts.restored = false;
    Fixture f(s, opts);
    f.Set({{"a", 0}});
    ASSERT_THAT(f.rule->Eval(restart, 0, 0), IsOk());
    FakeQueryable q;
    q.Add(L({{"__name__", "ALERTS_FOR_STATE"},
             {"alertname", "Down"},
             {"instance", "a"},
             {"job", "api"},
             {"severity", "page"}}),
          {{down_at - kMin, static_cast<double>(c.active_at_s)},
           {down_at, static_cast<double>(c.active_at_s)}});
    f.rule->RestoreForState(q, restart, tolerance, grace);
    EXPECT_TRUE(f.rule->restored()) << c.name;
    EXPECT_EQ(f.rule->ActiveAlerts()[0].active_at,
              absl::FromUnixMillis(c.want_active_at_ms))
        << c.name;
  }
}

TEST(AlertingRule, RestoreSkipsStaleAndShortFor) {
  FakeQueryable q;
  q.Add(L({{"__name__", "ALERTS_FOR_STATE"},
           {"alertname", "Down"},
           {"instance", "a"},
           {"job", "api"},
           {"severity", "page"}}),
        {{0, 0}, {kMin, storage::StaleNaN()}});
  {
    AlertingRuleOptions opts;
    opts.restored = false;
    Fixture f(Spec(absl::Minutes(30)), opts);
    f.Set({{"a", 0}});
    ASSERT_THAT(f.rule->Eval(2 * kMin, 0, 0), IsOk());
    f.rule->RestoreForState(q, 2 * kMin, absl::Hours(1), absl::Minutes(10));
    EXPECT_EQ(f.rule->ActiveAlerts()[0].active_at,
              absl::FromUnixMillis(2 * kMin));
  }
  {
    AlertingRuleOptions opts;
    opts.restored = false;
    Fixture f(Spec(absl::Minutes(5)), opts);  // for < grace: nothing to do
    f.Set({{"a", 0}});
    ASSERT_THAT(f.rule->Eval(2 * kMin, 0, 0), IsOk());
    f.rule->RestoreForState(q, 2 * kMin, absl::Hours(1), absl::Minutes(10));
    EXPECT_TRUE(f.rule->restored());
  }
}

TEST(AlertingRule, CopyStateFromKeepsAlerts) {
  Fixture a(Spec(absl::Minutes(5)));
  a.Set({{"x", 0}});
  ASSERT_THAT(a.rule->Eval(0, 0, 0), IsOk());
  Fixture b(Spec(absl::Minutes(5)));
  b.rule->CopyStateFrom(*a.rule);
  b.Set({{"x", 0}});
  ASSERT_THAT(b.rule->Eval(5 * kMin, 0, 0), IsOk());
  EXPECT_EQ(States(*b.rule)["x"], "firing");
}

}  // namespace
}  // namespace vigil::engine
