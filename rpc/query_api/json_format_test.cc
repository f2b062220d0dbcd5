#include "rpc/query_api/json_format.h"

#include <cmath>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace vigil::rpc {
namespace {

std::string Float(double v) {
  std::string s;
  AppendPromFloat(v, &s);
  return s;
}

std::string Ts(int64_t t) {
  std::string s;
  AppendPromTimestamp(t, &s);
  return s;
}

std::string Json(std::string_view v) {
  std::string s;
  AppendJsonString(v, &s);
  return s;
}

TEST(AppendPromFloat, MatchesGoFormatting) {
  struct Case {
    double in;
    const char* want;
  } cases[] = {
      {0, "0"},
      {-0.0, "-0"},
      {1, "1"},
      {0.1, "0.1"},
      {1234567.5, "1234567.5"},
      {1e20, "100000000000000000000"},
      {1e21, "1e+21"},
      {1.5e21, "1.5e+21"},
      {1e-6, "0.000001"},
      {1e-7, "1e-07"},
      {-2.5e-9, "-2.5e-09"},
      {1.0 / 3, "0.3333333333333333"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Float(c.in), c.want) << c.in;
  }
}

TEST(AppendPromTimestamp, SecondsWithMillis) {
  EXPECT_EQ(Ts(0), "0");
  EXPECT_EQ(Ts(1000), "1");
  EXPECT_EQ(Ts(1500), "1.500");
  EXPECT_EQ(Ts(1050), "1.050");
  EXPECT_EQ(Ts(1001), "1.001");
  EXPECT_EQ(Ts(-1500), "-1.500");
  EXPECT_EQ(Ts(1700000000123), "1700000000.123");
}

TEST(AppendJsonString, EscapesLikeGo) {
  EXPECT_EQ(Json("plain"), "\"plain\"");
  EXPECT_EQ(Json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Json("<&>"), "\"\\u003c\\u0026\\u003e\"");
  EXPECT_EQ(Json("\n\t\x01"), "\"\\n\\t\\u0001\"");
  EXPECT_EQ(Json("h\xC3\xA9"), "\"h\xC3\xA9\"");
  EXPECT_EQ(Json("bad\xFFx"), "\"bad\xEF\xBF\xBDx\"");
  EXPECT_EQ(Json("\xE2\x80\xA8"), "\"\\u2028\"");
}

}  // namespace
}  // namespace vigil::rpc
