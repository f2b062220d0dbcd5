#include "bench/loadgen/series.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::bench {
namespace {

std::string Get(const LabelPairs& labels, const std::string& name) {
  for (const auto& [n, v] : labels) {
    if (n == name) {
      return v;
    }
  }
  return "";
}

TEST(SeriesSet, LabelsAreSortedUniqueAndScrapeShaped) {
  const size_t per = SeriesSet::SeriesPerInstance();
  SeriesSet set({.series = static_cast<int64_t>(3 * per + 7), .seed = 1});
  ASSERT_EQ(set.size(), 3 * per + 7);
  std::set<LabelPairs> seen;
  std::set<std::string> names;
  for (size_t i = 0; i < set.size(); ++i) {
    const LabelPairs labels = set.Labels(i);
    EXPECT_TRUE(std::is_sorted(labels.begin(), labels.end())) << i;
    for (size_t j = 1; j < labels.size(); ++j) {
      EXPECT_NE(labels[j - 1].first, labels[j].first) << i;
    }
    EXPECT_EQ(labels.front().first, "__name__");
    EXPECT_FALSE(Get(labels, "job").empty());
    EXPECT_FALSE(Get(labels, "instance").empty());
    EXPECT_FALSE(Get(labels, "region").empty());
    EXPECT_TRUE(seen.insert(labels).second) << "duplicate series at " << i;
    names.insert(Get(labels, "__name__"));
  }
  EXPECT_GE(names.size(), 20u);
  EXPECT_TRUE(names.count("http_requests_total"));
  EXPECT_TRUE(names.count("http_request_duration_seconds_bucket"));
  EXPECT_TRUE(names.count("http_request_duration_seconds_sum"));
  EXPECT_TRUE(names.count("http_request_duration_seconds_count"));
  EXPECT_TRUE(names.count("go_goroutines"));
  // Same slot of different instances: same name, different instance.
  EXPECT_EQ(Get(set.Labels(5), "__name__"), Get(set.Labels(per + 5), "__name__"));
  EXPECT_NE(Get(set.Labels(5), "instance"), Get(set.Labels(per + 5), "instance"));
}

TEST(SeriesSet, CountersAndHistogramsNeverDecrease) {
  const size_t per = SeriesSet::SeriesPerInstance();
  SeriesSet set({.series = static_cast<int64_t>(2 * per), .seed = 7});
  for (size_t i = 0; i < set.size(); ++i) {
    if (set.Kind(i) == SeriesKind::kGauge) {
      continue;
    }
    double prev = set.Value(i, 0);
    EXPECT_GE(prev, 0);
    for (int64_t r = 1; r < 50; ++r) {
      const double v = set.Value(i, r);
      EXPECT_GE(v, prev) << "slot " << i << " round " << r;
      prev = v;
    }
    if (set.Kind(i) == SeriesKind::kCounter ||
        set.Kind(i) == SeriesKind::kHistogramCount) {
      EXPECT_GT(set.Value(i, 49), set.Value(i, 0)) << i;
    }
  }
}

TEST(SeriesSet, BucketsAreCumulativeAndInfEqualsCount) {
  const size_t per = SeriesSet::SeriesPerInstance();
  SeriesSet set({.series = static_cast<int64_t>(per), .seed = 3});
  // Group buckets by (name minus _bucket, handler labels) per round.
  for (int64_t r : {0, 1, 17}) {
    std::map<std::string, double> count;
    std::map<std::string, std::vector<std::pair<double, double>>> buckets;
    for (size_t i = 0; i < set.size(); ++i) {
      LabelPairs labels = set.Labels(i);
      std::string name = Get(labels, "__name__");
      std::string key = Get(labels, "handler") + Get(labels, "grpc_method");
      if (set.Kind(i) == SeriesKind::kHistogramCount) {
        count[name.substr(0, name.size() - 6) + key] = set.Value(i, r);
      } else if (set.Kind(i) == SeriesKind::kBucket) {
        std::string le = Get(labels, "le");
        double bound = le == "+Inf" ? 1e300 : std::stod(le);
        buckets[name.substr(0, name.size() - 7) + key].push_back(
            {bound, set.Value(i, r)});
      }
    }
    ASSERT_EQ(buckets.size(), 9u);
    for (auto& [key, bs] : buckets) {
      std::sort(bs.begin(), bs.end());
      for (size_t j = 1; j < bs.size(); ++j) {
        EXPECT_LE(bs[j - 1].second, bs[j].second) << key;
      }
      EXPECT_EQ(bs.back().second, count[key]) << key;
    }
  }
}

TEST(SeriesSet, ValuesAreDeterministicPerSeed) {
  SeriesSet a({.series = 500, .seed = 11});
  SeriesSet b({.series = 500, .seed = 11});
  SeriesSet c({.series = 500, .seed = 12});
  int differ = 0;
  for (size_t i = 0; i < 500; ++i) {
    EXPECT_EQ(a.Value(i, 9), b.Value(i, 9));
    differ += a.Value(i, 9) != c.Value(i, 9);
  }
  EXPECT_GT(differ, 100);
}

TEST(SeriesSet, ChurnReplacesSlotsRoundRobinAndRestartsCounters) {
  SeriesSet set({.series = 10, .seed = 1});
  const LabelPairs before = set.Labels(0);
  ASSERT_EQ(set.Kind(0), SeriesKind::kCounter);
  auto ranges = set.Churn(500, 4);
  ASSERT_EQ(ranges.size(), 1u);
  EXPECT_EQ(ranges[0], std::make_pair(size_t{0}, size_t{4}));
  EXPECT_NE(set.Labels(0), before);
  EXPECT_EQ(Get(set.Labels(0), "__name__"), Get(before, "__name__"));
  // The replacement counter starts again near zero at its birth round.
  SeriesSet fresh({.series = 10, .seed = 1});
  EXPECT_GE(fresh.Value(0, 500), 500);
  EXPECT_LT(set.Value(0, 500), 98);
  EXPECT_EQ(set.Value(0, 499), set.Value(0, 500));  // Before birth: clamped.

  ranges = set.Churn(6, 8);  // 4..10, then wraps to 0..2.
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], std::make_pair(size_t{4}, size_t{10}));
  EXPECT_EQ(ranges[1], std::make_pair(size_t{0}, size_t{2}));
  std::set<LabelPairs> unique;
  for (size_t i = 0; i < 10; ++i) {
    unique.insert(set.Labels(i));
  }
  EXPECT_EQ(unique.size(), 10u);
}

}  // namespace
}  // namespace vigil::bench
