// Deterministic mutation fuzzing of the template parser and executor: any
// input must come back as text or as an InvalidArgument/ResourceExhausted
// error, never as a crash or a hang.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "engine/template/template.h"
#include "gtest/gtest.h"

namespace vigil::engine::tmpl {
namespace {

const std::vector<std::string>& Seeds() {
  static const auto* seeds = new std::vector<std::string>{
      "{{ $labels.instance }} of job {{ $labels.job }} is down",
      "{{ humanize $value }} {{ humanize1024 $value }} "
      "{{ humanizeDuration $value }} {{ humanizePercentage $value }}",
      "{{ with query \"up\" }}{{ . | first | value | humanize }}{{ end }}",
      "{{ range $i, $e := $labels }}{{ $i }}={{ $e }}{{ else }}-{{ end }}",
      "{{ if gt $value 1.0 }}a{{ else if lt $value 0.5 }}b{{ else }}c{{ end }}",
      "{{- /* comment */ -}} {{ printf \"%5.2f %q %x %v\" 3.1 \"s\" 255 . }}",
      "{{ define \"t\" }}[{{ . }}]{{ end }}{{ template \"t\" $labels.job }}",
      "{{ block \"b\" . }}{{ .Labels }}{{ end }}",
      "{{ reReplaceAll \"(.*):(\\\\d+)\" \"$2/$1\" $labels.instance }}",
      "{{ range query \"up\" }}{{ .Labels.instance }}{{ break }}{{ end }}",
      "{{ index $labels \"job\" }} {{ slice \"abcdef\" 1 3 }} {{ len . }}",
      "{{ and 1 (or 0 \"x\") (not false) (eq 1 1 2) (ne \"a\" \"b\") }}",
      "{{ html \"<x>\" }}{{ js \"'\" }}{{ urlquery \"a b\" }}{{ print 1 2 }}",
      "{{ toTime 1e9 }} {{ toDuration 90 }} {{ parseDuration \"1h\" }}",
      "{{ stripPort \"a:1\" }}{{ stripDomain \"a.b:1\" }}{{ title \"x y\" }}",
      "{{ $x := 1 }}{{ $x = 2 }}{{ with $y := $x }}{{ $y }}{{ end }}",
      "{{ range 5 }}{{ if eq . 3 }}{{ continue }}{{ end }}{{ . }}{{ end }}",
      "{{ (args 1 \"a\").arg1 }} {{ sortByLabel \"x\" (query \"up\") }}",
  };
  return *seeds;
}

const std::vector<std::string>& Tokens() {
  static const auto* tokens = new std::vector<std::string>{
      "{{", "}}", "{{-", " -}}", "{{/*", "*/}}", "$", "$x", "$x :=", "=",
      ".", ".Labels", "(", ")", "|", " ", "\n", "range", "end", "else", "if",
      "with", "define", "template", "block", "break", "continue", "nil",
      "\"", "`", "'", "\\", "printf", "\"%*.*d\"", "\"%-999999d\"",
      "humanize", "query", "index", "slice", "len", "1e400", "-0", "0x",
      "9223372036854775807", "18446744073709551616", "1.5", "true", "\xff",
      "\xc3\xa9", "reReplaceAll \"(\" \"\" \"\"", "call", "and", "or", ",",
      "range $i, $e :=", "{{ end }}", "{{ else }}", "\"\\x", "'\\u",
      "{{ range 100000 }}", "{{ template \"t\" . }}", "toDuration 1e300",
  };
  return *tokens;
}

std::string Mutate(const std::string& in, std::mt19937* rng) {
  std::string s = in;
  std::uniform_int_distribution<int> op_dist(0, 5);
  const int ops = 1 + (*rng)() % 4;
  for (int k = 0; k < ops; ++k) {
    const size_t pos = s.empty() ? 0 : (*rng)() % (s.size() + 1);
    switch (op_dist(*rng)) {
      case 0:  // flip a byte
        if (!s.empty()) s[pos % s.size()] = static_cast<char>((*rng)() & 0xFF);
        break;
      case 1:  // insert a token
        s.insert(pos, Tokens()[(*rng)() % Tokens().size()]);
        break;
      case 2: {  // delete a range
        const size_t len = (*rng)() % 8;
        if (pos < s.size()) s.erase(pos, len);
        break;
      }
      case 3: {  // duplicate a range
        if (pos < s.size()) {
          const size_t len = 1 + (*rng)() % 16;
          s.insert(pos, s.substr(pos, len));
        }
        break;
      }
      case 4: {  // splice in part of another seed
        const std::string& other = Seeds()[(*rng)() % Seeds().size()];
        const size_t from = (*rng)() % (other.size() + 1);
        s.insert(pos, other.substr(from, (*rng)() % 24));
        break;
      }
      default:  // truncate
        s.resize(pos);
        break;
    }
  }
  return s;
}

Env FuzzEnv() {
  Env env;
  env.eval_time_ms = 1;
  env.query = [](std::string_view expr)
      -> absl::StatusOr<std::vector<QueryResultSample>> {
    if (expr.size() % 3 == 0) return absl::InvalidArgumentError("bad query");
    return std::vector<QueryResultSample>{{{{"x", std::string(expr)}}, 1.5},
                                          {{{"x", "b"}}, -2}};
  };
  return env;
}

TEST(TemplateFuzz, MutatedTemplatesNeverCrash) {
  std::mt19937 rng(20261123);
  Data data;
  data.labels = {{"instance", "a.b:9100"}, {"job", "node"}};
  data.external_labels = {{"c", "d"}};
  data.external_url = "http://x:9090/p";
  data.value = 1234.5;
  const Env env = FuzzEnv();
  int parsed = 0, executed = 0;
  for (int i = 0; i < 6000; ++i) {
    const std::string& seed = Seeds()[rng() % Seeds().size()];
    const std::string text = Mutate(seed, &rng);
    absl::StatusOr<Template> t = Template::Parse("fuzz", text);
    if (!t.ok()) {
      ASSERT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument) << text;
      ASSERT_TRUE(absl::StartsWith(t.status().message(), "template: fuzz:"))
          << t.status().message();
      continue;
    }
    ++parsed;
    absl::StatusOr<std::string> out = t->Execute(data, env);
    if (out.ok()) {
      ++executed;
      ASSERT_LE(out->size(), Template::kMaxOutputBytes) << text;
    } else {
      const absl::StatusCode code = out.status().code();
      ASSERT_TRUE(code == absl::StatusCode::kInvalidArgument ||
                  code == absl::StatusCode::kResourceExhausted)
          << text << " -> " << out.status();
    }
    // The Prometheus wrapper turns every outcome into text.
    const std::string expanded = ExpandAlertTemplate("fuzz", text, data, env);
    (void)expanded;
  }
  // The mutations must leave enough valid templates to exercise execution.
  EXPECT_GT(parsed, 300);
  EXPECT_GT(executed, 150);
}

}  // namespace
}  // namespace vigil::engine::tmpl
