#include "storage/matcher.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Matcher M(MatchType t, std::string v) {
  auto m = Matcher::Create(t, "l", std::move(v));
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

struct Case {
  MatchType type;
  std::string value;
  std::string input;
  bool want;
};

TEST(Matcher, Table) {
  using enum MatchType;
  const std::vector<Case> cases = {
      {kEqual, "a", "a", true},
      {kEqual, "a", "b", false},
      {kEqual, "", "", true},
      {kEqual, "", "a", false},
      {kNotEqual, "a", "a", false},
      {kNotEqual, "a", "", true},
      {kRegexMatch, "a", "a", true},
      {kRegexMatch, "a", "ab", false},  // anchored
      {kRegexMatch, "a", "ba", false},
      {kRegexMatch, "a.*", "abc", true},
      {kRegexMatch, "a.*", "ba", false},
      {kRegexMatch, "a.*", "a\nb", true},  // `.` matches newline
      {kRegexMatch, ".*a", "bba", true},
      {kRegexMatch, ".*a", "ab", false},
      {kRegexMatch, ".*a.*", "bab", true},
      {kRegexMatch, ".*a.*", "bbb", false},
      {kRegexMatch, ".*", "", true},
      {kRegexMatch, ".+", "", false},
      {kRegexMatch, ".+", "x", true},
      {kRegexMatch, "a|b|c", "b", true},
      {kRegexMatch, "a|b|c", "d", false},
      {kRegexMatch, "a|b|c", "ab", false},
      {kRegexMatch, "(a|b)", "a", true},
      {kRegexMatch, "(?:a|bb)", "bb", true},
      {kRegexMatch, "a\\.b", "a.b", true},
      {kRegexMatch, "a\\.b", "axb", false},
      {kRegexMatch, "a.b", "axb", true},
      {kRegexMatch, "", "", true},
      {kRegexMatch, "", "a", false},
      {kRegexMatch, "a|", "", true},
      {kRegexMatch, "(a)|(b)", "b", true},
      {kRegexMatch, "[0-9]+", "123", true},
      {kRegexMatch, "[0-9]+", "12a", false},
      {kRegexMatch, "(?i)abc", "ABC", true},
      {kRegexMatch, "foo\\.*", "foo..", true},
      {kRegexMatch, "foo\\.*", "foox", false},
      {kRegexMatch, "host-1.*", "host-10", true},
      {kRegexMatch, "host-1.*", "host-2", false},
      {kRegexMatch, "a|b.*", "bcd", true},
      {kRegexMatch, "^a$", "a", true},
      {kRegexNoMatch, "a|b", "a", false},
      {kRegexNoMatch, "a|b", "c", true},
      {kRegexNoMatch, "a|b", "", true},
      {kRegexNoMatch, ".*", "x", false},
      {kRegexNoMatch, ".+", "", true},
      {kRegexNoMatch, "[0-9]+", "x", true},
  };
  for (const Case& c : cases) {
    Matcher m = M(c.type, c.value);
    EXPECT_EQ(m.Matches(c.input), c.want)
        << m.ToString() << " on \"" << c.input << "\"";
    EXPECT_EQ(m.MatchesEmpty(), m.Matches(""));
  }
}

TEST(Matcher, MatchesEmpty) {
  using enum MatchType;
  EXPECT_TRUE(M(kEqual, "").MatchesEmpty());
  EXPECT_FALSE(M(kEqual, "a").MatchesEmpty());
  EXPECT_TRUE(M(kNotEqual, "a").MatchesEmpty());
  EXPECT_TRUE(M(kRegexMatch, ".*").MatchesEmpty());
  EXPECT_TRUE(M(kRegexMatch, "a|").MatchesEmpty());
  EXPECT_FALSE(M(kRegexMatch, ".+").MatchesEmpty());
  EXPECT_TRUE(M(kRegexNoMatch, ".+").MatchesEmpty());
  EXPECT_FALSE(M(kRegexNoMatch, "").MatchesEmpty());
}

TEST(Matcher, SetMatchesAndPrefix) {
  using enum MatchType;
  EXPECT_THAT(*M(kEqual, "a").SetMatches(), ElementsAre("a"));
  EXPECT_THAT(*M(kRegexMatch, "c|a|b|a").SetMatches(),
              ElementsAre("a", "b", "c"));
  EXPECT_THAT(*M(kRegexMatch, "(x\\.y|z)").SetMatches(),
              ElementsAre("x.y", "z"));
  EXPECT_THAT(*M(kRegexMatch, "lit").SetMatches(), ElementsAre("lit"));
  EXPECT_EQ(M(kRegexMatch, "a.*").SetMatches(), nullptr);
  EXPECT_EQ(M(kRegexMatch, "[ab]").SetMatches(), nullptr);
  ASSERT_NE(M(kRegexMatch, "host-1.*").Prefix(), nullptr);
  EXPECT_EQ(*M(kRegexMatch, "host-1.*").Prefix(), "host-1");
  EXPECT_EQ(M(kRegexMatch, "a|b").Prefix(), nullptr);
}

TEST(Matcher, LargeSet) {
  std::string re;
  for (int i = 0; i < 50; ++i) {
    if (i > 0) re += "|";
    re += "v" + std::to_string(i);
  }
  Matcher m = M(MatchType::kRegexMatch, re);
  ASSERT_NE(m.SetMatches(), nullptr);
  EXPECT_EQ(m.SetMatches()->size(), 50u);
  EXPECT_TRUE(m.Matches("v42"));
  EXPECT_FALSE(m.Matches("v50"));
}

TEST(Matcher, InvalidRegex) {
  EXPECT_THAT(Matcher::Create(MatchType::kRegexMatch, "job", "a("),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("\"a(\"")));
  EXPECT_THAT(Matcher::Create(MatchType::kRegexNoMatch, "job", "[z-a]"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Matcher, ToString) {
  auto m = Matcher::Create(MatchType::kRegexMatch, "job", "a\"b");
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->ToString(), "job=~\"a\\\"b\"");
  auto n = Matcher::Create(MatchType::kNotEqual, "my.label", "x");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(n->ToString(), "\"my.label\"!=\"x\"");
}

}  // namespace
}  // namespace vigil::storage
