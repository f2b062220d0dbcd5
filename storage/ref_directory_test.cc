#include "storage/ref_directory.h"

#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace vigil::storage {
namespace {

TEST(RefDirectoryTest, GetReturnsWhatWasSetAndNullOtherwise) {
  RefDirectory<int> dir;
  int a = 1, b = 2;
  EXPECT_EQ(dir.Get(0), nullptr);
  EXPECT_EQ(dir.Get(12345678), nullptr);
  ASSERT_TRUE(dir.Set(7, &a));
  ASSERT_TRUE(dir.Set(uint64_t{1} << 30, &b));  // another middle node
  EXPECT_EQ(dir.Get(7), &a);
  EXPECT_EQ(dir.Get(uint64_t{1} << 30), &b);
  EXPECT_EQ(dir.Get(8), nullptr);
  EXPECT_EQ(dir.Get((uint64_t{1} << 30) + 1), nullptr);
  dir.Clear(7);
  EXPECT_EQ(dir.Get(7), nullptr);
  dir.Clear(9);  // never set: no effect
  EXPECT_EQ(dir.Get(uint64_t{1} << 30), &b);
}

TEST(RefDirectoryTest, PastCapacityIsRefusedNotWrapped) {
  RefDirectory<int> dir;
  int a = 1;
  const uint64_t past = RefDirectory<int>::kCapacity;
  EXPECT_FALSE(dir.Set(past, &a));
  EXPECT_EQ(dir.Get(past), nullptr);
  EXPECT_EQ(dir.Get(past & (RefDirectory<int>::kCapacity - 1)), nullptr);
  dir.Prefetch(past);  // must not touch anything
}

TEST(RefDirectoryTest, FreesOnlyEmptyLeavesBelowTheLimit) {
  RefDirectory<int> dir;
  int v = 0;
  // Leaves 0, 1 and 2 (1,024 numbers each).
  for (uint64_t s : {5, 1024 + 5, 2048 + 5}) ASSERT_TRUE(dir.Set(s, &v));
  EXPECT_EQ(dir.NumLeaves(), 3u);
  dir.Clear(5);
  dir.Clear(2048 + 5);
  // Leaf 2 is empty but reaches the numbers still to be handed out.
  EXPECT_EQ(dir.FreeEmptyLeaves(/*below_seq=*/2048 + 6), 1u);
  EXPECT_EQ(dir.NumLeaves(), 2u);
  EXPECT_EQ(dir.Get(1024 + 5), &v);
  EXPECT_EQ(dir.Get(5), nullptr);
  // A freed leaf comes back on the next Set.
  ASSERT_TRUE(dir.Set(6, &v));
  EXPECT_EQ(dir.Get(6), &v);
  EXPECT_EQ(dir.NumLeaves(), 3u);
}

TEST(RefDirectoryTest, ConcurrentSettersOfOneLeafKeepEveryEntry) {
  RefDirectory<int> dir;
  std::vector<int> values(4 * 5000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      // Interleaved numbers: all threads write the same leaves, and race to
      // create them.
      for (int i = 0; i < 5000; ++i) {
        const uint64_t seq = static_cast<uint64_t>(i) * 4 + t;
        dir.Set(seq, &values[seq]);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (uint64_t s = 0; s < values.size(); ++s) {
    ASSERT_EQ(dir.Get(s), &values[s]) << s;
  }
  for (uint64_t s = 0; s < values.size(); ++s) dir.Clear(s);
  EXPECT_EQ(dir.NumLeaves(), 20u);  // 20,000 numbers, 1,024 per leaf
  EXPECT_EQ(dir.FreeEmptyLeaves(values.size() + 1024), 20u);
  EXPECT_EQ(dir.NumLeaves(), 0u);
}

}  // namespace
}  // namespace vigil::storage
