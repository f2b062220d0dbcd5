#include "engine/duration.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::engine {
namespace {

TEST(ParsePromDuration, AcceptsPrometheusSyntax) {
  struct Case {
    const char* in;
    absl::Duration want;
  } cases[] = {
      {"0", absl::ZeroDuration()},
      {"0s", absl::ZeroDuration()},
      {"500ms", absl::Milliseconds(500)},
      {"1m", absl::Minutes(1)},
      {"1h30m", absl::Minutes(90)},
      {"1d", absl::Hours(24)},
      {"1w", absl::Hours(24 * 7)},
      {"1y", absl::Hours(24 * 365)},
      {"1y2w3d4h5m6s7ms",
       absl::Hours(24 * 365 + 24 * 14 + 24 * 3 + 4) + absl::Minutes(5) +
           absl::Seconds(6) + absl::Milliseconds(7)},
      {"90m", absl::Minutes(90)},
  };
  for (const Case& c : cases) {
    absl::StatusOr<absl::Duration> d = ParsePromDuration(c.in);
    ASSERT_THAT(d, IsOk()) << c.in;
    EXPECT_EQ(*d, c.want) << c.in;
  }
}

TEST(ParsePromDuration, RejectsMalformed) {
  for (const char* in : {"", "1", "m", "1.5m", "1m1h", "1m1m", "-1m", "1x",
                         "1h 30m", "99999999999999999999y"}) {
    EXPECT_THAT(ParsePromDuration(in),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << in;
  }
}

TEST(FormatPromDuration, CanonicalForm) {
  EXPECT_EQ(FormatPromDuration(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatPromDuration(absl::Minutes(90)), "1h30m");
  EXPECT_EQ(FormatPromDuration(absl::Hours(24)), "1d");
  EXPECT_EQ(FormatPromDuration(absl::Hours(24 * 7)), "1w");
  EXPECT_EQ(FormatPromDuration(absl::Hours(24 * 8)), "8d");
  EXPECT_EQ(FormatPromDuration(absl::Milliseconds(1500)), "1s500ms");
}

}  // namespace
}  // namespace vigil::engine
