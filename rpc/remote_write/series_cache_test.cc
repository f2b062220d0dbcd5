#include "rpc/remote_write/series_cache.h"

#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::rpc::remote_write {
namespace {

using ::testing::ElementsAre;

uint64_t ConstantHash(std::string_view) { return 42; }

std::vector<storage::SeriesRef> LookupAll(const SeriesRefCache& cache,
                                          const std::vector<std::string>& keys,
                                          uint32_t epoch = 0) {
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<uint64_t> hashes;
  for (const std::string& k : keys) hashes.push_back(cache.Hash(k));
  std::vector<storage::SeriesRef> refs(keys.size(), 99);
  cache.Lookup(views, hashes, absl::MakeSpan(refs), epoch);
  return refs;
}

TEST(SeriesRefCache, HitsOnlyExactBytes) {
  SeriesRefCache cache;
  const std::string a = "\x0a\x05\x0a\x01" "a\x12\x00";
  const std::string b = "\x0a\x05\x0a\x01" "b\x12\x00";
  EXPECT_THAT(LookupAll(cache, {a, b}), ElementsAre(0u, 0u));
  EXPECT_EQ(cache.Insert({{a, cache.Hash(a), 7}}, 0), 1u);
  EXPECT_THAT(LookupAll(cache, {a, b, a.substr(0, 3), ""}),
              ElementsAre(7u, 0u, 0u, 0u));
  // Refs 0 and empty keys are never stored.
  EXPECT_EQ(cache.Insert({{b, cache.Hash(b), 0}, {"", cache.Hash(""), 5}}, 0),
            0u);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_GT(cache.MemoryBytes(), a.size());
}

TEST(SeriesRefCache, CollisionsNeverReturnAnotherSeriesRef) {
  SeriesRefCache cache(SeriesRefCache::Options{.hash = &ConstantHash});
  const std::string a = "series-a", b = "series-b";
  ASSERT_EQ(cache.Hash(a), cache.Hash(b));
  EXPECT_EQ(cache.Insert({{a, 42, 1}, {b, 42, 2}}, 0), 1u);
  // b collides with a: a stays cached, b always misses (slow path).
  EXPECT_THAT(LookupAll(cache, {a, b}), ElementsAre(1u, 0u));
  EXPECT_EQ(cache.Insert({{b, 42, 2}}, 0), 0u);
  EXPECT_THAT(LookupAll(cache, {b, a}), ElementsAre(0u, 1u));
}

TEST(SeriesRefCache, EqualKeyTakesTheNewRef) {
  SeriesRefCache cache;
  const std::string a = "labels";
  cache.Insert({{a, cache.Hash(a), 1}}, 0);
  // The store dropped and re-created the series.
  EXPECT_EQ(cache.Insert({{a, cache.Hash(a), 9}}, 0), 1u);
  EXPECT_THAT(LookupAll(cache, {a}), ElementsAre(9u));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(SeriesRefCache, EvictsEntriesUnusedSinceAnEpoch) {
  SeriesRefCache cache;
  const std::string a = "a", b = "b", c = "c";
  cache.Insert({{a, cache.Hash(a), 1}, {b, cache.Hash(b), 2}}, 0);
  LookupAll(cache, {a}, 5);  // a used at epoch 5
  cache.Insert({{c, cache.Hash(c), 3}}, 3);
  EXPECT_EQ(cache.EvictUnusedSince(4), 2u);  // b (0) and c (3)
  EXPECT_THAT(LookupAll(cache, {a, b, c}, 6), ElementsAre(1u, 0u, 0u));
  EXPECT_EQ(cache.EvictUnusedSince(6), 0u);
  EXPECT_EQ(cache.EvictUnusedSince(7), 1u);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(SeriesRefCache, StopsInsertingAtMaxEntries) {
  SeriesRefCache cache(SeriesRefCache::Options{.max_entries = 2});
  std::vector<std::string> keys = {"a", "b", "c"};
  std::vector<SeriesRefCache::Insertion> items;
  for (size_t i = 0; i < keys.size(); ++i) {
    items.push_back({keys[i], cache.Hash(keys[i]), i + 1});
  }
  EXPECT_EQ(cache.Insert(items, 0), 2u);
  EXPECT_THAT(LookupAll(cache, keys), ElementsAre(1u, 2u, 0u));
}

TEST(SeriesRefCache, ConcurrentLookupsAndInserts) {
  SeriesRefCache cache;
  constexpr int kThreads = 4, kKeys = 2000;
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back("key-" + std::to_string(i));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        std::vector<SeriesRefCache::Insertion> items;
        for (int i = t; i < kKeys; i += kThreads) {
          items.push_back({keys[i], cache.Hash(keys[i]),
                           static_cast<storage::SeriesRef>(i + 1)});
        }
        cache.Insert(items, round);
        const auto refs = LookupAll(cache, keys, round);
        for (int i = 0; i < kKeys; ++i) {
          if (refs[i] != 0 && refs[i] != static_cast<uint64_t>(i + 1)) ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(cache.size(), static_cast<size_t>(kKeys));
  const auto refs = LookupAll(cache, keys);
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(refs[i], static_cast<uint64_t>(i + 1));
}

}  // namespace
}  // namespace vigil::rpc::remote_write
