#include "bench/loadgen/encoder.h"

#include <algorithm>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/proto/remote.pb.h"
#include "snappy.h"

namespace vigil::bench {
namespace {

LabelPairs ToPairs(const prompb::TimeSeries& ts) {
  LabelPairs out;
  for (const auto& l : ts.labels()) {
    out.emplace_back(l.name(), l.value());
  }
  return out;
}

TEST(BatchEncoder, AppendLabelsRoundTripsThroughProtobuf) {
  const LabelPairs labels = {{"__name__", "up"},
                             {"instance", std::string(300, 'x')},
                             {"job", ""}};
  std::string bytes;
  BatchEncoder::AppendLabels(labels, &bytes);
  prompb::TimeSeries ts;
  ASSERT_TRUE(ts.ParseFromString(bytes));
  EXPECT_EQ(ToPairs(ts), labels);
  EXPECT_EQ(ts.samples_size(), 0);
}

struct Case {
  int64_t series;
  size_t batch;
  int64_t timestamp_ms;
};

class BatchEncoderRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(BatchEncoderRoundTrip, DecodesToEverySeriesOnceWithItsSample) {
  const Case c = GetParam();
  SeriesSet set({.series = c.series, .seed = 5});
  BatchEncoder enc(&set, c.batch);
  ASSERT_EQ(enc.num_batches(), (c.series + c.batch - 1) / c.batch);
  const int64_t round = 3;
  size_t slot = 0;
  std::string scratch, compressed;
  for (size_t b = 0; b < enc.num_batches(); ++b) {
    enc.EncodeCompressed(b, round, c.timestamp_ms, &scratch, &compressed);
    std::string body;
    ASSERT_TRUE(snappy::Uncompress(compressed.data(), compressed.size(), &body));
    EXPECT_TRUE(body == scratch);  // Not EXPECT_EQ: no 300 KB diffs.
    prompb::WriteRequest req;
    ASSERT_TRUE(req.ParseFromString(body)) << "batch " << b;
    ASSERT_EQ(static_cast<size_t>(req.timeseries_size()), enc.batch_series(b));
    EXPECT_LE(enc.batch_series(b), c.batch);
    for (const auto& ts : req.timeseries()) {
      const LabelPairs labels = ToPairs(ts);
      EXPECT_TRUE(std::is_sorted(labels.begin(), labels.end()));
      EXPECT_EQ(labels, set.Labels(slot));
      ASSERT_EQ(ts.samples_size(), 1);
      EXPECT_EQ(ts.samples(0).timestamp(), c.timestamp_ms);
      EXPECT_EQ(ts.samples(0).value(), set.Value(slot, round));
      ++slot;
    }
  }
  EXPECT_EQ(slot, static_cast<size_t>(c.series));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BatchEncoderRoundTrip,
    ::testing::Values(Case{1, 2000, 1700000000000}, Case{2000, 2000, 0},
                      Case{4500, 2000, 1763900000000},
                      Case{777, 100, 1},
                      Case{300, 7, -5}));  // Negative: a 10-byte varint.

TEST(BatchEncoder, RefreshPicksUpChurnedLabels) {
  SeriesSet set({.series = 50, .seed = 5});
  BatchEncoder enc(&set, 20);
  std::string before;
  enc.Encode(1, 0, 1000, &before);
  for (const auto& [lo, hi] : set.Churn(1, 5)) {
    enc.Refresh(lo, hi);
  }
  // Batch 1 (slots 20..39) untouched; batch 0 re-encoded with new labels.
  std::string after;
  enc.Encode(1, 0, 1000, &after);
  EXPECT_EQ(before, after);
  std::string b0;
  enc.Encode(0, 1, 1000, &b0);
  prompb::WriteRequest req;
  ASSERT_TRUE(req.ParseFromString(b0));
  EXPECT_EQ(ToPairs(req.timeseries(0)), set.Labels(0));
  EXPECT_EQ(ToPairs(req.timeseries(7)), set.Labels(7));
}

}  // namespace
}  // namespace vigil::bench
