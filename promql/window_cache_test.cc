#include "promql/window_cache.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "promql/engine.h"
#include "storage/base/clock.h"
#include "storage/base/status_matchers.h"
#include "storage/head.h"
#include "storage/sample.h"

namespace vigil::promql {
namespace {

using storage::Head;
using storage::Labels;
using storage::SeriesRef;

struct Read {
  std::vector<int64_t> t;
  std::vector<double> v;
};

Read ReadFrom(const storage::Queryable& q, SeriesRef ref, int64_t mint,
              int64_t maxt) {
  Read r;
  // Something already in the output buffers: reads append, never replace.
  r.t.push_back(-1);
  r.v.push_back(-1);
  const size_t n = q.ReadSamples(ref, mint, maxt, &r.t, &r.v);
  EXPECT_EQ(n + 1, r.t.size());
  return r;
}

// Bit-exact, so NaNs and stale markers compare too.
void ExpectSame(const Read& want, const Read& got, const std::string& what) {
  ASSERT_EQ(want.t, got.t) << what;
  ASSERT_EQ(want.v.size(), got.v.size()) << what;
  for (size_t i = 0; i < want.v.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint64_t>(want.v[i]),
              std::bit_cast<uint64_t>(got.v[i]))
        << what << " at " << i;
  }
}

class WindowCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    head_ = std::make_unique<Head>(storage::HeadOptions{}, &clock_);
  }

  SeriesRef AddSeries(int i) {
    labels_.push_back(*Labels::FromUnsorted(
        {{"__name__", "m"}, {"i", absl::StrCat(i)}}));
    Append(labels_.size() - 1, 0, 0);
    auto sel = head_->Select(
        {*storage::Matcher::Create(storage::MatchType::kEqual, "i",
                                   absl::StrCat(i))},
        std::numeric_limits<int64_t>::min(),
        std::numeric_limits<int64_t>::max());
    EXPECT_THAT(sel, IsOk());
    return (*sel)[0].ref;
  }

  void Append(size_t series, int64_t t, double v) {
    storage::Sample s{t, v};
    storage::SeriesSamples batch{&labels_[series], absl::MakeConstSpan(&s, 1)};
    ASSERT_THAT(head_->Append(absl::MakeConstSpan(&batch, 1)), IsOk());
  }

  SimulatedClock clock_;
  std::unique_ptr<Head> head_;
  std::vector<Labels> labels_;
};

TEST_F(WindowCacheTest, SameSamplesAsTheStoreUnderInterleavedAppends) {
  WindowCache cache(head_.get(), WindowCacheOptions{});
  std::mt19937_64 rng(7);
  constexpr int kSeries = 20;
  std::vector<SeriesRef> refs;
  std::vector<int64_t> newest(kSeries, 0);
  for (int i = 0; i < kSeries; ++i) refs.push_back(AddSeries(i));
  const double stale = storage::StaleNaN();
  int64_t now = 0;
  int reads = 0;
  for (int step = 0; step < 3000; ++step) {
    now += 1000;
    // Each series gets a sample with some probability, with jitter, and
    // now and then a stale marker or NaN: late and irregular like scrapes.
    for (int i = 0; i < kSeries; ++i) {
      if (rng() % 4 != 0) continue;
      const int64_t t = now - static_cast<int64_t>(rng() % 900);
      if (t <= newest[i]) continue;
      const uint64_t kind = rng() % 50;
      const double v = kind == 0   ? stale
                       : kind == 1 ? std::nan("")
                                   : static_cast<double>(rng() % 1000) / 4;
      Append(i, t, v);
      newest[i] = t;
    }
    // Windows of rules evaluating at slightly different times, some
    // reaching far back (misses), some ahead of the newest sample.
    for (int k = 0; k < 3; ++k) {
      const int i = static_cast<int>(rng() % kSeries);
      const int64_t ranges[] = {5000, 30000, 60000, 300000};
      const int64_t range = ranges[rng() % 4];
      const int64_t maxt = now - static_cast<int64_t>(rng() % 20000) +
                           static_cast<int64_t>(rng() % 3000);
      const int64_t mint = maxt - range + 1;
      ExpectSame(ReadFrom(*head_, refs[i], mint, maxt),
                 ReadFrom(cache, refs[i], mint, maxt),
                 absl::StrCat("step ", step, " series ", i, " [", mint, ",",
                              maxt, "]"));
      ++reads;
    }
  }
  const WindowCacheStats st = cache.Stats();
  EXPECT_EQ(st.hits + st.misses, reads);
  // Most reads are served from memory; the rest prove the miss path.
  EXPECT_GT(st.hits, reads / 2);
  EXPECT_GT(st.misses, 0);
  EXPECT_GT(st.bytes, 0);
}

// ReadWindows (shard by shard, in any buffer order) yields per series what
// ReadSamples on the store yields, and with latest_only its newest sample.
TEST_F(WindowCacheTest, BatchedReadsMatchTheStore) {
  WindowCache cache(head_.get(), WindowCacheOptions{.num_shards = 8});
  std::mt19937_64 rng(11);
  constexpr int kSeries = 60;
  std::vector<SeriesRef> refs;
  for (int i = 0; i < kSeries; ++i) refs.push_back(AddSeries(i));
  int64_t now = 0;
  int checked = 0;
  for (int step = 0; step < 400; ++step) {
    now += 1000;
    for (int i = 0; i < kSeries; ++i) {
      if (rng() % 3 == 0) continue;
      const double v = rng() % 40 == 0 ? storage::StaleNaN()
                                       : static_cast<double>(rng() % 100);
      Append(i, now, v);
    }
    // A random subset in random order, as a selector's refs would be.
    std::vector<SeriesRef> batch;
    for (int i = 0; i < kSeries; ++i) {
      if (rng() % 2 == 0) batch.push_back(refs[i]);
      // Now and then a ref listed twice.
      if (rng() % 20 == 0) batch.push_back(refs[i]);
    }
    std::shuffle(batch.begin(), batch.end(), rng);
    const int64_t maxt = now - static_cast<int64_t>(rng() % 5000);
    const int64_t mint = maxt - (rng() % 2 == 0 ? 30000 : 120000) + 1;
    const bool latest = rng() % 3 == 0;
    Read got;
    got.t.push_back(-1);
    got.v.push_back(-1);
    std::vector<size_t> off(batch.size()), n(batch.size());
    cache.ReadWindows(batch, mint, maxt, latest, &got.t, &got.v, off.data(),
                      n.data());
    size_t total = 0;
    for (size_t j = 0; j < batch.size(); ++j) {
      Read want = ReadFrom(*head_, batch[j], mint, maxt);
      if (latest && want.t.size() > 2) {
        want.t.erase(want.t.begin() + 1, want.t.end() - 1);
        want.v.erase(want.v.begin() + 1, want.v.end() - 1);
      }
      Read one;
      one.t.push_back(-1);
      one.v.push_back(-1);
      ASSERT_LE(off[j] + n[j], got.t.size());
      one.t.insert(one.t.end(), got.t.begin() + off[j],
                   got.t.begin() + off[j] + n[j]);
      one.v.insert(one.v.end(), got.v.begin() + off[j],
                   got.v.begin() + off[j] + n[j]);
      ExpectSame(want, one,
                 absl::StrCat("step ", step, " ref ", batch[j],
                              latest ? " latest" : " window"));
      total += n[j];
      ++checked;
    }
    // Nothing but the answers went into the buffers.
    EXPECT_EQ(got.t.size(), total + 1);
  }
  EXPECT_GT(checked, 10000);
  EXPECT_GT(cache.Stats().hits, cache.Stats().misses);
  EXPECT_LE(cache.Stats().entries, kSeries);
}

// VisitWindows lends each series' window, once per listed ref, equal to
// what the store reads; series without samples in the window are skipped.
TEST_F(WindowCacheTest, LentWindowsMatchTheStore) {
  WindowCache cache(head_.get(), WindowCacheOptions{.num_shards = 8});
  std::mt19937_64 rng(13);
  constexpr int kSeries = 300;  // over two pages of the numbering
  std::vector<SeriesRef> refs;
  for (int i = 0; i < kSeries; ++i) refs.push_back(AddSeries(i));
  int64_t now = 0;
  int visited = 0;
  for (int step = 0; step < 200; ++step) {
    now += 1000;
    for (int i = 0; i < kSeries; ++i) {
      // Some series stop getting samples, so their windows empty out.
      if (rng() % 3 == 0 || (i % 10 == 0 && step > 100)) continue;
      Append(i, now, static_cast<double>(rng() % 100));
    }
    std::vector<SeriesRef> batch;
    for (int i = 0; i < kSeries; ++i) {
      if (rng() % 2 == 0) batch.push_back(refs[i]);
      if (rng() % 30 == 0) batch.push_back(refs[i]);
    }
    std::shuffle(batch.begin(), batch.end(), rng);
    const int64_t maxt = now - static_cast<int64_t>(rng() % 3000);
    const int64_t mint = maxt - (rng() % 2 == 0 ? 30000 : 90000) + 1;
    std::vector<int> calls(batch.size(), 0);
    cache.VisitWindows(
        batch, mint, maxt,
        [&](size_t i, const int64_t* t, const double* v, size_t n) {
          ++calls[i];
          Read got;
          got.t.push_back(-1);
          got.v.push_back(-1);
          got.t.insert(got.t.end(), t, t + n);
          got.v.insert(got.v.end(), v, v + n);
          ExpectSame(ReadFrom(*head_, batch[i], mint, maxt), got,
                     absl::StrCat("step ", step, " ref ", batch[i]));
          ++visited;
        });
    for (size_t j = 0; j < batch.size(); ++j) {
      const bool has_samples =
          ReadFrom(*head_, batch[j], mint, maxt).t.size() > 1;
      EXPECT_EQ(calls[j], has_samples ? 1 : 0)
          << "step " << step << " ref " << batch[j];
    }
  }
  EXPECT_GT(visited, 10000);
  EXPECT_GT(cache.Stats().hits, cache.Stats().misses);
  EXPECT_LE(cache.Stats().entries, kSeries);
}

// A batch locks every shard it touches at once: readers with batches over
// many shards, in different orders, and a sweeper running meanwhile must
// neither deadlock nor see anything but the store's windows.
TEST_F(WindowCacheTest, ConcurrentBatchesOverManyShardsMatchTheStore) {
  WindowCache cache(head_.get(), WindowCacheOptions{.num_shards = 8});
  constexpr int kSeries = 2000;  // 16 pages of the numbering, every shard
  std::vector<SeriesRef> refs;
  for (int i = 0; i < kSeries; ++i) refs.push_back(AddSeries(i));
  for (int64_t t = 1000; t <= 60000; t += 1000) {
    for (int i = 0; i < kSeries; ++i) {
      if ((i + t / 1000) % 7 != 0) Append(i, t, static_cast<double>(i + t));
    }
  }
  const int64_t mint = 30001, maxt = 60000;
  std::vector<Read> want;
  for (SeriesRef ref : refs) want.push_back(ReadFrom(*head_, ref, mint, maxt));

  std::vector<int> mismatches(2, 0), visits(2, 0);
  auto reader = [&](int id) {
    std::mt19937_64 rng(id + 1);
    for (int round = 0; round < 40; ++round) {
      std::vector<uint32_t> pick;
      for (int i = 0; i < kSeries; ++i) {
        if (rng() % 3 == 0) pick.push_back(i);
      }
      std::shuffle(pick.begin(), pick.end(), rng);
      std::vector<SeriesRef> batch;
      for (uint32_t i : pick) batch.push_back(refs[i]);
      cache.VisitWindows(
          batch, mint, maxt,
          [&](size_t k, const int64_t* t, const double* v, size_t n) {
            const Read& w = want[pick[k]];
            const bool same =
                n + 1 == w.t.size() && std::equal(t, t + n, w.t.begin() + 1) &&
                std::equal(v, v + n, w.v.begin() + 1);
            if (!same) ++mismatches[id];
            ++visits[id];
          });
    }
  };
  std::thread a(reader, 0), b(reader, 1);
  std::thread sweeper([&] {
    for (int i = 0; i < 200; ++i) cache.Sweep();
  });
  a.join();
  b.join();
  sweeper.join();
  EXPECT_EQ(mismatches[0], 0);
  EXPECT_EQ(mismatches[1], 0);
  // About a third of 2,000 series in each of 40 rounds.
  EXPECT_GT(visits[0], 20000);
  EXPECT_GT(visits[1], 20000);
}

TEST_F(WindowCacheTest, RefListedTwiceInABatchGetsOneEntry) {
  const SeriesRef a = AddSeries(0);
  const SeriesRef b = AddSeries(1);
  for (int64_t t = 1000; t <= 20000; t += 1000) {
    Append(0, t, static_cast<double>(t));
    Append(1, t, static_cast<double>(2 * t));
  }
  const auto read = [](WindowCache& cache, std::vector<SeriesRef> batch) {
    Read got;
    std::vector<size_t> off(batch.size()), n(batch.size());
    cache.ReadWindows(batch, 5001, 20000, false, &got.t, &got.v, off.data(),
                      n.data());
    for (size_t j = 0; j < batch.size(); ++j) EXPECT_EQ(n[j], 15u) << j;
    return got;
  };
  WindowCache once(head_.get(), WindowCacheOptions{});
  read(once, {a, b});
  WindowCache twice(head_.get(), WindowCacheOptions{});
  const Read got = read(twice, {a, a, b, a, b});
  EXPECT_EQ(got.t.size(), 5u * 15);
  // Each series cached once, with no second allocation counted or leaked.
  EXPECT_EQ(twice.Stats().entries, 2);
  EXPECT_EQ(twice.Stats().bytes, once.Stats().bytes);
}

TEST_F(WindowCacheTest, KeepsOnlyTheWindowAndDropsUnreadEntries) {
  WindowCache cache(head_.get(), WindowCacheOptions{});
  const SeriesRef hot = AddSeries(0);
  const SeriesRef cold = AddSeries(1);
  for (int64_t t = 1000; t <= 3600 * 1000; t += 1000) {
    Append(0, t, static_cast<double>(t));
    Append(1, t, static_cast<double>(t));
  }
  ReadFrom(cache, cold, 3000 * 1000, 3600 * 1000);
  // An hour of 1 s samples, read with a 10 s window: the entry holds the
  // window plus the margin, not the hour.
  for (int64_t maxt = 3500 * 1000; maxt <= 3600 * 1000; maxt += 1000) {
    ExpectSame(ReadFrom(*head_, hot, maxt - 9999, maxt),
               ReadFrom(cache, hot, maxt - 9999, maxt), "hot");
  }
  const int64_t kept = cache.Stats().bytes;
  // The cold entry still holds its 600 s window (with a quarter of
  // headroom); the hot one, which also got every sample past its reads,
  // from its window's start on: about 110 s, not the hour.
  EXPECT_LT(kept, (750 + 200) * 16 + 1024);
  // An entry unread since the sweep before the previous one goes.
  cache.Sweep();
  EXPECT_EQ(cache.Stats().entries, 2);
  ReadFrom(cache, hot, 3590 * 1000, 3600 * 1000);
  cache.Sweep();
  EXPECT_EQ(cache.Stats().entries, 2);
  ReadFrom(cache, hot, 3590 * 1000, 3600 * 1000);
  cache.Sweep();
  const WindowCacheStats st = cache.Stats();
  EXPECT_EQ(st.entries, 1);
  EXPECT_GE(st.evictions, 1);
  EXPECT_LT(st.bytes, kept);
  // A dropped entry is simply read again.
  ExpectSame(ReadFrom(*head_, cold, 3000 * 1000, 3600 * 1000),
             ReadFrom(cache, cold, 3000 * 1000, 3600 * 1000), "cold");
}

// Entries live in pages of the store's series numbering; a page whose
// entries all went is freed with them, so churned series cost nothing.
TEST_F(WindowCacheTest, SweepingEveryEntryFreesTheirPages) {
  WindowCache cache(head_.get(), WindowCacheOptions{.num_shards = 4});
  std::vector<SeriesRef> refs;
  // More series than a page holds, so that several pages and shards fill.
  for (int i = 0; i < 600; ++i) refs.push_back(AddSeries(i));
  for (SeriesRef r : refs) ReadFrom(cache, r, 0, 1000);
  const WindowCacheStats full = cache.Stats();
  EXPECT_EQ(full.entries, 600);
  EXPECT_EQ(full.misses, 600);
  // Entries plus at least the 5 pages of 128 slots that 600 series span.
  EXPECT_GT(full.bytes, 600 * 16 + 5 * 128 * 8);
  cache.Sweep();
  cache.Sweep();
  cache.Sweep();
  const WindowCacheStats empty = cache.Stats();
  EXPECT_EQ(empty.entries, 0);
  EXPECT_EQ(empty.bytes, 0);
  // And the series are cached afresh when read again.
  for (SeriesRef r : refs) {
    ExpectSame(ReadFrom(*head_, r, 0, 1000), ReadFrom(cache, r, 0, 1000),
               "after sweep");
  }
  EXPECT_EQ(cache.Stats().entries, 600);
}

// A store whose refs are opaque (no dense numbering to index by).
class OpaqueRefs final : public storage::ForwardingQueryable {
 public:
  using ForwardingQueryable::ForwardingQueryable;
  int RefSequenceShift() const override { return -1; }
};

TEST_F(WindowCacheTest, OverOpaqueRefsEveryReadGoesToTheStore) {
  OpaqueRefs opaque(head_.get());
  WindowCache cache(&opaque, WindowCacheOptions{});
  const SeriesRef a = AddSeries(0);
  for (int64_t t = 1000; t <= 30000; t += 1000) Append(0, t, t);
  ExpectSame(ReadFrom(*head_, a, 5000, 20000), ReadFrom(cache, a, 5000, 20000),
             "opaque");
  std::vector<int64_t> ts;
  std::vector<double> vs;
  size_t off, n;
  cache.ReadWindows(absl::MakeConstSpan(&a, 1), 5000, 20000,
                    /*latest_only=*/true, &ts, &vs, &off, &n);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(ts[off], 20000);
  const WindowCacheStats st = cache.Stats();
  EXPECT_EQ(st.hits + st.misses, 0);
  EXPECT_EQ(st.entries, 0);
}

TEST_F(WindowCacheTest, BudgetLimitsWhatIsCachedNotWhatIsRead) {
  WindowCacheOptions opts;
  opts.max_bytes = 2000;  // room for a few of the ten entries
  WindowCache cache(head_.get(), opts);
  std::vector<SeriesRef> refs;
  for (int i = 0; i < 10; ++i) refs.push_back(AddSeries(i));
  for (int64_t t = 1000; t <= 60000; t += 1000) {
    for (int i = 0; i < 10; ++i) Append(i, t, static_cast<double>(i * t));
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 10; ++i) {
      ExpectSame(ReadFrom(*head_, refs[i], 30001, 60000),
                 ReadFrom(cache, refs[i], 30001, 60000), "budget");
    }
  }
  const WindowCacheStats st = cache.Stats();
  // Each entry holds 30 samples (480 bytes) and its overhead.
  EXPECT_GE(st.entries, 1);
  EXPECT_LE(st.entries, 4);
  EXPECT_GT(st.over_budget, 0);
  EXPECT_LE(st.bytes, opts.max_bytes + 1000);

  WindowCacheOptions off;
  off.max_bytes = 0;
  WindowCache disabled(head_.get(), off);
  ExpectSame(ReadFrom(*head_, refs[3], 1, 60000),
             ReadFrom(disabled, refs[3], 1, 60000), "disabled");
  EXPECT_EQ(disabled.Stats().entries, 0);
}

TEST_F(WindowCacheTest, QueriesThroughTheCacheMatchTheStore) {
  for (int i = 0; i < 3; ++i) AddSeries(i);
  Engine engine;
  WindowCache cache(head_.get(), WindowCacheOptions{});
  auto q = engine.Prepare("sum(rate(m[1m])) + count(m)");
  ASSERT_THAT(q, IsOk());
  for (int64_t t = 15000; t <= 900000; t += 15000) {
    for (int i = 0; i < 3; ++i) Append(i, t, static_cast<double>(t * (i + 1)));
    auto want = (*q)->EvalInstant(*head_, t);
    auto got = (*q)->EvalInstant(cache, t);
    ASSERT_THAT(want, IsOk());
    ASSERT_THAT(got, IsOk());
    const auto& wv = std::get<Vector>(want->value);
    const auto& gv = std::get<Vector>(got->value);
    ASSERT_EQ(wv.size(), 1u);
    ASSERT_EQ(gv.size(), 1u);
    EXPECT_EQ(wv[0].v, gv[0].v) << "t=" << t;
  }
  EXPECT_GT(cache.Stats().hits, 100);
}

}  // namespace
}  // namespace vigil::promql
