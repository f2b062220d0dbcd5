// Tests for Go text/template as Prometheus' alert templates use it. The big
// table's expected outputs (207 of its rows) were checked against Go 1.19's
// text/template running a port of Prometheus' template functions; the other
// rows cover behaviour of newer Go or Prometheus releases (range over int,
// else-with, call's wording, parseDuration, toDuration) and our limits.
#include "engine/template/template.h"

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::engine::tmpl {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

MATCHER_P(IsOkAndHolds, expected,
          "is OK and holds " + ::testing::PrintToString(expected)) {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status().ToString();
    return false;
  }
  *result_listener << "value is " << ::testing::PrintToString(*arg);
  return *arg == expected;
}

constexpr double kDefaultValue = 1234567.891;
constexpr double kInf = INFINITY;
const double kNaN = std::nan("");
constexpr bool kSubstr = true;

Data AlertData(double value) {
  Data d;
  d.labels = {{"alertname", "InstanceDown"},
              {"instance", "host1.example.com:9100"},
              {"job", "node"},
              {"severity", "page"}};
  d.external_labels = {{"cluster", "eu1"}};
  d.external_url = "http://prom.example.com:9090/prometheus";
  d.value = value;
  return d;
}

// A fake PromQL engine with a few canned results.
Env FakeEnv() {
  Env env;
  env.eval_time_ms = 1700000000123;
  env.query = [](std::string_view expr)
      -> absl::StatusOr<std::vector<QueryResultSample>> {
    if (expr == "up") {
      return std::vector<QueryResultSample>{
          {{{"__name__", "up"}, {"instance", "a:9100"}, {"job", "node"}}, 1},
          {{{"__name__", "up"}, {"instance", "b:9100"}, {"job", "node"}}, 0}};
    }
    if (expr == "empty") return std::vector<QueryResultSample>{};
    if (expr == "unsorted") {
      return std::vector<QueryResultSample>{
          {{{"instance", "c"}}, 3}, {{{"instance", "a"}}, 1},
          {{{"instance", "b"}}, 2}};
    }
    if (expr == "strq") {
      return std::vector<QueryResultSample>{{{{"__value__", "hello"}}, 0}};
    }
    if (expr == "node_memory{instance='host1.example.com:9100'}") {
      return std::vector<QueryResultSample>{{{{"instance", "x"}}, 1073741824}};
    }
    return absl::InvalidArgumentError("bad query");
  };
  return env;
}

struct Case {
  std::string text;
  std::string want;  // the whole expansion, or a part of it with `substr`
  double value;
  bool substr = false;
};

// Expanded with ExpandAlertTemplate("Test", ...), i.e. with Prometheus'
// $labels/$externalLabels/$externalURL/$value prelude in front.
const std::vector<Case>& Cases() {
  static const auto* cases = new std::vector<Case>{
    {"{{ $labels.instance }} of job {{ $labels.job }} has been down for more than 5 minutes.",
     "host1.example.com:9100 of job node has been down for more than 5 minutes.",
     kDefaultValue},
    {"Instance {{$labels.instance}} down",
     "Instance host1.example.com:9100 down",
     kDefaultValue},
    {"{{ humanize $value }}",
     "1.235M",
     kDefaultValue},
    {"{{ with query \"up\" }}{{ . | first | value | humanize }}{{ end }}",
     "1",
     kDefaultValue},
    {"{{ range query \"up\" }}{{ .Labels.instance }} {{ .Value }}\n{{ end }}",
     "a:9100 1\nb:9100 0\n",
     kDefaultValue},
    {"{{ with printf \"node_memory{instance='%s'}\" $labels.instance | query }}{{ . | first | value | humanize1024 }}B{{ end }}",
     "1GiB",
     kDefaultValue},
    {"{{ range $i, $e := $labels }}{{ $i }}={{ $e }};{{ end }}",
     "alertname=InstanceDown;instance=host1.example.com:9100;job=node;severity=page;",
     kDefaultValue},
    {"{{ .Labels.instance }}|{{ .Labels.nope }}|{{ $labels.nope }}|",
     "host1.example.com:9100|||",
     kDefaultValue},
    {"{{ $externalLabels.cluster }} {{ .ExternalLabels.cluster }} {{ $externalURL }} {{ .ExternalURL }}",
     "eu1 eu1 http://prom.example.com:9090/prometheus http://prom.example.com:9090/prometheus",
     kDefaultValue},
    {"{{ $labels }}",
     "map[alertname:InstanceDown instance:host1.example.com:9100 job:node severity:page]",
     kDefaultValue},
    {"{{ . }}",
     "{map[alertname:InstanceDown instance:host1.example.com:9100 job:node severity:page] map[cluster:eu1] http://prom.example.com:9090/prometheus 1.234567891e+06}",
     kDefaultValue},
    {"{{ $.Labels.job }} {{ $.Value }}",
     "node 1.234567891e+06",
     kDefaultValue},
    {"{{ index $labels \"job\" }}|{{ index $labels \"nope\" }}|{{ index .Labels \"severity\" }}",
     "node||page",
     kDefaultValue},
    {"{{ $value }}",
     "1.234567891e+06",
     kDefaultValue},
    {"{{ $value }}",
     "0.5",
     0.5},
    {"{{ $value }}",
     "3",
     3.0},
    {"{{ $value }}",
     "1e+06",
     1000000.0},
    {"{{ $value }}",
     "100000",
     100000.0},
    {"{{ $value }}",
     "123456",
     123456.0},
    {"{{ $value }}",
     "1e-05",
     1e-05},
    {"{{ $value }}",
     "0.0001",
     0.0001},
    {"{{ $value }}",
     "-2.5",
     -2.5},
    {"{{ $value }}",
     "0",
     0.0},
    {"{{ $value }}",
     "0.30000000000000004",
     0.30000000000000004},
    {"{{ $value }}",
     "NaN",
     kNaN},
    {"{{ $value }}",
     "+Inf",
     kInf},
    {"{{ $value }}",
     "-Inf",
     -kInf},
    {"{{ $value }}",
     "1.7976931348623157e+308",
     1.7976931348623157e+308},
    {"a  {{- \"b\" -}}  c",
     "abc",
     kDefaultValue},
    {"a\n  {{- /* comment */ -}}\n  b",
     "ab",
     kDefaultValue},
    {"x {{/* a comment */}} y",
     "x  y",
     kDefaultValue},
    {"{{- $labels.job -}}\n",
     "node",
     kDefaultValue},
    {"{{ 3 -}} {{- -4 }}",
     "3-4",
     kDefaultValue},
    {"{{-3}}",
     "-3",
     kDefaultValue},
    {"<{{- \"a\" }} {{ \"b\" -}} >",
     "<a b>",
     kDefaultValue},
    {"{{ \"a\\tb\\u00e9\\x41\\101\" }}",
     "a\tb\303\251AA",
     kDefaultValue},
    {"{{ `raw\\n \"x\"` }}",
     "raw\\n \"x\"",
     kDefaultValue},
    {"{{ 0x1F }} {{ 1e3 }} {{ 1.50 }} {{ 'a' }} {{ true }} {{ -3 }} {{ 010 }} {{ 1_000 }} {{ 0b101 }} {{ 0o17 }} {{ 1.0 }}",
     "31 1000 1.5 97 true -3 8 1000 5 15 1",
     kDefaultValue},
    {"{{ print nil }}",
     "<nil>",
     kDefaultValue},
    {"{{ $x := \"a\" }}{{ $x = \"b\" }}{{ $x }}",
     "b",
     kDefaultValue},
    {"{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ $y := 3 }}{{ end }}{{ $x }}",
     "2",
     kDefaultValue},
    {"{{ $x := \"outer\" }}{{ with \"inner\" }}{{ $x := . }}{{ $x }}{{ end }} {{ $x }}",
     "inner outer",
     kDefaultValue},
    {"{{ if gt $value 1000.0 }}big{{ else if gt $value 10.0 }}mid{{ else }}small{{ end }}",
     "big",
     kDefaultValue},
    {"{{ if gt $value 1000.0 }}big{{ else if gt $value 10.0 }}mid{{ else }}small{{ end }}",
     "mid",
     50.0},
    {"{{ if gt $value 1000.0 }}big{{ else if gt $value 10.0 }}mid{{ else }}small{{ end }}",
     "small",
     5.0},
    {"{{ if $labels.nope }}yes{{ else }}no{{ end }}",
     "no",
     kDefaultValue},
    {"{{ if and $labels.job (eq $labels.severity \"page\") }}page{{ end }}",
     "page",
     kDefaultValue},
    {"{{ if not (query \"empty\") }}empty{{ end }}",
     "empty",
     kDefaultValue},
    {"{{ if 0 }}a{{ else if \"\" }}b{{ else if 0.0 }}c{{ else if (query \"up\") }}d{{ end }}",
     "d",
     kDefaultValue},
    {"{{ with $labels.instance }}[{{ . }}]{{ end }}",
     "[host1.example.com:9100]",
     kDefaultValue},
    {"{{ with $labels.nope }}x{{ else }}none{{ end }}",
     "none",
     kDefaultValue},
    {"{{ with $labels.nope }}x{{ else with $labels.job }}{{ . }}{{ end }}",
     "node",
     kDefaultValue},
    {"{{ with $x := $labels.job }}{{ $x }}/{{ . }}{{ end }}",
     "node/node",
     kDefaultValue},
    {"{{ range $labels }}{{ . }},{{ end }}",
     "InstanceDown,host1.example.com:9100,node,page,",
     kDefaultValue},
    {"{{ range query \"empty\" }}x{{ else }}none{{ end }}",
     "none",
     kDefaultValue},
    {"{{ range $i, $s := query \"up\" }}{{ $i }}:{{ $s.Value }} {{ end }}",
     "0:1 1:0 ",
     kDefaultValue},
    {"{{ range $s := query \"up\" }}{{ $s.Labels.instance }} {{ end }}",
     "a:9100 b:9100 ",
     kDefaultValue},
    {"{{ range $i, $e := query \"up\" }}{{ if eq $i 1 }}{{ break }}{{ end }}{{ $e.Labels.instance }}{{ end }}",
     "a:9100",
     kDefaultValue},
    {"{{ range $i, $e := query \"up\" }}{{ if eq $i 0 }}{{ continue }}{{ end }}{{ $e.Labels.instance }}{{ end }}",
     "b:9100",
     kDefaultValue},
    {"{{ range sortByLabel \"instance\" (query \"unsorted\") }}{{ .Labels.instance }} {{ end }}",
     "a b c ",
     kDefaultValue},
    {"{{ range $k, $v := args \"x\" 2 }}{{ $k }}={{ $v }} {{ end }}",
     "arg0=x arg1=2 ",
     kDefaultValue},
    {"{{ range 3 }}{{ . }}{{ end }}",
     "012",
     kDefaultValue},
    {"{{ $n := 0 }}{{ range $labels }}{{ $n = 1 }}{{ end }}{{ $n }}",
     "1",
     kDefaultValue},
    {"{{ range $labels.nope }}x{{ else }}empty string is not ranged{{ end }}",
     "",
     kDefaultValue, kSubstr},
    {"{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" $labels.job }}",
     "[node]",
     kDefaultValue},
    {"{{ define \"x\" }}[{{ . }}]{{ end }}{{ template \"x\" }}",
     "[<no value>]",
     kDefaultValue},
    {"{{ block \"b\" $labels.job }}<{{ . }}>{{ end }}",
     "<node>",
     kDefaultValue},
    {"{{ define \"a\" }}{{ .arg0 }}-{{ .arg1 }}{{ end }}{{ template \"a\" args \"x\" 2 }}",
     "x-2",
     kDefaultValue},
    {"{{ define \"a\" }}{{ .arg5 }}{{ end }}{{ template \"a\" args 1 }}",
     "<no value>",
     kDefaultValue},
    {"{{ define \"vars\" }}{{ $ }}{{ end }}{{ template \"vars\" 42 }}",
     "42",
     kDefaultValue},
    {"{{ printf \"%.2f\" $value }}",
     "1234567.89",
     kDefaultValue},
    {"{{ printf \"%5.1f|%-8.3f|%08.3f\" 3.14159 2.5 -1.5 }}",
     "  3.1|2.500   |-001.500",
     kDefaultValue},
    {"{{ printf \"%d %5d %-5d| %05d %+d %x %X %o %b %c %U\" 42 42 42 42 42 255 255 8 5 65 65 }}",
     "42    42 42   | 00042 +42 ff FF 10 101 A U+0041",
     kDefaultValue},
    {"{{ printf \"%s|%10s|%-10s|%.2s|%q|%x|% x|%X\" \"abc\" \"abc\" \"abc\" \"abc\" \"a\\\"b\" \"hi\" \"hi\" \"hi\" }}",
     "abc|       abc|abc       |ab|\"a\\\"b\"|6869|68 69|6869",
     kDefaultValue},
    {"{{ printf \"%v %v %v %v\" 1 1.5 \"s\" true }}",
     "1 1.5 s true",
     kDefaultValue},
    {"{{ printf \"%g %g %g %e %E %G\" 1e6 100000.0 0.00001 1234.5678 1234.5678 1e-7 }}",
     "1e+06 100000 1e-05 1.234568e+03 1.234568E+03 1E-07",
     kDefaultValue},
    {"{{ printf \"%.0f %.0f %.1f %.3g %.10g\" 2.5 3.5 0.25 1234.0 0.1 }}",
     "2 4 0.2 1.23e+03 0.1",
     kDefaultValue},
    {"{{ printf \"%6.2f%%\" 12.3456 }}",
     " 12.35%",
     kDefaultValue},
    {"{{ printf \"%d\" $value }}",
     "%!d(float64=1.234567891e+06)",
     kDefaultValue},
    {"{{ printf \"%s\" 3 }}",
     "%!s(int=3)",
     kDefaultValue},
    {"{{ printf \"%s %s\" \"a\" }}",
     "a %!s(MISSING)",
     kDefaultValue},
    {"{{ printf \"%s\" \"a\" \"b\" 3 }}",
     "a%!(EXTRA string=b, int=3)",
     kDefaultValue},
    {"{{ printf \"%T %T %T %T %T %T\" 1 1.5 \"s\" true $labels (query \"up\") }}",
     "int float64 string bool map[string]string template.queryResult",
     kDefaultValue},
    {"{{ printf \"%t %5t\" true false }}",
     "true false",
     kDefaultValue},
    {"{{ printf \"%v\" $labels }}",
     "map[alertname:InstanceDown instance:host1.example.com:9100 job:node severity:page]",
     kDefaultValue},
    {"{{ printf \"%d\" $labels }}",
     "map[%!d(string=alertname):%!d(string=InstanceDown) %!d(string=instance):%!d(string=host1.example.com:9100) %!d(string=job):%!d(string=node) %!d(string=severity):%!d(string=page)]",
     kDefaultValue},
    {"{{ printf \"%x %X %#x %x\" -255 3054 255 \"\" }}",
     "-ff BEE 0xff ",
     kDefaultValue},
    {"{{ printf \"%8.3e|%-12g|%+.2f|% d\" 123456.789 1.5 2.0 5 }}",
     "1.235e+05|1.5         |+2.00| 5",
     kDefaultValue},
    {"{{ printf \"%q %#q %q\" \"tab\\there\" \"back`tick\" 65 }}",
     "\"tab\\there\" \"back`tick\" 'A'",
     kDefaultValue},
    {"{{ printf \"%v|%.3v|%10.4v|\" 3.14159 3.14159 3.14159 }}",
     "3.14159|3.14|     3.142|",
     kDefaultValue},
    {"{{ printf \"%f %f %v\" $value $value $value }}",
     "+Inf +Inf +Inf",
     kInf},
    {"{{ printf \"%.2f|%5.1f|%v\" $value $value $value }}",
     "NaN|  NaN|NaN",
     kNaN},
    {"{{ printf \"%%|%5%|%\" }}",
     "%|%|%!(NOVERB)",
     kDefaultValue},
    {"{{ printf \"%z\" 1 }}",
     "%!z(int=1)",
     kDefaultValue},
    {"{{ printf \"%s\" nil }}",
     "%!s(<nil>)",
     kDefaultValue},
    {"{{ printf \"%*d|%-*d|%.*f\" 5 1 4 2 2 3.14159 }}",
     "    1|2   |3.14",
     kDefaultValue},
    {"{{ printf \"%v %d\" (toDuration 90) 5 }}",
     "1m30s 5",
     kDefaultValue},
    {"{{ printf \"%s-%s\" $labels.job $labels.severity | toUpper }}",
     "NODE-PAGE",
     kDefaultValue},
    {"{{ $labels.job | printf \"%s!\" }}",
     "node!",
     kDefaultValue},
    {"{{ \"x\" | printf \"%s %s\" \"y\" }}",
     "y x",
     kDefaultValue},
    {"{{ 3 | printf \"%d %d\" 1 }}",
     "1 3",
     kDefaultValue},
    {"{{ print 1 2 \"a\" 3 \"b\" \"c\" 4.5 true }}",
     "1 2a3bc4.5 true",
     kDefaultValue},
    {"{{ println \"a\" 1 2 }}",
     "a 1 2\n",
     kDefaultValue},
    {"{{ print (query \"up\" | first) }}",
     "&{map[__name__:up instance:a:9100 job:node] 1}",
     kDefaultValue},
    {"{{ query \"up\" | first }}",
     "{map[__name__:up instance:a:9100 job:node] 1}",
     kDefaultValue},
    {"{{ len $labels }} {{ len \"h\303\251llo\" }} {{ len (query \"up\") }} {{ len (args 1 2 3) }}",
     "4 6 2 3",
     kDefaultValue},
    {"{{ index \"abc\" 1 }} {{ slice \"abcdef\" 1 3 }} {{ slice \"abcdef\" 2 }} {{ slice \"abc\" }}",
     "98 bc cdef abc",
     kDefaultValue},
    {"{{ (index (query \"up\") 1).Labels.instance }} {{ slice (query \"up\") 1 | len }}",
     "b:9100 1",
     kDefaultValue},
    {"{{ and 1 0 }} {{ and 1 2 }} {{ or 0 \"\" \"x\" }} {{ or 0 \"\" }} {{ not 0 }} {{ not \"a\" }}",
     "0 2 x  true false",
     kDefaultValue},
    {"{{ and $labels.nope (index $labels.nope 5) }}",
     "",
     kDefaultValue},
    {"{{ or $labels.job (index $labels.nope 5) }}",
     "node",
     kDefaultValue},
    {"{{ eq $labels.job \"a\" \"node\" }} {{ eq 1 2 }} {{ ne 1 2 }} {{ ne \"a\" \"a\" }}",
     "true false true false",
     kDefaultValue},
    {"{{ lt 1 2 }} {{ le 2.5 2.5 }} {{ gt 3 2 }} {{ ge \"b\" \"a\" }} {{ lt \"B\" \"a\" }} {{ gt 1.5 2.5 }}",
     "true true true true true false",
     kDefaultValue},
    {"{{ eq $value 1234567.891 }} {{ gt $value 1e6 }}",
     "true true",
     kDefaultValue},
    {"{{ html \"<a href='x'>&\\\"\" }} {{ \"<b>\" | html }}",
     "&lt;a href=&#39;x&#39;&gt;&amp;&#34; &lt;b&gt;",
     kDefaultValue},
    {"{{ js \"it's \\\"q\\\" <x>=&\\\\\" }}",
     "it\\'s \\\"q\\\" \\u003Cx\\u003E\\u003D\\u0026\\\\",
     kDefaultValue},
    {"{{ urlquery \"a b&c=d/\303\251~_.\" }}",
     "a+b%26c%3Dd%2F%C3%A9~_.",
     kDefaultValue},
    {"{{ html 1 \"<\" 2 }}",
     "1&lt;2",
     kDefaultValue},
    {"{{ js \"a\\nb\" }}",
     "a\\u000Ab",
     kDefaultValue},
    {"{{ (printf \"%s-%s\" $labels.job \"x\") | toUpper }}",
     "NODE-X",
     kDefaultValue},
    {"{{ \"abc\" | len | printf \"%d\" }}",
     "3",
     kDefaultValue},
    {"{{ humanize 1234567 }} {{ humanize 0.00123 }} {{ humanize \"2048\" }} {{ humanize 0 }} {{ humanize -1234 }} {{ humanize 1e30 }} {{ humanize 1e-30 }}",
     "1.235M 1.23m 2.048k 0 -1.234k 1e+06Y 1e-06y",
     kDefaultValue},
    {"{{ humanize 999.99 }} {{ humanize 1000 }} {{ humanize 0.5 }} {{ humanize 1 }}",
     "1000 1k 500m 1",
     kDefaultValue},
    {"{{ humanize1024 1048576 }} {{ humanize1024 1 }} {{ humanize1024 1500 }} {{ humanize1024 0.5 }} {{ humanize1024 -2048 }}",
     "1Mi 1 1.465ki 0.5 -2ki",
     kDefaultValue},
    {"{{ humanizeDuration 90 }}|{{ humanizeDuration 0.1 }}|{{ humanizeDuration 90000 }}|{{ humanizeDuration 1.2345 }}|{{ humanizeDuration 0 }}|{{ humanizeDuration -1 }}|{{ humanizeDuration 12.345 }}|{{ humanizeDuration 0.0001 }}|{{ humanizeDuration 3600 }}|{{ humanizeDuration 899.99 }}|{{ humanizeDuration \"60.5\" }}",
     "1m 30s|100ms|1d 1h 0m 0s|1.234s|0s|-1s|12.35s|100us|1h 0m 0s|14m 59s|1m 0s",
     kDefaultValue},
    {"{{ humanizeDuration 1234567 }}|{{ humanizeDuration -185477 }}",
     "14d 6h 56m 7s|-2d 3h 31m 17s",
     kDefaultValue},
    {"{{ humanizePercentage 0.1234 }} {{ humanizePercentage 1 }} {{ humanizePercentage 0.001234567 }} {{ humanizePercentage \"0.5\" }}",
     "12.34% 100% 0.1235% 50%",
     kDefaultValue},
    {"{{ humanizeTimestamp 1435065584.128 }}|{{ humanizeTimestamp 0 }}|{{ humanizeTimestamp -1 }}|{{ humanizeTimestamp \"1435065584.128\" }}|{{ humanizeTimestamp 1234567 }}",
     "2015-06-23 13:19:44.128 +0000 UTC|1970-01-01 00:00:00 +0000 UTC|1969-12-31 23:59:59 +0000 UTC|2015-06-23 13:19:44.128 +0000 UTC|1970-01-15 06:56:07 +0000 UTC",
     kDefaultValue},
    {"{{ humanize $value }} {{ humanizeDuration $value }} {{ humanizeTimestamp $value }}",
     "NaN NaN NaN",
     kNaN},
    {"{{ humanize $value }} {{ humanize1024 $value }} {{ humanizePercentage $value }}",
     "+Inf +Inf +Inf%",
     kInf},
    {"{{ toTime 1435065584.128 }}|{{ (toTime 1435065584).Unix }}|{{ (toTime 1.5).UnixMilli }}",
     "2015-06-23 13:19:44.128 +0000 UTC|1435065584|1500",
     kDefaultValue},
    {"{{ toDuration 90 }} {{ toDuration 0.0015 }} {{ toDuration 0 }} {{ toDuration 3600.5 }} {{ (toDuration 90).Seconds }}",
     "1m30s 1.5ms 0s 1h0m0.5s 90",
     kDefaultValue},
    {"{{ parseDuration \"1h30m\" }} {{ parseDuration \"1m30s\" }} {{ parseDuration \"1d\" }} {{ parseDuration \"250ms\" }} {{ parseDuration \"0\" }}",
     "5400 90 86400 0.25 0",
     kDefaultValue},
    {"{{ pathPrefix }} {{ externalURL }}",
     "/prometheus http://prom.example.com:9090/prometheus",
     kDefaultValue},
    {"{{ title \"hello world-foo bar_baz\" }} {{ toUpper \"aBc\" }} {{ toLower \"AbC\" }}",
     "Hello World-Foo Bar_baz ABC abc",
     kDefaultValue},
    {"{{ title \"it's o'clock\" }}",
     "It's O'clock",
     kDefaultValue},
    // Letters beyond ASCII are mapped as Go maps them.
    {"{{ title \"école ñandú été\" }} {{ toUpper \"straße ñ éa\" }} "
     "{{ toLower \"ÉCOLE ΣΟΦΊΑ Ж\" }}",
     "École Ñandú Été STRAßE Ñ ÉA école σοφία ж",
     kDefaultValue},
    {"{{ match \"^node\" $labels.job }} {{ match \"^x\" $labels.job }} {{ match \"ex.mple\" $labels.instance }}",
     "true false true",
     kDefaultValue},
    {"{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}",
     "host1.example.com",
     kDefaultValue},
    {"{{ reReplaceAll \"(?P<h>[^.]+)\\\\..*\" \"${h}\" $labels.instance }}",
     "host1",
     kDefaultValue},
    {"{{ reReplaceAll \"a\" \"$0x\" \"banana\" }}|{{ reReplaceAll \"a\" \"${0}x\" \"banana\" }}|{{ reReplaceAll \"a\" \"$$\" \"banana\" }}",
     "bnn|baxnaxnax|b$n$n$",
     kDefaultValue},
    {"{{ reReplaceAll \"\" \"-\" \"abc\" }}|{{ reReplaceAll \"a*\" \"-\" \"baaac\" }}|{{ reReplaceAll \"x*\" \"-\" \"\" }}",
     "-a-b-c-|-b-c-|-",
     kDefaultValue},
    {"{{ reReplaceAll \"(a)(b)?\" \"[$2]\" \"ac ab\" }}",
     "[]c [b]",
     kDefaultValue},
    {"{{ graphLink \"up{job=\\\"node\\\"} == 0\" }}",
     "/graph?g0.expr=up%7Bjob%3D%22node%22%7D+%3D%3D+0&g0.tab=0",
     kDefaultValue},
    {"{{ tableLink \"rate(x[5m])\" }}",
     "/graph?g0.expr=rate%28x%5B5m%5D%29&g0.tab=1",
     kDefaultValue},
    {"{{ stripPort \"host1.example.com:9100\" }} {{ stripPort \"[::1]:80\" }} {{ stripPort \"host\" }} {{ stripPort \"a:b:c\" }} {{ stripPort $labels.instance }}",
     "host1.example.com ::1 host a:b:c host1.example.com",
     kDefaultValue},
    {"{{ stripDomain \"host1.example.com:9100\" }} {{ stripDomain \"10.0.0.1:80\" }} {{ stripDomain \"foo.bar\" }} {{ stripDomain \"[2001:db8::1]:9100\" }} {{ stripDomain \"foo\" }}",
     "host1:9100 10.0.0.1:80 foo [2001:db8::1]:9100 foo",
     kDefaultValue},
    {"{{ safeHtml \"<b>\" }}",
     "<b>",
     kDefaultValue},
    {"{{ query \"strq\" | first | strvalue }} {{ query \"up\" | first | label \"job\" }} {{ query \"up\" | first | label \"nope\" }}|",
     "hello node |",
     kDefaultValue},
    {"{{ now }}",
     "1.700000000123e+09",
     kDefaultValue},
    {"{{ (args 1).arg5 }}",
     "<no value>",
     kDefaultValue},
    {"{{ args \"a\" 1.5 }}",
     "map[arg0:a arg1:1.5]",
     kDefaultValue},
    {"{{ foo }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: function \"foo\" not defined>",
     kDefaultValue},
    {"{{ $labels.instance }",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unexpected \"}\" in operand>",
     kDefaultValue},
    {"{{ if true }}x",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unexpected EOF>",
     kDefaultValue},
    {"{{ end }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unexpected {{end}}>",
     kDefaultValue},
    {"{{ else }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unexpected {{else}}>",
     kDefaultValue},
    {"{{ $undefined }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: undefined variable \"$undefined\">",
     kDefaultValue},
    {"{{ \"unterminated }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unterminated quoted string>",
     kDefaultValue},
    {"{{ `unterminated }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unterminated raw quoted string>",
     kDefaultValue},
    {"{{ $labels.job",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unclosed action>",
     kDefaultValue},
    {"{{ /* x */ }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unexpected \"/\" in command>",
     kDefaultValue},
    {"{{/* x */ y }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: comment ends before closing delimiter>",
     kDefaultValue},
    {"{{/* x ",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unclosed comment>",
     kDefaultValue},
    {"{{ 1 | 2 }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: non executable command in pipeline stage 2>",
     kDefaultValue},
    {"{{ nil }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <nil>: nil is not a command>",
     kDefaultValue},
    {"{{ break }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: {{break}} outside {{range}}>",
     kDefaultValue},
    {"{{ printf \"%d\" 1 ) }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unexpected \")\" in command>",
     kDefaultValue},
    {"{{ (printf \"%d\" 1 }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unclosed left paren>",
     kDefaultValue},
    {"{{ 3x }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: bad number syntax: \"3x\">",
     kDefaultValue},
    {"{{ 99999999999999999999 }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: integer overflow: \"99999999999999999999\">",
     kDefaultValue},
    {"{{ \"a\".b }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: unexpected . after term \"\\\"a\\\"\">",
     kDefaultValue},
    {"{{ with $x := $labels.job }}{{ end }}{{ $x }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: undefined variable \"$x\">",
     kDefaultValue},
    {"{{ define \"a\" }}x{{ end }}{{ define \"a\" }}y{{ end }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: template: multiple definition of template \"a\">",
     kDefaultValue},
    {"{{ range $a, $b, $c := $labels }}{{ end }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: too many declarations in range>",
     kDefaultValue},
    {"{{ if }}{{ end }}",
     "<error expanding template: error parsing template __alert_Test: template: __alert_Test:1: missing value for if>",
     kDefaultValue},
    {"{{ $x = 1 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:120: executing \"__alert_Test\" at <1>: undefined variable: $x>",
     kDefaultValue},
    {"{{ humanize \"x\" }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <humanize \"x\">: error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax>",
     kDefaultValue},
    {"line one\n{{ humanize \"x\" }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:2:3: executing \"__alert_Test\" at <humanize \"x\">: error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax>",
     kDefaultValue},
    {"{{ humanize $labels }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <humanize $labels>: error calling humanize: can't convert map[string]string to float>",
     kDefaultValue},
    {"{{ .Foo }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <.Foo>: can't evaluate field Foo in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }>",
     kDefaultValue},
    {"{{ .Labels.job.foo }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:122: executing \"__alert_Test\" at <.Labels.job.foo>: can't evaluate field foo in type string>",
     kDefaultValue},
    {"{{ $labels.job 1 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:122: executing \"__alert_Test\" at <$labels.job>: job is not a method but has arguments>",
     kDefaultValue},
    {"{{ first (query \"empty\") }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <first (query \"empty\")>: error calling first: first() called on vector with no elements>",
     kDefaultValue},
    {"{{ query \"error\" }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <query \"error\">: error calling query: bad query>",
     kDefaultValue},
    {"{{ index (query \"up\") 5 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <index (query \"up\") 5>: error calling index: index out of range: 5>",
     kDefaultValue},
    {"{{ index $labels 1 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <index $labels 1>: error calling index: value has type int; should be string>",
     kDefaultValue},
    {"{{ slice \"abc\" 2 1 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <slice \"abc\" 2 1>: error calling slice: invalid slice index: 2 > 1>",
     kDefaultValue},
    {"{{ template \"nope\" }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:124: executing \"__alert_Test\" at <{{template \"nope\"}}>: template \"nope\" not defined>",
     kDefaultValue},
    {"{{ title 3 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:121: executing \"__alert_Test\" at <3>: expected string; found 3>",
     kDefaultValue},
    {"{{ $value | title }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:124: executing \"__alert_Test\" at <title>: wrong type for value; expected string; got float64>",
     kDefaultValue},
    {"{{ title $value }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:121: executing \"__alert_Test\" at <$value>: wrong type for value; expected string; got float64>",
     kDefaultValue},
    {"{{ len 3 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <len 3>: error calling len: len of type int>",
     kDefaultValue},
    {"{{ eq 1 \"a\" }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <eq 1 \"a\">: error calling eq: incompatible types for comparison>",
     kDefaultValue},
    {"{{ eq $value 1 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <eq $value 1>: error calling eq: incompatible types for comparison>",
     kDefaultValue},
    {"{{ lt true false }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <lt true false>: error calling lt: invalid type for comparison>",
     kDefaultValue},
    {"{{ printf }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <printf>: wrong number of args for printf: want at least 1 got 0>",
     kDefaultValue},
    {"{{ humanize }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <humanize>: wrong number of args for humanize: want 1 got 0>",
     kDefaultValue},
    {"{{ humanize 1 2 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <humanize>: wrong number of args for humanize: want 1 got 2>",
     kDefaultValue},
    {"{{ range 1.5 }}{{ end }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:121: executing \"__alert_Test\" at <1.5>: range can't iterate over 1.5>",
     kDefaultValue},
    {"{{ call $labels }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <call $labels>: error calling call: non-function $labels of type map[string]string>",
     kDefaultValue},
    {"{{ \"a\" 1 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <\"a\">: can't give argument to non-function \"a\">",
     kDefaultValue},
    {"{{ humanize (printf \"%s-%s\" \"a long argument\" \"another\") }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <humanize (printf \"%s-%s\" \"a long argument\" \"another\")>: error calling humanize: strconv.ParseFloat: parsing \"a long argument-another\": invalid syntax>",
     kDefaultValue},
    {"{{ reReplaceAll \"(\" \"x\" \"y\" }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <reReplaceAll \"(\" \"x\" \"y\">: error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: missing",
     kDefaultValue, kSubstr},
    {"{{ parseDuration \"5x\" }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <parseDuration \"5x\">: error calling parseDuration: not a valid duration string: \"5x\">",
     kDefaultValue},
    {"{{ toTime \"x\" }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <toTime \"x\">: error calling toTime: strconv.ParseFloat: parsing \"x\": invalid syntax>",
     kDefaultValue},
    {"{{ humanizeTimestamp 1e300 }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <humanizeTimestamp 1e300>: error calling humanizeTimestamp: 1e+300 cannot be represented as a nanoseconds timestamp since it overflows int64>",
     kDefaultValue},
    {"{{ define \"r\" }}{{ template \"r\" }}{{ end }}{{ template \"r\" }}",
     "exceeded maximum template depth (100)>",
     kDefaultValue, kSubstr},
    {"{{ label \"x\" nil }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <label \"x\" nil>: error calling label: runtime error: invalid memory address or nil pointer dereference>",
     kDefaultValue},
    {"{{ printf \"%b|%#g|%#.3g|%.1T|%06s|%-06s|%.2q|%#.2q\" 0.5 0.5 2.0 1 \"ab\" \"ab\" \"hello\" \"hello\" }}",
     "4503599627370496p-53|0.500000|2.00|i|0000ab|ab    |\"he\"|`he`",
     kDefaultValue},
    {"{{ printf \"%5d|%.3d|%x\" \"ab\" 3.5 1e3 }}",
     "%!d(string=   ab)|%!d(float64=3.5)|0x1.f4p+09",
     kDefaultValue},
    {"{{ printf \"%s\" (query \"up\") }}",
     "[%!s(*template.sample=&{map[__name__:up instance:a:9100 job:node] 1}) %!s(*template.sample=&{map[__name__:up instance:b:9100 job:node] 0})]",
     kDefaultValue},
    {"{{ eq . . }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <eq . .>: error calling eq: non-comparable type {map[alertname:InstanceDown instance:host1.example.com:9100 job:node severity:page] map[cluster:eu1] http://prom.example.com:9090/prometheus %!s(float64=1.234567891e+06)}: struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }>",
     kDefaultValue},
    {"{{ ne (args 1) . }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <ne (args 1) .>: error calling ne: non-comparable types map[arg0:%!s(int=1)]: map[string]interface {}, struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }: {map[alertname:InstanceDown instance:host1.example.com:9100 job:node severity:page] map[cluster:eu1] http://prom.example.com:9090/prometheus 1.234567891e+06}>",
     kDefaultValue},
    {"{{ slice (query \"up\" | first) }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <slice (query \"up\" | first)>: error calling slice: can't slice item of type *template.sample>",
     kDefaultValue},
    {"{{ len (query \"up\" | first) }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <len (query \"up\" | first)>: error calling len: len of type template.sample>",
     kDefaultValue},
    {"{{ eq 1e3 nil }} {{ eq nil nil }}",
     "false true",
     kDefaultValue},
    {"{{ ge nil true }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <ge nil true>: error calling ge: invalid type for comparison>",
     kDefaultValue},
    {"{{ range (query \"up\" | first) }}{{ end }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:135: executing \"__alert_Test\" at <first>: range can't iterate over {map[__name__:up instance:a:9100 job:node] 1}>",
     kDefaultValue},
    {"{{ humanizeTimestamp (toTime 1) }}",
     "<error expanding template: error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <humanizeTimestamp (toTime 1)>: error calling humanizeTimestamp: can't convert *time.Time to float>",
     kDefaultValue},
    {"{{ (toTime 1435065584.128).Format \"2006-01-02 15:04:05.000 MST\" }}|{{ (toTime 1435065584.128).Format \"Mon Jan _2 3:4:5 PM 06 -07:00 Z07:00 .999 ,00 002\" }}",
     "2015-06-23 13:19:44.128 UTC|Tue Jun 23 1:19:44 PM 15 +00:00 Z .128 ,12 174",
     kDefaultValue},
    {"{{ (toTime 0).Format \"January 2, 2006 at 15h04\" }}|{{ with toTime 1700000000 }}{{ .Year }} {{ .Month }} {{ .Day }} {{ .Hour }} {{ .Weekday }} {{ .YearDay }}{{ end }}",
     "January 1, 1970 at 00h00|2023 November 14 22 Tuesday 318",
     kDefaultValue},
    {"{{ (toTime 1.5).Format \"05.9 05.99 .0000 __2 -0700 -07 Z0700\" }}",
     "01.5 01.5 .5000   1 +0000 +00 Z",
     kDefaultValue},
  };
  return *cases;
}

TEST(ExpandAlertTemplate, MatchesGoAndPrometheus) {
  const Env env = FakeEnv();
  int checked = 0;
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.text);
    const std::string got =
        ExpandAlertTemplate("Test", c.text, AlertData(c.value), env);
    if (c.substr) {
      EXPECT_THAT(got, HasSubstr(c.want));
    } else {
      EXPECT_EQ(got, c.want);
    }
    ++checked;
  }
  EXPECT_GE(checked, 222);
}

TEST(ExpandAlertTemplate, IsDeterministicAcrossRuns) {
  const Env env = FakeEnv();
  const std::string text =
      "{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}"
      "{{ humanize $value }} {{ query \"up\" | first | label \"instance\" }}";
  const std::string first = ExpandAlertTemplate("X", text, AlertData(5), env);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(ExpandAlertTemplate("X", text, AlertData(5), env), first);
  }
}

TEST(ParseAlertTemplate, CachedParseExpandsLikeOneShot) {
  const Env env = FakeEnv();
  const std::string text =
      "{{ $labels.job }}: {{ humanize $value }} {{ humanize \"x\" }}";
  absl::StatusOr<Template> parsed = ParseAlertTemplate("Cached", text);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->name(), "__alert_Cached");
  EXPECT_EQ(ExpandAlertTemplate(*parsed, AlertData(1), env),
            ExpandAlertTemplate("Cached", text, AlertData(1), env));
  EXPECT_THAT(ExpandAlertTemplate(*parsed, AlertData(1), env),
              StartsWith("<error expanding template: error executing template "
                         "__alert_Cached: template: __alert_Cached:1:"));
  EXPECT_THAT(ParseAlertTemplate("Bad", "{{ nope }}"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "error parsing template __alert_Bad: template: "
                       "__alert_Bad:1: function \"nope\" not defined"));
}

TEST(TemplateParse, ErrorsAreInvalidArgumentWithGoWording) {
  const struct {
    const char* text;
    const char* message;
  } kCases[] = {
      {"{{ foo }}", "template: t:1: function \"foo\" not defined"},
      {"a\nb\n{{ if }}", "template: t:3: missing value for if"},
      {"{{ .x }", "template: t:1: unexpected \"}\" in operand"},
      {"{{ range . }}", "template: t:1: unexpected EOF"},
      {"{{ $x }}", "template: t:1: undefined variable \"$x\""},
      {"{{ \"\\q\" }}", "template: t:1: invalid syntax"},
      {"{{ 1i }}", "template: t:1: illegal number syntax: \"1i\""},
      {"{{ continue }}", "template: t:1: {{continue}} outside {{range}}"},
      {"{{ range $i, $e := . }}{{ else if 1 }}{{ end }}",
       "template: t:1: unexpected <if> in input"},
      {"{{ \x01 }}",
       "template: t:1: unrecognized character in action: U+0001"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<Template> t = Template::Parse("t", c.text);
    EXPECT_THAT(t, StatusIs(absl::StatusCode::kInvalidArgument, c.message));
  }
}

TEST(TemplateExecute, WorksWithoutPrelude) {
  absl::StatusOr<Template> t =
      Template::Parse("plain", "{{ .Labels.job }}:{{ .Value }}");
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ(t->name(), "plain");
  EXPECT_THAT(t->Execute(AlertData(2.5), Env()), IsOkAndHolds("node:2.5"));
}

TEST(TemplateExecute, ErrorLocationIsLineAndByteColumn) {
  absl::StatusOr<Template> t = Template::Parse("x", "ab\ncd {{ index 1 2 }}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(
      t->Execute(AlertData(1), Env()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "template: x:2:6: executing \"x\" at <index 1 2>: error calling "
               "index: can't index item of type int"));
}

TEST(TemplateExecute, QueryWithoutQueryFunctionFails) {
  absl::StatusOr<Template> t = Template::Parse("q", "{{ query \"up\" }}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->Execute(AlertData(1), Env()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("error calling query: ")));
}

TEST(TemplateExecute, QueryReceivesTheExpression) {
  std::vector<std::string> seen;
  Env env;
  env.query = [&seen](std::string_view expr)
      -> absl::StatusOr<std::vector<QueryResultSample>> {
    seen.emplace_back(expr);
    return std::vector<QueryResultSample>{{{{"a", "b"}}, 7}};
  };
  absl::StatusOr<Template> t = Template::Parse(
      "q", "{{ with printf \"x{y='%s'}\" .Labels.job | query }}"
           "{{ . | first | value }}{{ end }}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->Execute(AlertData(1), env), IsOkAndHolds("7"));
  EXPECT_THAT(seen, ::testing::ElementsAre("x{y='node'}"));
}

TEST(TemplateExecute, ConcurrentExecutionOfOneTemplate) {
  absl::StatusOr<Template> t = Template::Parse(
      "c", "{{ range $k, $v := .Labels }}{{ $k }}{{ end }}{{ humanize .Value }}"
           "{{ reReplaceAll \"(\\\\w+)\" \"<$1>\" .Labels.job }}");
  ASSERT_THAT(t, IsOk());
  const Template copy = *t;  // copies share the parsed program
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&copy, &failures, i] {
      for (int k = 0; k < 200; ++k) {
        absl::StatusOr<std::string> out = copy.Execute(AlertData(1500), Env());
        if (!out.ok() ||
            *out != "alertnameinstancejobseverity1.5k<node>") {
          ++failures[i];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_THAT(failures, ::testing::Each(0));
}

TEST(TemplateLimits, OutputSizeIsBounded) {
  absl::StatusOr<Template> t = Template::Parse(
      "big", "{{ $s := printf \"%900000s\" \"x\" }}{{ $s }}{{ $s }}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->Execute(AlertData(1), Env()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("template output exceeds")));
}

TEST(TemplateLimits, StringDoublingIsBounded) {
  absl::StatusOr<Template> t = Template::Parse(
      "dbl", "{{ $x := \"ab\" }}{{ range 64 }}{{ $x = printf \"%s%s\" $x $x }}"
             "{{ end }}{{ len $x }}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->Execute(AlertData(1), Env()),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(TemplateLimits, ReplaceAllGrowthIsBounded) {
  absl::StatusOr<Template> t = Template::Parse(
      "re", "{{ $x := \"ab\" }}{{ range 64 }}"
            "{{ $x = reReplaceAll \".\" \"$0$0\" $x }}{{ end }}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->Execute(AlertData(1), Env()),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(TemplateLimits, LoopsAreBounded) {
  absl::StatusOr<Template> t =
      Template::Parse("loop", "{{ range 1000000000 }}{{ end }}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->Execute(AlertData(1), Env()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("steps")));
}

TEST(TemplateLimits, RecursionIsBounded) {
  absl::StatusOr<Template> t = Template::Parse(
      "rec", "{{ define \"r\" }}x{{ template \"r\" . }}{{ end }}"
             "{{ template \"r\" . }}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->Execute(AlertData(1), Env()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("exceeded maximum template depth (100)")));
}

TEST(TemplateLimits, NestingAcrossTemplateCallsIsBounded) {
  // 150 nested blocks per call times 100 calls would be 15000 levels deep.
  std::string body;
  for (int i = 0; i < 150; ++i) body += "{{ if 1 }}";
  body += "{{ template \"r\" . }}";
  for (int i = 0; i < 150; ++i) body += "{{ end }}";
  absl::StatusOr<Template> t = Template::Parse(
      "nest", "{{ define \"r\" }}" + body + "{{ end }}{{ template \"r\" . }}");
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->Execute(AlertData(1), Env()),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("template nesting exceeds 200 levels")));
}

TEST(TemplateLimits, DeepNestingIsAParseError) {
  const std::string parens =
      "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_THAT(Template::Parse("p", parens),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("max expression depth exceeded")));
  std::string ifs;
  for (int i = 0; i < 5000; ++i) ifs += "{{ if 1 }}";
  for (int i = 0; i < 5000; ++i) ifs += "{{ end }}";
  EXPECT_THAT(Template::Parse("p", ifs),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("max expression depth exceeded")));
}

TEST(TemplateLimits, ModerateNestingWorks) {
  std::string ifs;
  for (int i = 0; i < 50; ++i) ifs += "{{ if 1 }}";
  ifs += "deep";
  for (int i = 0; i < 50; ++i) ifs += "{{ end }}";
  absl::StatusOr<Template> t = Template::Parse("n", ifs);
  ASSERT_THAT(t, IsOk());
  EXPECT_THAT(t->Execute(AlertData(1), Env()), IsOkAndHolds("deep"));
}

}  // namespace
}  // namespace vigil::engine::tmpl
