#include "rpc/notifier/relabel.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/notifier/config.h"
#include "storage/base/status_matchers.h"
#include "yaml-cpp/yaml.h"

namespace vigil::rpc::notifier {
namespace {

using LabelMap = std::map<std::string, std::string>;
using ::testing::HasSubstr;

std::vector<RelabelRule> Rules(const std::string& yaml) {
  absl::StatusOr<std::vector<RelabelRule>> r =
      ParseRelabelConfigs(YAML::Load(yaml));
  EXPECT_THAT(r, IsOk());
  return r.ok() ? *r : std::vector<RelabelRule>();
}

struct Case {
  std::string name;
  std::string yaml;
  LabelMap in;
  bool keep;
  LabelMap out;  // checked when kept
};

class RelabelTable : public ::testing::TestWithParam<Case> {};

TEST_P(RelabelTable, Applies) {
  const Case& c = GetParam();
  LabelMap m = c.in;
  const bool keep = ApplyRelabel(Rules(c.yaml), &m);
  ASSERT_EQ(keep, c.keep);
  if (keep) {
    EXPECT_EQ(m, c.out);
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, RelabelTable,
    ::testing::Values(
        Case{"replace_default_regex",
             "- source_labels: [a]\n  target_label: b\n",
             {{"a", "x"}},
             true,
             {{"a", "x"}, {"b", "x"}}},
        Case{"replace_groups_and_braces",
             "- source_labels: [a, c]\n  regex: '(.*)-(.*);(.*)'\n"
             "  target_label: t\n  replacement: '${2}_$1x_$3'\n",
             {{"a", "foo-bar"}, {"c", "baz"}},
             true,
             // "$1x_" names the (missing) group "1x_": empty, as in Go.
             {{"a", "foo-bar"}, {"c", "baz"}, {"t", "bar_baz"}}},
        Case{"replace_no_match_is_noop",
             "- source_labels: [a]\n  regex: 'y'\n  target_label: b\n",
             {{"a", "x"}},
             true,
             {{"a", "x"}}},
        Case{"replace_empty_result_deletes",
             "- source_labels: [nope]\n  target_label: a\n",
             {{"a", "x"}},
             true,
             {}},
        Case{"replace_regex_is_anchored",
             "- source_labels: [a]\n  regex: 'b'\n  target_label: t\n"
             "  replacement: hit\n",
             {{"a", "abc"}},
             true,
             {{"a", "abc"}}},
        Case{"replace_target_from_group",
             "- source_labels: [a]\n  regex: '(.*)'\n  target_label: 'l_$1'\n"
             "  replacement: v\n",
             {{"a", "x"}},
             true,
             {{"a", "x"}, {"l_x", "v"}}},
        Case{"replace_named_group_and_dollar",
             "- source_labels: [a]\n  regex: '(?P<n>.*)'\n  target_label: t\n"
             "  replacement: '$$${n}'\n",
             {{"a", "x"}},
             true,
             {{"a", "x"}, {"t", "$x"}}},
        Case{"keep_match", "- source_labels: [sev]\n  regex: crit|page\n  action: keep\n",
             {{"sev", "page"}}, true, {{"sev", "page"}}},
        Case{"keep_no_match",
             "- source_labels: [sev]\n  regex: crit|page\n  action: keep\n",
             {{"sev", "info"}}, false, {}},
        Case{"drop_match", "- source_labels: [sev]\n  regex: info\n  action: DROP\n",
             {{"sev", "info"}}, false, {}},
        Case{"drop_missing_label_matches_empty",
             "- source_labels: [x]\n  regex: ''\n  action: drop\n",
             {{"a", "1"}}, false, {}},
        Case{"keepequal",
             "- source_labels: [a]\n  target_label: b\n  action: keepequal\n",
             {{"a", "1"}, {"b", "1"}}, true, {{"a", "1"}, {"b", "1"}}},
        Case{"keepequal_differs",
             "- source_labels: [a]\n  target_label: b\n  action: keepequal\n",
             {{"a", "1"}, {"b", "2"}}, false, {}},
        Case{"dropequal",
             "- source_labels: [a]\n  target_label: b\n  action: dropequal\n",
             {{"a", "1"}, {"b", "1"}}, false, {}},
        Case{"hashmod",
             "- source_labels: [a]\n  modulus: 1000\n  target_label: h\n"
             "  action: hashmod\n",
             {{"a", "foo"}}, true, {{"a", "foo"}, {"h", "696"}}},
        Case{"hashmod_two_sources",
             "- source_labels: [a, b]\n  modulus: 7\n  target_label: h\n"
             "  action: hashmod\n",
             {{"a", "bar"}, {"b", "baz"}}, true,
             {{"a", "bar"}, {"b", "baz"}, {"h", "4"}}},
        Case{"labelmap",
             "- regex: '__meta_(.+)'\n  action: labelmap\n",
             {{"__meta_zone", "eu"}, {"a", "1"}}, true,
             {{"__meta_zone", "eu"}, {"a", "1"}, {"zone", "eu"}}},
        Case{"labeldrop", "- regex: 'tmp_.*'\n  action: labeldrop\n",
             {{"tmp_a", "1"}, {"keep", "2"}}, true, {{"keep", "2"}}},
        Case{"labelkeep", "- regex: 'alertname|job'\n  action: labelkeep\n",
             {{"alertname", "A"}, {"job", "j"}, {"x", "y"}}, true,
             {{"alertname", "A"}, {"job", "j"}}},
        Case{"lowercase",
             "- source_labels: [a]\n  target_label: l\n  action: lowercase\n",
             {{"a", "MiXeD"}}, true, {{"a", "MiXeD"}, {"l", "mixed"}}},
        Case{"uppercase",
             "- source_labels: [a]\n  target_label: u\n  action: uppercase\n",
             {{"a", "MiXeD"}}, true, {{"a", "MiXeD"}, {"u", "MIXED"}}},
        Case{"rules_apply_in_order",
             "- source_labels: [a]\n  target_label: b\n"
             "- source_labels: [b]\n  regex: x\n  action: drop\n",
             {{"a", "x"}}, false, {}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(RelabelRule, RejectsInvalidSpecs) {
  struct Bad {
    RelabelSpec spec;
    std::string message;
  };
  RelabelSpec hashmod;
  hashmod.action = RelabelAction::kHashMod;
  hashmod.target_label = "h";
  RelabelSpec replace_no_target;
  RelabelSpec labeldrop_extra;
  labeldrop_extra.action = RelabelAction::kLabelDrop;
  labeldrop_extra.source_labels = {"a"};
  RelabelSpec lower_replacement;
  lower_replacement.action = RelabelAction::kLowercase;
  lower_replacement.target_label = "x";
  lower_replacement.replacement = "y";
  RelabelSpec bad_regex;
  bad_regex.target_label = "x";
  bad_regex.regex = "(";
  for (const Bad& b : std::vector<Bad>{
           {hashmod, "non-zero modulus"},
           {replace_no_target, "requires 'target_label'"},
           {labeldrop_extra, "requires only 'regex'"},
           {lower_replacement, "'replacement' can not be set"},
           {bad_regex, "invalid regex"},
       }) {
    EXPECT_THAT(RelabelRule::Create(b.spec),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr(b.message)))
        << b.message;
  }
}

TEST(Md5, MatchesRfc1321Vectors) {
  auto hex = [](std::string_view s) {
    const auto h = Md5(s);
    return absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
  };
  EXPECT_EQ(hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  // Crosses a 64-byte block boundary.
  EXPECT_EQ(hex("12345678901234567890123456789012345678901234567890123456789012"
                "345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(ParseRelabelAction, IsCaseInsensitiveAndRejectsUnknown) {
  EXPECT_THAT(ParseRelabelAction("LabelMap"), IsOk());
  EXPECT_THAT(ParseRelabelAction("explode"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown relabel action \"explode\"")));
}

TEST(RelabelLabels, WorksOnStorageLabels) {
  const std::vector<RelabelRule> rules =
      Rules("- source_labels: [a]\n  target_label: b\n  replacement: 'B$1'\n");
  storage::Labels out;
  ASSERT_TRUE(RelabelLabels(rules, storage::Labels::FromSorted({{"a", "1"}}),
                            &out));
  EXPECT_EQ(out.ToString(), "{a=\"1\", b=\"B1\"}");
}

}  // namespace
}  // namespace vigil::rpc::notifier
