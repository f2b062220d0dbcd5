// Builds remote-write 1.0 request bodies (protobuf WriteRequest, then snappy)
// for the load generator without a protobuf library on the hot path: each
// batch's label bytes are encoded once; a round only writes values and
// timestamps around them.
#ifndef VIGIL_BENCH_LOADGEN_ENCODER_H_
#define VIGIL_BENCH_LOADGEN_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/loadgen/series.h"

namespace vigil::bench {

// Splits a SeriesSet into batches of consecutive slots, `batch_size` series
// (one sample each) per request, and encodes them.
//
// Borrows `series`, which must outlive the encoder. Encode() is const and may
// run on many threads at once; Refresh() needs exclusive access (call it
// between rounds, after SeriesSet::Churn()).
class BatchEncoder {
 public:
  // REQUIRES: batch_size > 0.
  BatchEncoder(const SeriesSet* series, size_t batch_size);

  size_t num_batches() const { return batches_.size(); }
  // Series in batch `b`.
  size_t batch_series(size_t b) const { return batches_[b].ends.size(); }

  // Re-encodes the label bytes of every batch that holds a slot in [lo, hi).
  void Refresh(size_t lo, size_t hi);

  // Writes the uncompressed WriteRequest of batch `b` at scrape `round`, every
  // sample stamped `timestamp_ms`, into `*out` (replacing its contents).
  void Encode(size_t b, int64_t round, int64_t timestamp_ms,
              std::string* out) const;

  // Encode() then snappy-compress into `*out`; `*scratch` holds the
  // uncompressed body and is reused between calls.
  void EncodeCompressed(size_t b, int64_t round, int64_t timestamp_ms,
                        std::string* scratch, std::string* out) const;

  // Appends one encoded Label message set (field 1 of TimeSeries, repeated)
  // for `labels`. Exposed for tests.
  static void AppendLabels(const LabelPairs& labels, std::string* out);

 private:
  struct Batch {
    size_t first = 0;             // First slot.
    std::string labels;           // Encoded label fields of every series.
    std::vector<uint32_t> ends;   // End offset of each series' labels.
  };

  void BuildBatch(size_t b);

  const SeriesSet* const series_;
  const size_t batch_size_;
  std::vector<Batch> batches_;
};

}  // namespace vigil::bench

#endif  // VIGIL_BENCH_LOADGEN_ENCODER_H_
