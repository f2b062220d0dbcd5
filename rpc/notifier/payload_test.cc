#include "rpc/notifier/payload.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rpc/notifier/test_util.h"

namespace vigil::rpc::notifier {
namespace {

using testing::FiringAlert;
using testing::L;

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(&out, s);
  return out;
}

TEST(AppendJsonString, EscapesAndRepairs) {
  struct Case {
    std::string in;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"plain", "\"plain\""},
           {"a\"b\\c", "\"a\\\"b\\\\c\""},
           {"l1\nl2\tx\r\b\f", "\"l1\\nl2\\tx\\r\\b\\f\""},
           {std::string("\x01\x1f", 2), "\"\\u0001\\u001f\""},
           {"é 日本 😀", "\"é 日本 😀\""},
           {"bad\xff", "\"bad\xEF\xBF\xBD\""},
           {"cut\xe6\x97", "\"cut\xEF\xBF\xBD\xEF\xBF\xBD\""},
           {"over\xc0\xaf", "\"over\xEF\xBF\xBD\xEF\xBF\xBD\""},
           {"surr\xed\xa0\x80",
            "\"surr\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""},
       }) {
    const std::string got = Json(c.in);
    EXPECT_EQ(got, c.want) << c.in;
    // Whatever we write, a strict parser accepts.
    EXPECT_NO_THROW(nlohmann::json::parse(got)) << c.in;
  }
}

TEST(EncodeAlertsV2, RoundTripsThroughAJsonParser) {
  engine::Alert a = FiringAlert("A", {{"quote", "say \"hi\"\n"}});
  a.annotations = L({{"summary", "s"}});
  engine::Alert b = FiringAlert("B");
  b.generator_url.clear();
  b.state = engine::AlertState::kInactive;
  b.ends_at = absl::FromUnixMillis(1700000060000);
  const std::vector<engine::Alert> alerts = {a, b};
  const nlohmann::json got = nlohmann::json::parse(EncodeAlertsV2(alerts));
  const nlohmann::json want = nlohmann::json::parse(R"([
    {"labels": {"alertname": "A", "quote": "say \"hi\"\n"},
     "annotations": {"summary": "s"},
     "startsAt": "2023-11-14T22:13:20.123Z",
     "endsAt": "2023-11-14T22:17:20.123Z",
     "generatorURL": "http://vigil:9090/graph?g0.expr=up"},
    {"labels": {"alertname": "B"},
     "startsAt": "2023-11-14T22:13:20.123Z",
     "endsAt": "2023-11-14T22:14:20.000Z"}
  ])");
  EXPECT_EQ(got, want);
  EXPECT_EQ(EncodeAlertsV2({}), "[]");
}

TEST(FormatRfc3339Millis, MatchesFormatTime) {
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1700000000123},
                     int64_t{253402300799999}, int64_t{-1000}}) {
    const absl::Time t = absl::FromUnixMillis(ms);
    EXPECT_EQ(FormatRfc3339Millis(t),
              absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()))
        << ms;
  }
}

}  // namespace
}  // namespace vigil::rpc::notifier
