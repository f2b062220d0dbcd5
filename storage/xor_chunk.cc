#include "storage/xor_chunk.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>

#include "absl/status/status.h"

namespace vigil::storage {
namespace {

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

inline bool FitsSigned(int64_t v, int bits) {
  const int64_t lo = -(int64_t{1} << (bits - 1));
  const int64_t hi = (int64_t{1} << (bits - 1)) - 1;
  return v >= lo && v <= hi;
}

// Sign-extends the low `bits` bits of v.
inline int64_t SignExtend(uint64_t v, int bits) {
  const int shift = 64 - bits;
  return static_cast<int64_t>(v << shift) >> shift;
}

constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53

// Whether the integer-delta form can carry this value exactly.
inline bool IsSmallInteger(uint64_t bits) {
  const double v = std::bit_cast<double>(bits);
  if (!(v >= -kMaxExactInt && v <= kMaxExactInt)) return false;  // NaN too
  const int64_t i = static_cast<int64_t>(v);
  return std::bit_cast<uint64_t>(static_cast<double>(i)) == bits;  // not -0.0
}

// Reads MSB-first bits through a 64-bit buffer refilled a word at a time.
// Past the end it reads zeros and records the overrun, so a corrupt chunk can
// only produce garbage samples, never a bad read.
class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size, size_t byte_pos)
      : p_(data + byte_pos), end_(data + size) {}

  // REQUIRES: 1 <= n <= 56.
  inline uint64_t Read(int n) {
    if (avail_ < n) Refill();
    const uint64_t v = buf_ >> (64 - n);
    buf_ <<= n;
    avail_ -= n;
    return v;
  }
  // 0 <= n <= 64.
  inline uint64_t ReadWide(int n) {
    if (n == 0) return 0;
    if (n <= 56) return Read(n);
    const uint64_t hi = Read(n - 32);
    return (hi << 32) | Read(32);
  }
  // Counts leading one bits, up to `max` (<= 8), consuming them and the
  // terminating zero (when fewer than `max`).
  inline int ReadOnes(int max) {
    if (avail_ < max + 1) Refill();
    int ones = std::countl_one(buf_);
    if (ones >= max) {
      ones = max;
      buf_ <<= max;
      avail_ -= max;
    } else {
      buf_ <<= ones + 1;
      avail_ -= ones + 1;
    }
    return ones;
  }
  bool overrun() const { return pad_bits_ > avail_; }
  // Bits consumed from the start of `data`.
  size_t BitPos(const uint8_t* data) const {
    return static_cast<size_t>(p_ - data) * 8 +
           static_cast<size_t>(pad_bits_) - static_cast<size_t>(avail_);
  }

 private:
  // Leaves at least 57 bits available. Bits past `avail_` in buf_ are either
  // zero or the true next bits, so OR-ing them in again is harmless.
  inline void Refill() {
    if (end_ - p_ >= 8) {
      uint64_t w;
      std::memcpy(&w, p_, 8);
      w = __builtin_bswap64(w);
      buf_ |= w >> avail_;
      const int bytes = (63 - avail_) >> 3;
      p_ += bytes;
      avail_ += bytes * 8;
      return;
    }
    while (avail_ <= 56) {
      uint64_t b = 0;
      if (p_ < end_) {
        b = *p_++;
      } else {
        pad_bits_ += 8;
      }
      buf_ |= b << (56 - avail_);
      avail_ += 8;
    }
  }

  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t buf_ = 0;
  int avail_ = 0;
  int pad_bits_ = 0;  // zero bits added past the end (at the buffer's tail)
};

}  // namespace

XorEncoder::XorEncoder() { buf_.assign(2, 0); }

double XorEncoder::last_value() const { return std::bit_cast<double>(prev_v_); }

void XorEncoder::WriteBits(uint64_t v, int n) {
  while (n > 0) {
    const int used = bit_len_ & 7;
    if (used == 0) buf_.push_back(0);
    const int free = 8 - used;
    const int take = n < free ? n : free;
    const uint64_t part = (v >> (n - take)) & ((uint64_t{1} << take) - 1);
    buf_.back() |= static_cast<uint8_t>(part << (free - take));
    n -= take;
    bit_len_ += take;
  }
}

void XorEncoder::WriteValue(uint64_t bits) {
  const uint64_t x = bits ^ prev_v_;
  if (x == 0) {
    WriteBits(0, 1);
    return;
  }
  if (num_samples_ > 0 && IsSmallInteger(prev_v_) && IsSmallInteger(bits)) {
    const int64_t d =
        static_cast<int64_t>(std::bit_cast<double>(bits)) -
        static_cast<int64_t>(std::bit_cast<double>(prev_v_));
    const uint64_t z = ZigZag(d);
    // Only worth it when shorter than the XOR form would be.
    int xor_cost;
    const int lead = std::min(std::countl_zero(x), 31);
    const int trail = std::countr_zero(x);
    if (lead_ != 0xff && lead >= lead_ && trail >= trail_) {
      xor_cost = 3 + 64 - lead_ - trail_;
    } else {
      xor_cost = 3 + 11 + 64 - lead - trail;
    }
    int int_cost;
    if (z < (1u << 7)) {
      int_cost = 2 + 1 + 7;
    } else if (z < (1u << 14)) {
      int_cost = 2 + 2 + 14;
    } else if (z < (1u << 24)) {
      int_cost = 2 + 3 + 24;
    } else {
      int_cost = 2 + 3 + 64;
    }
    if (int_cost <= xor_cost) {
      WriteBits(0b10, 2);
      if (z < (1u << 7)) {
        WriteBits(0, 1);
        WriteBits(z, 7);
      } else if (z < (1u << 14)) {
        WriteBits(0b10, 2);
        WriteBits(z, 14);
      } else if (z < (1u << 24)) {
        WriteBits(0b110, 3);
        WriteBits(z, 24);
      } else {
        WriteBits(0b111, 3);
        WriteBits(z, 64);
      }
      return;
    }
  }
  WriteWindowed(x);
}

void XorEncoder::WriteWindowed(uint64_t x) {
  int lead = std::countl_zero(x);
  const int trail = std::countr_zero(x);
  if (lead > 31) lead = 31;
  if (lead_ != 0xff && lead >= lead_ && trail >= trail_) {
    WriteBits(0b110, 3);
    const int n = 64 - lead_ - trail_;
    WriteBits(x >> trail_, n);
    return;
  }
  const int n = 64 - lead - trail;
  WriteBits(0b111, 3);
  WriteBits(lead, 5);
  WriteBits(n & 63, 6);  // 64 is written as 0
  WriteBits(x >> trail, n);
  lead_ = static_cast<uint8_t>(lead);
  trail_ = static_cast<uint8_t>(trail);
}

void XorEncoder::Append(int64_t t, double v) {
  assert(num_samples_ < kMaxSamplesPerXorChunk);
  const uint64_t bits = std::bit_cast<uint64_t>(v);
  if (num_samples_ == 0) {
    const uint64_t z = ZigZag(t);
    int len = 64 - std::countl_zero(z);
    if (len >= 63) len = 64;
    WriteBits(len == 64 ? 63 : len, 6);
    WriteBits(z, len);
    prev_v_ = 0;
    WriteValue(bits);
    min_t_ = t;
    prev_delta_ = 0;
  } else {
    const int64_t delta = static_cast<int64_t>(static_cast<uint64_t>(t) -
                                               static_cast<uint64_t>(prev_t_));
    const int64_t dod = static_cast<int64_t>(static_cast<uint64_t>(delta) -
                                             static_cast<uint64_t>(prev_delta_));
    if (dod == 0) {
      WriteBits(0, 1);
    } else if (FitsSigned(dod, 8)) {
      WriteBits(0b10, 2);
      WriteBits(static_cast<uint64_t>(dod), 8);
    } else if (FitsSigned(dod, 14)) {
      WriteBits(0b110, 3);
      WriteBits(static_cast<uint64_t>(dod), 14);
    } else if (FitsSigned(dod, 20)) {
      WriteBits(0b1110, 4);
      WriteBits(static_cast<uint64_t>(dod), 20);
    } else if (FitsSigned(dod, 32)) {
      WriteBits(0b11110, 5);
      WriteBits(static_cast<uint64_t>(dod), 32);
    } else {
      WriteBits(0b11111, 5);
      WriteBits(static_cast<uint64_t>(dod), 64);
    }
    prev_delta_ = delta;
    WriteValue(bits);
  }
  prev_t_ = t;
  prev_v_ = bits;
  ++num_samples_;
  buf_[0] = static_cast<uint8_t>(num_samples_ >> 8);
  buf_[1] = static_cast<uint8_t>(num_samples_);
}

std::vector<uint8_t> XorEncoder::Release() {
  std::vector<uint8_t> out(buf_.begin(), buf_.end());  // exact size
  *this = XorEncoder();
  return out;
}

int XorChunkNumSamples(absl::Span<const uint8_t> chunk) {
  if (chunk.size() < 2) return 0;
  return (chunk[0] << 8) | chunk[1];
}

namespace {

// The decode loop shared by DecodeXorChunk and DecodeXorChunkFrom: decodes
// samples [st.index, n) from `r`, writing those in [mint, maxt] to out_t /
// out_v; stops after the first sample past maxt when stop_past_maxt (the
// state then includes that sample). Returns how many were written, or -1
// for a malformed window.
template <bool kStopPastMaxt>
inline int64_t DecodeLoop(BitReader& r, XorDecodeState& st, int n,
                          int64_t mint, int64_t maxt, int64_t* out_t,
                          double* out_v) {
  int64_t t = st.t, delta = st.delta;
  uint64_t v = st.v;
  int lead = st.lead, trail = st.trail;
  int64_t kept = 0;
  int i = static_cast<int>(st.index);
  for (; i < n; ++i) {
    if (i == 0) {
      int len = static_cast<int>(r.Read(6));
      if (len == 63) len = 64;
      t = UnZigZag(r.ReadWide(len));
    } else {
      int64_t dod;
      switch (r.ReadOnes(5)) {
        case 0: dod = 0; break;
        case 1: dod = SignExtend(r.Read(8), 8); break;
        case 2: dod = SignExtend(r.Read(14), 14); break;
        case 3: dod = SignExtend(r.Read(20), 20); break;
        case 4: dod = SignExtend(r.Read(32), 32); break;
        default: dod = static_cast<int64_t>(r.ReadWide(64)); break;
      }
      delta = static_cast<int64_t>(static_cast<uint64_t>(delta) +
                                   static_cast<uint64_t>(dod));
      t = static_cast<int64_t>(static_cast<uint64_t>(t) +
                               static_cast<uint64_t>(delta));
    }
    // Value.
    switch (r.ReadOnes(3)) {
      case 0:
        break;
      case 1: {
        uint64_t z;
        switch (r.ReadOnes(3)) {
          case 0: z = r.Read(7); break;
          case 1: z = r.Read(14); break;
          case 2: z = r.Read(24); break;
          default: z = r.ReadWide(64); break;
        }
        const double prev = std::bit_cast<double>(v);
        const int64_t base = (prev >= -kMaxExactInt && prev <= kMaxExactInt)
                                 ? static_cast<int64_t>(prev)
                                 : 0;  // only in corrupt chunks
        const int64_t next = static_cast<int64_t>(
            static_cast<uint64_t>(base) + static_cast<uint64_t>(UnZigZag(z)));
        v = std::bit_cast<uint64_t>(static_cast<double>(next));
        break;
      }
      case 2: {
        if (lead < 0) return -1;
        const int bits = 64 - lead - trail;
        v ^= r.ReadWide(bits) << trail;
        break;
      }
      default: {
        lead = static_cast<int>(r.Read(5));
        int bits = static_cast<int>(r.Read(6));
        if (bits == 0) bits = 64;
        if (lead + bits > 64) return -1;
        trail = 64 - lead - bits;
        v ^= r.ReadWide(bits) << trail;
        break;
      }
    }
    if (kStopPastMaxt && t > maxt) {
      ++i;
      break;
    }
    if (t >= mint) {
      out_t[kept] = t;
      out_v[kept] = std::bit_cast<double>(v);
      ++kept;
    }
  }
  st.t = t;
  st.delta = delta;
  st.v = v;
  st.lead = static_cast<int16_t>(lead);
  st.trail = static_cast<uint8_t>(trail);
  st.index = static_cast<uint32_t>(i);
  return kept;
}

}  // namespace

absl::StatusOr<size_t> DecodeXorChunk(absl::Span<const uint8_t> chunk,
                                      int64_t mint, int64_t maxt,
                                      std::vector<int64_t>* ts,
                                      std::vector<double>* vs) {
  if (chunk.size() < 2) {
    return absl::InternalError("xor chunk shorter than its header");
  }
  const int n = XorChunkNumSamples(chunk);
  if (n == 0) return 0;
  BitReader r(chunk.data(), chunk.size(), 2);
  const size_t start = ts->size();
  // Decode straight into the output arrays, then drop what is out of range;
  // one resize per chunk keeps the loop free of push_back checks.
  ts->resize(start + n);
  vs->resize(start + n);
  XorDecodeState st;
  const int64_t kept = DecodeLoop<true>(r, st, n, mint, maxt,
                                        ts->data() + start, vs->data() + start);
  if (kept < 0 || r.overrun()) {
    ts->resize(start);
    vs->resize(start);
    return absl::InternalError(kept < 0 ? "xor chunk has a bad value window"
                                        : "xor chunk truncated");
  }
  ts->resize(start + static_cast<size_t>(kept));
  vs->resize(start + static_cast<size_t>(kept));
  return static_cast<size_t>(kept);
}

absl::StatusOr<size_t> DecodeXorChunkFrom(absl::Span<const uint8_t> chunk,
                                          XorDecodeState* state, int64_t mint,
                                          std::vector<int64_t>* ts,
                                          std::vector<double>* vs) {
  if (chunk.size() < 2) {
    return absl::InternalError("xor chunk shorter than its header");
  }
  const int n = XorChunkNumSamples(chunk);
  if (static_cast<int>(state->index) > n ||
      state->bit_pos > chunk.size() * 8 || state->bit_pos < 16) {
    return absl::InternalError("decode state past the end of the chunk");
  }
  if (static_cast<int>(state->index) == n) return 0;
  BitReader r(chunk.data(), chunk.size(), state->bit_pos / 8);
  if (state->bit_pos % 8 != 0) r.Read(static_cast<int>(state->bit_pos % 8));
  const size_t start = ts->size();
  const size_t todo = static_cast<size_t>(n) - state->index;
  ts->resize(start + todo);
  vs->resize(start + todo);
  XorDecodeState st = *state;
  const int64_t kept =
      DecodeLoop<false>(r, st, n, mint, std::numeric_limits<int64_t>::max(),
                        ts->data() + start, vs->data() + start);
  if (kept < 0 || r.overrun()) {
    ts->resize(start);
    vs->resize(start);
    return absl::InternalError(kept < 0 ? "xor chunk has a bad value window"
                                        : "xor chunk truncated");
  }
  st.bit_pos = static_cast<uint32_t>(r.BitPos(chunk.data()));
  *state = st;
  ts->resize(start + static_cast<size_t>(kept));
  vs->resize(start + static_cast<size_t>(kept));
  return static_cast<size_t>(kept);
}

}  // namespace vigil::storage
