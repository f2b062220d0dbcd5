// A direct decoder for remote-write 1.0 WriteRequest bytes (after snappy):
// no protobuf message objects, errors that name the series and field.
#ifndef VIGIL_RPC_REMOTE_WRITE_DECODE_H_
#define VIGIL_RPC_REMOTE_WRITE_DECODE_H_

#include <string_view>
#include <vector>

#include "absl/status/status.h"
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
// value is not valid UTF-8. On error `*out` holds what was decoded so far.
absl::Status DecodeWriteRequest(std::string_view data,
                                std::vector<DecodedSeries>* out,
                                DecodeStats* stats);

bool IsValidUtf8(std::string_view s);

}  // namespace vigil::rpc::remote_write

#endif  // VIGIL_RPC_REMOTE_WRITE_DECODE_H_
