#include "engine/rule_unit_test_runner.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::engine {
namespace {

using ::testing::HasSubstr;

std::string Dir() {
  const char* d = std::getenv("TEST_TMPDIR");
  return d ? d : "/tmp";
}

std::string Write(const std::string& name, const std::string& content) {
  std::string path = Dir() + "/" + name;
  std::ofstream(path) << content;
  return path;
}

constexpr char kRules[] = R"(groups:
- name: example
  rules:
  - record: job:http_inprogress_requests:sum
    expr: sum by (job) (http_requests)
  - alert: InstanceDown
    expr: up == 0
    for: 5m
    labels:
      severity: page
    annotations:
      summary: "Instance {{ $labels.instance }} down"
      description: "{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes."
)";

constexpr char kTests[] = R"(rule_files:
  - ut_rules.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="prometheus", instance="localhost:9090"}'
        values: '0 0 0 0 0 0 0 0 0 0 0 0 0 0 0'
      - series: 'up{job="node_exporter", instance="localhost:9100"}'
        values: '1+0x6 0 0 0 0 0 0 0 0'
      - series: 'http_requests{job="api", instance="a"}'
        values: '1+1x10'
      - series: 'http_requests{job="api", instance="b"}'
        values: '_ 2 stale'
    alert_rule_test:
      - eval_time: 4m
        alertname: InstanceDown
      - eval_time: 10m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels:
              severity: page
              instance: localhost:9090
              job: prometheus
            exp_annotations:
              summary: "Instance localhost:9090 down"
              description: "localhost:9090 of job prometheus has been down for more than 5 minutes."
    promql_expr_test:
      - expr: job:http_inprogress_requests:sum
        eval_time: 5m
        exp_samples:
          - labels: 'job:http_inprogress_requests:sum{job="api"}'
            value: 6
      - expr: ALERTS{alertstate="pending"}
        eval_time: 8m
        exp_samples:
          - labels: 'ALERTS{alertname="InstanceDown", alertstate="pending", instance="localhost:9100", job="node_exporter", severity="page"}'
            value: 1
)";

TEST(RunTestRules, PassingFile) {
  Write("ut_rules.yml", kRules);
  std::string t = Write("ut_tests.yml", kTests);
  std::ostringstream out, err;
  EXPECT_EQ(RunTestRules({t}, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "Unit Testing:  " + t + "\n  SUCCESS\n\n");
}

TEST(RunTestRules, FailingAlertAndExpression) {
  Write("ut_rules.yml", kRules);
  std::string tests = kTests;
  // Expect the wrong instance and the wrong value.
  tests.replace(tests.find("instance: localhost:9090"), 24,
                "instance: localhost:9999");
  tests.replace(tests.find("value: 6"), 8, "value: 7");
  std::string t = Write("ut_fail.yml", tests);
  std::ostringstream out, err;
  EXPECT_EQ(RunTestRules({t}, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("  FAILED:\n"));
  EXPECT_THAT(err.str(),
              HasSubstr("    alertname: InstanceDown, time: 10m, \n"
                        "        exp:[\n"
                        "            0:\n"
                        "              Labels:{alertname=\"InstanceDown\", "
                        "instance=\"localhost:9999\", job=\"prometheus\", "
                        "severity=\"page\"}\n"));
  EXPECT_THAT(err.str(),
              HasSubstr("    expr: \"job:http_inprogress_requests:sum\", time: "
                        "5m,\n        exp: {__name__=\"job:http_inprogress_"
                        "requests:sum\", job=\"api\"} 7E+00\n        got: "
                        "{__name__=\"job:http_inprogress_requests:sum\", "
                        "job=\"api\"} 6E+00"));
}

TEST(RunTestRules, RuleFileErrorsAndBadTestFile) {
  Write("ut_bad_rules.yml",
        "groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(\n");
  std::string t = Write("ut_bad.yml",
                        "rule_files: [ut_bad_rules.yml]\ntests:\n- "
                        "input_series: []\n  promql_expr_test:\n  - expr: "
                        "'1'\n    eval_time: 0s\n    exp_samples: [{value: "
                        "1}]\n");
  std::ostringstream out, err;
  EXPECT_EQ(RunTestRules({t}, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("could not parse expression"));

  std::string u = Write("ut_unknown.yml", "rule_files: []\nbogus: 1\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(RunTestRules({u}, out2, err2), 1);
  EXPECT_THAT(err2.str(), HasSubstr("field bogus not found"));
}

// As promtool: an annotation that expands to "" is there with an empty
// value (expected "" matches it, a missing expectation does not); an
// expected label "" never matches (alert labels drop empty values); an
// expected NaN never equals a NaN; fuzzy_compare accepts the next double.
TEST(RunTestRules, EmptyValuesNaNAndFuzzyCompare) {
  Write("ut_edge_rules.yml", R"(groups:
- name: g
  rules:
  - alert: A
    expr: up == 1
    labels:
      maybe: '{{ if false }}x{{ end }}'
    annotations:
      summary: 'value {{ $value }}'
      extra: '{{ if false }}x{{ end }}'
  - record: third
    expr: up / 3
  - record: nan
    expr: up * NaN
)");
  const std::string head = R"(rule_files: [ut_edge_rules.yml]
tests:
- input_series:
  - series: up{job="a"}
    values: 1x3
)";
  const auto run = [](const std::string& name, const std::string& text) {
    std::ostringstream out, err;
    const int rc = RunTestRules({Write(name, text)}, out, err);
    return std::make_pair(rc, err.str());
  };
  const std::string alert_ok = R"(  alert_rule_test:
  - eval_time: 1m
    alertname: A
    exp_alerts:
    - exp_labels: {job: a}
      exp_annotations: {summary: value 1, extra: ""}
)";
  EXPECT_EQ(run("ut_edge1.yml", head + alert_ok).first, 0)
      << run("ut_edge1.yml", head + alert_ok).second;
  std::string no_extra = alert_ok;
  no_extra.replace(no_extra.find(", extra: \"\""), 11, "");
  auto [rc2, err2] = run("ut_edge2.yml", head + no_extra);
  EXPECT_EQ(rc2, 1);
  EXPECT_THAT(err2, HasSubstr("Annotations:{extra=\"\", summary=\"value 1\"}"));
  std::string empty_label = alert_ok;
  empty_label.replace(empty_label.find("{job: a}"), 8, "{job: a, maybe: \"\"}");
  EXPECT_EQ(run("ut_edge3.yml", head + empty_label).first, 1);

  const std::string nan_test = R"(  promql_expr_test:
  - expr: nan
    eval_time: 1m
    exp_samples:
    - labels: nan{job="a"}
      value: .nan
)";
  EXPECT_EQ(run("ut_edge4.yml", head + nan_test).first, 1);

  // 1/3 printed to 17 digits, then its last digit moved by one: off by
  // one unit in the last place, which only fuzzy_compare accepts.
  const std::string third = R"(  promql_expr_test:
  - expr: third
    eval_time: 1m
    exp_samples:
    - labels: third{job="a"}
      value: 0.33333333333333337
)";
  EXPECT_EQ(run("ut_edge5.yml", head + third).first, 1);
  EXPECT_EQ(run("ut_edge6.yml", "fuzzy_compare: true\n" + head + third).first, 0);
}

// start_timestamp moves input series and evaluations: eval_time counts from
// it, and time() sees it.
TEST(RunTestRules, StartTimestamp) {
  Write("ut_start_rules.yml", R"(groups:
- name: g
  rules:
  - alert: Late
    expr: time() - up_since > 100
    for: 1m
  - record: now
    expr: time() * up
)");
  for (const std::string start : {"1700000000", "'2023-11-14T22:13:20Z'"}) {
    const std::string t = Write("ut_start.yml", R"(rule_files: [ut_start_rules.yml]
tests:
- start_timestamp: )" + start + R"(
  input_series:
  - series: up
    values: 1x5
  - series: up_since
    values: 1699999990x5
  alert_rule_test:
  - eval_time: 1m
    alertname: Late
  - eval_time: 3m
    alertname: Late
    exp_alerts: [{}]
  promql_expr_test:
  - expr: now
    eval_time: 2m
    exp_samples: [{labels: now, value: 1700000120}]
)");
    std::ostringstream out, err;
    EXPECT_EQ(RunTestRules({t}, out, err), 0) << start << "\n" << err.str();
  }
  const std::string bad = Write("ut_start_bad.yml", R"(rule_files: [ut_start_rules.yml]
tests:
- start_timestamp: yesterday
  input_series: []
)");
  std::ostringstream out, err;
  EXPECT_EQ(RunTestRules({bad}, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("invalid start_timestamp \"yesterday\""));
}

TEST(RunTestRules, Usage) {
  std::ostringstream out, err;
  EXPECT_EQ(RunTestRules({}, out, err), 2);
  std::ostringstream out2, err2;
  EXPECT_EQ(RunTestRules({"--bogus", "x.yml"}, out2, err2), 2);
  EXPECT_THAT(err2.str(), HasSubstr("unknown flag --bogus"));
  std::ostringstream out3, err3;
  EXPECT_EQ(RunTestRules({"--help"}, out3, err3), 0);
  EXPECT_THAT(out3.str(), HasSubstr("--run=REGEX"));
}

// promtool's --run picks test groups by name (a match anywhere in it), and
// --ignore-unknown-fields lets extra fields through.
TEST(RunTestRules, RunSelectsGroupsAndUnknownFieldsCanBeIgnored) {
  Write("ut_run_rules.yml", "groups:\n- name: g\n  rules:\n"
                            "  - record: r\n    expr: up\n");
  const std::string t = Write("ut_run.yml", R"(rule_files: [ut_run_rules.yml]
tests:
- name: passes
  input_series: [{series: up, values: '1'}]
  promql_expr_test: [{expr: r, eval_time: 0s, exp_samples: [{labels: r, value: 1}]}]
- name: fails
  input_series: [{series: up, values: '1'}]
  promql_expr_test: [{expr: r, eval_time: 0s, exp_samples: [{labels: r, value: 2}]}]
)");
  std::ostringstream o1, e1;
  EXPECT_EQ(RunTestRules({t}, o1, e1), 1);
  std::ostringstream o2, e2;
  EXPECT_EQ(RunTestRules({"--run=^pass", t}, o2, e2), 0) << e2.str();
  std::ostringstream o3, e3;
  EXPECT_EQ(RunTestRules({"--run", "ai", t}, o3, e3), 1);  // "fails" too
  const std::string u = Write("ut_extra.yml", R"(rule_files: [ut_run_rules.yml]
owner: sre
tests:
- name: passes
  team: x
  input_series: [{series: up, values: '1'}]
  promql_expr_test: [{expr: r, eval_time: 0s, exp_samples: [{labels: r, value: 1}]}]
)");
  std::ostringstream o4, e4;
  EXPECT_EQ(RunTestRules({u}, o4, e4), 1);
  std::ostringstream o5, e5;
  EXPECT_EQ(RunTestRules({"--ignore-unknown-fields", u}, o5, e5), 0) << e5.str();
}

TEST(GoDurationString, Forms) {
  EXPECT_EQ(GoDurationString(0), "0s");
  EXPECT_EQ(GoDurationString(500), "500ms");
  EXPECT_EQ(GoDurationString(1500), "1.5s");
  EXPECT_EQ(GoDurationString(90000), "1m30s");
  EXPECT_EQ(GoDurationString(3600000), "1h0m0s");
  EXPECT_EQ(GoDurationString(300000), "5m0s");
}

TEST(FormatFloatE, Forms) {
  EXPECT_EQ(FormatFloatE(1), "1E+00");
  EXPECT_EQ(FormatFloatE(25), "2.5E+01");
  EXPECT_EQ(FormatFloatE(1.5e-7), "1.5E-07");
  EXPECT_EQ(FormatFloatE(NAN), "NaN");
  EXPECT_EQ(FormatFloatE(-INFINITY), "-Inf");
}

}  // namespace
}  // namespace vigil::engine
