// A direct decoder for remote-write 1.0 WriteRequest bytes (after snappy):
// no protobuf message objects, errors that name the series and field.
#ifndef VIGIL_RPC_REMOTE_WRITE_DECODE_H_
#define VIGIL_RPC_REMOTE_WRITE_DECODE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "storage/labels.h"
#include "storage/sample.h"

namespace vigil::rpc::remote_write {

// One TimeSeries as it arrived: labels unsorted and unvalidated (apart from
// UTF-8), samples in arrival order.
struct DecodedSeries {
  std::vector<storage::Label> labels;
  std::vector<storage::Sample> samples;
};

struct DecodeStats {
  int64_t samples = 0;
  // Exemplars / native histograms / metadata present but ignored.
  int64_t ignored_fields = 0;
};

// Decodes a prometheus.WriteRequest. Wire-compatible with protobuf: unknown
// fields (exemplars, histograms, metadata) are skipped.
// InvalidArgument on malformed input ("protobuf: timeseries[2].labels[0]:
// truncated length-delimited field at byte 1234") or when a label name or
// value is not valid UTF-8. On error `*out` holds the series before the one
// whose labels were bad (none for a malformed structure). Built on
// DecodeRequestView and DecodeLabels: the receiver uses those directly, this
// is for callers that want every series whole (tests, tools).
absl::Status DecodeWriteRequest(std::string_view data,
                                std::vector<DecodedSeries>* out,
                                DecodeStats* stats);

// A WriteRequest decoded without copying or decoding labels: the receiver's
// fast path. Samples of all series sit in one array; each series keeps the
// raw bytes of its label fields (tag, length and Label message, in order),
// which identify it from one request to the next, and the extent of its
// TimeSeries message, to decode the labels only when needed. Views point
// into the decoded request (or `keys`) and live as long as both. Reusable:
// Clear() keeps the capacity, so a steady stream of requests allocates
// nothing per series. Not thread-safe.
struct RequestView {
  struct Series {
    uint32_t message_offset;  // TimeSeries bytes in the request
    uint32_t message_size;
    uint32_t key_offset;  // label bytes: in the request, or in `keys`
    uint32_t key_size;
    uint32_t first_sample;  // into `samples`
    uint32_t num_samples;
    bool key_in_keys;  // label fields were not contiguous: copied to `keys`
  };

  std::string_view request;
  std::vector<Series> series;
  std::vector<storage::Sample> samples;
  std::string keys;

  void Clear() {
    request = {};
    series.clear();
    samples.clear();
    keys.clear();
  }
  std::string_view Key(const Series& s) const {
    return (s.key_in_keys ? std::string_view(keys) : request)
        .substr(s.key_offset, s.key_size);
  }
  absl::Span<const storage::Sample> SamplesOf(const Series& s) const {
    return absl::MakeConstSpan(samples.data() + s.first_sample, s.num_samples);
  }
};

// Decodes the structure of a WriteRequest and every sample into `out`
// (cleared first). Label fields are only checked to be well-formed
// length-delimited fields; their contents are checked by DecodeLabels.
// InvalidArgument as DecodeWriteRequest. REQUIRES: data.size() < 4 GiB.
absl::Status DecodeRequestView(std::string_view data, RequestView* out,
                               DecodeStats* stats);

// Decodes the labels of out->series[index] (appending to `labels`), with the
// errors DecodeWriteRequest gives for them (malformed Label message, label
// name or value not valid UTF-8), naming the series and byte.
absl::Status DecodeLabels(const RequestView& view, size_t index,
                          std::vector<storage::Label>* labels);

bool IsValidUtf8(std::string_view s);

}  // namespace vigil::rpc::remote_write

#endif  // VIGIL_RPC_REMOTE_WRITE_DECODE_H_
