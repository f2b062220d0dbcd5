#include "engine/cli.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::engine {
namespace {

using ::testing::HasSubstr;

std::string WriteTemp(const std::string& name, const std::string& content) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir ? dir : "/tmp") + "/" + name;
  std::ofstream(path) << content;
  return path;
}

TEST(RunCheckRules, SuccessOutput) {
  std::string f = WriteTemp(
      "ok.yml",
      "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n"
      "  - alert: Y\n    expr: up == 0\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules({f}, out, err), 0);
  EXPECT_EQ(out.str(), "Checking " + f + "\n  SUCCESS: 2 rules found\n\n");
  EXPECT_EQ(err.str(), "");
}

TEST(RunCheckRules, FailureOutputAndExitCode) {
  std::string good = WriteTemp("good.yml", "groups: []\n");
  std::string bad = WriteTemp(
      "bad.yml", "groups:\n- name: a\n  rules:\n  - record: x\n    for: 1m\n"
                 "    expr: up\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules({good, bad}, out, err), 1);
  EXPECT_THAT(out.str(), HasSubstr("Checking " + bad + "\n"));
  EXPECT_EQ(err.str(), "  FAILED:\n" + bad +
                           ":5: group \"a\", rule 1 (\"x\"): invalid field "
                           "'for' in recording rule\n");
  EXPECT_EQ(out.str(), "Checking " + good + "\n  SUCCESS: 0 rules found\n\n" +
                           "Checking " + bad + "\n\n");
}

TEST(RunCheckRules, ReportsPromqlAndTemplateErrors) {
  std::string f = WriteTemp(
      "parse.yml",
      "groups:\n- name: api\n  rules:\n  - alert: HighErrorRate\n"
      "    expr: sum(rate(x[5m]) > \n"
      "    annotations:\n      s: '{{ nosuch }}'\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules({f}, out, err), 1);
  EXPECT_THAT(err.str(),
              HasSubstr(f + ":5: group \"api\", rule 1 (\"HighErrorRate\"): "
                            "could not parse expression: 1:"));
  EXPECT_THAT(err.str(), HasSubstr(f + ":7: group \"api\", rule 1 "
                                       "(\"HighErrorRate\"): annotation \"s\": "
                                       "template: __alert_HighErrorRate:1:"));
}

TEST(RunCheckRules, DuplicateRulesAreALintWarning) {
  std::string f = WriteTemp(
      "dup.yml",
      "groups:\n- name: a\n  rules:\n  - alert: X\n    expr: up\n"
      "  - alert: X\n    expr: up\n  - record: y\n    expr: up\n"
      "    labels:\n      a: b\n- name: b\n  rules:\n  - record: y\n"
      "    expr: down\n    labels:\n      a: b\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules({f}, out, err), 0);
  EXPECT_EQ(out.str(), "Checking " + f + "\n\n");
  EXPECT_EQ(err.str(),
            "  FAILED:\nlint error 2 duplicate rule(s) found.\n"
            "Metric: X\nLabel(s):\nMetric: y\nLabel(s):\n\ta: b\n"
            "Might cause inconsistency while recording expressions\n");
}

// promtool's flags: --lint=none silences the lint, --lint-fatal makes it
// fail, --ignore-unknown-fields lets extra keys through.
TEST(RunCheckRules, LintAndUnknownFieldFlags) {
  std::string f = WriteTemp(
      "dup2.yml",
      "groups:\n- name: a\n  rules:\n  - alert: X\n    expr: up\n"
      "  - alert: X\n    expr: up\n");
  std::ostringstream o1, e1;
  EXPECT_EQ(RunCheckRules({"--lint=none", f}, o1, e1), 0);
  EXPECT_EQ(e1.str(), "");
  EXPECT_EQ(o1.str(), "Checking " + f + "\n  SUCCESS: 2 rules found\n\n");
  std::ostringstream o2, e2;
  EXPECT_EQ(RunCheckRules({"--lint-fatal", f}, o2, e2), 1);
  EXPECT_THAT(e2.str(), HasSubstr("lint error 1 duplicate rule(s) found."));
  std::string g = WriteTemp(
      "extra.yml",
      "groups:\n- name: a\n  owner: sre\n  rules:\n  - alert: X\n"
      "    expr: up\n    runbook: r\n");
  std::ostringstream o3, e3;
  EXPECT_EQ(RunCheckRules({g}, o3, e3), 1);
  EXPECT_THAT(e3.str(), HasSubstr("field owner not found"));
  std::ostringstream o4, e4;
  EXPECT_EQ(RunCheckRules({"--ignore-unknown-fields", g}, o4, e4), 0)
      << e4.str();
  std::ostringstream o5, e5;
  EXPECT_EQ(RunCheckRules({"--bogus", g}, o5, e5), 2);
}

TEST(RunCheckRules, UsageWithoutFiles) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules({}, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("usage"));
}

TEST(RunCheckRules, UnreadableFileFails) {
  std::ostringstream out, err;
  EXPECT_EQ(RunCheckRules({"/nonexistent/x.yml"}, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("/nonexistent/x.yml: cannot read file"));
}

}  // namespace
}  // namespace vigil::engine
