#include "engine/rule_template.h"

#include <cmath>
#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::engine {
namespace {

using ::testing::HasSubstr;

TEST(FormatGoFloat, MatchesGoPercentV) {
  struct Case {
    double v;
    const char* want;
  } cases[] = {
      {0, "0"},          {1, "1"},
      {-2.5, "-2.5"},    {0.1, "0.1"},
      {123456, "123456"}, {1e6, "1e+06"},
      {1234567, "1.234567e+06"},
      {0.0001, "0.0001"}, {0.00001, "1e-05"},
      {1e21, "1e+21"},   {1.5e-7, "1.5e-07"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {100, "100"},      {12.75, "12.75"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(FormatGoFloat(c.v), c.want) << c.v;
  }
}

TEST(ExpandRuleTemplate, CommonForms) {
  storage::Labels labels =
      *storage::Labels::FromUnsorted({{"job", "api"}, {"instance", "h:1"}});
  storage::Labels ext = *storage::Labels::FromUnsorted({{"dc", "eu"}});
  RuleTemplateContext ctx;
  ctx.labels = &labels;
  ctx.external_labels = &ext;
  ctx.external_url = "http://x";
  ctx.value = 3;
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"plain", "plain"},
      {"{{ $value }}", "3"},
      {"{{$value}}", "3"},
      {"{{ .Value }}", "3"},
      {"{{ $labels.job }}/{{ .Labels.instance }}", "api/h:1"},
      {"{{ $labels.missing }}", ""},
      {"{{ $externalLabels.dc }} {{ $externalURL }}", "eu http://x"},
      {"a  {{- $value -}}  b", "a3b"},
      {"{{ if gt $value 2.0 }}big{{ else }}small{{ end }}", "big"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ExpandRuleTemplate("X", c.in, ctx), c.want) << c.in;
  }
  EXPECT_THAT(ExpandRuleTemplate("X", "{{ nope }}", ctx),
              HasSubstr("<error expanding template"));
}

TEST(ExpandRuleTemplate, QueryFunction) {
  QueryFunc q = [](std::string_view expr, int64_t ts)
      -> absl::StatusOr<std::vector<EvalSample>> {
    EXPECT_EQ(expr, "up");
    EXPECT_EQ(ts, 5000);
    return std::vector<EvalSample>{
        {*storage::Labels::FromUnsorted({{"job", "j"}}), ts, 7}};
  };
  RuleTemplateContext ctx;
  ctx.eval_time_ms = 5000;
  ctx.query = &q;
  EXPECT_EQ(ExpandRuleTemplate(
                "X", "{{ with query \"up\" }}{{ . | first | value }}{{ end }}",
                ctx),
            "7");
}

TEST(ValidateRuleTemplate, ReportsGoParseErrors) {
  EXPECT_THAT(ValidateRuleTemplate("__alert_X", "{{ $value }}"), IsOk());
  EXPECT_THAT(ValidateRuleTemplate("__alert_X", "{{ $value "),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("template: __alert_X:1")));
  EXPECT_THAT(ValidateRuleTemplate("__alert_X", "{{ nosuchfunc }}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("function \"nosuchfunc\" not defined")));
}

}  // namespace
}  // namespace vigil::engine
