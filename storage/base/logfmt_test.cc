#include "storage/base/logfmt.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct Capture {
  std::vector<std::string> lines;
  Logger logger{[this](std::string_view l) { lines.emplace_back(l); }};
  Capture() {
    logger.SetTimeSourceForTest(
        [] { return absl::FromUnixMillis(1795456501123); });
  }
};

TEST(Logfmt, FormatsLine) {
  Capture c;
  c.logger.Info("Server is ready", {{"port", 9096}, {"addr", "0.0.0.0:9096"}});
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_THAT(c.lines[0], StartsWith("ts=2026-11-23T17:55:01.123Z level=info "
                                     "caller=logfmt_test.cc:"));
  EXPECT_THAT(c.lines[0], HasSubstr(" msg=\"Server is ready\" port=9096 "
                                    "addr=0.0.0.0:9096\n"));
}

TEST(Logfmt, QuotesValues) {
  struct Case {
    std::string in, want;
  };
  for (const Case& tc : std::vector<Case>{
           {"plain", "plain"},
           {"", "\"\""},
           {"a b", "\"a b\""},
           {"k=v", "\"k=v\""},
           {"say \"hi\"", "\"say \\\"hi\\\"\""},
           {"line\nbreak", "\"line\\nbreak\""},
           {std::string("nul\0x", 5), "\"nul\\x00x\""},
           {"caf\xc3\xa9", "\"caf\xc3\xa9\""},
           {"bad\xff", "\"bad\\xff\""},
       }) {
    EXPECT_EQ(LogfmtValue(tc.in), tc.want) << tc.in;
  }
}

TEST(Logfmt, LevelFilter) {
  Capture c;
  c.logger.SetLevel(LogLevel::kWarn);
  c.logger.Debug("d");
  c.logger.Info("i");
  c.logger.Warn("w");
  c.logger.Error("e", {{"err", absl::InternalError("boom")}, {"ok", false}});
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_THAT(c.lines[0], HasSubstr("level=warn"));
  EXPECT_THAT(c.lines[1], HasSubstr("level=error"));
  EXPECT_THAT(c.lines[1], HasSubstr("err=\"INTERNAL: boom\" ok=false"));
}

TEST(Logfmt, Json) {
  Capture c;
  c.logger.SetFormat(LogFormat::kJson);
  c.logger.Info("hello \"you\"", {{"n", 1.5}});
  ASSERT_EQ(c.lines.size(), 1u);
  EXPECT_THAT(c.lines[0], StartsWith("{\"ts\":\"2026-11-23T17:55:01.123Z\","
                                     "\"level\":\"info\",\"caller\":"));
  EXPECT_THAT(c.lines[0],
              HasSubstr("\"msg\":\"hello \\\"you\\\"\",\"n\":\"1.5\"}\n"));
  EXPECT_EQ(JsonString("\x01"), "\"\\u0001\"");
}

TEST(Logfmt, ParseFlags) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("WARN"), LogLevel::kWarn);
  EXPECT_EQ(ParseLogLevel("loud").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_FALSE(ParseLogFormat("xml").ok());
}

TEST(Logfmt, ConcurrentLinesStayWhole) {
  Capture c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, t] {
      for (int i = 0; i < 200; ++i) c.logger.Info("x", {{"t", t}, {"i", i}});
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(c.lines.size(), 800u);
  for (const std::string& l : c.lines) {
    EXPECT_EQ(l.back(), '\n');
    EXPECT_EQ(l.find('\n'), l.size() - 1);
  }
}

}  // namespace
}  // namespace vigil
