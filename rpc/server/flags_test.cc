#include "rpc/server/flags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::rpc::server {
namespace {

using ::testing::HasSubstr;

TEST(Flags, Defaults) {
  auto f = ParseFlags({});
  ASSERT_THAT(f.status(), IsOk());
  EXPECT_EQ(f->listen_address, "0.0.0.0:9096");
  EXPECT_EQ(f->retention, absl::Hours(2));
  EXPECT_EQ(f->out_of_order_window, absl::ZeroDuration());
  EXPECT_EQ(f->resend_delay, absl::Minutes(1));
  EXPECT_EQ(f->for_outage_tolerance, absl::Hours(1));
  EXPECT_EQ(f->for_grace_period, absl::Minutes(10));
  EXPECT_EQ(f->lookback_delta, absl::Minutes(5));
  EXPECT_EQ(f->query_timeout, absl::Minutes(2));
  EXPECT_FALSE(f->config_file_set);
  EXPECT_EQ(f->log_level, LogLevel::kInfo);
}

TEST(Flags, ParsesBothForms) {
  auto f = ParseFlags({"--config.file=/etc/vigil.yml", "--web.listen-address",
                       "127.0.0.1:0", "--storage.retention=1h30m",
                       "--storage.out-of-order-window=90s",
                       "--storage.max-series", "1000",
                       "--web.max-request-bytes=1MiB", "--log.level=debug",
                       "--log.format=json", "--query.lookback-delta=1m",
                       "--rules.alert.for-grace-period=0",
                       "--rules.window-cache-size=64MiB", "--version"});
  ASSERT_THAT(f.status(), IsOk());
  EXPECT_EQ(f->config_file, "/etc/vigil.yml");
  EXPECT_TRUE(f->config_file_set);
  EXPECT_EQ(f->listen_address, "127.0.0.1:0");
  EXPECT_EQ(f->retention, absl::Minutes(90));
  EXPECT_EQ(f->out_of_order_window, absl::Seconds(90));
  EXPECT_EQ(f->max_series, 1000);
  EXPECT_EQ(f->max_request_bytes, 1 << 20);
  EXPECT_EQ(f->log_level, LogLevel::kDebug);
  EXPECT_EQ(f->log_format, LogFormat::kJson);
  EXPECT_EQ(f->lookback_delta, absl::Minutes(1));
  EXPECT_EQ(f->for_grace_period, absl::ZeroDuration());
  EXPECT_EQ(f->rules_window_cache_bytes, 64 << 20);
  EXPECT_EQ(ParseFlags({})->rules_window_cache_bytes, int64_t{1} << 30);
  EXPECT_TRUE(f->version);
  EXPECT_TRUE(ParseFlags({"-h"})->help);
}

TEST(Flags, Errors) {
  struct Case {
    std::vector<std::string> args;
    std::string want;
  };
  for (const Case& tc : std::vector<Case>{
           {{"--nope=1"}, "unknown long flag '--nope'"},
           {{"--storage.retention=2 hours"}, "--storage.retention"},
           {{"--storage.retention=1m1h"}, "--storage.retention"},
           {{"--storage.max-series=-1"}, "--storage.max-series"},
           {{"--web.max-request-bytes=lots"}, "--web.max-request-bytes"},
           {{"--log.level=loud"}, "--log.level"},
           {{"--config.file"}, "expected argument for flag '--config.file'"},
           {{"stray"}, "unexpected argument \"stray\""},
           {{"--version=maybe"}, "--version"},
       }) {
    auto f = ParseFlags(tc.args);
    EXPECT_THAT(f.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr(tc.want)))
        << tc.args[0];
  }
}

TEST(Flags, HelpListsEveryFlagWithDefault) {
  std::string help = FlagsHelp("vigil");
  for (const char* name :
       {"--config.file", "--web.listen-address", "--storage.retention",
        "--storage.out-of-order-window", "--storage.max-series",
        "--web.max-request-bytes", "--web.external-url", "--log.level",
        "--log.format", "--rules.alert.resend-delay",
        "--rules.alert.for-outage-tolerance", "--rules.alert.for-grace-period",
        "--query.lookback-delta", "--query.max-samples", "--query.timeout",
        "--help", "--version"}) {
    EXPECT_THAT(help, HasSubstr(name));
  }
  EXPECT_THAT(help, HasSubstr("(default: \"0.0.0.0:9096\")"));
  EXPECT_THAT(help, HasSubstr("(default: \"2h\")"));
  EXPECT_THAT(help, HasSubstr("check config"));
}

TEST(ParseByteSize, Units) {
  EXPECT_EQ(*ParseByteSize("123"), 123);
  EXPECT_EQ(*ParseByteSize("2KiB"), 2048);
  EXPECT_EQ(*ParseByteSize("32MiB"), 32 << 20);
  EXPECT_EQ(*ParseByteSize("1GB"), 1000000000);
  EXPECT_EQ(*ParseByteSize("5B"), 5);
  EXPECT_FALSE(ParseByteSize("MiB").ok());
  EXPECT_FALSE(ParseByteSize("-1").ok());
  EXPECT_FALSE(ParseByteSize("99999999999TiB").ok());
}

}  // namespace
}  // namespace vigil::rpc::server
