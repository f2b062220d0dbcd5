#include "engine/recording_rule.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::engine {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

storage::Labels L(std::vector<storage::Label> l) {
  return *storage::Labels::FromUnsorted(std::move(l));
}

RuleSpec Spec() {
  RuleSpec s;
  s.kind = RuleSpec::Kind::kRecording;
  s.name = "job:up:sum";
  s.expr = "sum by (job) (up)";
  s.labels = {{"team", "infra"}};
  return s;
}

InstantQueryFunc Returns(std::vector<EvalSample> v) {
  return [v](int64_t ts) -> absl::StatusOr<std::vector<EvalSample>> {
    std::vector<EvalSample> out = v;
    for (EvalSample& s : out) {
      s.t = ts;
    }
    return out;
  };
}

TEST(RecordingRule, RenamesAndLabels) {
  RecordingRule r(Spec(), Returns({{L({{"__name__", "up"}, {"job", "a"},
                                       {"team", "x"}}),
                                    0, 3}}));
  absl::StatusOr<std::vector<EvalSample>> out = r.Eval(120000, 60000, 0);
  ASSERT_THAT(out, IsOk());
  ASSERT_THAT(*out, SizeIs(1));
  EXPECT_EQ((*out)[0].labels, L({{"__name__", "job:up:sum"},
                                 {"job", "a"},
                                 {"team", "infra"}}));
  EXPECT_EQ((*out)[0].t, 60000);
  EXPECT_EQ((*out)[0].value, 3);
}

TEST(RecordingRule, ScalarBecomesOneSample) {
  RecordingRule r(Spec(), Returns({{storage::Labels(), 0, 7}}));
  absl::StatusOr<std::vector<EvalSample>> out = r.Eval(1000, 0, 0);
  ASSERT_THAT(out, IsOk());
  ASSERT_THAT(*out, SizeIs(1));
  EXPECT_EQ((*out)[0].labels,
            L({{"__name__", "job:up:sum"}, {"team", "infra"}}));
}

TEST(RecordingRule, DuplicateLabelsetAfterRuleLabels) {
  RecordingRule r(Spec(), Returns({{L({{"__name__", "a"}, {"job", "x"}}), 0, 1},
                                   {L({{"__name__", "b"}, {"job", "x"}}), 0, 2}}));
  EXPECT_THAT(r.Eval(0, 0, 0),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("vector contains metrics with the same "
                                 "labelset after applying rule labels")));
}

TEST(RecordingRule, Limit) {
  RecordingRule r(Spec(), Returns({{L({{"job", "a"}}), 0, 1},
                                   {L({{"job", "b"}}), 0, 2}}));
  EXPECT_THAT(r.Eval(0, 0, 2), IsOk());
  EXPECT_THAT(r.Eval(0, 0, 1),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "exceeded limit of 1 with 2 series"));
}

TEST(RecordingRule, QueryErrorPassesThrough) {
  RecordingRule r(Spec(), [](int64_t) -> absl::StatusOr<std::vector<EvalSample>> {
    return absl::InvalidArgumentError("bad");
  });
  EXPECT_THAT(r.Eval(0, 0, 0), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(RuleStatus, RecordsHealth) {
  RecordingRule r(Spec(), Returns({}));
  EXPECT_EQ(r.status().health, RuleHealth::kUnknown);
  r.RecordEval(absl::InvalidArgumentError("oops"), absl::FromUnixSeconds(5),
               absl::Milliseconds(3));
  EXPECT_EQ(r.status().health, RuleHealth::kErr);
  EXPECT_EQ(r.status().last_error, "oops");
  r.RecordEval(absl::OkStatus(), absl::FromUnixSeconds(6),
               absl::Milliseconds(2));
  EXPECT_EQ(r.status().health, RuleHealth::kOk);
  EXPECT_EQ(r.status().last_error, "");
  EXPECT_EQ(r.status().last_evaluation, absl::FromUnixSeconds(6));
  EXPECT_STREQ(RuleHealthName(r.status().health), "ok");
}

}  // namespace
}  // namespace vigil::engine
