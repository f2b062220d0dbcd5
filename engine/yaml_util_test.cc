#include "engine/yaml_util.h"

#include <string>

#include "gtest/gtest.h"

namespace vigil::engine {
namespace {

std::string LoadError(const std::string& text) {
  try {
    LoadYaml(text);
  } catch (const YAML::Exception& e) {
    return std::to_string(e.mark.line + 1) + ": " + e.msg;
  }
  return "";
}

// yaml-cpp alone would read the rest of the file into the open quote and
// drop rule B without a word; Go's YAML (and so promtool) refuses the file.
TEST(LoadYaml, QuotedScalarLeftOpenIsAnErrorAtItsLine) {
  EXPECT_EQ(LoadError("groups:\n- name: g\n  rules:\n  - alert: A\n"
                      "    expr: up\n    annotations:\n      s: 'open\n"
                      "  - alert: B\n    expr: up\n"),
            "7: found unexpected end of stream");
  EXPECT_EQ(LoadError("a: \"open \\\" still open\nb: 1\n"),
            "1: found unexpected end of stream");
  EXPECT_EQ(LoadError("'open key: 1\n"), "1: found unexpected end of stream");
}

TEST(LoadYaml, ClosedQuotesAndBlockScalarsAreFine) {
  EXPECT_EQ(LoadError("a: 'it''s'\nb: \"x\\\"y\"\nc: |\n  'not a quote\n"
                      "d: >\n  \"neither\n'k': v\n"),
            "");
  const YAML::Node n = LoadYaml("a: 'it''s'\nb: \"x\\\"y\"\n");
  EXPECT_EQ(n["a"].as<std::string>(), "it's");
  EXPECT_EQ(n["b"].as<std::string>(), "x\"y");
}

TEST(LoadYaml, MergeKeysAddWhatTheMapLacks) {
  const YAML::Node n = LoadYaml(
      "common: &c {team: sre, severity: warning}\n"
      "more: &m {runbook: r}\n"
      "one:\n  <<: *c\n  severity: page\n"
      "two:\n  <<: [*m, *c]\n"
      "three:\n  <<: *c\n  nested:\n    <<: *m\n");
  EXPECT_FALSE(n["one"]["<<"].IsDefined());
  EXPECT_EQ(n["one"]["team"].as<std::string>(), "sre");
  EXPECT_EQ(n["one"]["severity"].as<std::string>(), "page");  // its own wins
  EXPECT_EQ(n["one"].size(), 2u);
  EXPECT_EQ(n["two"]["runbook"].as<std::string>(), "r");
  EXPECT_EQ(n["two"]["severity"].as<std::string>(), "warning");
  EXPECT_EQ(n["two"].size(), 3u);
  EXPECT_EQ(n["three"]["nested"]["runbook"].as<std::string>(), "r");
  // The anchored map itself is left as it was.
  EXPECT_EQ(n["common"].size(), 2u);
  // A quoted "<<" is an ordinary key.
  EXPECT_EQ(LoadYaml("a: {'<<': x}\n")["a"]["<<"].as<std::string>(), "x");
}

TEST(LoadYaml, MergeOfAScalarIsAnError) {
  EXPECT_EQ(LoadError("a:\n  <<: 5\n"),
            "2: map merge requires map or sequence of maps as the value");
}

}  // namespace
}  // namespace vigil::engine
