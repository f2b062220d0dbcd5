// Gorilla-style compressed chunk of float samples: delta-of-delta timestamps
// and XOR-encoded values, with a batch decoder that fills plain arrays.
//
// Byte layout (all multi-bit fields most-significant bit first):
//
//   bytes 0..1  uint16 big-endian: number of samples N (at most 65535).
//   bits        the sample stream, starting at byte 2, zero-padded to a byte:
//
//   sample 0:   6 bits  L, the bit length of zigzag(t0) (0..63; 63 stands
//                       for 64), then L bits of zigzag(t0).
//               value   XOR against the bit pattern of +0.0 (see below), so
//                       integral values cost a few bits, not 64.
//   sample i>0: timestamp as dod = (t[i]-t[i-1]) - (t[i-1]-t[i-2]), where the
//               delta before sample 1 is taken as 0:
//                 '0'                       dod == 0
//                 '10'    + 8 bits  signed  -128 <= dod <= 127
//                 '110'   + 14 bits signed
//                 '1110'  + 20 bits signed
//                 '11110' + 32 bits signed
//                 '11111' + 64 bits         anything else
//               value, with x = bits(v[i]) XOR bits(v[i-1]):
//                 '0'     x == 0 (same bit pattern)
//                 '10'    integer delta: both values are integers of
//                         magnitude <= 2^53 (and v[i] is not -0.0); then
//                         z = zigzag(v[i] - v[i-1]) as
//                           '0' + 7 bits | '10' + 14 bits | '110' + 24 bits
//                           | '111' + 64 bits
//                 '110' + (64-lead-trail) bits: the meaningful bits of x
//                         fit the current window (lead, trail)
//                 '111' + 5 bits lead (capped at 31) + 6 bits length
//                         (0 = 64) + length bits: a new window
//               The window is the last one written by '111'; integer deltas
//               leave it alone.
//
// Values are compared as bit patterns, so every NaN (and Prometheus' stale
// marker) round-trips exactly. Compared with Prometheus' XOR chunk, two
// additions pay for themselves on scrape data: short jitter (|dod| <= 128 ms)
// costs 10 bits rather than 16, and integer counters are stored as integer
// deltas (usually 10 bits) instead of XORs whose window keeps moving.
#ifndef VIGIL_STORAGE_XOR_CHUNK_H_
#define VIGIL_STORAGE_XOR_CHUNK_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace vigil::storage {

inline constexpr int kMaxSamplesPerXorChunk = 65535;

// Appends samples to a growing chunk buffer. Owns the buffer and the few
// words of state needed to continue the stream. Not thread-safe.
class XorEncoder {
 public:
  XorEncoder();

  // REQUIRES: num_samples() < kMaxSamplesPerXorChunk. Timestamps need not be
  // increasing for the format, but the head only appends in order.
  void Append(int64_t t, double v);

  int num_samples() const { return num_samples_; }
  bool empty() const { return num_samples_ == 0; }
  int64_t min_time() const { return min_t_; }
  int64_t max_time() const { return prev_t_; }
  // The last value appended. REQUIRES: !empty().
  double last_value() const;

  // The encoded chunk; valid until the next Append or Release.
  absl::Span<const uint8_t> bytes() const { return buf_; }
  // Bytes held, including unused capacity.
  size_t capacity_bytes() const { return buf_.capacity(); }
  // Hands the encoded bytes over (trimmed to size) and resets to empty.
  std::vector<uint8_t> Release();

 private:
  void WriteBits(uint64_t v, int n);
  void WriteValue(uint64_t bits);
  void WriteWindowed(uint64_t x);

  std::vector<uint8_t> buf_;
  uint32_t bit_len_ = 16;  // header included
  int num_samples_ = 0;
  int64_t min_t_ = 0;
  int64_t prev_t_ = 0;
  int64_t prev_delta_ = 0;
  uint64_t prev_v_ = 0;
  uint8_t lead_ = 0xff;  // 0xff: no window yet
  uint8_t trail_ = 0;
};

// Decodes the samples of `chunk` with mint <= t <= maxt, appending them in
// stream order to `ts` and `vs`. Stops early past maxt (the head only writes
// increasing timestamps). Returns how many were appended; Internal when the
// bytes are truncated or malformed (never reads out of bounds).
absl::StatusOr<size_t> DecodeXorChunk(absl::Span<const uint8_t> chunk,
                                      int64_t mint, int64_t maxt,
                                      std::vector<int64_t>* ts,
                                      std::vector<double>* vs);

// Where a decode of a chunk stopped, so that a later decode of the same
// chunk, grown by appends since, goes on from there instead of from the
// first sample. Value-initialised: at the start.
struct XorDecodeState {
  uint32_t bit_pos = 16;  // next bit of the stream (header included)
  uint32_t index = 0;     // samples decoded so far
  int64_t t = 0;          // the last decoded sample's timestamp
  int64_t delta = 0;
  uint64_t v = 0;
  int16_t lead = -1;      // -1: no value window yet
  uint8_t trail = 0;
};

// Decodes every sample of `chunk` from `state` on, appending those with
// t >= mint to `ts` and `vs`, and leaves `state` at the end of the chunk.
// REQUIRES: `state` came from an earlier call on a prefix of this same
// chunk (or is value-initialised). Internal as DecodeXorChunk; `state` is
// then left as it was.
absl::StatusOr<size_t> DecodeXorChunkFrom(absl::Span<const uint8_t> chunk,
                                          XorDecodeState* state, int64_t mint,
                                          std::vector<int64_t>* ts,
                                          std::vector<double>* vs);

// The sample count from the header; 0 when shorter than a header.
int XorChunkNumSamples(absl::Span<const uint8_t> chunk);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_XOR_CHUNK_H_
