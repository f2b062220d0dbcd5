// Table-driven tests for the PromQL parser and printer: canonical printing
// of valid queries, exact error texts with positions, and AST details.
#include "promql/parser/parser.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "promql/parser/functions.h"
#include "promql/parser/printer.h"
#include "storage/base/status_matchers.h"

namespace vigil::promql::parser {
namespace {

using ::testing::HasSubstr;

struct PrintCase {
  const char* input;
  const char* printed;  // canonical form
};

// Valid queries and the canonical text they print as.
const PrintCase kPrintCases[] = {
    // Literals.
    {"1", "1"},
    {"+1", "1"},
    {"-1", "-1"},
    {"1.5", "1.5"},
    {".5", "0.5"},
    {"5.", "5"},
    {"1e3", "1000"},
    {"1E-3", "0.001"},
    {"0x1f", "31"},
    {"0x1e + 1", "30 + 1"},
    {"foo[5m # comment\n]", "foo[5m]"},
    {"0X1F", "31"},
    {"010", "8"},
    {"08", "8"},
    {"1_000", "1000"},
    {"1e6", "1e+06"},
    {"123456", "123456"},
    {"1234567", "1.234567e+06"},
    {"0.0001", "0.0001"},
    {"0.00001", "1e-05"},
    {"Inf", "+Inf"},
    {"inf", "+Inf"},
    {"+Inf", "+Inf"},
    {"-Inf", "-Inf"},
    {"NaN", "NaN"},
    {"nan", "NaN"},
    {"-nan", "NaN"},
    {"5m", "5m"},
    {"1h30m", "1h30m"},
    {"90m", "1h30m"},
    {"-5m", "-5m"},
    {"\"foo\"", "\"foo\""},
    {"'foo'", "\"foo\""},
    {"`foo`", "\"foo\""},
    {"`a\\nb`", "\"a\\\\nb\""},
    {"\"a\\nb\"", "\"a\\nb\""},
    {"\"\\x41\\101\\u0042\\U00000043\"",
     "\"AAB"
     "C\""},
    {"'it\\'s'", "\"it's\""},
    {"\"say \\\"hi\\\"\"", "\"say \\\"hi\\\"\""},
    {"\"\\a\\b\\f\\r\\t\\v\\\\\"", "\"\\a\\b\\f\\r\\t\\v\\\\\""},
    {"\"héllo\"", "\"héllo\""},
    // Selectors.
    {"foo", "foo"},
    {" +some_metric", "+some_metric"},
    {" +{\"some_metric\"}", "+{__name__=\"some_metric\"}"},
    {"offset{step=\"1s\"}[5m]", "offset{step=\"1s\"}[5m]"},
    {"step{offset=\"1s\"}[5m]", "step{offset=\"1s\"}[5m]"},
    {"foo * sum", "foo * sum"},
    {"2.5 / bar", "2.5 / bar"},
    {"foo + bar or bla and blub", "foo + bar or bla and blub"},
    {"foo and bar unless baz or qux", "foo and bar unless baz or qux"},
    {"bar + on(foo) bla / on(baz, buz) group_right(test) blub",
     "bar + on (foo) bla / on (baz, buz) group_right (test) blub"},
    {"foo and on() bar", "foo and on () bar"},
    {"foo and ignoring() bar", "foo and bar"},
    {"foo:bar", "foo:bar"},
    {":foo", ":foo"},
    {"foo_bar123", "foo_bar123"},
    {"foo{}", "foo"},
    {"foo{a=\"b\"}", "foo{a=\"b\"}"},
    {"foo{a='b'}", "foo{a=\"b\"}"},
    {"foo{a=`b`}", "foo{a=\"b\"}"},
    {"foo{a=\"b\",}", "foo{a=\"b\"}"},
    {"foo{c!=\"d\", a=\"b\"}", "foo{a=\"b\",c!=\"d\"}"},
    {"foo{a=~\"b.*\",c!~\"d\"}", "foo{a=~\"b.*\",c!~\"d\"}"},
    {"{a=\"b\"}", "{a=\"b\"}"},
    {"{__name__=\"foo\"}", "{__name__=\"foo\"}"},
    {"{__name__=~\"foo|bar\"}", "{__name__=~\"foo|bar\"}"},
    {"{\"my.metric\"}", "{__name__=\"my.metric\"}"},
    {"{\"my.metric\", \"a.b\"=\"x\"}",
     "{\"a.b\"=\"x\",__name__=\"my.metric\"}"},
    {"foo{\"a b\"=\"x\"}", "foo{\"a b\"=\"x\"}"},
    {"foo{a=\"\\n\"}", "foo{a=\"\\n\"}"},
    {"foo{a=\"b\", a=\"c\"}", "foo{a=\"b\",a=\"c\"}"},
    {"foo{a=\"\", b=\"x\"}", "foo{a=\"\",b=\"x\"}"},
    {"foo{ a = \"b\" }", "foo{a=\"b\"}"},
    {"foo # comment\n", "foo"},
    {"foo{a=\"b\" # c\n}", "foo{a=\"b\"}"},
    {"sum", "sum"},
    {"by", "by"},
    {"offset", "offset"},
    {"start", "start"},
    {"end", "end"},
    {"and", "and"},
    {"sum{a=\"b\"}", "sum{a=\"b\"}"},
    {"rate", "rate"},
    {"min_over_time", "min_over_time"},
    // Ranges, offsets, @.
    {"foo[5m]", "foo[5m]"},
    {"foo[ 5m ]", "foo[5m]"},
    {"foo[1h30m]", "foo[1h30m]"},
    {"foo[90s]", "foo[1m30s]"},
    {"foo[1500ms]", "foo[1s500ms]"},
    {"foo[1d]", "foo[1d]"},
    {"test[5]", "test[5s]"},
    {"test[1001ms]", "test[1s1ms]"},
    {"foo[3ms] @ 2.345", "foo[3ms] @ 2.345"},
    {"foo[4.018] @ 2.345", "foo[4s18ms] @ 2.345"},
    {"test{a=\"b\"}[5y] @ 1603774699", "test{a=\"b\"}[5y] @ 1603774699.000"},
    {"test[5w] offset 2w", "test[5w] offset 2w"},
    {"test{a=\"b\"}[5m] OFFSET 3600", "test{a=\"b\"}[5m] offset 1h"},
    {"some_metric[5m] @ 1m", "some_metric[5m] @ 60.000"},
    {"sum by (\"foo bar\")({\"some.metric\"})",
     "sum by (\"foo bar\") ({__name__=\"some.metric\"})"},
    {"sum by (\"foo\", bar, 'baz')({\"some.metric\"})",
     "sum by (foo, bar, baz) ({__name__=\"some.metric\"})"},
    {"foo[2w]", "foo[2w]"},
    {"foo[1y]", "foo[1y]"},
    {"foo[14d]", "foo[2w]"},
    {"foo[1800]", "foo[30m]"},
    {"foo[1.5]", "foo[1s500ms]"},
    {"foo{a=\"b\"}[5m]", "foo{a=\"b\"}[5m]"},
    {"foo offset 5m", "foo offset 5m"},
    {"foo OFFSET 5m", "foo offset 5m"},
    {"foo offset -5m", "foo offset -5m"},
    {"foo offset +5m", "foo offset 5m"},
    {"foo offset 300", "foo offset 5m"},
    {"foo[5m] offset 1h", "foo[5m] offset 1h"},
    {"foo @ 1000", "foo @ 1000.000"},
    {"foo @ 1000.5", "foo @ 1000.500"},
    {"foo @ -10", "foo @ -10.000"},
    {"foo @ 5m", "foo @ 300.000"},
    {"foo @ start()", "foo @ start()"},
    {"foo @ end()", "foo @ end()"},
    {"foo @ END()", "foo @ end()"},
    {"foo offset 5m @ 100", "foo @ 100.000 offset 5m"},
    {"foo @ 100 offset 5m", "foo @ 100.000 offset 5m"},
    {"foo[5m] @ 100 offset 1m", "foo[5m] @ 100.000 offset 1m"},
    {"foo[5m] offset 1m @ start()", "foo[5m] @ start() offset 1m"},
    // Duration expressions.
    {"foo[5m+1m]", "foo[5m + 1m]"},
    {"foo[26m+4m]", "foo[26m + 4m]"},
    {"foo[60*30]", "foo[60 * 30]"},
    {"foo[2m*(10+5)]", "foo[2m * (10 + 5)]"},
    {"foo[-5m+35m]", "foo[-5m + 35m]"},
    {"foo[1h/2]", "foo[1h / 2]"},
    {"foo[1h30m % 1h]", "foo[1h30m % 1h]"},
    {"foo[2^3]", "foo[2 ^ 3]"},
    {"foo offset (1h*2)", "foo offset (1h * 2)"},
    {"foo offset -(1h*2)", "foo offset -(1h * 2)"},
    {"foo offset (100 + 2)", "foo offset (100 + 2)"},
    {"foo offset 100 + 2", "foo offset 1m40s + 2"},
    {"foo offset -2 ^ 2", "foo offset -2s ^ 2"},
    {"foo[29s+1s:5s+5s]", "foo[29s + 1s:5s + 5s]"},
    // Subqueries.
    {"foo[5m:1m]", "foo[5m:1m]"},
    {"foo[5m:]", "foo[5m:]"},
    {"foo[5m:] offset 1m", "foo[5m:] offset 1m"},
    {"foo[5m:1m] @ 100", "foo[5m:1m] @ 100.000"},
    {"rate(foo[5m])[30m:1m]", "rate(foo[5m])[30m:1m]"},
    {"(foo + bar)[5m:]", "(foo + bar)[5m:]"},
    {"rate(foo[5m:1m])[10m:2m]", "rate(foo[5m:1m])[10m:2m]"},
    {"sum_over_time(metric1_total[30:10] offset 3)",
     "sum_over_time(metric1_total[30s:10s] offset 3s)"},
    {"min_over_time(rate(foo[5m])[1h:])", "min_over_time(rate(foo[5m])[1h:])"},
    // Unary and binary operators.
    {"-foo", "-foo"},
    {"+foo", "+foo"},
    {"- -foo", "--foo"},
    {"-(1)", "-(1)"},
    {"1 + 2", "1 + 2"},
    {"1 + 2 * 3", "1 + 2 * 3"},
    {"(1 + 2) * 3", "(1 + 2) * 3"},
    {"2 ^ 3 ^ 2", "2 ^ 3 ^ 2"},
    {"-2 ^ 2", "-2 ^ 2"},
    {"Inf ^ 2", "Inf ^ 2"},
    {"-Inf ^ 2", "-Inf ^ 2"},
    {"2 * Inf ^ 2", "2 * Inf ^ 2"},
    {"foo + bar", "foo + bar"},
    {"foo - bar", "foo - bar"},
    {"foo * bar", "foo * bar"},
    {"foo / bar", "foo / bar"},
    {"foo % bar", "foo % bar"},
    {"foo ^ bar", "foo ^ bar"},
    {"foo atan2 bar", "foo atan2 bar"},
    {"foo ATAN2 bar", "foo atan2 bar"},
    {"foo == bar", "foo == bar"},
    {"foo != bar", "foo != bar"},
    {"foo > bar", "foo > bar"},
    {"foo < bar", "foo < bar"},
    {"foo >= bar", "foo >= bar"},
    {"foo <= bar", "foo <= bar"},
    {"foo == 1", "foo == 1"},
    {"foo == bool 1", "foo == bool 1"},
    {"1 == bool 1", "1 == bool 1"},
    {"1 < bool 2", "1 < bool 2"},
    {"foo and bar", "foo and bar"},
    {"foo AND bar", "foo and bar"},
    {"foo or bar", "foo or bar"},
    {"foo unless bar", "foo unless bar"},
    {"foo and on(a) bar", "foo and on (a) bar"},
    {"foo or ignoring(a, b) bar", "foo or ignoring (a, b) bar"},
    {"foo * on(a) bar", "foo * on (a) bar"},
    {"foo * on() bar", "foo * on () bar"},
    {"foo * ignoring(a) bar", "foo * ignoring (a) bar"},
    {"foo * on(a) group_left bar", "foo * on (a) group_left () bar"},
    {"foo * on(a) group_left(b) bar", "foo * on (a) group_left (b) bar"},
    {"foo * on(a) group_right(b, c) bar",
     "foo * on (a) group_right (b, c) bar"},
    {"foo * ignoring(a) group_left(b) bar",
     "foo * ignoring (a) group_left (b) bar"},
    {"foo > bool on(a) bar", "foo > bool on (a) bar"},
    {"foo / on(a,) bar", "foo / on (a) bar"},
    {"foo * on(\"a.b\") bar", "foo * on (\"a.b\") bar"},
    {"foo * on(sum, by, bool, offset) bar",
     "foo * on (sum, by, bool, offset) bar"},
    {"a + b * c - d / e", "a + b * c - d / e"},
    {"a or b and c unless d", "a or b and c unless d"},
    {"a > b + 1", "a > b + 1"},
    {"1 + -foo", "1 + -foo"},
    {"2 * -1", "2 * -1"},
    {"foo offset 5m + bar", "foo offset 5m + bar"},
    {"foo / ignoring(a) group_left sum by (a) (bar)",
     "foo / ignoring (a) group_left () sum by (a) (bar)"},
    // Aggregations.
    {"sum(foo)", "sum(foo)"},
    {"sum(sum)", "sum(sum)"},
    {"a + sum", "a + sum"},
    {"rate(avg[5m])", "rate(avg[5m])"},
    {"sum without(and, by, avg, count, alert, annotations)(some_metric) "
     "[30m:10s]",
     "sum without (and, by, avg, count, alert, annotations) "
     "(some_metric)[30m:10s]"},
    {"some_metric OFFSET 1m [10m:5s]", "some_metric offset 1m[10m:5s]"},
    {"some_metric @ 123 offset 1m [10m:5s]",
     "some_metric @ 123.000 offset 1m[10m:5s]"},
    {"some_metric[10m:5s] offset 1m @ 123",
     "some_metric[10m:5s] @ 123.000 offset 1m"},
    {"(foo + bar{nm=\"val\"} @ 1234)[5m:] @ 1603775019",
     "(foo + bar{nm=\"val\"} @ 1234.000)[5m:] @ 1603775019.000"},
    {"foo{bar=\"baz\"}[10m5s:1h6ms]", "foo{bar=\"baz\"}[10m5s:1h6ms]"},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ -160377509)[4m:3s]",
     "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ -160377509.000)[4m:3s]"},
    {"foo unless on(start) bar", "foo unless on (start) bar"},
    {"start{end=\"foo\"}", "start{end=\"foo\"}"},
    {"SUM(foo)", "sum(foo)"},
    {"sum by (job) (foo)", "sum by (job) (foo)"},
    {"sum(foo) by (job)", "sum by (job) (foo)"},
    {"sum without (job) (foo)", "sum without (job) (foo)"},
    {"sum(foo) without (job)", "sum without (job) (foo)"},
    {"sum by () (foo)", "sum(foo)"},
    {"sum without () (foo)", "sum without () (foo)"},
    {"sum by (a, b,) (foo)", "sum by (a, b) (foo)"},
    {"sum by (\"a.b\") (foo)", "sum by (\"a.b\") (foo)"},
    {"sum by (foo:bar) (foo)", "sum by (\"foo:bar\") (foo)"},
    {"avg(foo)", "avg(foo)"},
    {"count(foo)", "count(foo)"},
    {"min(foo)", "min(foo)"},
    {"max(foo)", "max(foo)"},
    {"group(foo)", "group(foo)"},
    {"stddev(foo)", "stddev(foo)"},
    {"stdvar(foo)", "stdvar(foo)"},
    {"topk(5, foo)", "topk(5, foo)"},
    {"bottomk(5, foo)", "bottomk(5, foo)"},
    {"topk by (a) (5, foo)", "topk by (a) (5, foo)"},
    {"quantile(0.9, foo)", "quantile(0.9, foo)"},
    {"count_values(\"v\", foo)", "count_values(\"v\", foo)"},
    {"limitk(2, foo)", "limitk(2, foo)"},
    {"limit_ratio(0.5, foo)", "limit_ratio(0.5, foo)"},
    {"limit_ratio(-0.5, foo)", "limit_ratio(-0.5, foo)"},
    {"sum(rate(foo[5m])) by (job)", "sum by (job) (rate(foo[5m]))"},
    {"sum by (job) (rate(foo[5m]))", "sum by (job) (rate(foo[5m]))"},
    {"topk(scalar(foo), bar)", "topk(scalar(foo), bar)"},
    // Function calls.
    {"time()", "time()"},
    {"pi()", "pi()"},
    {"rate(foo[5m])", "rate(foo[5m])"},
    {"rate(foo{a=\"b\"}[5m] offset 1m)", "rate(foo{a=\"b\"}[5m] offset 1m)"},
    {"irate(foo[5m])", "irate(foo[5m])"},
    {"increase(foo[1h])", "increase(foo[1h])"},
    {"abs(foo)", "abs(foo)"},
    {"absent(foo)", "absent(foo)"},
    {"absent_over_time(foo[5m])", "absent_over_time(foo[5m])"},
    {"round(foo)", "round(foo)"},
    {"round(foo, 5)", "round(foo, 5)"},
    {"clamp(foo, 0, 1)", "clamp(foo, 0, 1)"},
    {"day_of_week()", "day_of_week()"},
    {"day_of_week(foo)", "day_of_week(foo)"},
    {"histogram_quantile(0.9, sum by (le) (rate(foo_bucket[5m])))",
     "histogram_quantile(0.9, sum by (le) (rate(foo_bucket[5m])))"},
    {"histogram_fraction(0, 0.2, foo)", "histogram_fraction(0, 0.2, foo)"},
    {"label_replace(foo, \"dst\", \"$1\", \"src\", \"(.*)\")",
     "label_replace(foo, \"dst\", \"$1\", \"src\", \"(.*)\")"},
    {"label_join(foo, \"dst\", \",\", \"a\", \"b\", \"c\")",
     "label_join(foo, \"dst\", \",\", \"a\", \"b\", \"c\")"},
    {"label_join(foo, \"dst\", \",\")", "label_join(foo, \"dst\", \",\")"},
    {"sort_by_label(foo, \"a\", \"b\")", "sort_by_label(foo, \"a\", \"b\")"},
    {"sort_by_label_desc(foo)", "sort_by_label_desc(foo)"},
    {"predict_linear(foo[1h], 3600)", "predict_linear(foo[1h], 3600)"},
    {"quantile_over_time(0.5, foo[5m])", "quantile_over_time(0.5, foo[5m])"},
    {"double_exponential_smoothing(foo[5m], 0.5, 0.5)",
     "double_exponential_smoothing(foo[5m], 0.5, 0.5)"},
    {"mad_over_time(foo[5m])", "mad_over_time(foo[5m])"},
    {"ts_of_max_over_time(foo[5m])", "ts_of_max_over_time(foo[5m])"},
    {"info(foo)", "info(foo)"},
    {"info(foo, {k=~\".+\"})", "info(foo, {k=~\".+\"})"},
    {"info(foo, {})", "info(foo, {})"},
    {"vector(1)", "vector(1)"},
    {"scalar(foo)", "scalar(foo)"},
    {"absent(nonexistent{job=\"myjob\"})",
     "absent(nonexistent{job=\"myjob\"})"},
    {"timestamp(foo)", "timestamp(foo)"},
    {"count(up == 0) / count(up)", "count(up == 0) / count(up)"},
    {"(foo)", "(foo)"},
    {"((foo))", "((foo))"},
    {"sum(\n  rate(foo[5m])\n)", "sum(rate(foo[5m]))"},
};

TEST(ParserTest, PrintsCanonicalForm) {
  for (const auto& c : kPrintCases) {
    SCOPED_TRACE(c.input);
    auto e = ParseExpr(c.input);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(Format(**e), c.printed);
    // The printed form parses to the same printed form.
    auto again = ParseExpr(Format(**e));
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(Format(**again), c.printed);
  }
}

struct ErrorCase {
  const char* input;
  const char* error;  // full message
};

const ErrorCase kErrorCases[] = {
    {"", "1:1: parse error: no expression found in input"},
    {"   ", "1:1: parse error: no expression found in input"},
    {"# only a comment", "1:1: parse error: no expression found in input"},
    {"1 +", "1:4: parse error: unexpected end of input"},
    {"foo{", "1:5: parse error: unexpected end of input inside braces"},
    {"foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces"},
    {"foo}", "1:4: parse error: unexpected character: '}'"},
    {"(1", "1:3: parse error: unclosed left parenthesis"},
    {"(1))", "1:5: parse error: unexpected right parenthesis ')'"},
    {"foo]", "1:4: parse error: unexpected right bracket ']'"},
    {"foo[5m", "1:7: parse error: unclosed left bracket"},
    {"foo[5m", "unclosed left bracket"},
    {"1 2", "1:3: parse error: unexpected number \"2\""},
    {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
    {"foo{a=\"b\"} c", "1:12: parse error: unexpected identifier \"c\""},
    {"foo{a}",
     "1:6: parse error: unexpected \"}\" in label matching, expected "
     "label matching operator"},
    {"foo{a=b}",
     "1:7: parse error: unexpected identifier \"b\" in label "
     "matching, expected string"},
    {"foo{a=\"b\" c=\"d\"}",
     "1:11: parse error: unexpected identifier \"c\" in "
     "label matching, expected \",\" or \"}\""},
    {"foo{,}",
     "1:5: parse error: unexpected \",\" in label matching, expected "
     "identifier or \"}\""},
    {"foo{a=~}",
     "1:8: parse error: unexpected \"}\" in label matching, "
     "expected string"},
    {"foo{a:b=\"c\"}",
     "1:6: parse error: unexpected character inside braces: ':'"},
    {"foo{a!b=\"c\"}",
     "1:6: parse error: unexpected character after '!' inside braces: 'b'"},
    {"foo{{", "1:5: parse error: unexpected left brace '{'"},
    {"foo =~ bar", "1:5: parse error: unexpected character after '=': '~'"},
    {"foo !~ bar", "1:5: parse error: unexpected character after '!': '~'"},
    {"foo = bar", "1:5: parse error: unexpected \"=\""},
    {"$", "1:1: parse error: unexpected character: '$'"},
    {"foo{a=\"b\"}{c=\"d\"}", "1:11: parse error: unexpected \"{\""},
    {"{}",
     "1:1: parse error: vector selector must contain at least one "
     "non-empty matcher"},
    {"{a=\"\"}",
     "1:1: parse error: vector selector must contain at least one "
     "non-empty matcher"},
    {"{a=~\".*\"}",
     "1:1: parse error: vector selector must contain at least "
     "one non-empty matcher"},
    {"{a!~\".+\"}",
     "vector selector must contain at least one non-empty matcher"},
    {"foo{__name__=\"bar\"}",
     "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
    {"foo{\"bar\"}",
     "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
    {"foo{a=~\"(\"}", "1:5: parse error: "},
    {"\"foo", "1:1: parse error: unterminated quoted string"},
    {"'foo", "1:1: parse error: unterminated quoted string"},
    {"`foo", "1:1: parse error: unterminated raw string"},
    {"\"a\nb\"", "1:1: parse error: unterminated quoted string"},
    {"\"\\q\"", "1:1: parse error: unknown escape sequence U+0071 'q'"},
    {"\"\\'\"", "1:1: parse error: unknown escape sequence U+0027 '''"},
    {"\"\\x4\"",
     "1:1: parse error: illegal character U+0022 '\"' in escape sequence"},
    {"\"\\400\"",
     "1:1: parse error: escape sequence is an invalid Unicode code point"},
    {"\"\\uD800\"", "escape sequence is an invalid Unicode code point"},
    {"\"\\", "1:1: parse error: escape sequence not terminated"},
    {"\"\xff\"", "1:1: parse error: invalid UTF-8 rune"},
    {"1a", "1:1: parse error: bad number or duration syntax: \"1\""},
    {"foo[5M]", "1:5: parse error: bad number or duration syntax: \"5\""},
    {"1.2.3", "1:1: parse error: bad number or duration syntax: \"1.2.\""},
    {"5mm", "1:1: parse error: bad number or duration syntax: \"5mm\""},
    {"1.5m", "1:1: parse error: unknown unit \".\" in duration \"1.5m\""},
    {"5m1h", "1:1: parse error: not a valid duration string: \"5m1h\""},
    {"5hs", "1:1: parse error: unknown unit \"hs\" in duration \"5hs\""},
    {"foo[5]]", "1:7: parse error: unexpected right bracket ']'"},
    {"foo[]",
     "1:5: parse error: unexpected \"]\" in subquery selector, "
     "expected number or duration"},
    {"foo[5m:1m:]", "1:10: parse error: unexpected colon ':'"},
    {"foo[",
     "1:5: parse error: unexpected end of input in duration expression"},
    {"foo[5m:", "1:8: parse error: unclosed left bracket"},
    {"foo[5m[", "1:7: parse error: unexpected left bracket '['"},
    {"foo[x]",
     "1:5: parse error: unexpected character in duration expression: 'x'"},
    {"0x1e", "1:1: parse error: bad number or duration syntax: \"0x1e\""},
    {"foo[:5m]",
     "1:5: parse error: unexpected colon before duration in "
     "duration expression"},
    {"foo[5m x]", "1:8: parse error: unexpected character: 'x', expected ':'"},
    {"foo[0s]", "1:5: parse error: duration must be greater than 0"},
    {"foo[0m]", "1:5: parse error: duration must be greater than 0"},
    {"foo[-1]", "1:5: parse error: duration must be greater than 0"},
    {"foo[5mm]", "1:5: parse error: bad number or duration syntax: \"5mm\""},
    {"foo[5m1]", "1:5: parse error: bad number or duration syntax: \"5m1\""},
    {"foo[5m:1m1]", "1:8: parse error: bad number or duration syntax: \"1m1\""},
    {"foo[5y1hs]",
     "1:5: parse error: unknown unit \"hs\" in duration \"5y1hs\""},
    {"foo[5m1h]", "1:5: parse error: not a valid duration string: \"5m1h\""},
    {"foo[5m1m]", "1:5: parse error: not a valid duration string: \"5m1m\""},
    {"foo[\"5m\"]",
     "1:5: parse error: unexpected character in duration "
     "expression: '\"'"},
    {"some_metric[5m] OFFSET 1mm",
     "1:24: parse error: bad number or duration syntax: \"1mm\""},
    {"some_metric OFFSET 1m[5m]",
     "1:22: parse error: no offset modifiers allowed before range"},
    {"some_metric @ 1234 [5m]",
     "1:20: parse error: no @ modifiers allowed before range"},
    {"sum by (\"foo)(some_metric{})",
     "1:9: parse error: unterminated quoted string"},
    {"foo[-5m]", "1:5: parse error: duration must be greater than 0"},
    {"foo[5m-5m]", "1:5: parse error: duration must be greater than 0"},
    {"foo[5m:0s]", "1:8: parse error: duration must be greater than 0"},
    {"foo[1h/0]", "1:7: parse error: division by zero"},
    {"foo[1h%0]", "1:7: parse error: modulo by zero"},
    {"foo[5m 1m]",
     "1:8: parse error: unexpected duration \"1m\" in subquery or "
     "range, expected \":\" or \"]\""},
    {"foo[5m:1m 1m]",
     "1:11: parse error: unexpected duration \"1m\" in "
     "subquery selector, expected \"]\""},
    {"foo[5m:,]",
     "1:8: parse error: unexpected \",\" in subquery selector, "
     "expected number or duration or \"]\""},
    {"(foo + bar)[5m]",
     "1:12: parse error: ranges only allowed for vector selectors"},
    {"rate(foo[5m])[5m]",
     "1:14: parse error: ranges only allowed for vector selectors"},
    {"foo offset 5m[5m]",
     "1:14: parse error: no offset modifiers allowed before range"},
    {"foo @ 10 [5m]", "1:10: parse error: no @ modifiers allowed before range"},
    {"foo offset 5m offset 5m",
     "1:1: parse error: offset may not be set multiple times"},
    {"foo[5m] offset 5m offset 5m",
     "1:1: parse error: offset may not be set multiple times"},
    {"foo @ 1 @ 2",
     "1:1: parse error: @ <timestamp> may not be set multiple times"},
    {"foo @ start() @ end()",
     "1:1: parse error: @ <timestamp> may not be set multiple times"},
    {"sum(foo) offset 5m",
     "1:1: parse error: offset modifier must be preceded by an instant vector "
     "selector or range vector selector or a subquery"},
    {"(foo) offset 5m",
     "1:1: parse error: offset modifier must be preceded by an instant vector "
     "selector or range vector selector or a subquery"},
    {"1 @ 5",
     "1:1: parse error: @ modifier must be preceded by an instant "
     "vector selector or range vector selector or a subquery"},
    {"foo offset",
     "1:11: parse error: unexpected end of input in offset, "
     "expected number or duration"},
    {"foo offset bar",
     "1:12: parse error: unexpected identifier \"bar\" in "
     "offset, expected number or duration"},
    {"foo @",
     "1:6: parse error: unexpected end of input in @, expected timestamp"},
    {"foo @ bar",
     "1:7: parse error: unexpected identifier \"bar\" in @, "
     "expected timestamp"},
    {"foo @ start",
     "1:12: parse error: unexpected end of input in @, expected "
     "timestamp"},
    {"foo @ Inf",
     "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
    {"foo @ NaN",
     "1:1: parse error: timestamp out of bounds for @ modifier: NaN"},
    {"foo @ 1e20",
     "1:1: parse error: timestamp out of bounds for @ modifier: "
     "100000000000000000000.000000"},
    {"foo offset 1000000y", "1:12: parse error: duration out of range"},
    {"foo offset NaN", "1:12: parse error: duration out of range"},
    {"foo offset -Inf", "1:12: parse error: duration out of range"},
    {"foo[NaN]",
     "1:5: parse error: unexpected character in duration expression: 'N'"},
    {"foo[5m:Inf]",
     "1:8: parse error: unexpected character: 'I', expected ':'"},
    {"foo offset (NaN)", "1:12: parse error: duration out of range"},
    {"1 + on(a) 2",
     "1:1: parse error: vector matching only allowed between instant vectors"},
    {"foo + on(a) 1",
     "1:1: parse error: vector matching only allowed between instant vectors"},
    {"1 and 1",
     "1:1: parse error: set operator \"and\" not allowed in binary scalar "
     "expression"},
    {"foo or 1",
     "1:1: parse error: set operator \"or\" not allowed in binary scalar "
     "expression"},
    {"1 unless foo",
     "set operator \"unless\" not allowed in binary scalar expression"},
    {"1 == 1",
     "1:3: parse error: comparisons between scalars must use BOOL modifier"},
    {"1 > 2",
     "1:3: parse error: comparisons between scalars must use BOOL modifier"},
    {"foo + bool bar",
     "1:5: parse error: bool modifier can only be used on comparison "
     "operators"},
    {"foo and bool bar",
     "1:5: parse error: bool modifier can only be used on comparison "
     "operators"},
    {"foo and on(a) group_left(b) bar",
     "1:1: parse error: no grouping allowed for \"and\" operation"},
    {"foo * on(a) group_left(a) bar",
     "1:5: parse error: label \"a\" must not occur in ON and GROUP clause at "
     "once"},
    {"foo[5m] + bar",
     "1:1: parse error: binary expression must contain only "
     "scalar and instant vector types"},
    {"foo + bar[5m]",
     "1:7: parse error: binary expression must contain only "
     "scalar and instant vector types"},
    {"\"a\" + 1",
     "1:1: parse error: binary expression must contain only scalar "
     "and instant vector types"},
    {"-foo[5m]",
     "1:1: parse error: unary expression only allowed on "
     "expressions of type scalar or instant vector, got \"range vector\""},
    {"-\"a\"",
     "1:1: parse error: unary expression only allowed on expressions "
     "of type scalar or instant vector, got \"string\""},
    {"foo * on bar",
     "1:10: parse error: unexpected identifier \"bar\" in "
     "grouping opts, expected \"(\""},
    {"foo * on(a b) bar",
     "1:12: parse error: unexpected identifier \"b\" in "
     "grouping opts, expected \",\" or \")\""},
    {"foo * on(1) bar",
     "1:10: parse error: unexpected number \"1\" in grouping "
     "opts, expected label"},
    {"sum by (\"\") (foo)",
     "1:9: parse error: invalid label name for grouping: \"\""},
    {"sum()",
     "1:1: parse error: no arguments for aggregate expression provided"},
    {"sum(foo, bar)",
     "1:1: parse error: wrong number of arguments for "
     "aggregate expression provided, expected 1, got 2"},
    {"topk(foo)",
     "1:1: parse error: wrong number of arguments for aggregate "
     "expression provided, expected 2, got 1"},
    {"topk(\"a\", foo)",
     "1:6: parse error: expected type scalar in aggregation "
     "parameter, got string"},
    {"quantile(foo, foo)",
     "1:10: parse error: expected type scalar in "
     "aggregation parameter, got instant vector"},
    {"count_values(1, foo)",
     "1:14: parse error: expected type string in "
     "aggregation parameter, got scalar"},
    {"sum(1)",
     "1:5: parse error: expected type instant vector in aggregation "
     "expression, got scalar"},
    {"sum(foo[5m])",
     "1:5: parse error: expected type instant vector in "
     "aggregation expression, got range vector"},
    {"sum by (a) foo",
     "1:12: parse error: unexpected identifier \"foo\" in "
     "aggregation"},
    {"sum(foo,)",
     "1:8: parse error: trailing commas not allowed in function call args"},
    {"rate(foo[5m],)",
     "1:13: parse error: trailing commas not allowed in function call args"},
    {"rate(foo)",
     "1:6: parse error: expected type range vector in call to "
     "function \"rate\", got instant vector"},
    {"rate(1)",
     "1:6: parse error: expected type range vector in call to "
     "function \"rate\", got scalar"},
    {"abs(foo[5m])",
     "1:5: parse error: expected type instant vector in call to "
     "function \"abs\", got range vector"},
    {"abs()",
     "1:1: parse error: expected 1 argument(s) in call to \"abs\", got 0"},
    {"abs(foo, bar)",
     "1:1: parse error: expected 1 argument(s) in call to \"abs\", got 2"},
    {"time(1)",
     "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
    {"round(foo, 1, 2)",
     "1:1: parse error: expected at most 2 argument(s) in call to \"round\", "
     "got 3"},
    {"round()",
     "1:1: parse error: expected at least 1 argument(s) in call to \"round\", "
     "got 0"},
    {"label_join(foo, \"a\")",
     "1:1: parse error: expected at least 3 argument(s) in call to "
     "\"label_join\", got 2"},
    {"label_join(foo, \"a\", \",\", 1)",
     "1:27: parse error: expected type string in call to function "
     "\"label_join\", got scalar"},
    {"label_replace(foo, \"a\", \"b\", \"c\")",
     "1:1: parse error: expected 5 argument(s) in call to \"label_replace\", "
     "got 4"},
    {"histogram_quantile(foo, bar)",
     "1:20: parse error: expected type scalar in call to function "
     "\"histogram_quantile\", got instant vector"},
    {"foo(bar)", "1:1: parse error: unknown function with name \"foo\""},
    {"Rate(foo[5m])", "1:1: parse error: unknown function with name \"Rate\""},
    {"rate(foo[5m] bar)", "1:14: parse error: unexpected identifier \"bar\""},
    {"info(foo, bar)",
     "1:11: parse error: expected label selectors only, got "
     "vector selector instead"},
    {"info(foo, 1)",
     "1:1: parse error: expected type instant vector in call to "
     "function \"info\", got scalar"},
    {"rate(foo[5m:1m] offset 1m)[5m]",
     "1:27: parse error: ranges only allowed for vector selectors"},
    {"sum(foo)[5m:1m] + (foo)[5m]",
     "1:24: parse error: ranges only allowed for vector selectors"},
    {"(1)[5m:1m]",
     "1:1: parse error: subquery is only allowed on instant vector, got scalar "
     "instead"},
    {"foo[5m][5m:1m]",
     "1:1: parse error: subquery is only allowed on instant vector, got matrix "
     "instead"},
    {"foo[5m:1m][5m]",
     "1:11: parse error: ranges only allowed for vector selectors"},
    {"foo\n+\n{}",
     "3:1: parse error: vector selector must contain at least one non-empty "
     "matcher"},
    {"foo +\n  bar{",
     "2:7: parse error: unexpected end of input inside braces"},
    {"on", "1:1: parse error: unexpected <on>"},
    {".", "1:1: parse error: unexpected character: '.'"},
    {"2.5.", "1:1: parse error: bad number or duration syntax: \"2.5.\""},
    {"100..4", "1:1: parse error: bad number or duration syntax: \"100..\""},
    {"0deadbeef", "1:1: parse error: bad number or duration syntax: \"0de\""},
    {"1 /", "1:4: parse error: unexpected end of input"},
    {"*1", "1:1: parse error: unexpected <op:*>"},
    {"((1)", "1:5: parse error: unclosed left parenthesis"},
    {"(", "1:2: parse error: unclosed left parenthesis"},
    {"1e999",
     "1:1: parse error: error parsing number: strconv.ParseFloat: "
     "parsing \"1e999\": value out of range"},
    {"1 or 1",
     "1:1: parse error: set operator \"or\" not allowed in binary "
     "scalar expression"},
    {"1 !~ 1", "1:3: parse error: unexpected character after '!': '~'"},
    {"@@", "1:1: parse error: unexpected <op:@>"},
    {"1 offset 1d",
     "1:1: parse error: offset modifier must be preceded by an "
     "instant vector selector or range vector selector or a "
     "subquery"},
    {"foo offset 1s offset 2s",
     "1:1: parse error: offset may not be set multiple times"},
    {"a - on(b) ignoring(c) d", "1:11: parse error: unexpected <ignoring>"},
    {"rate(food[1m])[1h] offset 1h",
     "1:15: parse error: ranges only allowed for vector selectors"},
    {"rate(food[1m])[1h] @ 100",
     "1:15: parse error: ranges only allowed for vector selectors"},
    {"test[5d] OFFSET 10s [10m:5s]",
     "1:1: parse error: subquery is only allowed on instant vector, got matrix "
     "instead"},
    {"(foo + bar{nm=\"val\"})[5m:][10m:5s]",
     "1:1: parse error: subquery is only allowed on instant vector, got matrix "
     "instead"},
    {"start()", "1:6: parse error: unexpected \"(\""},
    {"end()", "1:4: parse error: unexpected \"(\""},
    {"MIN keep_common (some_metric)",
     "1:5: parse error: unexpected identifier \"keep_common\""},
    {"MIN (some_metric) keep_common",
     "1:19: parse error: unexpected identifier \"keep_common\""},
    {"sum (some_metric) without (test) by (test)",
     "1:34: parse error: unexpected <by>"},
    {"sum without (test) (some_metric) by (test)",
     "1:34: parse error: unexpected <by>"},
    {"topk(some_metric,)",
     "1:17: parse error: trailing commas not allowed in function call args"},
    {"topk(some_metric, other_metric)",
     "1:6: parse error: expected type scalar "
     "in aggregation parameter, got instant vector"},
    {"rate(some_metric[5m]) @ 1234",
     "1:1: parse error: @ modifier must be preceded by an instant vector "
     "selector "
     "or range vector selector or a subquery"},
    {"floor(1)",
     "1:7: parse error: expected type instant vector in call to "
     "function \"floor\", got scalar"},
    {"hour(some_metric, some_metric, some_metric)",
     "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", "
     "got 3"},
    {"non_existent_function_far_bar()",
     "1:1: parse error: unknown function with name "
     "\"non_existent_function_far_bar\""},
    {"label_replace(a, `b`, `c\xff`, `d`, `.*`)",
     "1:23: parse error: invalid UTF-8 rune"},
    {"-=", "1:2: parse error: unexpected \"=\""},
    {"++-++-+-+-<", "1:11: parse error: unexpected <op:<>"},
    {"e-+=/(0)", "1:4: parse error: unexpected \"=\""},
    {"a>b()", "1:3: parse error: unknown function with name \"b\""},
    {"`\\``", "1:4: parse error: unterminated raw string"},
    {"\"\\x.\"",
     "1:1: parse error: illegal character U+002E '.' in escape sequence"},
    {"foo{bar=\"baz\"}[",
     "1:16: parse error: unexpected end of input in duration expression"},
    {"bool", "1:1: parse error: unexpected <bool>"},
    {"group_left", "1:1: parse error: unexpected <group_left>"},
    {"foo * bool", "1:11: parse error: unexpected end of input"},
    {")", "1:2: parse error: unexpected right parenthesis ')'"},
    {"*foo", "1:1: parse error: unexpected <op:*>"},
    {"foo + * bar", "1:7: parse error: unexpected <op:*>"},
    {"sum sum", "1:5: parse error: unexpected <aggr:sum>"},
    {"\"aaaaaaaaaaaaaaa\" \"b\"",
     "1:19: parse error: unexpected string \"\\\"b\\\"\""},
    {"1 \"aaaaaaaaaaaaaaa\"",
     "1:3: parse error: unexpected string \"\\\"aaaaaaaaa\"..."},
};

TEST(ParserTest, ReportsErrorsLikePrometheus) {
  for (const auto& c : kErrorCases) {
    SCOPED_TRACE(c.input);
    auto e = ParseExpr(c.input);
    ASSERT_FALSE(e.ok()) << Format(**e);
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(e.status().message()), HasSubstr(c.error));
  }
}

const Expr& Root(const absl::StatusOr<std::unique_ptr<Expr>>& e) { return **e; }

TEST(ParserTest, PrecedenceAndAssociativity) {
  // -2^2 is -(2^2); 2^3^2 is 2^(3^2); a-b-c is (a-b)-c.
  auto e = ParseExpr("-2 ^ 2");
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(Root(e).kind, ExprKind::kUnary);
  EXPECT_EQ(static_cast<const UnaryExpr&>(Root(e)).expr->kind,
            ExprKind::kBinary);

  e = ParseExpr("2 ^ 3 ^ 2");
  ASSERT_TRUE(e.ok());
  const auto& pow = static_cast<const BinaryExpr&>(Root(e));
  EXPECT_EQ(pow.lhs->kind, ExprKind::kNumberLiteral);
  EXPECT_EQ(pow.rhs->kind, ExprKind::kBinary);

  e = ParseExpr("a - b - c");
  ASSERT_TRUE(e.ok());
  const auto& sub = static_cast<const BinaryExpr&>(Root(e));
  EXPECT_EQ(sub.lhs->kind, ExprKind::kBinary);
  EXPECT_EQ(sub.rhs->kind, ExprKind::kVectorSelector);

  e = ParseExpr("a or b and c");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(static_cast<const BinaryExpr&>(Root(e)).op, BinaryOp::kOr);

  e = ParseExpr("a + b > c * d");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(static_cast<const BinaryExpr&>(Root(e)).op, BinaryOp::kGtr);

  e = ParseExpr("-a * b");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(static_cast<const BinaryExpr&>(Root(e)).op, BinaryOp::kMul);

  // offset binds a bare literal only: (foo offset 100s) + 2.
  e = ParseExpr("foo offset 100 + 2");
  ASSERT_TRUE(e.ok());
  const auto& plus = static_cast<const BinaryExpr&>(Root(e));
  EXPECT_EQ(plus.op, BinaryOp::kAdd);
  EXPECT_EQ(static_cast<const VectorSelector&>(*plus.lhs).offset_ms, 100000);
}

TEST(ParserTest, SelectorFields) {
  auto e = ParseExpr("foo{a=\"b\", c=~\"d.*\"} offset -5m @ 1.5");
  ASSERT_TRUE(e.ok());
  const auto& vs = static_cast<const VectorSelector&>(Root(e));
  EXPECT_EQ(vs.name, "foo");
  ASSERT_EQ(vs.matchers.size(), 3u);
  EXPECT_EQ(vs.matchers[0].name(), "a");
  EXPECT_EQ(vs.matchers[1].type(), storage::MatchType::kRegexMatch);
  EXPECT_EQ(vs.matchers[2].name(), "__name__");
  EXPECT_EQ(vs.matchers[2].value(), "foo");
  EXPECT_EQ(vs.offset_ms, -300000);
  EXPECT_EQ(vs.at.modifier, AtModifier::kTimestamp);
  EXPECT_EQ(vs.at.timestamp_ms, 1500);
  EXPECT_EQ(vs.type(), ValueType::kVector);
}

TEST(ParserTest, MatrixAndSubqueryFields) {
  auto e = ParseExpr("rate(foo[5m] offset 1m @ end())");
  ASSERT_TRUE(e.ok());
  const auto& call = static_cast<const Call&>(Root(e));
  EXPECT_EQ(call.func->name, "rate");
  const auto& ms = static_cast<const MatrixSelector&>(*call.args[0]);
  EXPECT_EQ(ms.range_ms, 300000);
  EXPECT_EQ(ms.selector().offset_ms, 60000);
  EXPECT_EQ(ms.selector().at.modifier, AtModifier::kEnd);
  EXPECT_EQ(ms.type(), ValueType::kMatrix);

  e = ParseExpr("max_over_time(foo[1h:] @ start() offset (1m*2))");
  ASSERT_TRUE(e.ok());
  const auto& sq = static_cast<const SubqueryExpr&>(
      *static_cast<const Call&>(Root(e)).args[0]);
  EXPECT_EQ(sq.range_ms, 3600000);
  EXPECT_EQ(sq.step_ms, 0);
  EXPECT_EQ(sq.offset_ms, 120000);
  ASSERT_NE(sq.offset_expr, nullptr);
  EXPECT_EQ(sq.at.modifier, AtModifier::kStart);
}

TEST(ParserTest, DurationExpressionsFold) {
  struct {
    const char* input;
    int64_t range_ms;
  } cases[] = {
      {"foo[30m]", 1800000},
      {"foo[26m+4m]", 1800000},
      {"foo[30m+0s]", 1800000},
      {"foo[1800]", 1800000},
      {"foo[60*30]", 1800000},
      {"foo[2m*15]", 1800000},
      {"foo[2m*(10+5)]", 1800000},
      {"foo[29m+60s]", 1800000},
      {"foo[24m+((1.5*2m)+2m)]", 1740000},
      {"foo[-5m+35m]", 1800000},
      {"foo[1h/2]", 1800000},
      {"foo[1h30m % 1h]", 1800000},
      {"foo[30m1s-30m1s % 1m]", 1800000},
      {"foo[(9m30s+30s)*3]", 1800000},
      {"foo[2^10]", 1024000},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto e = ParseExpr(c.input);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(static_cast<const MatrixSelector&>(Root(e)).range_ms, c.range_ms);
  }
  auto e =
      ParseExpr("sum_over_time(m[29s+1s:((((8 - 2) / 3) * 7s) % 4) + 8000ms])");
  ASSERT_TRUE(e.ok()) << e.status();
  const auto& sq = static_cast<const SubqueryExpr&>(
      *static_cast<const Call&>(Root(e)).args[0]);
  EXPECT_EQ(sq.range_ms, 30000);
  EXPECT_EQ(sq.step_ms, 10000);

  e = ParseExpr("m offset -(20*(((((8 - 2) / 3) * 7s) % 4) + 8000ms))");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(static_cast<const VectorSelector&>(Root(e)).offset_ms, -200000);

  e = ParseExpr("m offset (-2 ^ 2)");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(static_cast<const VectorSelector&>(Root(e)).offset_ms, -4000);

  e = ParseExpr("m offset -2 ^ 2");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(Root(e).kind, ExprKind::kBinary);
}

TEST(ParserTest, VectorMatching) {
  auto e = ParseExpr("a * on(x) group_left(y) b");
  ASSERT_TRUE(e.ok());
  const auto& b = static_cast<const BinaryExpr&>(Root(e));
  ASSERT_TRUE(b.matching.has_value());
  EXPECT_EQ(b.matching->card, VectorMatchCardinality::kManyToOne);
  EXPECT_TRUE(b.matching->on);
  EXPECT_EQ(b.matching->matching_labels, std::vector<std::string>{"x"});
  EXPECT_EQ(b.matching->include, std::vector<std::string>{"y"});

  e = ParseExpr("a and b");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(static_cast<const BinaryExpr&>(Root(e)).matching->card,
            VectorMatchCardinality::kManyToMany);

  e = ParseExpr("a + 1");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(static_cast<const BinaryExpr&>(Root(e)).matching.has_value());
  EXPECT_EQ(Root(e).type(), ValueType::kVector);

  e = ParseExpr("1 + 1");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Root(e).type(), ValueType::kScalar);

  e = ParseExpr("a / ignoring(x) group_right b");
  ASSERT_TRUE(e.ok());
  const auto& r = static_cast<const BinaryExpr&>(Root(e));
  EXPECT_EQ(r.matching->card, VectorMatchCardinality::kOneToMany);
  EXPECT_FALSE(r.matching->on);
}

TEST(ParserTest, Aggregations) {
  auto e = ParseExpr("topk(3, foo) without (a, b)");
  ASSERT_TRUE(e.ok());
  const auto& a = static_cast<const AggregateExpr&>(Root(e));
  EXPECT_EQ(a.op, AggregateOp::kTopk);
  EXPECT_TRUE(a.without);
  EXPECT_EQ(a.grouping, (std::vector<std::string>{"a", "b"}));
  ASSERT_NE(a.param, nullptr);
  EXPECT_EQ(static_cast<const NumberLiteral&>(*a.param).value, 3);
}

TEST(ParserTest, ExperimentalGates) {
  ParseOptions opts;
  opts.enable_experimental_functions = false;
  auto e = ParseExpr("sort_by_label(foo, \"a\")", opts);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(
      std::string(e.status().message()),
      HasSubstr("1:1: parse error: function \"sort_by_label\" is not enabled"));
  e = ParseExpr("limitk(1, foo)", opts);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()),
              HasSubstr("limitk() is experimental and must be enabled with "
                        "--enable-feature=promql-experimental-functions"));
  EXPECT_TRUE(ParseExpr("rate(foo[5m])", opts).ok());

  opts = ParseOptions();
  opts.enable_experimental_duration_expr = false;
  e = ParseExpr("foo[5m+1m]", opts);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()),
              HasSubstr("experimental duration expression is not enabled"));
  EXPECT_TRUE(ParseExpr("foo[5m]", opts).ok());
}

TEST(ParserTest, DeepButAllowedNestingParses) {
  // Just under the default limit of 1000, for each recursive construct.
  auto nest = [](const std::string& open, const std::string& inner,
                 const std::string& close, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      s += open;
    }
    s += inner;
    for (int i = 0; i < n; ++i) {
      s += close;
    }
    return s;
  };
  for (const std::string& q :
       {nest("(", "1", ")", 990), nest("abs(", "foo", ")", 990),
        nest("sum(", "foo", ")", 990), nest("-", "foo", "", 990),
        nest("foo + (", "1", ")", 490),
        nest("(", "foo[5m:1m]", ")[5m:]", 400) + "[5m:]"}) {
    auto e = ParseExpr(q);
    if (q.find("[5m:]") != std::string::npos) {
      // Those are type errors, but must fail cleanly rather than crash.
      EXPECT_FALSE(e.ok());
      continue;
    }
    ASSERT_TRUE(e.ok()) << q.substr(0, 40) << ": " << e.status();
    EXPECT_EQ(Format(**e), q);
  }
}

TEST(ParserTest, ManyErrorsStayCheap) {
  // Prometheus' regression input: thousands of bad selectors and subqueries.
  std::string q = "(";
  for (int i = 0; i < 10000; ++i) {
    q += "-{}-1";
  }
  q += ")";
  for (int i = 0; i < 1000; ++i) {
    q += "[1m:]";
  }
  auto e = ParseExpr(q);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParserTest, DepthAndLengthLimits) {
  std::string deep(5000, '(');
  deep += "1";
  deep += std::string(5000, ')');
  auto e = ParseExpr(deep);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()),
              HasSubstr("nests deeper than"));

  std::string unary(100000, '-');
  unary += "foo";
  EXPECT_FALSE(ParseExpr(unary).ok());

  std::string chain = "1";
  for (int i = 0; i < 20000; ++i) {
    chain += " + 1";
  }
  e = ParseExpr(chain);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()),
              HasSubstr("nests deeper than"));

  std::string ok_chain = "1";
  for (int i = 0; i < 500; ++i) {
    ok_chain += " + 1";
  }
  EXPECT_TRUE(ParseExpr(ok_chain).ok());

  ParseOptions small;
  small.max_length = 10;
  e = ParseExpr("foo + bar + baz", small);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseMetricSelectorTest, ReturnsMatchers) {
  auto m = ParseMetricSelector("foo{job=\"x\", a=~\"b.*\"}");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->size(), 3u);
  EXPECT_EQ((*m)[0].name(), "job");
  EXPECT_EQ((*m)[2].name(), "__name__");
  EXPECT_EQ((*m)[2].value(), "foo");

  m = ParseMetricSelector("{__name__=~\"a.*\"}");
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].type(), storage::MatchType::kRegexMatch);

  m = ParseMetricSelector("up");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->size(), 1u);

  m = ParseMetricSelector("{}");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->empty());

  EXPECT_FALSE(ParseMetricSelector("foo + bar").ok());
  EXPECT_FALSE(ParseMetricSelector("rate(foo[5m])").ok());
  EXPECT_FALSE(ParseMetricSelector("foo{").ok());
  EXPECT_FALSE(ParseMetricSelector("").ok());
}

TEST(DurationTest, ParseAndFormat) {
  struct {
    const char* in;
    int64_t ms;
    const char* out;
  } cases[] = {
      {"0", 0, "0s"},
      {"0s", 0, "0s"},
      {"1ms", 1, "1ms"},
      {"1s", 1000, "1s"},
      {"90s", 90000, "1m30s"},
      {"1h30m", 5400000, "1h30m"},
      {"1d", 86400000, "1d"},
      {"7d", 604800000, "1w"},
      {"8d", 691200000, "8d"},
      {"1y", 31536000000, "1y"},
      {"1y1d", 31622400000, "366d"},
      {"1h0m0s1ms", 3600001, "1h1ms"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto ms = ParseDuration(c.in);
    ASSERT_TRUE(ms.ok()) << ms.status();
    EXPECT_EQ(*ms, c.ms);
    EXPECT_EQ(FormatDuration(*ms), c.out);
  }
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("1").ok());
  EXPECT_FALSE(ParseDuration("1m1h").ok());
  EXPECT_FALSE(ParseDuration("1x").ok());
  EXPECT_FALSE(ParseDuration("99999999999y").ok());
  EXPECT_EQ(FormatDuration(-90000), "-1m30s");
}

TEST(FormatFloatTest, MatchesGo) {
  EXPECT_EQ(FormatFloat(1), "1");
  EXPECT_EQ(FormatFloat(-1.5), "-1.5");
  EXPECT_EQ(FormatFloat(0.1), "0.1");
  EXPECT_EQ(FormatFloat(1e21), "1e+21");
  EXPECT_EQ(FormatFloat(1e-7), "1e-07");
  EXPECT_EQ(FormatFloat(123456789), "1.23456789e+08");
  EXPECT_EQ(FormatFloat(std::nan("")), "NaN");
  EXPECT_EQ(FormatFloat(-INFINITY), "-Inf");
}

TEST(AstTest, CloneAndInspect) {
  const char* q =
      "sum by (a) (rate(foo{x=~\"y.*\"}[5m] offset (1m*2))) / on (a) "
      "group_left (b) topk(3, max_over_time(bar[10m:1m] @ end())) > bool -1";
  auto e = ParseExpr(q);
  ASSERT_TRUE(e.ok()) << e.status();
  ExprPtr copy = Clone(**e);
  EXPECT_EQ(Format(*copy), Format(**e));
  EXPECT_EQ(copy->height, (*e)->height);

  int selectors = 0;
  int nodes = 0;
  Inspect(**e, [&](const Expr& n) {
    ++nodes;
    if (n.kind == ExprKind::kVectorSelector) {
      ++selectors;
    }
    return true;
  });
  EXPECT_EQ(selectors, 2);
  EXPECT_GT(nodes, 8);

  int top_only = 0;
  Inspect(**e, [&](const Expr&) {
    ++top_only;
    return false;
  });
  EXPECT_EQ(top_only, 1);
  EXPECT_EQ(&Unwrap(**e), e->get());
}

TEST(FunctionsTest, TableIsSortedAndComplete) {
  auto all = AllFunctions();
  EXPECT_GE(all.size(), 75u);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_LT(all[i - 1].name, all[i].name);
  }
  for (const char* name :
       {"abs", "rate", "histogram_quantile", "label_replace", "label_join",
        "sort_by_label_desc", "mad_over_time", "double_exponential_smoothing",
        "info", "ts_of_min_over_time", "ts_of_max_over_time",
        "ts_of_last_over_time", "histogram_avg", "histogram_stddev",
        "histogram_stdvar", "histogram_fraction", "present_over_time"}) {
    EXPECT_NE(LookupFunction(name), nullptr) << name;
  }
  EXPECT_EQ(LookupFunction("holt_winters"), nullptr);
  EXPECT_EQ(LookupFunction("nope"), nullptr);
  const FunctionSignature* round = LookupFunction("round");
  EXPECT_EQ(round->min_args(), 1u);
  EXPECT_EQ(round->max_args(), 2u);
  EXPECT_EQ(LookupFunction("label_join")->max_args(), SIZE_MAX);
  EXPECT_EQ(LookupFunction("time")->return_type, ValueType::kScalar);
  EXPECT_TRUE(LookupFunction("info")->experimental);
}

}  // namespace
}  // namespace vigil::promql::parser
