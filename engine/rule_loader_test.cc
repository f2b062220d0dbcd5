#include "engine/rule_loader.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST(ParseRuleFile, ReadsGroupsAndRules) {
  const char* kFile = R"(groups:
- name: api
  interval: 30s
  query_offset: 1m
  limit: 10
  labels:
    team: core
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
    labels:
      team: infra
  - alert: HighErrorRate
    expr: rate(errors_total[5m]) > 1
    for: 10m
    keep_firing_for: 5m
    labels:
      severity: page
    annotations:
      summary: "{{ $labels.job }} is failing"
- name: empty
)";
  RuleFileResult r = ParseRuleFile("rules.yml", kFile);
  ASSERT_TRUE(r.ok()) << r.errors[0];
  ASSERT_THAT(r.groups, SizeIs(2));
  EXPECT_EQ(r.rule_count(), 2u);
  const GroupSpec& g = r.groups[0];
  EXPECT_EQ(g.file, "rules.yml");
  EXPECT_EQ(g.name, "api");
  EXPECT_EQ(g.interval, absl::Seconds(30));
  ASSERT_TRUE(g.query_offset.has_value());
  EXPECT_EQ(*g.query_offset, absl::Minutes(1));
  EXPECT_EQ(g.limit, 10);
  EXPECT_EQ(g.line, 2);
  const RuleSpec& rec = g.rules[0];
  EXPECT_FALSE(rec.is_alerting());
  EXPECT_EQ(rec.name, "job:up:sum");
  EXPECT_EQ(rec.line, 9);
  // The rule's own label wins over the group's.
  EXPECT_THAT(rec.labels, ElementsAre(storage::Label{"team", "infra"}));
  const RuleSpec& alert = g.rules[1];
  EXPECT_TRUE(alert.is_alerting());
  EXPECT_EQ(alert.name, "HighErrorRate");
  EXPECT_EQ(alert.for_duration, absl::Minutes(10));
  EXPECT_EQ(alert.keep_firing_for, absl::Minutes(5));
  EXPECT_THAT(alert.labels, ElementsAre(storage::Label{"severity", "page"},
                                        storage::Label{"team", "core"}));
  EXPECT_THAT(alert.annotations,
              ElementsAre(storage::Label{"summary",
                                         "{{ $labels.job }} is failing"}));
  EXPECT_EQ(r.groups[1].interval, absl::ZeroDuration());
  EXPECT_FALSE(r.groups[1].query_offset.has_value());
}

TEST(ParseRuleFile, EmptyFileHasNoGroups) {
  RuleFileResult r = ParseRuleFile("e.yml", "");
  EXPECT_TRUE(r.ok());
  EXPECT_THAT(r.groups, SizeIs(0));
}

// Each case: file content and one substring the single expected error has.
// As in Prometheus' rulefmt, any integer is a limit; zero or less is none.
TEST(ParseRuleFile, NegativeLimitMeansNoLimit) {
  RuleFileResult r = ParseRuleFile(
      "f.yml", "groups:\n- name: a\n  limit: -1\n  rules:\n"
               "  - record: x\n    expr: up\n");
  ASSERT_TRUE(r.errors.empty());
  ASSERT_EQ(r.groups.size(), 1u);
  EXPECT_EQ(r.groups[0].limit, -1);
}

TEST(ParseRuleFile, ReportsErrorsWithLocation) {
  struct Case {
    const char* content;
    const char* want;
  } cases[] = {
      {"groups:\n- name: a\n  rules:\n  - alert: X\n    expr: up\n    bogus: 1\n",
       "rules.yml:6: group \"a\", rule 1 (\"X\"): field bogus not found in type "
       "rule"},
      {"groups:\n- name: a\n  nope: 1\n",
       "rules.yml:3: group \"a\": field nope not found in type rule group"},
      {"groups:\n- name: a\n- name: a\n",
       "rules.yml:3: groupname: \"a\" is repeated in the same file"},
      {"groups:\n- name: \"\"\n", "rules.yml:2: Groupname must not be empty"},
      {"groups:\n- name: a\n  rules:\n  - alert: X\n",
       "rules.yml:4: group \"a\", rule 1 (\"X\"): field 'expr' must be set in "
       "rule"},
      {"groups:\n- name: a\n  rules:\n  - alert: X\n    record: y\n    expr: up\n",
       "only one of 'record' and 'alert' must be set"},
      {"groups:\n- name: a\n  rules:\n  - expr: up\n",
       "rules.yml:4: group \"a\", rule 1 (\"\"): one of 'record' or 'alert' must "
       "be set"},
      {"groups:\n- name: a\n  rules:\n  - record: r\n    expr: up\n    for: 1m\n",
       "rules.yml:6: group \"a\", rule 1 (\"r\"): invalid field 'for' in "
       "recording rule"},
      {"groups:\n- name: a\n  rules:\n  - record: r\n    expr: up\n"
       "    annotations:\n      a: b\n",
       "invalid field 'annotations' in recording rule"},
      {"groups:\n- name: a\n  rules:\n  - record: r\n    expr: up\n"
       "    keep_firing_for: 1m\n",
       "invalid field 'keep_firing_for' in recording rule"},
      {"groups:\n- name: a\n  rules:\n  - record: 'bad name'\n    expr: up\n",
       "invalid recording rule name: bad name"},
      {"groups:\n- name: a\n  rules:\n  - alert: X\n    expr: up\n"
       "    labels:\n      0bad: x\n",
       "rules.yml:7: group \"a\", rule 1 (\"X\"): invalid label name: 0bad"},
      {"groups:\n- name: a\n  rules:\n  - alert: X\n    expr: up\n"
       "    annotations:\n      'a-b': x\n",
       "invalid annotation name: a-b"},
      {"groups:\n- name: a\n  rules:\n  - alert: X\n    expr: up\n    for: 5x\n",
       "rules.yml:6: group \"a\", rule 1 (\"X\"): field 'for': not a valid "
       "duration string: \"5x\""},
      {"groups:\n- name: a\n  interval: soon\n",
       "rules.yml:3: group \"a\": field 'interval': not a valid duration"},
      {"groups:\n- name: a\n  limit: x3\n", "field 'limit' must be an integer"},
      {"groups:\n- name: a\n  rules: [\n", "rules.yml:"},
      {"groupz: []\n", "field groupz not found in type rule file"},
  };
  for (const Case& c : cases) {
    RuleFileResult r = ParseRuleFile("rules.yml", c.content);
    ASSERT_THAT(r.errors, SizeIs(1)) << c.content;
    EXPECT_THAT(r.errors[0], HasSubstr(c.want)) << c.content;
    EXPECT_THAT(r.groups, SizeIs(0));
  }
}

TEST(ParseRuleFile, ReportsAllErrorsOfAFile) {
  const char* kFile = R"(groups:
- name: a
  rules:
  - alert: X
  - record: 'a b'
    expr: up
  - alert: Y
    expr: up
    for: nope
)";
  RuleFileResult r = ParseRuleFile("f.yml", kFile);
  EXPECT_THAT(r.errors, SizeIs(3));
}

TEST(ParseRuleFile, CapsErrors) {
  std::string content = "groups:\n- name: a\n  rules:\n";
  for (int i = 0; i < 100; ++i) {
    content += "  - alert: X\n";
  }
  RuleLoaderOptions opts;
  opts.max_errors_per_file = 5;
  RuleFileResult r = ParseRuleFile("f.yml", content, opts);
  ASSERT_THAT(r.errors, SizeIs(6));
  EXPECT_THAT(r.errors.back(), HasSubstr("too many errors"));
}

TEST(ParseRuleFile, UsesValidationHooks) {
  RuleLoaderOptions opts;
  opts.validate_expr = [](std::string_view e) {
    return e == "bad(" ? absl::InvalidArgumentError("1:5: parse error: oops")
                       : absl::OkStatus();
  };
  opts.validate_template = [](std::string_view name, std::string_view text) {
    EXPECT_EQ(name, "__alert_X");
    return text == "{{" ? absl::InvalidArgumentError("template: unclosed")
                        : absl::OkStatus();
  };
  RuleFileResult r = ParseRuleFile(
      "r.yml",
      "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: bad(\n"
      "    annotations:\n      s: '{{'\n",
      opts);
  ASSERT_THAT(r.errors, SizeIs(2));
  EXPECT_EQ(r.errors[0],
            "r.yml:5: group \"g\", rule 1 (\"X\"): could not parse expression: "
            "1:5: parse error: oops");
  EXPECT_EQ(r.errors[1],
            "r.yml:7: group \"g\", rule 1 (\"X\"): annotation \"s\": template: "
            "unclosed");
}

TEST(ParseRuleFile, NeverThrowsOnGarbage) {
  for (const char* in : {"\x01\x02", "[", "groups: 3", "groups: {a: b}",
                         "groups:\n- 3\n", "groups:\n- name: [1]\n",
                         "groups:\n- name: a\n  rules: 5\n",
                         "groups:\n- name: a\n  rules:\n  - 5\n",
                         "groups:\n- name: a\n  rules:\n  - alert: [x]\n",
                         "a: &x [*x]"}) {
    RuleFileResult r = ParseRuleFile("g.yml", in);
    EXPECT_FALSE(r.ok()) << in;
  }
}

TEST(LoadRuleFiles, MissingPatternMatchesNothing) {
  absl::StatusOr<std::vector<GroupSpec>> g =
      LoadRuleFiles({"/nonexistent/dir/*.yml"});
  ASSERT_THAT(g, IsOk());
  EXPECT_THAT(*g, SizeIs(0));
}

}  // namespace
}  // namespace vigil::engine
