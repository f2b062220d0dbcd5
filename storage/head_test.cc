#include "storage/head.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/clock.h"
#include "storage/base/status_matchers.h"

namespace vigil::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

Labels L(std::vector<Label> l) {
  auto r = Labels::FromUnsorted(std::move(l));
  EXPECT_TRUE(r.ok());
  return *r;
}

Matcher M(MatchType t, std::string name, std::string value) {
  auto m = Matcher::Create(t, std::move(name), std::move(value));
  EXPECT_TRUE(m.ok()) << m.status();
  return *m;
}

AppendStats AppendOne(Head& head, const Labels& labels,
                      std::vector<Sample> samples) {
  SeriesSamples s{&labels, samples};
  auto r = head.Append({&s, 1});
  EXPECT_THAT(r, IsOk());
  return r.ok() ? *r : AppendStats{};
}

std::vector<Sample> Read(const Head& head, SeriesRef ref, int64_t mint = kMin,
                         int64_t maxt = kMax) {
  std::vector<int64_t> ts;
  std::vector<double> vs;
  const size_t n = head.ReadSamples(ref, mint, maxt, &ts, &vs);
  EXPECT_EQ(n, ts.size());
  std::vector<Sample> out;
  for (size_t i = 0; i < ts.size(); ++i) out.push_back({ts[i], vs[i]});
  return out;
}

SeriesRef RefOf(const Head& head, const Labels& labels) {
  std::vector<Matcher> ms;
  for (const Label& l : labels) ms.push_back(M(MatchType::kEqual, l.name, l.value));
  auto r = head.Select(ms, kMin, kMax);
  EXPECT_THAT(r, IsOk());
  EXPECT_EQ(r->size(), 1u);
  return r->empty() ? 0 : (*r)[0].ref;
}

void AtomicMaxForTest(std::atomic<int64_t>* a, int64_t v) {
  int64_t cur = a->load();
  while (cur < v && !a->compare_exchange_weak(cur, v)) {
  }
}

MATCHER_P2(SampleIs, t, v, "") {
  return arg.t == t && std::bit_cast<uint64_t>(arg.v) ==
                           std::bit_cast<uint64_t>(static_cast<double>(v));
}

TEST(Head, AppendReadRoundTripAcrossChunks) {
  SimulatedClock clock;
  Head head({}, &clock);
  const Labels up = L({{"__name__", "up"}, {"job", "a"}});
  std::vector<Sample> samples;
  for (int i = 0; i < 1000; ++i) samples.push_back({i * 15000, i * 0.5});
  AppendStats st = AppendOne(head, up, samples);
  EXPECT_EQ(st.appended, 1000);
  EXPECT_EQ(st.rejected(), 0);
  const SeriesRef ref = RefOf(head, up);
  std::vector<Sample> got = Read(head, ref);
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(got[i].t, i * 15000);
    ASSERT_EQ(got[i].v, i * 0.5);
  }
  // A range inside the 3rd..5th chunk.
  got = Read(head, ref, 300 * 15000, 500 * 15000);
  ASSERT_EQ(got.size(), 201u);
  EXPECT_EQ(got.front().t, 300 * 15000);
  EXPECT_EQ(got.back().t, 500 * 15000);
  HeadStats hs = head.Stats();
  EXPECT_EQ(hs.series, 1);
  EXPECT_EQ(hs.samples, 1000);
  EXPECT_EQ(hs.chunks, 9);  // 8 closed of 120 + the open one
  EXPECT_GT(hs.chunk_bytes, 0);
  EXPECT_EQ(head.MinTime(), 0);
  EXPECT_EQ(head.MaxTime(), 999 * 15000);
  // Unknown ref: nothing, no crash.
  EXPECT_THAT(Read(head, ref + 12345), IsEmpty());
}

TEST(Head, DuplicatesAndStaleness) {
  SimulatedClock clock;
  Head head({}, &clock);
  const Labels s = L({{"__name__", "x"}, {"job", "a"}});
  AppendOne(head, s, {{1000, 1}, {2000, StaleNaN()}});
  AppendStats st = AppendOne(head, s, {{2000, StaleNaN()}});
  EXPECT_EQ(st.duplicates_ignored, 1);
  EXPECT_EQ(st.rejected(), 0);
  // A NaN that is not the stale marker is a different value.
  st = AppendOne(head, s,
                 {{2000, std::numeric_limits<double>::quiet_NaN()}});
  EXPECT_EQ(st.rejected_duplicate_timestamp, 1);
  EXPECT_THAT(st.first_rejection,
              HasSubstr("duplicate sample for timestamp: series "
                        "x{job=\"a\"} t=2000"));
  AppendOne(head, s, {{3000, 5}});
  st = AppendOne(head, s, {{3000, 5}, {3000, 6}});
  EXPECT_EQ(st.duplicates_ignored, 1);
  EXPECT_EQ(st.rejected_duplicate_timestamp, 1);
  const auto got = Read(head, RefOf(head, s));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(IsStaleNaN(got[1].v));
  EXPECT_THAT(got[2], SampleIs(3000, 5));
}

TEST(Head, OutOfOrderRejectedWithoutWindow) {
  SimulatedClock clock;
  Head head({}, &clock);
  const Labels s = L({{"__name__", "x"}, {"job", "a"}});
  AppendOne(head, s, {{2000, 1}});
  AppendStats st = AppendOne(head, s, {{1000, 1}, {3000, 2}});
  EXPECT_EQ(st.rejected_out_of_order, 1);
  EXPECT_EQ(st.appended, 1);
  EXPECT_EQ(st.first_rejection,
            "out of order sample: series x{job=\"a\"} t=1000 (newest 2000)");
}

TEST(Head, OutOfOrderWindow) {
  SimulatedClock clock;
  HeadOptions opts;
  opts.out_of_order_window_ms = 10000;
  Head head(opts, &clock);
  const Labels s = L({{"__name__", "x"}});
  std::vector<Sample> in;
  for (int i = 0; i < 200; ++i) in.push_back({i * 100, 1.0 * i});
  AppendOne(head, s, in);  // newest 19900
  AppendStats st = AppendOne(head, s, {{9899, 1}});
  EXPECT_EQ(st.rejected_out_of_order, 1);  // 9899 < 19900 - 10000
  st = AppendOne(head, s, {{10050, -1}, {15050, -2}, {15050, -2}, {15050, 3}});
  EXPECT_EQ(st.appended, 2);
  EXPECT_EQ(st.duplicates_ignored, 1);
  EXPECT_EQ(st.rejected_duplicate_timestamp, 1);
  // Same timestamp as an in-order sample inside the window.
  st = AppendOne(head, s, {{15000, 150}, {15100, 7}});
  EXPECT_EQ(st.duplicates_ignored, 1);
  EXPECT_EQ(st.rejected_duplicate_timestamp, 1);
  const SeriesRef ref = RefOf(head, s);
  auto got = Read(head, ref, 10000, 15100);
  ASSERT_EQ(got.size(), 54u);  // 52 in order + 2 late
  EXPECT_THAT(got[0], SampleIs(10000, 100));
  EXPECT_THAT(got[1], SampleIs(10050, -1));
  EXPECT_THAT(got[2], SampleIs(10100, 101));
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1].t, got[i].t);

  // Enough out-of-order samples to fold the buffer into the chunks.
  std::vector<Sample> late;
  for (int i = 0; i < 99; ++i) late.push_back({10001 + i * 100, 1000.0 + i});
  st = AppendOne(head, s, late);
  EXPECT_EQ(st.appended, 99);
  got = Read(head, ref);
  ASSERT_EQ(got.size(), 200u + 2 + 99);
  for (size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1].t, got[i].t);
  EXPECT_EQ(head.Stats().samples, 301);
  // Still in order after folding, and new in-order samples go on appending.
  st = AppendOne(head, s, {{20000, 1}, {10001, 1000}});
  EXPECT_EQ(st.appended, 1);
  EXPECT_EQ(st.duplicates_ignored, 1);
}

struct MatchCase {
  std::vector<Matcher> matchers;
  std::vector<std::string> want;  // series ToString, sorted
};

TEST(Head, Matchers) {
  SimulatedClock clock;
  Head head({}, &clock);
  const std::vector<Labels> all = {
      L({{"__name__", "up"}, {"job", "api"}, {"instance", "host-1"}}),
      L({{"__name__", "up"}, {"job", "api"}, {"instance", "host-10"}}),
      L({{"__name__", "up"}, {"job", "db"}, {"instance", "host-2"}}),
      L({{"__name__", "up"}, {"instance", "host-3"}}),  // no job
      L({{"__name__", "requests_total"}, {"job", "api"}, {"code", "200"}}),
  };
  for (const Labels& l : all) AppendOne(head, l, {{1000, 1}});
  using enum MatchType;
  const std::vector<MatchCase> cases = {
      {{M(kEqual, "__name__", "up")},
       {"up{instance=\"host-1\", job=\"api\"}",
        "up{instance=\"host-10\", job=\"api\"}",
        "up{instance=\"host-2\", job=\"db\"}", "up{instance=\"host-3\"}"}},
      {{M(kEqual, "__name__", "up"), M(kEqual, "job", "api")},
       {"up{instance=\"host-1\", job=\"api\"}",
        "up{instance=\"host-10\", job=\"api\"}"}},
      {{M(kEqual, "__name__", "up"), M(kNotEqual, "job", "api")},
       {"up{instance=\"host-2\", job=\"db\"}", "up{instance=\"host-3\"}"}},
      {{M(kEqual, "__name__", "up"), M(kEqual, "job", "")},
       {"up{instance=\"host-3\"}"}},
      {{M(kEqual, "__name__", "up"), M(kNotEqual, "job", "")},
       {"up{instance=\"host-1\", job=\"api\"}",
        "up{instance=\"host-10\", job=\"api\"}",
        "up{instance=\"host-2\", job=\"db\"}"}},
      {{M(kRegexMatch, "job", "api|db")},
       {"requests_total{code=\"200\", job=\"api\"}",
        "up{instance=\"host-1\", job=\"api\"}",
        "up{instance=\"host-10\", job=\"api\"}",
        "up{instance=\"host-2\", job=\"db\"}"}},
      {{M(kRegexMatch, "instance", "host-1.*")},
       {"up{instance=\"host-1\", job=\"api\"}",
        "up{instance=\"host-10\", job=\"api\"}"}},
      {{M(kRegexMatch, "instance", "host-[23]")},
       {"up{instance=\"host-2\", job=\"db\"}", "up{instance=\"host-3\"}"}},
      {{M(kEqual, "__name__", "up"), M(kRegexMatch, "job", "db|")},
       {"up{instance=\"host-2\", job=\"db\"}", "up{instance=\"host-3\"}"}},
      {{M(kEqual, "__name__", "up"), M(kRegexNoMatch, "job", "a.*")},
       {"up{instance=\"host-2\", job=\"db\"}", "up{instance=\"host-3\"}"}},
      {{M(kEqual, "__name__", "up"), M(kRegexNoMatch, "job", "api|db")},
       {"up{instance=\"host-3\"}"}},
      {{M(kEqual, "__name__", "up"), M(kRegexMatch, "job", ".*")},
       {"up{instance=\"host-1\", job=\"api\"}",
        "up{instance=\"host-10\", job=\"api\"}",
        "up{instance=\"host-2\", job=\"db\"}", "up{instance=\"host-3\"}"}},
      {{M(kRegexMatch, "job", ".+"), M(kEqual, "code", "200")},
       {"requests_total{code=\"200\", job=\"api\"}"}},
      {{M(kEqual, "__name__", "nope")}, {}},
      {{M(kEqual, "nolabel", "x")}, {}},
      {{M(kEqual, "__name__", "up"), M(kEqual, "nolabel", "")},
       {"up{instance=\"host-1\", job=\"api\"}",
        "up{instance=\"host-10\", job=\"api\"}",
        "up{instance=\"host-2\", job=\"db\"}", "up{instance=\"host-3\"}"}},
      {{M(kEqual, "job", "api"), M(kEqual, "job", "db")}, {}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    auto r = head.Select(cases[i].matchers, kMin, kMax);
    ASSERT_THAT(r, IsOk()) << "case " << i;
    std::vector<std::string> got;
    for (const SeriesHandle& h : *r) got.push_back(h.labels.ToString());
    EXPECT_EQ(got, cases[i].want) << "case " << i;
  }
}

// Select sorts on ranks of interned symbols; the order must still be the
// one Labels' operator< gives (lexicographic over name/value pairs), with
// strings interned in no particular order, shared prefixes, prefixes of
// each other and label sets of different sizes, in a small store (ids
// indexed directly) and next to many unrelated symbols (the sparse path).
TEST(Head, SelectOrdersByLabelsWhateverTheInterningOrder) {
  for (int unrelated : {0, 20000}) {
    SimulatedClock clock;
    Head head(HeadOptions{}, &clock);
    for (int i = 0; i < unrelated; ++i) {
      AppendOne(head, L({{"__name__", "other"}, {"i", std::to_string(i)}}),
                {{1000, 1}});
    }
    std::vector<Labels> want;
    const std::vector<std::string> values = {"b", "a", "ab", "abc", "a\x01",
                                             "z", "B", "", "10", "9"};
    uint32_t seed = 7;
    for (int i = 0; i < 200; ++i) {
      seed = seed * 1103515245u + 12345u;
      std::vector<Label> ls = {{"__name__", "m"}};
      const std::string& v1 = values[(seed >> 8) % values.size()];
      const std::string& v2 = values[(seed >> 16) % values.size()];
      if (!v1.empty()) ls.push_back({"job", v1});
      if (!v2.empty()) ls.push_back({(seed >> 24) % 2 ? "instance" : "zone", v2});
      if ((seed >> 4) % 3 == 0) ls.push_back({"aa", v2.empty() ? "x" : v2});
      Labels l = L(ls);
      if (std::find(want.begin(), want.end(), l) != want.end()) continue;
      AppendOne(head, l, {{1000, 1}});
      want.push_back(l);
    }
    std::sort(want.begin(), want.end());
    auto got = head.Select({M(MatchType::kEqual, "__name__", "m")}, kMin, kMax);
    ASSERT_THAT(got, IsOk());
    ASSERT_EQ(got->size(), want.size()) << "unrelated=" << unrelated;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ((*got)[i].labels, want[i])
          << "unrelated=" << unrelated << " at " << i << ": "
          << (*got)[i].labels.ToString() << " vs " << want[i].ToString();
    }
  }
}

// ReadWindows must give, series by series, exactly what ReadSamples gives
// (or its newest sample with latest_only), whatever the order of the refs
// across shards, for unknown refs, windows inside, across and between
// chunks, and series with out-of-order samples still buffered.
TEST(Head, ReadWindowsMatchesReadSamples) {
  SimulatedClock clock;
  HeadOptions opts;
  opts.num_shards = 4;
  opts.out_of_order_window_ms = 1000000;
  Head head(opts, &clock);
  std::vector<SeriesRef> refs;
  for (int k = 0; k < 12; ++k) {
    Labels l = L({{"__name__", "m"}, {"k", std::to_string(k)}});
    std::vector<Sample> samples;
    // 300 samples: two closed chunks and an open one; series 5 has a gap.
    for (int i = 0; i < 300; ++i) {
      if (k == 5 && i >= 100 && i < 200) continue;
      samples.push_back({int64_t{i} * 1000 + k, double(i * k)});
    }
    AppendOne(head, l, samples);
    if (k % 4 == 3) {
      // Out of order, inside the window: buffered next to the chunks.
      AppendOne(head, l, {{int64_t{150} * 1000 + 500, -1.0}});
    }
    refs.push_back(RefOf(head, l));
  }
  refs.push_back(987654321);  // never existed
  std::vector<SeriesRef> batch(refs.rbegin(), refs.rend());  // shards mixed
  batch.push_back(refs[2]);                                   // twice
  const std::pair<int64_t, int64_t> windows[] = {
      {kMin, kMax},       {0, 299000},        {50000, 130000},
      {130000, 170000},   {150000, 150999},   {119500, 120500},
      {299500, 400000},   {-5000, -1},        {250000, 250000}};
  for (auto [mint, maxt] : windows) {
    for (bool latest : {false, true}) {
      std::vector<int64_t> ts = {42};  // appended to, not replaced
      std::vector<double> vs = {42};
      std::vector<size_t> off(batch.size()), n(batch.size());
      head.ReadWindows(batch, mint, maxt, latest, &ts, &vs, off.data(),
                       n.data());
      for (size_t i = 0; i < batch.size(); ++i) {
        std::vector<Sample> want = Read(head, batch[i], mint, maxt);
        if (latest && want.size() > 1) want = {want.back()};
        ASSERT_EQ(n[i], want.size())
            << "series " << i << " [" << mint << "," << maxt << "] latest "
            << latest;
        for (size_t j = 0; j < want.size(); ++j) {
          EXPECT_EQ(ts[off[i] + j], want[j].t) << i << " " << j;
          EXPECT_EQ(std::bit_cast<uint64_t>(vs[off[i] + j]), std::bit_cast<uint64_t>(want[j].v)) << i << " " << j;
        }
      }
      EXPECT_EQ(ts[0], 42);
    }
  }
}

TEST(Head, SelectErrorsAndTimeRange) {
  SimulatedClock clock;
  Head head({}, &clock);
  const Labels a = L({{"__name__", "a"}});
  const Labels b = L({{"__name__", "b"}});
  AppendOne(head, a, {{1000, 1}, {2000, 1}});
  AppendOne(head, b, {{5000, 1}});
  using enum MatchType;
  EXPECT_THAT(head.Select({}, kMin, kMax),
              StatusIs(absl::StatusCode::kInvalidArgument));
  const std::vector<Matcher> empty_ones = {M(kRegexMatch, "__name__", ".*"),
                                           M(kEqual, "job", "")};
  EXPECT_THAT(head.Select(empty_ones, kMin, kMax),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("empty string")));
  const std::vector<Matcher> any = {M(kRegexMatch, "__name__", ".+")};
  auto r = head.Select(any, 2500, 4000);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(*r, IsEmpty());
  r = head.Select(any, 2000, 4999);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].labels, a);
  r = head.Select(any, 0, 10000);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 2u);
  // A gap between chunks is not a match.
  const Labels gappy = L({{"__name__", "gappy"}});
  std::vector<Sample> in;
  for (int i = 0; i < 120; ++i) in.push_back({100000 + i, 1});
  in.push_back({900000, 1});  // opens a new chunk far away
  AppendOne(head, gappy, in);
  const std::vector<Matcher> g = {M(kEqual, "__name__", "gappy")};
  r = head.Select(g, 200000, 800000);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(*r, IsEmpty());
  r = head.Select(g, 200000, 900000);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->size(), 1u);
}

TEST(Head, LabelNamesAndValues) {
  SimulatedClock clock;
  Head head({}, &clock);
  AppendOne(head, L({{"__name__", "up"}, {"job", "a"}}), {{1000, 1}});
  AppendOne(head, L({{"__name__", "up"}, {"job", "b"}, {"zone", "eu"}}),
            {{5000, 1}});
  AppendOne(head, L({{"__name__", "other"}, {"team", "x"}}), {{9000, 1}});
  auto names = head.LabelNames({}, kMin, kMax);
  ASSERT_THAT(names, IsOk());
  EXPECT_THAT(*names, ElementsAre("__name__", "job", "team", "zone"));
  names = head.LabelNames({}, 0, 6000);
  ASSERT_THAT(names, IsOk());
  EXPECT_THAT(*names, ElementsAre("__name__", "job", "zone"));
  const std::vector<Matcher> up = {M(MatchType::kEqual, "__name__", "up")};
  names = head.LabelNames(up, kMin, kMax);
  ASSERT_THAT(names, IsOk());
  EXPECT_THAT(*names, ElementsAre("__name__", "job", "zone"));

  auto values = head.LabelValues("job", {}, kMin, kMax);
  ASSERT_THAT(values, IsOk());
  EXPECT_THAT(*values, ElementsAre("a", "b"));
  values = head.LabelValues("job", {}, 0, 2000);
  ASSERT_THAT(values, IsOk());
  EXPECT_THAT(*values, ElementsAre("a"));
  values = head.LabelValues("__name__", {}, kMin, kMax);
  ASSERT_THAT(values, IsOk());
  EXPECT_THAT(*values, ElementsAre("other", "up"));
  const std::vector<Matcher> zone = {M(MatchType::kEqual, "zone", "eu")};
  values = head.LabelValues("job", zone, kMin, kMax);
  ASSERT_THAT(values, IsOk());
  EXPECT_THAT(*values, ElementsAre("b"));
  values = head.LabelValues("missing", {}, kMin, kMax);
  ASSERT_THAT(values, IsOk());
  EXPECT_THAT(*values, IsEmpty());
  const std::vector<Matcher> bad = {M(MatchType::kEqual, "job", "")};
  EXPECT_THAT(head.LabelValues("job", bad, kMin, kMax),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Head, TruncateDropsSeriesAndBumpsGeneration) {
  SimulatedClock clock;
  Head head({}, &clock);
  const Labels old_s = L({{"__name__", "old"}});
  const Labels live = L({{"__name__", "live"}});
  std::vector<Sample> samples;
  for (int i = 0; i < 500; ++i) samples.push_back({i * 1000, 1.0 * i});
  AppendOne(head, old_s, {{1000, 1}, {2000, 2}});
  AppendOne(head, live, samples);
  const SeriesRef old_ref = RefOf(head, old_s);
  const SeriesRef live_ref = RefOf(head, live);
  const uint64_t gen = head.IndexGeneration();
  const HeadStats before = head.Stats();
  EXPECT_EQ(before.series, 2);

  head.Truncate(250500);
  EXPECT_GT(head.IndexGeneration(), gen);
  EXPECT_THAT(Read(head, old_ref), IsEmpty());
  auto got = Read(head, live_ref);
  ASSERT_EQ(got.size(), 249u);
  EXPECT_EQ(got.front().t, 251000);
  const HeadStats after = head.Stats();
  EXPECT_EQ(after.series, 1);
  EXPECT_LT(after.chunks, before.chunks);
  EXPECT_LT(after.chunk_bytes, before.chunk_bytes);
  const std::vector<Matcher> old_m = {M(MatchType::kEqual, "__name__", "old")};
  auto r = head.Select(old_m, kMin, kMax);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(*r, IsEmpty());
  auto values = head.LabelValues("__name__", {}, kMin, kMax);
  ASSERT_THAT(values, IsOk());
  EXPECT_THAT(*values, ElementsAre("live"));
  // Older samples are now refused; a truncate that drops nothing keeps the
  // generation.
  AppendStats st = AppendOne(head, old_s, {{3000, 1}});
  EXPECT_EQ(st.rejected_too_old, 1);
  EXPECT_THAT(st.first_rejection, HasSubstr("sample too old"));
  const uint64_t gen2 = head.IndexGeneration();
  head.Truncate(250500);
  EXPECT_EQ(head.IndexGeneration(), gen2);
  // Re-creating a dropped series gives it a new ref.
  AppendOne(head, old_s, {{600000, 1}});
  EXPECT_NE(RefOf(head, old_s), old_ref);
}

TEST(Head, SelectGenerationFollowsOnlyTheSelectedName) {
  SimulatedClock clock;
  Head head({}, &clock);
  const std::vector<Matcher> up = {M(MatchType::kEqual, "__name__", "up")};
  const std::vector<Matcher> by_job = {M(MatchType::kEqual, "job", "a")};
  EXPECT_EQ(head.SelectGeneration(up), 0u);  // never seen
  AppendOne(head, L({{"__name__", "up"}, {"job", "a"}}), {{1000, 1}});
  const uint64_t up_gen = head.SelectGeneration(up);
  EXPECT_GT(up_gen, 0u);
  // Series of other names (ALERTS written by rules) leave it alone, but not
  // the global generation, which selectors without a name equality use.
  const uint64_t global = head.SelectGeneration(by_job);
  AppendOne(head, L({{"__name__", "ALERTS"}, {"job", "a"}}), {{1000, 1}});
  EXPECT_EQ(head.SelectGeneration(up), up_gen);
  EXPECT_GT(head.SelectGeneration(by_job), global);
  // New samples of a known series change nothing.
  AppendOne(head, L({{"__name__", "up"}, {"job", "a"}}), {{2000, 1}});
  EXPECT_EQ(head.SelectGeneration(up), up_gen);
  // A new series of the name does.
  AppendOne(head, L({{"__name__", "up"}, {"job", "b"}}), {{2000, 1}});
  const uint64_t up_gen2 = head.SelectGeneration(up);
  EXPECT_GT(up_gen2, up_gen);
  // So does dropping them, and coming back after that.
  head.Truncate(10000);
  const uint64_t up_gen3 = head.SelectGeneration(up);
  EXPECT_GT(up_gen3, up_gen2);
  AppendOne(head, L({{"__name__", "up"}, {"job", "a"}}), {{20000, 1}});
  EXPECT_GT(head.SelectGeneration(up), up_gen3);
}

TEST(Head, ChangeFeedReportsEverySeriesAppendedTo) {
  SimulatedClock clock;
  HeadOptions opts;
  opts.num_shards = 4;
  Head head(opts, &clock);
  std::vector<Labels> ls;
  std::vector<SeriesRef> refs;
  for (int i = 0; i < 50; ++i) {
    ls.push_back(L({{"__name__", "m"}, {"i", absl::StrCat(i)}}));
    AppendOne(head, ls.back(), {{1000, 1}});
    refs.push_back(RefOf(head, ls.back()));
  }
  ChangeCursor cursor;
  std::vector<SeriesRef> changed;
  // A fresh cursor cannot tell what changed before it.
  EXPECT_FALSE(head.ReadChanges(&cursor, &changed));
  EXPECT_TRUE(head.ReadChanges(&cursor, &changed));
  EXPECT_TRUE(changed.empty());
  // Appends to some series: exactly those are reported.
  for (int i = 0; i < 50; i += 7) AppendOne(head, ls[i], {{2000, 2}});
  // A duplicate (same timestamp and value) changes nothing.
  AppendOne(head, ls[1], {{1000, 1}});
  ASSERT_TRUE(head.ReadChanges(&cursor, &changed));
  std::vector<SeriesRef> want;
  for (int i = 0; i < 50; i += 7) want.push_back(refs[i]);
  std::sort(changed.begin(), changed.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(changed, want);
  changed.clear();
  ASSERT_TRUE(head.ReadChanges(&cursor, &changed));
  EXPECT_TRUE(changed.empty());
  // A reader that stays away while the ring wraps is told it missed some.
  for (int64_t t = 3000; t < 3000 + 2000 * 1000; t += 1000) {
    AppendOne(head, ls[3], {{t, 3}});
  }
  changed.clear();
  EXPECT_FALSE(head.ReadChanges(&cursor, &changed));
  // And goes on from the present.
  AppendOne(head, ls[4], {{5000, 4}});
  changed.clear();
  ASSERT_TRUE(head.ReadChanges(&cursor, &changed));
  EXPECT_EQ(changed, std::vector<SeriesRef>{refs[4]});
}

// Each shard's ring has a power-of-two size (at least 1,024): reads that
// straddle its end still get every ref appended to, once.
TEST(Head, ChangeFeedReadsAcrossTheRingsEnd) {
  SimulatedClock clock;
  HeadOptions opts;
  opts.num_shards = 4;
  Head head(opts, &clock);
  std::vector<Labels> ls;
  std::vector<SeriesRef> refs;
  for (int i = 0; i < 400; ++i) {
    ls.push_back(L({{"__name__", "m"}, {"i", absl::StrCat(i)}}));
    AppendOne(head, ls.back(), {{1000, 1}});
    refs.push_back(RefOf(head, ls.back()));
  }
  std::sort(refs.begin(), refs.end());
  ChangeCursor cursor;
  std::vector<SeriesRef> changed;
  EXPECT_FALSE(head.ReadChanges(&cursor, &changed));
  // About 100 refs per shard and round: 25 rounds go round each ring twice.
  for (int round = 0; round < 25; ++round) {
    for (const Labels& l : ls) {
      AppendOne(head, l, {{2000 + round * 1000, static_cast<double>(round)}});
    }
    changed.clear();
    ASSERT_TRUE(head.ReadChanges(&cursor, &changed)) << round;
    std::sort(changed.begin(), changed.end());
    EXPECT_EQ(changed, refs) << round;
  }
}

TEST(Head, ReadNewSamplesGoesOnFromTheCursor) {
  SimulatedClock clock;
  for (int64_t ooo_window : {int64_t{0}, int64_t{60000}}) {
    HeadOptions opts;
    opts.out_of_order_window_ms = ooo_window;
    Head head(opts, &clock);
    const Labels l = L({{"__name__", "m"}});
    AppendOne(head, l, {{1000, 1}});
    const SeriesRef ref = RefOf(head, l);
    TailCursor cursor;
    std::vector<int64_t> got_t;
    std::vector<double> got_v;
    int64_t last = 0;
    // Polled after every few appends, across several chunk cuts: the
    // samples newer than the last one seen, each exactly once.
    for (int64_t t = 2000; t <= 400 * 1000; t += 1000) {
      AppendOne(head, l, {{t, static_cast<double>(t % 7000)}});
      if (t % 3000 != 0) continue;
      const size_t n = head.ReadNewSamples(ref, last, &cursor, &got_t, &got_v);
      ASSERT_GT(n, 0u);
      last = got_t.back();
      EXPECT_EQ(last, t);
      // The shortcut is taken only without an out-of-order window.
      EXPECT_EQ(cursor.valid, ooo_window == 0);
    }
    // The sample appended after the last poll.
    EXPECT_EQ(head.ReadNewSamples(ref, last, &cursor, &got_t, &got_v), 1u);
    last = got_t.back();
    std::vector<int64_t> want_t;
    std::vector<double> want_v;
    head.ReadSamples(ref, 1, kMax, &want_t, &want_v);
    EXPECT_EQ(got_t, want_t);
    EXPECT_EQ(got_v, want_v);
    // Nothing new, nothing read; asking from further back than the cursor
    // falls back to a full read.
    EXPECT_EQ(head.ReadNewSamples(ref, last, &cursor, &got_t, &got_v), 0u);
    got_t.clear();
    got_v.clear();
    EXPECT_EQ(head.ReadNewSamples(ref, 390 * 1000, &cursor, &got_t, &got_v),
              10u);
    EXPECT_EQ(got_t.front(), 391 * 1000);
    // A dropped series reads as empty and invalidates the cursor.
    head.Truncate(500 * 1000);
    EXPECT_EQ(head.ReadNewSamples(ref, 0, &cursor, &got_t, &got_v), 0u);
    EXPECT_FALSE(cursor.valid);
  }
}

TEST(Head, TruncateRecyclesSymbols) {
  SimulatedClock clock;
  Head head({}, &clock);
  const Labels keep = L({{"__name__", "kept"}, {"pod", "p-0"}});
  AppendOne(head, keep, {{100000, 1}});
  for (int i = 0; i < 100; ++i) {
    AppendOne(head, L({{"__name__", "churn"}, {"pod", "pod-" + std::to_string(i)}}),
              {{1000, 1}});
  }
  const HeadStats before = head.Stats();
  EXPECT_EQ(before.symbols, 3 + 1 + 1 + 100);  // names, kept, p-0, churn, pods
  head.Truncate(50000);
  const HeadStats after = head.Stats();
  EXPECT_EQ(after.series, 1);
  EXPECT_EQ(after.symbols, 4);  // __name__, pod, kept, p-0
  EXPECT_LT(after.label_bytes, before.label_bytes);
  // Recycled slots come back with the right strings.
  for (int i = 0; i < 50; ++i) {
    AppendOne(head, L({{"__name__", "new"}, {"pod", "x-" + std::to_string(i)}}),
              {{200000, 1}});
  }
  const std::vector<Matcher> m = {M(MatchType::kEqual, "__name__", "new")};
  auto r = head.Select(m, kMin, kMax);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->size(), 50u);
  EXPECT_EQ((*r)[0].labels.ToString(), "new{pod=\"x-0\"}");
  EXPECT_EQ((*r)[49].labels.ToString(), "new{pod=\"x-9\"}");  // sorted
  auto values = head.LabelValues("pod", {}, kMin, kMax);
  ASSERT_THAT(values, IsOk());
  EXPECT_EQ(values->size(), 51u);
  EXPECT_EQ(RefOf(head, keep) != 0, true);
  EXPECT_EQ(head.Stats().symbols, 4 + 1 + 50);
}

TEST(Head, RetentionRejectsTooOld) {
  SimulatedClock clock(absl::FromUnixMillis(1000000));
  HeadOptions opts;
  opts.retention_ms = 100000;
  Head head(opts, &clock);
  const Labels s = L({{"__name__", "x"}});
  AppendStats st = AppendOne(head, s, {{800000, 1}, {950000, 2}});
  EXPECT_EQ(st.rejected_too_old, 1);
  EXPECT_EQ(st.appended, 1);
  // Background retention starts and stops cleanly (its effect is Truncate,
  // tested above).
  head.StartBackgroundRetention(absl::Milliseconds(1));
  head.Stop();
  EXPECT_EQ(head.Stats().series, 1);
}

TEST(Head, RefsNumberSeriesDenselyAboveTheShardBits) {
  SimulatedClock clock;
  Head head({}, &clock);
  const int shift = head.RefSequenceShift();
  ASSERT_GE(shift, 0);
  std::vector<Labels> labels;
  for (int i = 0; i < 40; ++i) {
    labels.push_back(L({{"__name__", "x"}, {"i", absl::StrCat(i)}}));
  }
  std::vector<SeriesSamples> batch;
  const std::vector<Sample> one = {{1000, 1}};
  for (const Labels& l : labels) batch.push_back({&l, one});
  ASSERT_THAT(head.Append(batch), IsOk());
  auto sel = head.Select({*Matcher::Create(MatchType::kEqual, "__name__", "x")},
                         0, 2000);
  ASSERT_THAT(sel, IsOk());
  std::vector<uint64_t> seqs;
  for (const SeriesHandle& h : *sel) seqs.push_back(h.ref >> shift);
  std::sort(seqs.begin(), seqs.end());
  // 1, 2, ..., 40: one number per series, none skipped, none repeated.
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], i + 1);
}

TEST(Head, InvalidBatch) {
  SimulatedClock clock;
  Head head({}, &clock);
  const Labels ok = L({{"__name__", "x"}});
  const Labels empty;
  const std::vector<Sample> one = {{1, 1}};
  const std::vector<SeriesSamples> batch = {{&ok, one}, {&empty, one}};
  EXPECT_THAT(head.Append(batch), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("series 1")));
  EXPECT_EQ(head.Stats().series, 0);
}

TEST(Head, ResourceExhaustedAppliesNothing) {
  SimulatedClock clock;
  HeadOptions opts;
  opts.max_series = 2;
  Head head(opts, &clock);
  const Labels a = L({{"__name__", "a"}});
  const Labels b = L({{"__name__", "b"}});
  const Labels c = L({{"__name__", "c"}});
  AppendOne(head, a, {{1000, 1}});
  const std::vector<Sample> s2 = {{2000, 2}};
  const std::vector<SeriesSamples> batch = {{&a, s2}, {&b, s2}, {&c, s2}};
  EXPECT_THAT(head.Append(batch),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("series limit")));
  EXPECT_EQ(head.Stats().series, 1);
  EXPECT_EQ(head.NumSeries(), 1);
  EXPECT_EQ(head.Stats().samples, 1);  // a's sample at 2000 not applied
  const std::vector<SeriesSamples> fits = {{&a, s2}, {&b, s2}};
  auto r = head.Append(fits);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->appended, 2);
  EXPECT_EQ(head.NumSeries(), 2);
  EXPECT_EQ(head.NumSeries(), head.Stats().series);

  HeadOptions bytes_opts;
  bytes_opts.max_chunk_bytes = 1000;
  Head small(bytes_opts, &clock);
  std::vector<Sample> many;
  for (int i = 0; i < 1000; ++i) many.push_back({i, 1.0 * i});
  SeriesSamples big{&a, many};
  EXPECT_THAT(small.Append({&big, 1}),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("chunk memory limit")));
  EXPECT_EQ(small.Stats().series, 0);

  // The limit follows what is held: it refuses while full and accepts again
  // once truncation freed the chunks (OOO folding included).
  HeadOptions limit_opts;
  limit_opts.max_chunk_bytes = 2200;  // 1000-sample batches estimate 2000
  limit_opts.out_of_order_window_ms = 1000000;
  Head limited(limit_opts, &clock);
  std::vector<Sample> first, late, second;
  for (int i = 0; i < 1000; i += 2) first.push_back({i, 1.0 * i});
  for (int i = 1; i < 1000; i += 2) late.push_back({i, 1.0 * i});
  for (int i = 0; i < 1000; ++i) second.push_back({10000 + i, 1.0 * i});
  SeriesSamples b1{&a, first}, b2{&a, late}, b3{&a, second};
  ASSERT_THAT(limited.Append({&b1, 1}), IsOk());
  ASSERT_THAT(limited.Append({&b2, 1}), IsOk());  // folds out-of-order data
  EXPECT_EQ(limited.Stats().samples, 1000);
  EXPECT_THAT(limited.Append({&b3, 1}),
              StatusIs(absl::StatusCode::kResourceExhausted));
  limited.Truncate(5000);
  EXPECT_EQ(limited.Stats().chunk_bytes, 0);
  EXPECT_THAT(limited.Append({&b3, 1}), IsOk());
}

TEST(Head, AppendWithRefsReturnsRefsAndGoesStraightToTheSeries) {
  SimulatedClock clock;
  Head head({}, &clock);
  std::vector<Labels> labels;
  for (int i = 0; i < 300; ++i) {
    labels.push_back(L({{"__name__", "m"}, {"i", std::to_string(i)}}));
  }
  const std::vector<Sample> first = {{1000, 1}};
  std::vector<SeriesSamples> batch;
  for (const Labels& l : labels) batch.push_back({&l, first});
  // An entry without samples is not created and gets no ref.
  const Labels empty_series = L({{"__name__", "nothing"}});
  batch.push_back({&empty_series, {}});
  std::vector<SeriesRef> refs(batch.size(), 0);
  std::vector<size_t> stale;
  auto r = head.AppendWithRefs(batch, absl::MakeSpan(refs), &stale);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->appended, 300);
  EXPECT_THAT(stale, IsEmpty());
  EXPECT_EQ(refs.back(), 0u);
  refs.pop_back();
  batch.pop_back();
  for (size_t i = 0; i < labels.size(); ++i) {
    ASSERT_NE(refs[i], 0u);
    EXPECT_EQ(refs[i], RefOf(head, labels[i])) << i;
  }
  // By ref only: labels null, samples land in the right series.
  std::vector<Sample> second(labels.size());
  std::vector<SeriesSamples> by_ref(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    second[i] = {2000, 10.0 + i};
    by_ref[i] = {nullptr, absl::MakeConstSpan(&second[i], 1)};
  }
  std::vector<SeriesRef> given = refs;
  r = head.AppendWithRefs(by_ref, absl::MakeSpan(given), &stale);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->appended, 300);
  EXPECT_EQ(given, refs);
  for (size_t i = 0; i < labels.size(); ++i) {
    EXPECT_THAT(Read(head, refs[i]),
                ElementsAre(SampleIs(1000, 1), SampleIs(2000, 10.0 + i)));
  }
  // Rejections through a ref name the series.
  const std::vector<Sample> older = {{500, 1}};
  SeriesSamples one{nullptr, older};
  SeriesRef ref0 = refs[0];
  r = head.AppendWithRefs({&one, 1}, {&ref0, 1}, &stale);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->rejected_out_of_order, 1);
  EXPECT_THAT(r->first_rejection, HasSubstr("series m{i=\"0\"} t=500"));
  // A ref-only entry needs no labels, a ref 0 entry does.
  SeriesRef zero = 0;
  EXPECT_THAT(head.AppendWithRefs({&one, 1}, {&zero, 1}, &stale),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(head.AppendWithRefs({&one, 1}, {}, &stale),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Head, AppendWithRefsReportsDroppedSeriesAsStale) {
  SimulatedClock clock;
  Head head({}, &clock);
  const Labels gone = L({{"__name__", "gone"}});
  const Labels kept = L({{"__name__", "kept"}});
  AppendOne(head, gone, {{1000, 1}});
  AppendOne(head, kept, {{1000, 1}, {9000, 2}});
  const SeriesRef gone_ref = RefOf(head, gone);
  const SeriesRef kept_ref = RefOf(head, kept);
  head.Truncate(5000);
  ASSERT_THAT(Read(head, gone_ref), IsEmpty());
  const std::vector<Sample> s = {{10000, 3}};
  // The stale entry is reported and not applied, even with labels given:
  // the caller decides how to re-create it.
  const std::vector<SeriesSamples> batch = {{&gone, s}, {nullptr, s}, {&gone, s}};
  std::vector<SeriesRef> refs = {gone_ref, kept_ref, gone_ref};
  std::vector<size_t> stale;
  auto r = head.AppendWithRefs(batch, absl::MakeSpan(refs), &stale);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->appended, 1);
  EXPECT_THAT(stale, ElementsAre(0u, 2u));
  EXPECT_THAT(refs, ElementsAre(0u, kept_ref, 0u));
  EXPECT_EQ(head.Stats().series, 1);
  // Appended again by labels, it is re-created under a new ref.
  SeriesRef again = 0;
  r = head.AppendWithRefs({&batch[0], 1}, {&again, 1}, &stale);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->appended, 1);
  EXPECT_NE(again, 0u);
  EXPECT_NE(again, gone_ref);
  EXPECT_THAT(Read(head, again), ElementsAre(SampleIs(10000, 3)));
  EXPECT_THAT(Read(head, kept_ref),
              ElementsAre(SampleIs(9000, 2), SampleIs(10000, 3)));
}

TEST(Head, ConcurrentAppendsAndReads) {
  SimulatedClock clock;
  HeadOptions opts;
  opts.num_shards = 4;  // more contention
  Head head(opts, &clock);
  constexpr int kSeriesPerThread = 200;
  constexpr int kRounds = 50;
  std::vector<std::vector<Labels>> labels(2);
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < kSeriesPerThread; ++i) {
      // Half the series are shared between the threads.
      const std::string owner = i % 2 == 0 ? "shared" : std::to_string(k);
      labels[k].push_back(L({{"__name__", "m"},
                             {"owner", owner},
                             {"i", std::to_string(i)}}));
    }
  }
  std::atomic<bool> done{false};
  std::vector<AppendStats> totals(2);
  auto writer = [&](int k) {
    for (int round = 0; round < kRounds; ++round) {
      std::vector<Sample> s = {{round * 1000, 1.0 * round}};
      std::vector<SeriesSamples> batch;
      for (const Labels& l : labels[k]) batch.push_back({&l, s});
      auto r = head.Append(batch);
      ASSERT_THAT(r, IsOk());
      totals[k].appended += r->appended;
      totals[k].duplicates_ignored += r->duplicates_ignored;
      totals[k].rejected_out_of_order += r->rejected_out_of_order;
    }
  };
  int64_t reads = 0;
  std::thread reader([&] {
    const std::vector<Matcher> ms = {M(MatchType::kEqual, "__name__", "m")};
    // At least one pass even when the writers finish first (a loaded
    // machine may not schedule this thread before they do).
    do {
      auto r = head.Select(ms, kMin, kMax);
      ASSERT_THAT(r, IsOk());
      for (const SeriesHandle& h : *r) {
        std::vector<int64_t> ts;
        std::vector<double> vs;
        head.ReadSamples(h.ref, kMin, kMax, &ts, &vs);
        for (size_t i = 1; i < ts.size(); ++i) ASSERT_LT(ts[i - 1], ts[i]);
      }
      ++reads;
    } while (!done.load());
  });
  std::thread w0(writer, 0), w1(writer, 1);
  w0.join();
  w1.join();
  done = true;
  reader.join();
  EXPECT_GT(reads, 0);
  const HeadStats st = head.Stats();
  EXPECT_EQ(st.series, 300);  // 100 shared + 2 * 100 own
  EXPECT_EQ(st.samples, 300 * kRounds);
  const int64_t accounted = totals[0].appended + totals[1].appended +
                            totals[0].duplicates_ignored +
                            totals[1].duplicates_ignored +
                            totals[0].rejected_out_of_order +
                            totals[1].rejected_out_of_order;
  EXPECT_EQ(accounted, 2 * kSeriesPerThread * kRounds);
  EXPECT_EQ(totals[0].appended + totals[1].appended, 300 * kRounds);
}

// Appends, reads and truncation all at once, with series churning so that
// truncation drops series and recycles symbols while readers run. Checks
// that nothing crashes (run it under ASan), reads stay ordered, and the
// index agrees with the series map at the end.
TEST(Head, ConcurrentTruncateWithChurn) {
  SimulatedClock clock;
  HeadOptions opts;
  opts.num_shards = 8;
  Head head(opts, &clock);
  constexpr int kRounds = 60;
  std::atomic<int> writers_done{0};
  std::atomic<int64_t> newest{0};
  auto writer = [&](int k) {
    for (int round = 0; round < kRounds; ++round) {
      std::vector<Labels> labels;
      for (int i = 0; i < 50; ++i) {
        // A new "pod" generation every 10 rounds: old series go stale.
        labels.push_back(L({{"__name__", "m"},
                            {"writer", std::to_string(k)},
                            {"pod", "pod-" + std::to_string(round / 10) + "-" +
                                        std::to_string(i)}}));
      }
      std::vector<Sample> s = {{round * 1000, 1.0 * round}};
      std::vector<SeriesSamples> batch;
      for (const Labels& l : labels) batch.push_back({&l, s});
      ASSERT_THAT(head.Append(batch), IsOk());
      AtomicMaxForTest(&newest, round * 1000);
    }
    writers_done.fetch_add(1);
  };
  std::thread reader([&] {
    const std::vector<Matcher> ms = {M(MatchType::kEqual, "__name__", "m")};
    while (writers_done.load() < 2) {
      auto r = head.Select(ms, kMin, kMax);
      ASSERT_THAT(r, IsOk());
      for (const SeriesHandle& h : *r) {
        ASSERT_EQ(h.labels.MetricName(), "m");
        std::vector<int64_t> ts;
        std::vector<double> vs;
        head.ReadSamples(h.ref, kMin, kMax, &ts, &vs);
        for (size_t i = 1; i < ts.size(); ++i) ASSERT_LT(ts[i - 1], ts[i]);
      }
      auto values = head.LabelValues("pod", {}, kMin, kMax);
      ASSERT_THAT(values, IsOk());
      for (const std::string& v : *values) ASSERT_EQ(v.rfind("pod-", 0), 0u);
    }
  });
  std::thread truncator([&] {
    while (writers_done.load() < 2) {
      head.Truncate(newest.load() - 5000);
    }
  });
  std::thread w0(writer, 0), w1(writer, 1);
  w0.join();
  w1.join();
  reader.join();
  truncator.join();
  head.Truncate((kRounds - 1) * 1000 - 5000);
  const std::vector<Matcher> ms = {M(MatchType::kRegexMatch, "__name__", ".+")};
  auto all = head.Select(ms, kMin, kMax);
  ASSERT_THAT(all, IsOk());
  const HeadStats st = head.Stats();
  EXPECT_EQ(static_cast<int64_t>(all->size()), st.series);
  EXPECT_EQ(st.series, 2 * 50);  // only the last generation is left
  auto values = head.LabelValues("pod", {}, kMin, kMax);
  ASSERT_THAT(values, IsOk());
  EXPECT_EQ(values->size(), 50u);
  EXPECT_EQ(st.symbols, 3 + 2 + 1 + 50);  // names, writers, "m", pods
}

TEST(Head, MemoryPerSeriesEstimate) {
  SimulatedClock clock;
  Head head({}, &clock);
  constexpr int kSeries = 10000;
  std::vector<Labels> labels;
  for (int i = 0; i < kSeries; ++i) {
    labels.push_back(L({{"__name__", "node_metric_" + std::to_string(i % 50)},
                        {"job", "node"},
                        {"instance", "host-" + std::to_string(i / 50) + ":9100"},
                        {"region", "eu-west-1"},
                        {"zone", "eu-west-1" + std::string(1, 'a' + i % 3)},
                        {"env", "prod"},
                        {"team", "infra"},
                        {"device", "dev" + std::to_string(i % 7)}}));
  }
  std::vector<SeriesSamples> batch(kSeries);
  std::vector<std::vector<Sample>> samples(kSeries);
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < kSeries; ++i) {
      samples[i] = {{round * 15000, static_cast<double>((i % 4) * round)}};
      batch[i] = {&labels[i], samples[i]};
    }
    ASSERT_THAT(head.Append(batch), IsOk());
  }
  const HeadStats st = head.Stats();
  EXPECT_EQ(st.series, kSeries);
  EXPECT_EQ(st.samples, kSeries * 100);
  const double per_series =
      static_cast<double>(st.approx_memory_bytes) / kSeries;
  EXPECT_LT(per_series, 1400) << "bytes per series";
  EXPECT_GT(per_series, 200);  // sanity: it does count something
}

}  // namespace
}  // namespace vigil::storage
