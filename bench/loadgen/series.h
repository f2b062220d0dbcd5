// The load generator's synthetic series: realistic label sets (counters,
// gauges, classic histograms per scraped instance) and the value each series
// has at each scrape round, as a pure function so that any thread can encode
// any batch of a round without shared mutable state.
#ifndef VIGIL_BENCH_LOADGEN_SERIES_H_
#define VIGIL_BENCH_LOADGEN_SERIES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vigil::bench {

// Label pairs of one series, sorted by name (what remote-write senders send).
using LabelPairs = std::vector<std::pair<std::string, std::string>>;

enum class SeriesKind : uint8_t {
  kCounter,         // `_total`, increases every round.
  kGauge,           // Wanders around a per-series level.
  kBucket,          // Histogram `_bucket{le=...}`: floor(count * cdf(le)).
  kHistogramSum,    // Histogram `_sum`: count * per-histogram mean.
  kHistogramCount,  // Histogram `_count`: a counter shared by its buckets.
};

// A fixed population of `size()` series laid out like scrapes of many
// instances of a few jobs: slot i belongs to instance i / SeriesPerInstance()
// and is that instance's (i % SeriesPerInstance())-th series. Churn replaces a
// slot by a new series (a new `instance` value) that starts from zero.
//
// Construct-once except for Churn(). Const methods are safe to call from many
// threads at once; Churn() needs exclusive access.
class SeriesSet {
 public:
  struct Options {
    int64_t series = 1000;
    uint64_t seed = 42;
  };

  explicit SeriesSet(const Options& options);

  size_t size() const { return generation_.size(); }

  // How many series one simulated instance exposes.
  static size_t SeriesPerInstance();

  // Labels of slot `i` at its current generation, sorted by name.
  LabelPairs Labels(size_t i) const;
  SeriesKind Kind(size_t i) const;

  // Value of slot `i` at scrape `round` (>= the round the slot's current
  // series was born in). Counters and histograms never decrease; buckets of
  // one histogram are cumulative in `le`.
  double Value(size_t i, int64_t round) const;

  // Replaces `count` slots by new series born at `round`, walking round-robin
  // through the slots. Returns the replaced slot ranges as [lo, hi) pairs
  // (at most two, when the walk wraps around).
  std::vector<std::pair<size_t, size_t>> Churn(int64_t round, size_t count);

 private:
  uint64_t SlotSeed(size_t i) const;
  uint64_t HistogramSeed(size_t i) const;

  const uint64_t seed_;
  std::vector<uint32_t> generation_;  // Per slot; 0 = never churned.
  std::vector<int32_t> birth_round_;  // Per slot.
  size_t churn_cursor_ = 0;
};

}  // namespace vigil::bench

#endif  // VIGIL_BENCH_LOADGEN_SERIES_H_
