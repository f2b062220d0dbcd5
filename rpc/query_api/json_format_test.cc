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
      // Large magnitudes in 'f' form: Go's shortest digits padded with
      // zeros, not the exact binary value.
      {9.999999999999999e20, "999999999999999900000"},
      {1152921504606846976.0, "1152921504606847000"},  // 2^60
      {-1152921504606846976.0, "-1152921504606847000"},
      {123456789012345678.0, "123456789012345680"},
      {1e15 + 0.5, "1000000000000000.5"},
      {1e15, "1000000000000000"},
      {999999999999999.9, "999999999999999.9"},
      {9007199254740993.0, "9007199254740992"},  // 2^53 + 1 rounds to 2^53
      {1e100, "1e+100"},
      {5e-324, "5e-324"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {0.000001234, "0.000001234"},
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
  EXPECT_EQ(Ts(1), "0.001");
  EXPECT_EQ(Ts(-1), "-0.001");
  EXPECT_EQ(Ts(999), "0.999");
  EXPECT_EQ(Ts(-1000), "-1");
  EXPECT_EQ(Ts(std::numeric_limits<int64_t>::max()), "9223372036854775.807");
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
