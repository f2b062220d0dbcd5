#include "storage/xor_chunk.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"
#include "storage/sample.h"

namespace vigil::storage {
namespace {

void ExpectRoundTrip(const std::vector<int64_t>& ts,
                     const std::vector<double>& vs) {
  XorEncoder enc;
  for (size_t i = 0; i < ts.size(); ++i) enc.Append(ts[i], vs[i]);
  ASSERT_EQ(enc.num_samples(), static_cast<int>(ts.size()));
  std::vector<int64_t> got_t;
  std::vector<double> got_v;
  auto n = DecodeXorChunk(enc.bytes(), std::numeric_limits<int64_t>::min(),
                          std::numeric_limits<int64_t>::max(), &got_t, &got_v);
  ASSERT_THAT(n, IsOk());
  ASSERT_EQ(*n, ts.size());
  ASSERT_EQ(got_t, ts);
  for (size_t i = 0; i < vs.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint64_t>(got_v[i]), std::bit_cast<uint64_t>(vs[i]))
        << "sample " << i;
  }
}

TEST(XorChunk, Empty) {
  XorEncoder enc;
  std::vector<int64_t> t;
  std::vector<double> v;
  auto n = DecodeXorChunk(enc.bytes(), 0, 100, &t, &v);
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 0u);
  EXPECT_THAT(DecodeXorChunk({}, 0, 1, &t, &v),
              StatusIs(absl::StatusCode::kInternal));
}

TEST(XorChunk, EdgeValues) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> vs = {0.0,   -0.0, 1.0,  nan,   StaleNaN(), inf,
                            -inf,  1e308, 5e-324, -1.5, StaleNaN(), StaleNaN(),
                            std::bit_cast<double>(uint64_t{0x7ff8000000000001}),
                            std::numeric_limits<double>::max(), 42.0};
  std::vector<int64_t> ts;
  for (size_t i = 0; i < vs.size(); ++i) ts.push_back(1000 * i);
  ExpectRoundTrip(ts, vs);
}

TEST(XorChunk, EdgeTimestamps) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const std::vector<std::vector<int64_t>> cases = {
      {-5000, -4000, -3000, -2999, 0, 1},
      {kMin, kMin + 1, 0, kMax - 1, kMax},
      {kMax},
      {kMin},
      {0, 0, 0},
      {1700000000000, 1700000015000, 1700000030127, 1700000044873,
       1700000044874, 1700100044874, 1800000044874, 1800000044874 + (1ll << 40)},
      // Every dod bucket boundary.
      {0, 100, 200 + 127, 300 + 127 - 128, 500, 500 + 8191 + 200,
       1000000, 1000000 + 600000, 1000000 + 1200000 + (1ll << 31)},
  };
  for (const auto& ts : cases) {
    std::vector<double> vs(ts.size(), 1.0);
    ExpectRoundTrip(ts, vs);
  }
}

TEST(XorChunk, RandomRoundTrip) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 200; ++round) {
    const int n = 1 + rng() % 300;
    std::vector<int64_t> ts;
    std::vector<double> vs;
    int64_t t = static_cast<int64_t>(rng() % (1ll << 42)) - (1ll << 41);
    double v = 0;
    for (int i = 0; i < n; ++i) {
      switch (rng() % 4) {
        case 0: t += 15000; break;
        case 1: t += 15000 + static_cast<int64_t>(rng() % 201) - 100; break;
        case 2: t += rng() % (1ll << 30); break;
        default: t += rng() % 3; break;
      }
      switch (rng() % 5) {
        case 0: break;
        case 1: v += rng() % 10; break;
        case 2: v = std::bit_cast<double>(rng()); break;  // any bits, NaNs too
        case 3: v = static_cast<double>(rng() % 1000) / 7.0; break;
        default: v = StaleNaN(); break;
      }
      ts.push_back(t);
      vs.push_back(v);
    }
    ExpectRoundTrip(ts, vs);
  }
}

// The scaled-integer form: every kind of value stream that enters, leaves or
// switches scales, with special values in between, must come back bit for
// bit.
TEST(XorChunk, ScaledValuesRoundTripBitExact) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const double big = 9007199254740992.0;  // 2^53
  std::mt19937_64 rng(20261203);
  auto gen = [&](int kind, int i, double prev) -> double {
    switch (kind) {
      case 0: return static_cast<double>(i * 1500 + rng() % 3 * 1500);
      case 1: return (i * 3 + static_cast<int>(rng() % 5)) * 0.05;
      case 2: return static_cast<double>(1000 + i * 7 + rng() % 9) / 100.0;
      case 3: return std::round((50 + rng() % 10) / 0.01) * 0.01;
      case 4: return prev + 0.0625 * static_cast<double>(rng() % 17);
      case 5: return big - static_cast<double>(rng() % 4);   // near 2^53
      case 6: return -big + static_cast<double>(rng() % 4);
      case 7: return (rng() % 2 ? 1 : -1) * static_cast<double>(rng() % 1000);
      case 8: return static_cast<double>(rng() % 1000) / 1e6;
      case 9: return static_cast<double>(rng()) ;  // integers above 2^53
      default: return std::bit_cast<double>(rng());  // any bits
    }
  };
  const std::vector<double> special = {nan, StaleNaN(), inf, -inf, -0.0, 0.0,
                                       5e-324, -5e-324, 1e308};
  for (int round = 0; round < 3000; ++round) {
    const int n = 1 + static_cast<int>(rng() % 200);
    std::vector<int64_t> ts;
    std::vector<double> vs;
    int kind = static_cast<int>(rng() % 11);
    double v = 0;
    for (int i = 0; i < n; ++i) {
      const uint64_t r = rng() % 100;
      if (r < 4) {
        v = special[rng() % special.size()];
      } else if (r < 7) {
        kind = static_cast<int>(rng() % 11);  // the series changes its nature
        v = gen(kind, i, std::isfinite(v) ? v : 0);
      } else if (r < 20) {
        // repeated value
      } else {
        v = gen(kind, i, std::isfinite(v) ? v : 0);
      }
      ts.push_back(1700000000000 + i * 15000);
      vs.push_back(v);
    }
    ExpectRoundTrip(ts, vs);
    if (HasFatalFailure()) return;
  }
}

TEST(XorChunk, ScaledFormsCompress) {
  struct Case {
    const char* name;
    double (*value)(int i, std::mt19937_64& rng);
    size_t max_bytes;  // for 120 samples; the plain XOR form needs 4-8x
  };
  const std::vector<Case> cases = {
      {"counter in steps of 1500",
       [](int i, std::mt19937_64& rng) {
         return 1500.0 * (i * 40 + static_cast<int>(rng() % 8));
       },
       150},
      {"decimal counter k*0.05",
       [](int i, std::mt19937_64& rng) {
         return (i * 20 + static_cast<int>(rng() % 4)) * 0.05;
       },
       150},
      {"parsed decimals n/100",
       [](int i, std::mt19937_64& rng) {
         return static_cast<double>(123400 + i * 50 + rng() % 10) / 100.0;
       },
       150},
      {"gauge around a level",
       [](int, std::mt19937_64& rng) {
         return static_cast<double>(4000 + rng() % 16);
       },
       150},
  };
  for (const Case& c : cases) {
    std::mt19937_64 rng(3);
    XorEncoder enc;
    std::vector<int64_t> ts;
    std::vector<double> vs;
    for (int i = 0; i < 120; ++i) {
      ts.push_back(1700000000000 + i * 15000);
      vs.push_back(c.value(i, rng));
      enc.Append(ts.back(), vs.back());
    }
    EXPECT_LE(enc.bytes().size(), c.max_bytes) << c.name;
    ExpectRoundTrip(ts, vs);
  }
}

TEST(XorChunk, DecodeFromGoesOnWhereItStopped) {
  // A growing chunk read after every few appends, each time from where the
  // last read stopped, yields exactly the appended stream, bit for bit.
  std::mt19937_64 rng(9);
  for (int round = 0; round < 300; ++round) {
    XorEncoder enc;
    XorDecodeState st;
    std::vector<int64_t> want_t, got_t;
    std::vector<double> want_v, got_v;
    int64_t t = static_cast<int64_t>(rng() % 100000);
    double v = 0;
    const int n = 1 + static_cast<int>(rng() % 240);
    for (int i = 0; i < n; ++i) {
      t += rng() % 2 == 0 ? 15000 : static_cast<int64_t>(rng() % (1 << 20));
      // Rounds differ in how often the value leaves the scaled-integer
      // form, so reads resume in every decoder state (scaled, float, the
      // float-only tail).
      const int kinds = round % 3 == 0 ? 4 : 7;
      switch (rng() % kinds) {
        case 0: v += rng() % 10; break;
        case 1: v = std::bit_cast<double>(rng()); break;
        case 2: v = StaleNaN(); break;
        case 4: v = static_cast<double>(i * 3 + rng() % 4) * 0.05; break;
        case 5: v = static_cast<double>(123400 + i * 7 + rng() % 9) / 100.0; break;
        case 6: v += 1500.0 * static_cast<double>(rng() % 5); break;
        default: break;
      }
      enc.Append(t, v);
      want_t.push_back(t);
      want_v.push_back(v);
      if (rng() % 3 == 0 || i == n - 1) {
        ASSERT_THAT(DecodeXorChunkFrom(enc.bytes(), &st,
                                       std::numeric_limits<int64_t>::min(),
                                       &got_t, &got_v),
                    IsOk());
        ASSERT_EQ(st.index, static_cast<uint32_t>(i + 1));
        EXPECT_EQ(st.t, t);
      }
    }
    ASSERT_EQ(got_t, want_t);
    for (size_t i = 0; i < want_v.size(); ++i) {
      ASSERT_EQ(std::bit_cast<uint64_t>(got_v[i]),
                std::bit_cast<uint64_t>(want_v[i]));
    }
    // Nothing new: nothing decoded. mint filters what is written.
    std::vector<int64_t> more_t;
    std::vector<double> more_v;
    auto none = DecodeXorChunkFrom(enc.bytes(), &st, 0, &more_t, &more_v);
    ASSERT_THAT(none, IsOk());
    EXPECT_EQ(*none, 0u);
    XorDecodeState fresh;
    auto kept = DecodeXorChunkFrom(enc.bytes(), &fresh, want_t.back(),
                                   &more_t, &more_v);
    ASSERT_THAT(kept, IsOk());
    EXPECT_EQ(*kept, 1u);
    EXPECT_EQ(more_t, std::vector<int64_t>{want_t.back()});
  }
  // A state from another, longer chunk is refused, not followed.
  XorEncoder a, b;
  for (int i = 0; i < 50; ++i) a.Append(i * 1000, i);
  b.Append(0, 1);
  XorDecodeState st;
  std::vector<int64_t> t;
  std::vector<double> v;
  ASSERT_THAT(DecodeXorChunkFrom(a.bytes(), &st, 0, &t, &v), IsOk());
  EXPECT_FALSE(DecodeXorChunkFrom(b.bytes(), &st, 0, &t, &v).ok());
}

TEST(XorChunk, DecodeRange) {
  XorEncoder enc;
  for (int i = 0; i < 120; ++i) enc.Append(i * 15000, i);
  std::vector<int64_t> t = {7};  // appended to, not replaced
  std::vector<double> v = {7};
  auto n = DecodeXorChunk(enc.bytes(), 30000, 60000, &t, &v);
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 3u);
  EXPECT_THAT(t, ::testing::ElementsAre(7, 30000, 45000, 60000));
  EXPECT_THAT(v, ::testing::ElementsAre(7, 2, 3, 4));
  EXPECT_EQ(enc.min_time(), 0);
  EXPECT_EQ(enc.max_time(), 119 * 15000);
  EXPECT_EQ(XorChunkNumSamples(enc.bytes()), 120);
}

TEST(XorChunk, ReleaseResets) {
  XorEncoder enc;
  enc.Append(1, 2);
  enc.Append(2, 3);
  std::vector<uint8_t> bytes = enc.Release();
  EXPECT_TRUE(enc.empty());
  EXPECT_EQ(XorChunkNumSamples(bytes), 2);
  enc.Append(10, 1);
  EXPECT_EQ(enc.min_time(), 10);
}

TEST(XorChunk, CompressesScrapeLikeData) {
  // A counter growing by small integers, at 15s with no jitter.
  XorEncoder enc;
  std::mt19937_64 rng(1);
  double v = 1000;
  for (int i = 0; i < 120; ++i) {
    enc.Append(1700000000000 + i * 15000, v);
    v += rng() % 4;
  }
  EXPECT_LT(enc.bytes().size(), 120 * 2);
  XorEncoder constant;
  for (int i = 0; i < 120; ++i) constant.Append(i * 15000, 1);
  EXPECT_LT(constant.bytes().size(), 120 / 2);
}

// Corrupted chunks must fail or decode garbage, never crash or overread
// (run under ASan to be sure).
TEST(XorChunk, RandomBytesNeverCrash) {
  std::mt19937_64 rng(7);
  std::vector<int64_t> t;
  std::vector<double> v;
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> bytes(rng() % 64);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    t.clear();
    v.clear();
    auto n = DecodeXorChunk(bytes, std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max(), &t, &v);
    if (n.ok()) {
      EXPECT_EQ(t.size(), *n);
    } else {
      EXPECT_TRUE(t.empty());
    }
  }
  // Truncations of a valid chunk.
  XorEncoder enc;
  for (int i = 0; i < 50; ++i) enc.Append(i * 1000 + (i % 3), i * 1.5);
  auto full = enc.bytes();
  int failures = 0;
  for (size_t len = 0; len < full.size(); ++len) {
    t.clear();
    v.clear();
    if (!DecodeXorChunk(full.subspan(0, len), 0, 1 << 30, &t, &v).ok()) {
      ++failures;
    }
  }
  EXPECT_EQ(failures, static_cast<int>(full.size()));

  // Single bit flips anywhere in a valid chunk.
  std::vector<uint8_t> bytes(full.begin(), full.end());
  for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    bytes[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
    t.clear();
    v.clear();
    auto n = DecodeXorChunk(bytes, std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max(), &t, &v);
    EXPECT_EQ(t.size(), n.ok() ? *n : 0u);
    EXPECT_EQ(v.size(), t.size());
    bytes[bit / 8] ^= static_cast<uint8_t>(0x80 >> (bit % 8));
  }
}

}  // namespace
}  // namespace vigil::storage
