// Gorilla-style compressed chunk of float samples: delta-of-delta timestamps
// and XOR-encoded values, with integer-valued (and decimal) series stored as
// predicted integer deltas; a batch decoder fills plain arrays.
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
//               value: one of five operations, x = bits(v[i]) XOR
//               bits(v[i-1]):
//                 same    x == 0
//                 rice    scaled integer, with m the value in the active
//                         scale's units, d = m[i] - m[i-1]: Rice(zigzag(
//                         d / g - p)) when g != 0 divides d (or d = 0 and
//                         g = 0, then d / g is taken as 0)
//                 raw     scaled integer written whole: zigzag(d) as
//                         '0' + 7 bits | '10' + 14 bits | '110' + 24 bits
//                         | '111' + 64 bits; then g = gcd(g, |d|)
//                 window  (64-lead-trail) bits: the meaningful bits of x
//                         fit the current window (lead, trail)
//                 new     5 bits lead (capped at 31) + 6 bits length
//                         (0 = 64) + length bits: a new window
//               with codes from one of three tables, chosen by state both
//               sides share (see below):
//                 float      (no scale active)     same '0', window '10',
//                                                  new '11'
//                 moving     (scale, score < 4)    rice '0', raw '10',
//                                                  window '110', new '111'
//                 repeating  (scale, score >= 4)   same '0', rice '10',
//                                                  raw '110', window '1110',
//                                                  new '1111'
//               (moving has no "same": a repeated value is rice with
//               d = 0). The score starts at 4 and, for every value written
//               while a scale is active, goes up by one (at most 7) when it
//               repeats the previous value and down by one (at least 0)
//               otherwise: constant series pay 1 bit a value, moving ones
//               1 bit plus their Rice code. The window is the last one
//               written by "new"; sample 0 uses the float table.
//
// Scales: after sample 0 and after every value written as an XOR (window,
// new), encoder and decoder both pick the first scale of this list that
// carries the value exactly, as an integer m with |m| <= 2^53, skipping
// scales that already failed on a finite non-zero value of this chunk:
//   v = m * 1,  m * 2^-4,  m * (10^-k / 4) for k = 1..4,  m / 10^k for
//   k = 1..6
// (10^-k / 4 also carries every multiple of 10^-k / 2 and 10^-k exactly as
// the generator computed it; m / 10^k is how parsed decimals come out). No
// scale fits: none is active until the next XOR-written value. Choosing a
// scale resets g to 0 ("unknown", so the first delta is always written
// whole), p and the Rice state. Integral counters and gauges are the first
// scale; decimals such as 0.05 * n or "12.34" one of the others; other
// floats (histogram sums) stay XOR.
//
// The scaled-integer form, per value:
//   g   the gcd of the deltas since the scale was chosen, so counters that
//       move in steps of 1500 or a decimal scale finer than the data cost
//       no bits for the common factor;
//   p   a prediction of q = d / g: floor((mean16 + 8) / 16), mean16 being
//       an exponential average of q (x16, weight 1/8), so a steady rate
//       costs only its noise;
//   Rice(z) with parameter k = bit_width(avg16 / 32), avg16 an exponential
//       average of the coded z (x16, weight 1/4, z capped at 2^40): q = z
//       >> k as q one bits and a zero, then the k low bits of z; q >= 14 is
//       written as 14 one bits, 6 bits of (bit_width(z) - 1) and z itself.
// All of it is integer arithmetic the decoder repeats exactly.
//
// Values are compared as bit patterns, so every NaN (and Prometheus' stale
// marker), +-Inf and -0.0 round-trip exactly: they never take the scaled
// form (no m reproduces them) and do not make a scale fail. Compared with
// Prometheus' XOR chunk: short jitter (|dod| <= 128 ms) costs 10 bits rather
// than 16; counters, buckets and decimal gauges cost their noise instead of
// a moving XOR window.
#ifndef VIGIL_STORAGE_XOR_CHUNK_H_
#define VIGIL_STORAGE_XOR_CHUNK_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace vigil::storage {

inline constexpr int kMaxSamplesPerXorChunk = 65535;

namespace xor_internal {
// What encoder and decoder both track about the scaled-integer form (see
// the layout above). An implementation detail of the codec.
struct IntForm {
  int64_t m = 0;        // previous value in the scale's units
  int64_t g = 0;        // gcd of deltas of m; 0: none yet
  int64_t mean16 = 0;   // average of d / g, x16
  int64_t avg16 = 0;    // average Rice input, x16
  uint16_t failed = 0;  // scales that could not carry a value of the chunk
  int8_t scale = -1;    // -1: none active
  uint8_t same_score = 4;  // 0..7: how often the value repeated lately
};
}  // namespace xor_internal

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
  void WriteOp(int table, int op);
  void WriteWindowed(uint64_t x, int table);

  std::vector<uint8_t> buf_;
  uint32_t bit_len_ = 16;  // header included
  int num_samples_ = 0;
  int64_t min_t_ = 0;
  int64_t prev_t_ = 0;
  int64_t prev_delta_ = 0;
  uint64_t prev_v_ = 0;
  uint8_t lead_ = 0xff;  // 0xff: no window yet
  uint8_t trail_ = 0;
  xor_internal::IntForm form_;
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
  xor_internal::IntForm form;  // the scaled-integer state
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
