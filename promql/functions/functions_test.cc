#include "promql/functions/functions.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace vigil::promql::functions {
namespace {

TEST(Functions, RateExtrapolatesToWindowEdges) {
  // A counter growing 1/s sampled every 15s over a 60s window.
  std::vector<int64_t> ts = {15000, 30000, 45000, 60000};
  std::vector<double> vs = {15, 30, 45, 60};
  Window w{ts.data(), vs.data(), ts.size(), 0, 60000, 60000};
  double out = 0;
  ASSERT_TRUE(LookupRange("rate")(w, nullptr, &out));
  EXPECT_NEAR(out, 1.0, 1e-9);
  ASSERT_TRUE(LookupRange("increase")(w, nullptr, &out));
  EXPECT_NEAR(out, 60.0, 1e-9);
}

TEST(Functions, RateNeedsTwoSamples) {
  std::vector<int64_t> ts = {15000};
  std::vector<double> vs = {15};
  Window w{ts.data(), vs.data(), 1, 0, 60000, 60000};
  double out = 0;
  EXPECT_FALSE(LookupRange("rate")(w, nullptr, &out));
}

TEST(Functions, QuantileInterpolates) {
  struct Case {
    double q;
    std::vector<double> in;
    double want;
  } cases[] = {
      {0.5, {1, 2, 3, 4}, 2.5},
      {0, {3, 1, 2}, 1},
      {1, {3, 1, 2}, 3},
      {-1, {1}, -INFINITY},
      {2, {1}, INFINITY},
  };
  for (auto& c : cases) {
    EXPECT_EQ(Quantile(c.q, c.in.data(), c.in.size()), c.want) << c.q;
  }
}

TEST(Functions, KahanKeepsSmallTerms) {
  double sum = 0, c = 0;
  for (double v : {1e100, 1.0, -1e100}) KahanAdd(v, &sum, &c);
  EXPECT_EQ(sum + c, 1.0);
}

TEST(Functions, Lookups) {
  EXPECT_EQ(LookupUnary("abs")(-2), 2);
  EXPECT_EQ(LookupUnary("nope"), nullptr);
  EXPECT_EQ(LookupDate("year")(0), 1970);
  EXPECT_EQ(LookupDate("days_in_month")(86400 * 31 + 1), 28);
}

}  // namespace
}  // namespace vigil::promql::functions
