#include "storage/postings.h"

#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/symbol_table.h"

namespace vigil::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(Postings, Basic) {
  const PostingsList a = {1, 3, 5, 7, 9};
  const PostingsList b = {3, 4, 5, 9, 10};
  const PostingsList c = {5, 9};
  EXPECT_THAT(IntersectPostings({a, b, c}), ElementsAre(5, 9));
  EXPECT_THAT(IntersectPostings({a, PostingsList{}}), IsEmpty());
  EXPECT_THAT(IntersectPostings({}), IsEmpty());
  const std::vector<absl::Span<const uint64_t>> two = {a, b};
  EXPECT_THAT(UnionPostings(two), ElementsAre(1, 3, 4, 5, 7, 9, 10));
  const std::vector<absl::Span<const uint64_t>> three = {a, b, c};
  EXPECT_THAT(UnionPostings(three), ElementsAre(1, 3, 4, 5, 7, 9, 10));
  EXPECT_THAT(SubtractPostings(a, b), ElementsAre(1, 7));
  EXPECT_THAT(SubtractPostings(a, {}), ElementsAre(1, 3, 5, 7, 9));
}

TEST(Postings, RandomAgainstStdSet) {
  std::mt19937_64 rng(3);
  for (int round = 0; round < 100; ++round) {
    std::vector<PostingsList> lists(1 + rng() % 4);
    for (auto& l : lists) {
      std::set<uint64_t> s;
      // Mix long and short lists so the galloping path runs too.
      const int n = rng() % 2 ? 2000 : 20;
      for (int i = 0; i < n; ++i) s.insert(rng() % 5000);
      l.assign(s.begin(), s.end());
    }
    std::set<uint64_t> want_and(lists[0].begin(), lists[0].end());
    std::set<uint64_t> want_or;
    for (const auto& l : lists) {
      std::set<uint64_t> next;
      for (uint64_t x : l) {
        if (want_and.count(x)) next.insert(x);
        want_or.insert(x);
      }
      want_and = next;
    }
    std::vector<absl::Span<const uint64_t>> spans(lists.begin(), lists.end());
    EXPECT_EQ(IntersectPostings(spans),
              PostingsList(want_and.begin(), want_and.end()));
    EXPECT_EQ(UnionPostings(spans),
              PostingsList(want_or.begin(), want_or.end()));
    std::set<uint64_t> want_sub(lists[0].begin(), lists[0].end());
    for (uint64_t x : lists.back()) {
      if (lists.size() > 1) want_sub.erase(x);
    }
    if (lists.size() > 1) {
      EXPECT_EQ(SubtractPostings(lists[0], lists.back()),
                PostingsList(want_sub.begin(), want_sub.end()));
    }
  }
}

TEST(SymbolTable, InternFindGet) {
  SymbolTable t;
  const uint32_t a = t.Intern("job");
  const uint32_t b = t.Intern("instance");
  EXPECT_NE(a, b);
  EXPECT_EQ(t.Intern("job"), a);
  EXPECT_EQ(t.Find("job"), a);
  EXPECT_EQ(t.Find("nope"), SymbolTable::kNone);
  EXPECT_EQ(t.Get(a), "job");
  EXPECT_EQ(t.Get(b), "instance");
  EXPECT_EQ(t.Get(t.Intern("")), "");
  EXPECT_EQ(t.size(), 3u);
}

TEST(SymbolTable, ReleaseAndSweep) {
  SymbolTable t;
  const uint32_t a = t.Intern("a-long-string-that-is-on-the-heap");
  EXPECT_EQ(t.Intern("a-long-string-that-is-on-the-heap"), a);  // 2 refs
  const size_t bytes = t.MemoryBytes();
  t.Release(a);
  EXPECT_EQ(t.Find("a-long-string-that-is-on-the-heap"), a);
  t.Release(a);
  EXPECT_EQ(t.Find("a-long-string-that-is-on-the-heap"), SymbolTable::kNone);
  EXPECT_EQ(t.size(), 0u);
  // Not recycled before the sweep: the old id still reads its string.
  EXPECT_EQ(t.Get(a), "a-long-string-that-is-on-the-heap");
  t.Sweep();
  EXPECT_LT(t.MemoryBytes(), bytes);
  std::vector<uint32_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(t.Intern("s" + std::to_string(i)));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(t.Get(ids[i]), "s" + std::to_string(i));
  EXPECT_EQ(t.size(), 20u);
}

TEST(SymbolTable, ManyAndConcurrent) {
  SymbolTable t;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<uint32_t>> ids(2);
  std::vector<std::thread> threads;
  for (int k = 0; k < 2; ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < kPerThread; ++i) {
        // Both threads intern the same strings: ids must agree.
        ids[k].push_back(t.Intern("value-with-a-long-prefix-" +
                                  std::to_string(i)));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(t.size(), static_cast<size_t>(kPerThread));
  for (int i = 0; i < kPerThread; ++i) {
    ASSERT_EQ(t.Get(ids[0][i]),
              "value-with-a-long-prefix-" + std::to_string(i));
  }
  EXPECT_GT(t.MemoryBytes(), static_cast<size_t>(kPerThread) * 25);
}

}  // namespace
}  // namespace vigil::storage
