#include "promql/promqltest/script.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::promql::promqltest {
namespace {

std::vector<double> Values(const std::vector<Point>& pts) {
  std::vector<double> out;
  for (const Point& p : pts) {
    out.push_back(p.kind == Point::kFloat     ? p.v
                  : p.kind == Point::kMissing ? -1000
                  : p.kind == Point::kStale   ? -2000
                                              : -3000);
  }
  return out;
}

TEST(ParsePoints, ExpandingNotation) {
  struct Case {
    std::string in;
    std::vector<double> want;
  } cases[] = {
      {"1+2x3", {1, 3, 5, 7}},
      {"10-2x3", {10, 8, 6, 4}},
      {"1x3", {1, 1, 1, 1}},
      {"0x2", {0, 0, 0}},
      {"-1+1x2", {-1, 0, 1}},
      {"1e3 2", {1000, 2}},
      {"_ _x2 stale", {-1000, -1000, -1000, -2000}},
      {"{{schema:0 sum:1 count:1}}x2 5", {-3000, -3000, -3000, 5}},
  };
  for (const Case& c : cases) {
    auto pts = ParsePoints(c.in);
    ASSERT_THAT(pts, IsOk()) << c.in;
    EXPECT_EQ(Values(*pts), c.want) << c.in;
  }
}

TEST(ParsePoints, SpecialValues) {
  auto pts = ParsePoints("Inf -Inf NaN");
  ASSERT_THAT(pts, IsOk());
  ASSERT_EQ(pts->size(), 3u);
  EXPECT_EQ((*pts)[0].v, INFINITY);
  EXPECT_EQ((*pts)[1].v, -INFINITY);
  EXPECT_TRUE(std::isnan((*pts)[2].v));
}

TEST(ParsePoints, RejectsGarbage) {
  EXPECT_THAT(ParsePoints("1+x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseSeriesDesc, Forms) {
  auto a = ParseSeriesDesc(R"(foo{a="b", c="d e}"})");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->ToString(), R"(foo{a="b", c="d e}"})");
  auto b = ParseSeriesDesc(R"({"some.metric", x="\u00e9"})");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->MetricName(), "some.metric");
  EXPECT_EQ(b->Get("x"), "\xc3\xa9");
}

TEST(ParseDurationMs, Units) {
  EXPECT_EQ(*ParseDurationMs("10s53ms"), 10053);
  EXPECT_EQ(*ParseDurationMs("1h30m"), 5400000);
  EXPECT_EQ(*ParseDurationMs("0"), 0);
  EXPECT_EQ(*ParseDurationMs("90"), 90000);
}

TEST(ParseScript, Commands) {
  auto cmds = ParseScript(R"(# comment
load 5m
	foo{a="b"} 1 2 3

eval instant at 10m foo
	foo{a="b"} 3

eval_fail instant at 0 bar(
  expected_fail_message boom

eval range from 0 to 10m step 5m foo
  expect warn msg: PromQL warning: x
  expect no_info
	foo{a="b"} 1 2 3

clear
)");
  ASSERT_THAT(cmds, IsOk());
  ASSERT_EQ(cmds->size(), 5u);
  EXPECT_EQ((*cmds)[0].kind, Command::kLoad);
  EXPECT_EQ((*cmds)[0].load.interval_ms, 300000);
  EXPECT_EQ((*cmds)[1].eval.start_ms, 600000);
  EXPECT_EQ((*cmds)[1].eval.expr, "foo");
  EXPECT_EQ((*cmds)[1].line, 5);
  EXPECT_TRUE((*cmds)[2].eval.fail);
  EXPECT_EQ(*(*cmds)[2].eval.fail_message, "boom");
  EXPECT_TRUE((*cmds)[3].eval.range);
  EXPECT_EQ((*cmds)[3].eval.step_ms, 300000);
  ASSERT_EQ((*cmds)[3].eval.expects.size(), 2u);
  EXPECT_EQ((*cmds)[3].eval.expects[0].text, "PromQL warning: x");
  EXPECT_EQ((*cmds)[4].kind, Command::kClear);
}

TEST(RunScript, PassesAndFails) {
  auto cmds = ParseScript(R"(
load 1m
	foo 1+1x10

eval instant at 5m foo * 2
	{} 12

eval instant at 5m foo
	foo 7

eval instant at 5m foo[2m]
)");
  ASSERT_THAT(cmds, IsOk());
  std::vector<CaseResult> res = RunScript(*cmds, "t.test");
  ASSERT_EQ(res.size(), 3u);
  EXPECT_TRUE(res[0].passed) << res[0].message;
  EXPECT_FALSE(res[1].passed);
  EXPECT_THAT(res[1].message, ::testing::HasSubstr("value differs"));
  EXPECT_FALSE(res[2].passed);  // expected empty, got a matrix
  EXPECT_FALSE(res[0].histogram);
}

TEST(RunScript, HistogramCasesAreMarked) {
  auto cmds = ParseScript(R"(
load 1m
	h {{schema:0 sum:1 count:1}}x3
	f 1

eval instant at 1m f
	f 1

eval instant at 1m h
)");
  ASSERT_THAT(cmds, IsOk());
  std::vector<CaseResult> res = RunScript(*cmds, "t.test");
  ASSERT_EQ(res.size(), 2u);
  EXPECT_FALSE(res[0].histogram);
  EXPECT_TRUE(res[1].histogram);
}

}  // namespace
}  // namespace vigil::promql::promqltest
