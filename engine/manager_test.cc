#include "engine/manager.h"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"
#include "storage/sample.h"

namespace vigil::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr int64_t kMin = 60 * 1000;

storage::Labels L(std::vector<storage::Label> l) {
  return *storage::Labels::FromUnsorted(std::move(l));
}

// Every expression returns one sample {__name__=<expr>} = 1, except "bad(",
// which does not compile.
class FakeEngine : public RuleQueryEngine {
 public:
  absl::StatusOr<InstantQueryFunc> Prepare(std::string_view expr) override {
    if (expr == "bad(") {
      return absl::InvalidArgumentError("1:5: parse error: unexpected end");
    }
    std::string e(expr);
    return InstantQueryFunc(
        [e](int64_t ts) -> absl::StatusOr<std::vector<EvalSample>> {
          return std::vector<EvalSample>{{L({{"__name__", e}}), ts, 1}};
        });
  }
  absl::StatusOr<std::vector<EvalSample>> Query(std::string_view expr,
                                                int64_t ts) override {
    return std::vector<EvalSample>{};
  }
};

class FakeStore : public storage::Appendable {
 public:
  absl::StatusOr<storage::AppendStats> Append(
      absl::Span<const storage::SeriesSamples> batch) override {
    absl::MutexLock lock(&mu);
    for (const storage::SeriesSamples& s : batch) {
      for (const storage::Sample& x : s.samples) {
        written.push_back({*s.labels, x.t, x.v});
      }
    }
    if (!first.HasBeenNotified()) {
      first.Notify();
    }
    return storage::AppendStats{};
  }
  absl::Mutex mu;
  std::vector<EvalSample> written;
  absl::Notification first;
};

std::string WriteFile(const std::string& name, const std::string& content) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream(path) << content;
  return path;
}

GroupSpec Spec(std::string file, std::string name, std::string expr) {
  GroupSpec g;
  g.file = std::move(file);
  g.name = std::move(name);
  RuleSpec r;
  r.kind = RuleSpec::Kind::kRecording;
  r.name = "rec";
  r.expr = std::move(expr);
  g.rules.push_back(r);
  return g;
}

struct World {
  FakeEngine engine;
  FakeStore store;
  SimulatedClock clock{absl::FromUnixSeconds(1700000000)};
  ManagerOptions Options() {
    ManagerOptions o;
    o.query_engine = &engine;
    o.clock = &clock;
    o.appendable = &store;
    o.max_wait = absl::Milliseconds(1);
    return o;
  }
};

TEST(Manager, LoadsFilesAndOrdersGroups) {
  World w;
  Manager m(w.Options());
  std::string f = WriteFile(
      "m1.yml",
      "groups:\n- name: b\n  rules:\n  - record: r\n    expr: up\n"
      "- name: a\n  interval: 10s\n  rules:\n  - alert: A\n    expr: up\n");
  ASSERT_THAT(m.Update({f}), IsOk());
  std::vector<std::shared_ptr<Group>> gs = m.Groups();
  ASSERT_THAT(gs, SizeIs(2));
  EXPECT_EQ(gs[0]->name(), "a");
  EXPECT_EQ(gs[0]->interval(), absl::Seconds(10));
  EXPECT_EQ(gs[1]->name(), "b");
  EXPECT_EQ(gs[1]->interval(), absl::Minutes(1));
}

TEST(Manager, BadReloadKeepsPreviousGroups) {
  World w;
  Manager m(w.Options());
  ASSERT_THAT(m.UpdateGroups({Spec("f", "g", "up")}), IsOk());
  std::shared_ptr<Group> before = m.Groups()[0];
  EXPECT_THAT(m.UpdateGroups({Spec("f", "g", "bad(")}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("could not parse expression: 1:5")));
  ASSERT_THAT(m.Groups(), SizeIs(1));
  EXPECT_EQ(m.Groups()[0], before);
  std::string bad = WriteFile("bad.yml", "groups:\n- name: x\n  rules:\n  - record: 'a b'\n    expr: up\n");
  EXPECT_THAT(m.Update({bad}), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("invalid recording rule name")));
  EXPECT_EQ(m.Groups()[0], before);
  std::string tmpl = WriteFile(
      "tmpl.yml",
      "groups:\n- name: x\n  rules:\n  - alert: A\n    expr: up\n"
      "    annotations:\n      s: '{{ nosuch }}'\n");
  EXPECT_THAT(m.Update({tmpl}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("function \"nosuch\" not defined")));
  EXPECT_EQ(m.Groups()[0], before);
}

TEST(Manager, UnchangedGroupsAreKeptChangedOnesReplaced) {
  World w;
  Manager m(w.Options());
  ASSERT_THAT(
      m.UpdateGroups({Spec("f", "same", "up"), Spec("f", "changes", "up")}),
      IsOk());
  std::shared_ptr<Group> same = m.Groups()[1];
  std::shared_ptr<Group> changes = m.Groups()[0];
  ASSERT_EQ(same->name(), "same");
  ASSERT_THAT(
      m.UpdateGroups({Spec("f", "same", "up"), Spec("f", "changes", "down")}),
      IsOk());
  EXPECT_EQ(m.Groups()[1], same);
  EXPECT_NE(m.Groups()[0], changes);
  EXPECT_EQ(m.Groups()[0]->rules()[0]->spec().expr, "down");
}

TEST(Manager, RemovedGroupWritesStaleMarkers) {
  World w;
  Manager m(w.Options());
  ASSERT_THAT(m.UpdateGroups({Spec("f", "g", "up")}), IsOk());
  m.Groups()[0]->Eval(w.clock.NowMillis());
  ASSERT_THAT(m.UpdateGroups({}), IsOk());
  EXPECT_THAT(m.Groups(), SizeIs(0));
  absl::MutexLock lock(&w.store.mu);
  ASSERT_THAT(w.store.written, SizeIs(2));
  EXPECT_TRUE(storage::IsStaleNaN(w.store.written[1].value));
}

TEST(Manager, FirstLoadWithholdsAlertSeriesUntilRestored) {
  World w;
  Manager m(w.Options());
  GroupSpec g = Spec("f", "g", "up");
  g.rules[0].kind = RuleSpec::Kind::kAlerting;
  g.rules[0].for_duration = absl::Minutes(30);
  ASSERT_THAT(m.UpdateGroups({g}), IsOk());
  auto& rule = static_cast<AlertingRule&>(*m.Groups()[0]->rules()[0]);
  EXPECT_FALSE(rule.restored());
  // A group added by a later reload needs no restore.
  GroupSpec g2 = g;
  g2.name = "g2";
  ASSERT_THAT(m.UpdateGroups({g, g2}), IsOk());
  auto& rule2 = static_cast<AlertingRule&>(*m.Groups()[1]->rules()[0]);
  EXPECT_TRUE(rule2.restored());
}

TEST(Manager, RunEvaluatesOnTheClock) {
  World w;
  Manager m(w.Options());
  ASSERT_THAT(m.UpdateGroups({Spec("f", "g", "up")}), IsOk());
  std::shared_ptr<Group> g = m.Groups()[0];
  m.Run();
  // Nothing happens until the clock reaches the group's next slot.
  const int64_t next = g->EvalTimestamp(w.clock.NowMillis()) + kMin;
  w.clock.Set(absl::FromUnixMillis(next));
  ASSERT_TRUE(w.store.first.WaitForNotificationWithTimeout(absl::Seconds(30)));
  m.Stop();
  absl::MutexLock lock(&w.store.mu);
  ASSERT_THAT(w.store.written, SizeIs(1));
  EXPECT_EQ(w.store.written[0].t, next);
  EXPECT_EQ(w.store.written[0].labels, L({{"__name__", "rec"}}));
}

TEST(Manager, StopWithoutRunAndTwice) {
  World w;
  Manager m(w.Options());
  ASSERT_THAT(m.UpdateGroups({Spec("f", "g", "up")}), IsOk());
  m.Stop();
  m.Run();
  m.Stop();
  m.Stop();
  EXPECT_THAT(m.Groups(), SizeIs(1));
}

}  // namespace
}  // namespace vigil::engine
