#include "rpc/server/config.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::rpc::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(Config, ParsesPrometheusShape) {
  auto c = ParseConfig(R"(
global:
  scrape_interval: 15s
  evaluation_interval: 30s
  rule_query_offset: 1m
  scrape_timeout: 10s
  external_labels:
    region: eu
    cluster: a
    empty: ""
rule_files:
  - rules/*.yml
  - /abs/x.yml
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:9093"]
scrape_configs:
  - job_name: x
remote_write:
  - url: http://x
)",
                       "/etc/vigil/vigil.yml");
  ASSERT_THAT(c.status(), IsOk());
  EXPECT_EQ(c->scrape_interval, absl::Seconds(15));
  EXPECT_EQ(c->evaluation_interval, absl::Seconds(30));
  EXPECT_EQ(c->rule_query_offset, absl::Minutes(1));
  EXPECT_THAT(c->external_labels,
              ElementsAre(Pair("cluster", "a"), Pair("region", "eu")));
  EXPECT_THAT(c->rule_files, ElementsAre("rules/*.yml", "/abs/x.yml"));
  EXPECT_THAT(c->alerting_yaml, HasSubstr("alertmanagers:"));
  EXPECT_THAT(c->alerting_yaml, HasSubstr("127.0.0.1:9093"));
  EXPECT_THAT(c->ignored_sections, ElementsAre("scrape_configs", "remote_write"));
  EXPECT_EQ(c->path, "/etc/vigil/vigil.yml");
}

TEST(Config, EmptyAndDefault) {
  auto c = ParseConfig("", "x.yml");
  ASSERT_THAT(c.status(), IsOk());
  EXPECT_EQ(c->evaluation_interval, absl::Minutes(1));
  EXPECT_TRUE(c->rule_files.empty());
  auto d = ParseConfig(DefaultConfigText(), "");
  ASSERT_THAT(d.status(), IsOk());
  EXPECT_FALSE(DefaultConfigText().empty());
}

TEST(Config, ErrorsNameLine) {
  struct Case {
    std::string yaml, want;
  };
  for (const Case& tc : std::vector<Case>{
           {"global:\n  evaluation_interval: 1m\nscrape_confgs: []\n",
            "c.yml: line 3: field scrape_confgs not found in type config"},
           {"global:\n  evaluation_intervall: 1m\n",
            "c.yml: line 2: field evaluation_intervall not found in type global"},
           {"global:\n  evaluation_interval: 1 minute\n",
            "line 2: global.evaluation_interval"},
           {"global:\n  evaluation_interval: 0s\n", "must be greater than 0"},
           {"global:\n  external_labels:\n    __name__: x\n", "reserved"},
           {"rule_files: x.yml\n", "line 1: rule_files: want a list"},
           {"global: [\n", "c.yml: line"},
           {"- a\n- b\n", "want a mapping at the top level"},
           {"global: {}\nglobal: {}\n", "duplicate key global"},
       }) {
    auto c = ParseConfig(tc.yaml, "c.yml");
    EXPECT_THAT(c.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr(tc.want)))
        << tc.yaml;
  }
}

TEST(Config, LoadAndExpandRuleFiles) {
  std::string dir = ::testing::TempDir();
  std::string rules = dir + "/cfgtest_rules";
  std::remove((rules + "/a.yml").c_str());
  ASSERT_EQ(system(("mkdir -p " + rules).c_str()), 0);
  std::ofstream(rules + "/b.yml") << "groups: []\n";
  std::ofstream(rules + "/a.yml") << "groups: []\n";
  std::ofstream(dir + "/cfgtest.yml")
      << "rule_files:\n  - cfgtest_rules/*.yml\n  - cfgtest_rules/a.yml\n"
         "  - missing/*.yml\n";
  auto c = LoadConfigFile(dir + "/cfgtest.yml");
  ASSERT_THAT(c.status(), IsOk());
  auto files = ExpandRuleFiles(*c);
  ASSERT_THAT(files.status(), IsOk());
  EXPECT_THAT(*files, ElementsAre(rules + "/a.yml", rules + "/b.yml"));
  EXPECT_THAT(LoadConfigFile(dir + "/nope.yml").status(),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace vigil::rpc::server
