#include "storage/base/clock.h"

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "storage/base/status_macros.h"
#include "storage/base/status_matchers.h"

namespace vigil {
namespace {

TEST(SimulatedClock, MovesOnlyWhenTold) {
  SimulatedClock clock(absl::FromUnixSeconds(100));
  EXPECT_EQ(clock.NowMillis(), 100000);
  clock.Advance(absl::Milliseconds(1500));
  EXPECT_EQ(clock.NowMillis(), 101500);
  clock.Set(absl::FromUnixSeconds(5));
  EXPECT_EQ(clock.NowMillis(), 5000);
}

TEST(RealClock, IsAfter2020) {
  EXPECT_GT(Clock::Real()->NowMillis(), int64_t{1577836800000});
}

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) {
    return absl::InvalidArgumentError("odd");
  }
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int half, Half(x));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusMacros, PropagateErrors) {
  EXPECT_THAT(Quarter(8), IsOk());
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument,
                                   ::testing::HasSubstr("odd")));
}

}  // namespace
}  // namespace vigil
