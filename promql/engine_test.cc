#include "promql/engine.h"

#include <algorithm>
#include <limits>
#include <cstring>
#include <cmath>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/clock.h"
#include "storage/base/status_matchers.h"
#include "storage/head.h"

namespace vigil::promql {
namespace {

using ::testing::HasSubstr;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    head_ = std::make_unique<storage::Head>(storage::HeadOptions{},
                                            Clock::Real());
    // x{job="a"} and x{job="b"}: a counter sampled every 15s for 10 minutes.
    for (std::string job : {"a", "b"}) {
      auto labels = storage::Labels::FromUnsorted(
          {{"__name__", "x_total"}, {"job", job}});
      ASSERT_TRUE(labels.ok());
      std::vector<storage::Sample> samples;
      for (int i = 0; i <= 40; ++i) {
        samples.push_back({i * 15000LL, i * (job == "a" ? 15.0 : 30.0)});
      }
      storage::SeriesSamples batch{&*labels, samples};
      ASSERT_THAT(head_->Append(absl::MakeConstSpan(&batch, 1)), IsOk());
      labels_.push_back(*labels);
    }
  }

  std::unique_ptr<storage::Head> head_;
  std::vector<storage::Labels> labels_;
};

TEST_F(EngineTest, BadQueryIsInvalidArgumentWithPosition) {
  Engine engine;
  auto q = engine.Prepare("sum(x_total");
  EXPECT_THAT(q.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                   HasSubstr("1:")));
}

TEST_F(EngineTest, InstantRate) {
  Engine engine;
  auto q = engine.Prepare("rate(x_total[1m])");
  ASSERT_THAT(q, IsOk());
  auto res = (*q)->EvalInstant(*head_, 300000);
  ASSERT_THAT(res, IsOk());
  const auto& vec = std::get<Vector>(res->value);
  ASSERT_EQ(vec.size(), 2u);
  EXPECT_DOUBLE_EQ(vec[0].v, 1.0);
  EXPECT_DOUBLE_EQ(vec[1].v, 2.0);
  EXPECT_EQ(vec[0].t, 300000);
  // The metric name is dropped by rate.
  EXPECT_FALSE(vec[0].metric.Has("__name__"));
}

TEST_F(EngineTest, PreparedQueryReevaluatesAtNewTimes) {
  Engine engine;
  auto q = engine.Prepare("sum(x_total)");
  ASSERT_THAT(q, IsOk());
  for (int64_t t : {60000, 120000, 600000}) {
    auto res = (*q)->EvalInstant(*head_, t);
    ASSERT_THAT(res, IsOk());
    const auto& vec = std::get<Vector>(res->value);
    ASSERT_EQ(vec.size(), 1u);
    EXPECT_DOUBLE_EQ(vec[0].v, (t / 15000) * 45.0) << t;
  }
}

// The delayed name removal of a re-executed query hands out the same
// nameless label sets each time (built once per selection), and they are
// exactly the series' labels without __name__, also after a label_replace
// rebuilt them on the way (which must not take a selection's set).
TEST_F(EngineTest, ReexecutionReusesTheSelectionsNamelessLabels) {
  Engine engine;
  auto q = engine.Prepare("rate(x_total[1m])");
  auto relabelled = engine.Prepare(
      "label_replace(rate(x_total[1m]), \"job\", \"z\", \"job\", \"a\")");
  ASSERT_THAT(q, IsOk());
  ASSERT_THAT(relabelled, IsOk());
  std::vector<storage::Labels> first;
  for (int64_t t : {300000, 315000}) {
    auto res = (*q)->EvalInstant(*head_, t);
    ASSERT_THAT(res, IsOk());
    const auto& vec = std::get<Vector>(res->value);
    ASSERT_EQ(vec.size(), 2u);
    EXPECT_EQ(vec[0].metric.ToString(), "{job=\"a\"}");
    EXPECT_EQ(vec[1].metric.ToString(), "{job=\"b\"}");
    if (first.empty()) {
      for (const auto& s : vec) first.push_back(s.metric);
    } else {
      EXPECT_TRUE(vec[0].metric.SharesContentsWith(first[0]));
      EXPECT_TRUE(vec[1].metric.SharesContentsWith(first[1]));
    }
    auto rel = (*relabelled)->EvalInstant(*head_, t);
    ASSERT_THAT(rel, IsOk());
    const auto& rv = std::get<Vector>(rel->value);
    ASSERT_EQ(rv.size(), 2u);
    // Instant vectors keep evaluation order, not label order.
    std::vector<std::string> got = {rv[0].metric.ToString(),
                                    rv[1].metric.ToString()};
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got[0], "{job=\"b\"}");
    EXPECT_EQ(got[1], "{job=\"z\"}");
  }
}

// Aggregations over a selection use its grouping computed once; series
// whose labels were rebuilt on the way (label_replace) must be grouped by
// their new labels, and two selectors sharing one selection must not mix
// their groupings up.
TEST_F(EngineTest, AggregationGroupsFollowTheSeriesLabels) {
  Engine engine;
  auto by_job = engine.Prepare("sum by (job) (rate(x_total[1m]))");
  auto relabelled = engine.Prepare(
      "sum by (job) (label_replace(rate(x_total[1m]), \"job\", \"z\", "
      "\"job\", \"a\"))");
  auto without = engine.Prepare("sum without (job) (rate(x_total[1m]))");
  ASSERT_THAT(by_job, IsOk());
  ASSERT_THAT(relabelled, IsOk());
  ASSERT_THAT(without, IsOk());
  for (int round = 0; round < 2; ++round) {  // the second from the memo
    auto a = (*by_job)->EvalInstant(*head_, 300000);
    auto b = (*relabelled)->EvalInstant(*head_, 300000);
    auto c = (*without)->EvalInstant(*head_, 300000);
    ASSERT_THAT(a, IsOk());
    ASSERT_THAT(b, IsOk());
    ASSERT_THAT(c, IsOk());
    const auto& va = std::get<Vector>(a->value);
    ASSERT_EQ(va.size(), 2u);
    EXPECT_EQ(va[0].metric.Get("job"), "a");
    EXPECT_DOUBLE_EQ(va[0].v, 1.0);
    EXPECT_EQ(va[1].metric.Get("job"), "b");
    EXPECT_DOUBLE_EQ(va[1].v, 2.0);
    const auto& vb = std::get<Vector>(b->value);
    ASSERT_EQ(vb.size(), 2u);
    EXPECT_EQ(vb[0].metric.Get("job"), "z");
    EXPECT_DOUBLE_EQ(vb[0].v, 1.0);
    EXPECT_EQ(vb[1].metric.Get("job"), "b");
    const auto& vc = std::get<Vector>(c->value);
    ASSERT_EQ(vc.size(), 1u);
    EXPECT_EQ(vc[0].metric.size(), 0u);
    EXPECT_DOUBLE_EQ(vc[0].v, 3.0);
  }
}

TEST_F(EngineTest, RangeQueryProducesMatrix) {
  Engine engine;
  auto q = engine.Prepare("x_total{job=\"a\"} * 2");
  ASSERT_THAT(q, IsOk());
  auto res = (*q)->EvalRange(*head_, 0, 120000, 60000);
  ASSERT_THAT(res, IsOk());
  const auto& m = std::get<Matrix>(res->value);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_THAT(m[0].ts, ::testing::ElementsAre(0, 60000, 120000));
  EXPECT_THAT(m[0].vs, ::testing::ElementsAre(0, 120, 240));
}

TEST_F(EngineTest, RangeQueryOfRangeVectorIsRejected) {
  Engine engine;
  auto q = engine.Prepare("x_total[1m]");
  ASSERT_THAT(q, IsOk());
  EXPECT_THAT((*q)->EvalRange(*head_, 0, 60000, 15000).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(EngineTest, SampleLimit) {
  EngineOptions opts;
  opts.max_samples = 10;
  Engine engine(opts);
  auto q = engine.Prepare("sum_over_time(x_total[10m])");
  ASSERT_THAT(q, IsOk());
  EXPECT_THAT((*q)->EvalInstant(*head_, 600000).status(),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("too many samples")));
}

TEST_F(EngineTest, Timeout) {
  EngineOptions opts;
  opts.timeout = absl::Seconds(-1);
  Engine engine(opts);
  auto q = engine.Prepare("x_total");
  ASSERT_THAT(q, IsOk());
  EXPECT_THAT((*q)->EvalInstant(*head_, 600000).status(),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST_F(EngineTest, RuntimeMatchingErrorIsInvalidArgument) {
  Engine engine;
  auto q = engine.Prepare("x_total + on() x_total");
  ASSERT_THAT(q, IsOk());
  EXPECT_THAT((*q)->EvalInstant(*head_, 600000).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("many-to-many")));
}

TEST_F(EngineTest, InfoAnnotationForNonCounterRate) {
  Engine engine;
  auto labels = storage::Labels::FromUnsorted({{"__name__", "gauge"}});
  ASSERT_TRUE(labels.ok());
  std::vector<storage::Sample> samples = {{0, 1}, {15000, 2}, {30000, 3}};
  storage::SeriesSamples batch{&*labels, samples};
  ASSERT_THAT(head_->Append(absl::MakeConstSpan(&batch, 1)), IsOk());
  auto q = engine.Prepare("rate(gauge[1m])");
  ASSERT_THAT(q, IsOk());
  auto res = (*q)->EvalInstant(*head_, 30000);
  ASSERT_THAT(res, IsOk());
  ASSERT_EQ(res->infos.size(), 1u);
  EXPECT_THAT(res->infos[0], HasSubstr("metric might not be a counter"));
}


// Aggregations over f(selector[range]) at one instant accumulate each value
// straight into its group (no series built). `* 1` keeps every value bit
// for bit but sends the same query down the general path, so the two must
// agree exactly: values (NaN, Inf and cancelling sums included), labels,
// group order and annotations.
TEST_F(EngineTest, AggregatedRangeFunctionsMatchTheGeneralPath) {
  std::vector<storage::Labels> made;
  uint64_t rng = 12345;
  const auto next = [&rng] {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return rng >> 33;
  };
  for (int k = 0; k < 300; ++k) {
    auto labels = storage::Labels::FromUnsorted(
        {{"__name__", k % 7 == 0 ? "m_gauge" : "m_total"},
         {"job", absl::StrCat("j", next() % 5)},
         {"instance", absl::StrCat("i", k)},
         {"le", absl::StrCat(next() % 4)}});
    ASSERT_THAT(labels, IsOk());
    std::vector<storage::Sample> samples;
    double v = static_cast<double>(next() % 1000);
    for (int i = 0; i <= 40; ++i) {
      if (next() % 5 == 0) continue;  // gaps: some windows are empty
      const uint64_t r = next() % 200;
      double x = v += static_cast<double>(next() % 100) * 1e-3 * (k + 1);
      if (r == 0) x = std::numeric_limits<double>::quiet_NaN();
      if (r == 1) x = std::numeric_limits<double>::infinity();
      if (r == 2) x = -1e300;
      if (r == 3) x = 1e300;
      if (r == 4) x = storage::StaleNaN();
      samples.push_back({i * 15000LL, x});
    }
    storage::SeriesSamples batch{&*labels, samples};
    ASSERT_THAT(head_->Append(absl::MakeConstSpan(&batch, 1)), IsOk());
  }
  Engine engine;
  int compared = 0;
  for (std::string op : {"sum", "avg", "count", "group", "min", "max",
                         "stddev", "stdvar"}) {
    for (std::string grouping : {"", " by (job)", " without (instance)",
                                 " by (le, job)", " by (__name__)"}) {
      for (std::string fn : {"rate(m_total[2m])", "increase({job=~\"j.\"}[1m])",
                             "avg_over_time(m_gauge[3m])",
                             "last_over_time({__name__=~\"m_.*\"}[1m])",
                             "quantile_over_time(0.5, m_total[2m])"}) {
        // `* 1` drops the name last_over_time keeps: where the grouping
        // keeps __name__, the two forms rightly differ.
        if (absl::StartsWith(fn, "last_over_time") &&
            (absl::StrContains(grouping, "__name__") ||
             absl::StrContains(grouping, "without"))) {
          continue;
        }
        const std::string fused = absl::StrCat(op, grouping, " (", fn, ")");
        const std::string general =
            absl::StrCat(op, grouping, " (", fn, " * 1)");
        auto qf = engine.Prepare(fused);
        auto qg = engine.Prepare(general);
        ASSERT_THAT(qf, IsOk()) << fused;
        ASSERT_THAT(qg, IsOk()) << general;
        for (int64_t t : {0LL, 150000LL, 301000LL, 600000LL, 900000LL}) {
          auto rf = (*qf)->EvalInstant(*head_, t);
          auto rg = (*qg)->EvalInstant(*head_, t);
          // Both fail alike (by (__name__) after the name is dropped), or
          // both answer.
          ASSERT_EQ(rf.status(), rg.status()) << fused << " at " << t;
          if (!rf.ok()) continue;
          const auto& vf = std::get<Vector>(rf->value);
          const auto& vg = std::get<Vector>(rg->value);
          ASSERT_EQ(vf.size(), vg.size()) << fused << " at " << t;
          for (size_t i = 0; i < vf.size(); ++i) {
            EXPECT_EQ(vf[i].metric, vg[i].metric) << fused << " at " << t;
            const bool both_nan = std::isnan(vf[i].v) && std::isnan(vg[i].v);
            EXPECT_TRUE(both_nan || std::memcmp(&vf[i].v, &vg[i].v,
                                                sizeof(double)) == 0)
                << fused << " at " << t << ": " << vf[i].v << " vs "
                << vg[i].v;
          }
          EXPECT_EQ(rf->infos, rg->infos) << fused << " at " << t;
          EXPECT_EQ(rf->warnings, rg->warnings) << fused << " at " << t;
          compared += static_cast<int>(vf.size());
        }
      }
    }
  }
  // Most combinations produce output: the comparison is not vacuous.
  EXPECT_GT(compared, 2000);
}
}  // namespace
}  // namespace vigil::promql

namespace vigil::promql {
namespace {

TEST_F(EngineTest, HugeSubqueryResolutionIsRefusedNotCrashing) {
  EngineOptions opts;
  opts.max_samples = 1'000'000;
  Engine engine(opts);
  auto q = engine.Prepare("max_over_time(x_total[1y:1ms])");
  ASSERT_THAT(q, IsOk());
  EXPECT_THAT((*q)->EvalInstant(*head_, 600000).status(),
              StatusIs(absl::StatusCode::kResourceExhausted));
  auto r = engine.Prepare("x_total");
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT((*r)->EvalRange(*head_, 0, int64_t{1} << 50, 1).status(),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

}  // namespace
}  // namespace vigil::promql

namespace vigil::promql {
namespace {

TEST_F(EngineTest, CachedSelectionSeesNewSeries) {
  Engine engine;
  auto q = engine.Prepare("count(x_total)");
  ASSERT_THAT(q, IsOk());
  auto first = (*q)->EvalInstant(*head_, 600000);
  ASSERT_THAT(first, IsOk());
  EXPECT_EQ(std::get<Vector>(first->value)[0].v, 2);
  // A new series changes the index generation; the cache must refresh.
  auto labels =
      storage::Labels::FromUnsorted({{"__name__", "x_total"}, {"job", "c"}});
  ASSERT_TRUE(labels.ok());
  std::vector<storage::Sample> samples = {{600000, 1}};
  storage::SeriesSamples batch{&*labels, samples};
  ASSERT_THAT(head_->Append(absl::MakeConstSpan(&batch, 1)), IsOk());
  auto second = (*q)->EvalInstant(*head_, 600000);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(std::get<Vector>(second->value)[0].v, 3);
  // Earlier than the new series' only sample: it is not counted.
  auto earlier = (*q)->EvalInstant(*head_, 60000);
  ASSERT_THAT(earlier, IsOk());
  EXPECT_EQ(std::get<Vector>(earlier->value)[0].v, 2);
}

// Counts Select calls; everything else goes to the head.
class CountingQueryable final : public storage::ForwardingQueryable {
 public:
  explicit CountingQueryable(const storage::Head& h)
      : storage::ForwardingQueryable(&h) {}
  absl::StatusOr<std::vector<storage::SeriesHandle>> Select(
      absl::Span<const storage::Matcher> m, int64_t mint,
      int64_t maxt) const override {
    ++selects;
    return base().Select(m, mint, maxt);
  }
  mutable int selects = 0;
};

TEST_F(EngineTest, QueriesOfOneEngineShareSelections) {
  CountingQueryable q(*head_);
  Engine engine;
  auto a = engine.Prepare("sum(rate(x_total[5m])) > 0");
  auto b = engine.Prepare("count(x_total) > 1");
  auto c = engine.Prepare("count(x_total{job=\"a\"})");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(c, IsOk());
  for (int64_t t : {300000, 315000, 330000}) {
    ASSERT_THAT((*a)->EvalInstant(q, t), IsOk());
    ASSERT_THAT((*b)->EvalInstant(q, t), IsOk());
    auto got = (*c)->EvalInstant(q, t);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(std::get<Vector>(got->value)[0].v, 1);
  }
  // x_total once for a and b together, x_total{job="a"} once for c.
  EXPECT_EQ(q.selects, 2);
  // Another engine has its own table.
  Engine other;
  auto d = other.Prepare("count(x_total)");
  ASSERT_THAT(d, IsOk());
  ASSERT_THAT((*d)->EvalInstant(q, 300000), IsOk());
  EXPECT_EQ(q.selects, 3);
}

// With keep_recent_selections, a query prepared after the last one using a
// selector ended (the API's one-shot queries) still finds its series; only
// the newest N stay, and a new series under the name asks the index again.
TEST_F(EngineTest, RecentSelectionsOutliveTheirQueries) {
  CountingQueryable q(*head_);
  EngineOptions opts;
  opts.keep_recent_selections = 2;
  Engine engine(opts);
  const auto run = [&](const char* expr) {
    auto p = engine.Prepare(expr);
    ASSERT_THAT(p, IsOk());
    ASSERT_THAT((*p)->EvalInstant(q, 300000), IsOk());
  };
  run("count(x_total)");
  run("sum(x_total)");  // the same selector, after the first query ended
  EXPECT_EQ(q.selects, 1);
  run("count(x_total{job=\"a\"})");
  run("count(x_total{job=\"b\"})");  // pushes out x_total
  EXPECT_EQ(q.selects, 3);
  run("count(x_total)");
  EXPECT_EQ(q.selects, 4);
  // A new x_total series moves the name's generation: asked again.
  auto labels = storage::Labels::FromUnsorted(
      {{"__name__", "x_total"}, {"job", "c"}});
  ASSERT_THAT(labels, IsOk());
  const storage::Sample sample{300000, 1};
  storage::SeriesSamples batch{&*labels, absl::MakeConstSpan(&sample, 1)};
  ASSERT_THAT(head_->Append(absl::MakeConstSpan(&batch, 1)), IsOk());
  auto p = engine.Prepare("count(x_total)");
  ASSERT_THAT(p, IsOk());
  auto got = (*p)->EvalInstant(q, 300000);
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(std::get<Vector>(got->value)[0].v, 3);
  EXPECT_EQ(q.selects, 5);
}

// Without it (the default), one-shot queries leave nothing behind.
TEST_F(EngineTest, WithoutRecentSelectionsEndedQueriesKeepNothing) {
  CountingQueryable q(*head_);
  Engine engine;
  for (int i = 0; i < 2; ++i) {
    auto p = engine.Prepare("count(x_total)");
    ASSERT_THAT(p, IsOk());
    ASSERT_THAT((*p)->EvalInstant(q, 300000), IsOk());
  }
  EXPECT_EQ(q.selects, 2);
}

}  // namespace
}  // namespace vigil::promql
