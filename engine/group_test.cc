#include "engine/group.h"

#include <map>
#include <string>
#include <vector>

#include "engine/recording_rule.h"
#include "engine/xxhash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"
#include "storage/sample.h"

namespace vigil::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kMin = 60 * 1000;

storage::Labels L(std::vector<storage::Label> l) {
  return *storage::Labels::FromUnsorted(std::move(l));
}

struct Written {
  storage::Labels labels;
  int64_t t;
  double v;
};

// Records every appended sample; rules in tests read it back.
class FakeStore : public storage::Appendable {
 public:
  absl::StatusOr<storage::AppendStats> Append(
      absl::Span<const storage::SeriesSamples> batch) override {
    storage::AppendStats st;
    for (const storage::SeriesSamples& s : batch) {
      for (const storage::Sample& x : s.samples) {
        written.push_back({*s.labels, x.t, x.v});
        ++st.appended;
      }
    }
    return st;
  }
  // Hands out refs like a real store: an entry given a ref the store still
  // holds is appended to that series; one it forgot comes back stale.
  absl::StatusOr<storage::AppendStats> AppendWithRefs(
      absl::Span<const storage::SeriesSamples> batch,
      absl::Span<storage::SeriesRef> refs,
      std::vector<size_t>* stale) override {
    storage::AppendStats st;
    for (size_t i = 0; i < batch.size(); ++i) {
      storage::Labels labels;
      if (refs[i] != 0) {
        auto it = by_ref.find(refs[i]);
        if (it == by_ref.end()) {
          stale->push_back(i);
          refs[i] = 0;
          continue;
        }
        labels = it->second;
        ++appends_by_ref;
      } else {
        labels = *batch[i].labels;
        const std::string key = labels.ToString();
        if (!ref_of.contains(key)) {
          ref_of[key] = next_ref;
          by_ref[next_ref++] = labels;
        }
        refs[i] = ref_of[key];
        ++appends_by_labels;
      }
      for (const storage::Sample& x : batch[i].samples) {
        written.push_back({labels, x.t, x.v});
        ++st.appended;
      }
    }
    return st;
  }
  // As retention drops a series: its ref is no longer held.
  void Forget(const storage::Labels& labels) {
    const std::string key = labels.ToString();
    by_ref.erase(ref_of[key]);
    ref_of.erase(key);
  }
  // Latest non-stale value per series named `name`.
  std::vector<EvalSample> Latest(std::string_view name) const {
    std::map<std::string, EvalSample> m;
    for (const Written& w : written) {
      if (w.labels.MetricName() != name) {
        continue;
      }
      if (storage::IsStaleNaN(w.v)) {
        m.erase(w.labels.ToString());
      } else {
        m[w.labels.ToString()] = {w.labels, w.t, w.v};
      }
    }
    std::vector<EvalSample> out;
    for (auto& [k, v] : m) {
      out.push_back(v);
    }
    return out;
  }
  std::vector<Written> written;
  std::map<std::string, storage::SeriesRef> ref_of;
  std::map<storage::SeriesRef, storage::Labels> by_ref;
  storage::SeriesRef next_ref = 1;
  int appends_by_ref = 0;
  int appends_by_labels = 0;
};

class FakeSink : public AlertSink {
 public:
  void Send(std::vector<Alert> alerts) override {
    sends.push_back(std::move(alerts));
  }
  void OnStateChanges(const std::vector<AlertStateChange>& c) override {
    changes.insert(changes.end(), c.begin(), c.end());
  }
  std::vector<std::vector<Alert>> sends;
  std::vector<AlertStateChange> changes;
};

RuleSpec Record(std::string name, std::string expr) {
  RuleSpec s;
  s.kind = RuleSpec::Kind::kRecording;
  s.name = std::move(name);
  s.expr = std::move(expr);
  return s;
}

RuleSpec AlertSpec(std::string name, std::string expr) {
  RuleSpec s;
  s.kind = RuleSpec::Kind::kAlerting;
  s.name = std::move(name);
  s.expr = std::move(expr);
  return s;
}

// Test "PromQL": `src` returns the instances in `*input`; any other
// expression returns the latest samples of the metric with that name.
struct World {
  FakeStore store;
  FakeSink sink;
  SimulatedClock clock{absl::FromUnixSeconds(1000)};
  std::vector<std::string> input;

  absl::StatusOr<InstantQueryFunc> Prepare(std::string_view expr) {
    std::string e(expr);
    if (e == "bad") {
      return absl::InvalidArgumentError("1:1: parse error: bad");
    }
    return InstantQueryFunc(
        [this, e](int64_t ts) -> absl::StatusOr<std::vector<EvalSample>> {
          std::vector<EvalSample> out;
          if (e == "src") {
            for (const std::string& i : input) {
              out.push_back({L({{"__name__", "src"}, {"instance", i}}), ts, 1});
            }
            return out;
          }
          out = store.Latest(e);
          for (EvalSample& s : out) {
            s.t = ts;
          }
          return out;
        });
  }

  GroupOptions Options() {
    GroupOptions o;
    o.appendable = &store;
    o.sink = &sink;
    o.clock = &clock;
    return o;
  }

  std::unique_ptr<Group> Build(GroupSpec spec) {
    absl::StatusOr<std::unique_ptr<Group>> g = BuildGroup(
        spec, [this](std::string_view e) { return Prepare(e); }, {},
        Options());
    EXPECT_THAT(g, IsOk());
    return *std::move(g);
  }
};

GroupSpec Spec(std::vector<RuleSpec> rules) {
  GroupSpec g;
  g.file = "rules.yml";
  g.name = "g";
  g.rules = std::move(rules);
  return g;
}

TEST(XxHash64, KnownVectors) {
  EXPECT_EQ(XxHash64(""), 0xEF46DB3751D8E999ULL);
  EXPECT_EQ(XxHash64("abc"), 0x44BC2CF5AD770999ULL);
}

TEST(Group, HashIsXxHashOfPackedLabels) {
  World w;
  GroupSpec s = Spec({});
  s.file = "f.yml";
  s.name = "grp";
  std::string packed = "\x04" "file" "\x05" "f.yml" "\x04" "name" "\x03" "grp";
  EXPECT_EQ(w.Build(s)->Hash(), XxHash64(packed));
}

TEST(Group, LegacyHashUsesSeparatorLayout) {
  World w;
  GroupSpec s = Spec({});
  s.file = "f.yml";
  s.name = "grp";
  GroupOptions o = w.Options();
  o.legacy_label_hash = true;
  absl::StatusOr<std::unique_ptr<Group>> g = BuildGroup(
      s, [&w](std::string_view e) { return w.Prepare(e); }, {}, o);
  ASSERT_THAT(g, IsOk());
  std::string legacy = "file\xff" "f.yml\xff" "name\xff" "grp\xff";
  EXPECT_EQ((*g)->Hash(), XxHash64(legacy));
  EXPECT_NE((*g)->Hash(), w.Build(s)->Hash());
}

TEST(Group, EvalTimestampIsAlignedAndInThePast) {
  World w;
  std::unique_ptr<Group> g = w.Build(Spec({}));
  const int64_t interval_ns = 60LL * 1000 * 1000 * 1000;
  const int64_t offset_ns = static_cast<int64_t>(g->Hash() % interval_ns);
  for (int64_t now : {1700000000000LL, 1700000000001LL, 1700000059999LL}) {
    int64_t ts = g->EvalTimestamp(now);
    EXPECT_LE(ts, now);
    EXPECT_GT(ts, now - kMin);
    EXPECT_EQ((ts * 1000000 + (offset_ns % 1000000) - offset_ns) %
                  interval_ns,
              0);
  }
  // Same phase for every slot.
  EXPECT_EQ(g->EvalTimestamp(1700000000000LL) + kMin,
            g->EvalTimestamp(1700000000000LL + kMin));
}

TEST(Group, LaterRulesSeeEarlierRulesOutput) {
  World w;
  w.input = {"a", "b"};
  std::unique_ptr<Group> g = w.Build(
      Spec({Record("first", "src"), Record("second", "first")}));
  g->Eval(10 * kMin);
  std::vector<EvalSample> second = w.store.Latest("second");
  ASSERT_THAT(second, SizeIs(2));
  EXPECT_EQ(second[0].labels, L({{"__name__", "second"}, {"instance", "a"}}));
  EXPECT_EQ(second[0].t, 10 * kMin);
  EXPECT_EQ(g->rules()[1]->status().health, RuleHealth::kOk);
  EXPECT_EQ(g->status().iterations, 1);
  EXPECT_EQ(g->status().last_eval_timestamp_ms, 10 * kMin);
}

TEST(Group, RuleOutputIsAppendedByRefOnceTheStoreHandedOneOut) {
  World w;
  w.input = {"a", "b", "c"};
  std::unique_ptr<Group> g = w.Build(Spec({Record("rec", "src")}));
  g->Eval(kMin);
  EXPECT_EQ(w.store.appends_by_labels, 3);
  EXPECT_EQ(w.store.appends_by_ref, 0);
  g->Eval(2 * kMin);
  EXPECT_EQ(w.store.appends_by_labels, 3);
  EXPECT_EQ(w.store.appends_by_ref, 3);
  // The store dropped one series meanwhile: that one goes by labels again,
  // and nothing is lost.
  w.store.Forget(L({{"__name__", "rec"}, {"instance", "b"}}));
  w.store.written.clear();
  g->Eval(3 * kMin);
  EXPECT_EQ(w.store.appends_by_labels, 4);
  EXPECT_EQ(w.store.appends_by_ref, 5);
  ASSERT_THAT(w.store.written, SizeIs(3));
  std::vector<EvalSample> rec = w.store.Latest("rec");
  ASSERT_THAT(rec, SizeIs(3));
  for (const EvalSample& s : rec) EXPECT_EQ(s.t, 3 * kMin);
  EXPECT_EQ(rec[1].labels, L({{"__name__", "rec"}, {"instance", "b"}}));
  EXPECT_EQ(g->status().rule_evaluation_failures, 0);
}

TEST(Group, VanishedSeriesGetStaleMarkers) {
  World w;
  w.input = {"a", "b"};
  std::unique_ptr<Group> g = w.Build(Spec({Record("r", "src")}));
  g->Eval(kMin);
  w.input = {"a"};
  w.store.written.clear();
  g->Eval(2 * kMin);
  ASSERT_THAT(w.store.written, SizeIs(2));
  EXPECT_EQ(w.store.written[1].labels,
            L({{"__name__", "r"}, {"instance", "b"}}));
  EXPECT_TRUE(storage::IsStaleNaN(w.store.written[1].v));
  EXPECT_EQ(w.store.written[1].t, 2 * kMin);
}

// The written-series marks carried over by CopyStateFrom come from the old
// group's count of evaluations; the new group's first evaluation must
// still see a series the old one wrote and it no longer does as gone.
TEST(Group, VanishedSeriesGetStaleMarkersAfterCopyStateFrom) {
  World w;
  w.input = {"a", "b"};
  std::unique_ptr<Group> old = w.Build(Spec({Record("r", "src")}));
  old->Eval(kMin);
  std::unique_ptr<Group> fresh = w.Build(Spec({Record("r", "src")}));
  fresh->CopyStateFrom(*old);
  w.input = {"a"};
  w.store.written.clear();
  fresh->Eval(2 * kMin);
  ASSERT_THAT(w.store.written, SizeIs(2));
  EXPECT_EQ(w.store.written[1].labels,
            L({{"__name__", "r"}, {"instance", "b"}}));
  EXPECT_TRUE(storage::IsStaleNaN(w.store.written[1].v));
}

TEST(Group, AlertsSeriesWrittenAndAlertsSent) {
  World w;
  w.input = {"a"};
  RuleSpec a = AlertSpec("Up", "src");
  a.for_duration = absl::Minutes(1);
  std::unique_ptr<Group> g = w.Build(Spec({a}));
  g->Eval(0);
  EXPECT_THAT(w.sink.sends, IsEmpty());  // pending is never sent
  std::vector<EvalSample> alerts = w.store.Latest("ALERTS");
  ASSERT_THAT(alerts, SizeIs(1));
  EXPECT_EQ(alerts[0].labels.Get("alertstate"), "pending");
  g->Eval(kMin);
  ASSERT_THAT(w.sink.sends, SizeIs(1));
  EXPECT_EQ(w.sink.sends[0][0].state, AlertState::kFiring);
  EXPECT_EQ(w.sink.sends[0][0].group_name, "g");
  alerts = w.store.Latest("ALERTS");
  ASSERT_THAT(alerts, SizeIs(1));  // pending series went stale
  EXPECT_EQ(alerts[0].labels.Get("alertstate"), "firing");
  w.input = {};
  g->Eval(2 * kMin);
  ASSERT_THAT(w.sink.sends, SizeIs(2));
  EXPECT_EQ(w.sink.sends[1][0].state, AlertState::kInactive);
  EXPECT_EQ(w.sink.sends[1][0].ends_at, absl::FromUnixMillis(2 * kMin));
  EXPECT_THAT(w.store.Latest("ALERTS"), IsEmpty());
  EXPECT_THAT(w.sink.changes, SizeIs(3));
}

TEST(Group, RuleErrorsAreRecordedAndOthersStillRun) {
  World w;
  w.input = {"a", "a"};  // duplicate label sets
  std::unique_ptr<Group> g =
      w.Build(Spec({Record("r", "src"), AlertSpec("X", "src")}));
  g->Eval(kMin);
  EXPECT_EQ(g->rules()[0]->status().health, RuleHealth::kErr);
  EXPECT_EQ(g->rules()[1]->status().health, RuleHealth::kErr);
  EXPECT_THAT(g->rules()[1]->status().last_error,
              ::testing::HasSubstr("same labelset"));
  EXPECT_EQ(g->status().rule_evaluations, 2);
  EXPECT_EQ(g->status().rule_evaluation_failures, 2);
  w.input = {"a"};
  g->Eval(2 * kMin);
  EXPECT_EQ(g->rules()[0]->status().health, RuleHealth::kOk);
  EXPECT_EQ(g->rules()[0]->status().last_error, "");
  // Counters, as Prometheus' rule_evaluations_total and
  // rule_evaluation_failures_total.
  EXPECT_EQ(g->status().rule_evaluations, 4);
  EXPECT_EQ(g->status().rule_evaluation_failures, 2);
}

TEST(Group, QueryOffsetFromSpecOrDefault) {
  World w;
  GroupSpec s = Spec({Record("r", "src")});
  s.query_offset = absl::Minutes(1);
  w.input = {"a"};
  std::unique_ptr<Group> g = w.Build(s);
  EXPECT_EQ(g->query_offset(), absl::Minutes(1));
  g->Eval(5 * kMin);
  EXPECT_EQ(w.store.written[0].t, 4 * kMin);
  GroupSpec d = Spec({});
  EXPECT_EQ(w.Build(d)->query_offset(), absl::ZeroDuration());
  EXPECT_EQ(w.Build(d)->interval(), absl::Minutes(1));
}

TEST(Group, CopyStateFromCarriesAlertsAndStalesRemovedRules) {
  World w;
  w.input = {"a"};
  RuleSpec a = AlertSpec("Up", "src");
  a.for_duration = absl::Minutes(2);
  std::unique_ptr<Group> old = w.Build(Spec({a, Record("gone", "src")}));
  old->Eval(0);
  std::unique_ptr<Group> fresh = w.Build(Spec({a}));
  fresh->CopyStateFrom(*old);
  w.store.written.clear();
  fresh->Eval(2 * kMin);
  // ActiveAt carried over from the old group: fires at 2m.
  std::vector<Alert> active = fresh->ActiveAlerts();
  ASSERT_THAT(active, SizeIs(1));
  EXPECT_EQ(active[0].state, AlertState::kFiring);
  // The removed recording rule's series is marked stale.
  bool stale_gone = false;
  for (const Written& x : w.store.written) {
    if (x.labels.MetricName() == "gone" && storage::IsStaleNaN(x.v)) {
      stale_gone = true;
    }
  }
  EXPECT_TRUE(stale_gone);
}

TEST(Group, MarkAllStale) {
  World w;
  w.input = {"a"};
  std::unique_ptr<Group> g = w.Build(Spec({Record("r", "src")}));
  g->Eval(kMin);
  w.store.written.clear();
  g->MarkAllStale(kMin + 5000);
  ASSERT_THAT(w.store.written, SizeIs(1));
  EXPECT_TRUE(storage::IsStaleNaN(w.store.written[0].v));
}

TEST(Group, BuildGroupReportsBadExpression) {
  World w;
  RuleSpec r = Record("r", "bad");
  r.line = 7;
  absl::StatusOr<std::unique_ptr<Group>> g = BuildGroup(
      Spec({Record("ok", "src"), r}),
      [&](std::string_view e) { return w.Prepare(e); }, {}, w.Options());
  EXPECT_THAT(g, StatusIs(absl::StatusCode::kInvalidArgument,
                          "rules.yml:7: group \"g\", rule 2 (\"r\"): could "
                          "not parse expression: 1:1: parse error: bad"));
}

TEST(Group, SameDefinition) {
  World w;
  GroupSpec s = Spec({Record("r", "src")});
  std::unique_ptr<Group> g = w.Build(s);
  EXPECT_TRUE(g->SameDefinition(s));
  GroupSpec t = s;
  t.rules[0].expr = "src2";
  EXPECT_FALSE(g->SameDefinition(t));
  t = s;
  t.interval = absl::Seconds(10);
  EXPECT_FALSE(g->SameDefinition(t));
}

}  // namespace
}  // namespace vigil::engine
