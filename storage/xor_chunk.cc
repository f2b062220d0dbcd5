#include "storage/xor_chunk.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

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
  // Counts leading one bits, up to `max` (<= 55), consuming them and the
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
  // A Rice code with parameter k (<= 48): up to `escape` (<= 14) one bits
  // and a zero, then k bits, in one refill. Returns false (consuming the
  // `escape` ones) for an escape, which the caller reads itself.
  inline bool ReadRice(int k, int escape, uint64_t* z) {
    if (avail_ < escape + 1 + k) Refill();
    const int ones = std::countl_one(buf_);
    if (ones >= escape) {
      buf_ <<= escape;
      avail_ -= escape;
      return false;
    }
    const uint64_t rest = buf_ << (ones + 1);
    const uint64_t low = k == 0 ? 0 : rest >> (64 - k);
    *z = (static_cast<uint64_t>(ones) << k) | low;
    const int used = ones + 1 + k;
    buf_ = used >= 64 ? 0 : buf_ << used;
    avail_ -= used;
    return true;
  }
  // Whether the next two bits are zero (without consuming them).
  inline bool NextTwoZero() {
    if (avail_ < 2) Refill();
    return (buf_ >> 62) == 0;
  }
  // REQUIRES: n bits available (after a peek that refilled).
  inline void Skip(int n) {
    buf_ <<= n;
    avail_ -= n;
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

// The scales of the scaled-integer value form (see xor_chunk.h): v = m * f,
// or v = m / f for the decimal ones.
struct Scale {
  double f;
  bool div;
};
constexpr Scale kScales[] = {
    {1.0, false},        {0.0625, false},     {0.1 / 4, false},
    {0.01 / 4, false},   {0.001 / 4, false},  {0.0001 / 4, false},
    {1e1, true},         {1e2, true},         {1e3, true},
    {1e4, true},         {1e5, true},         {1e6, true},
};
constexpr int kNumScales = sizeof(kScales) / sizeof(kScales[0]);
static_assert(kNumScales <= 16, "IntForm::failed has 16 bits");
constexpr uint16_t kAllScalesFailed = (1u << kNumScales) - 1;

// Rice: quotients of kRiceEscape or more are written as an escape.
constexpr int kRiceEscape = 14;

inline uint64_t WrapAdd(uint64_t a, uint64_t b) { return a + b; }

// Value codes (see xor_chunk.h): three tables, picked by the state both
// sides share. kFloat: no scale active; kMoving / kRepeating: a scale is
// active and the series mostly moves / mostly repeats its value.
enum ValueOp : uint8_t { kSame, kRice, kRaw, kWindow, kNewWindow };
enum CodeTable : uint8_t { kFloat, kMoving, kRepeating };
constexpr uint8_t kCodeLen[3][5] = {
    {1, 0, 0, 2, 2}, {0, 1, 2, 3, 3}, {1, 2, 3, 4, 4}};
constexpr uint8_t kCodeBits[3][5] = {{0b0, 0, 0, 0b10, 0b11},
                                     {0, 0b0, 0b10, 0b110, 0b111},
                                     {0b0, 0b10, 0b110, 0b1110, 0b1111}};
constexpr int kMaxOnes[3] = {2, 3, 4};
constexpr ValueOp kOpOf[3][5] = {
    {kSame, kWindow, kNewWindow, kNewWindow, kNewWindow},
    {kRice, kRaw, kWindow, kNewWindow, kNewWindow},
    {kSame, kRice, kRaw, kWindow, kNewWindow}};
constexpr uint8_t kRepeatingScore = 4;
constexpr uint8_t kMaxScore = 7;

// Encoder and decoder share these, so that both sides take every decision
// about scales, gcd, prediction and Rice parameter from the same integers.
struct XorValueCodec {
  using IntForm = xor_internal::IntForm;

  static double FromInt(int64_t m, int scale) {
    const Scale& s = kScales[scale];
    const double x = static_cast<double>(m);
    if (scale == 0) return x;
    return s.div ? x / s.f : x * s.f;
  }

  // Whether scale `scale` carries `bits` exactly; sets *m.
  static bool ToInt(uint64_t bits, int scale, int64_t* m) {
    if (scale == 0) {
      if (!IsSmallInteger(bits)) return false;
      *m = static_cast<int64_t>(std::bit_cast<double>(bits));
      return true;
    }
    const Scale& s = kScales[scale];
    const double v = std::bit_cast<double>(bits);
    const double x = s.div ? v * s.f : v / s.f;
    if (!(x >= -kMaxExactInt && x <= kMaxExactInt)) return false;  // NaN too
    const int64_t r = std::llround(x);
    for (int64_t c : {r, r - 1, r + 1}) {
      if (c < -static_cast<int64_t>(kMaxExactInt) ||
          c > static_cast<int64_t>(kMaxExactInt)) {
        continue;
      }
      if (std::bit_cast<uint64_t>(FromInt(c, scale)) == bits) {
        *m = c;
        return true;
      }
    }
    return false;
  }

  // After sample 0 and every XOR-written value.
  static inline void ChooseScale(IntForm* f, uint64_t bits) {
    f->scale = -1;
    f->g = 0;
    f->mean16 = 0;
    f->avg16 = 0;
    // Float series fail every scale within a few samples; from then on
    // this is all there is to it.
    if (f->failed == kAllScalesFailed) return;
    const Found found = FindScale(f->failed, bits);
    f->scale = found.scale;
    f->m = found.m;
    f->failed = found.failed;
  }

  struct Found {
    int64_t m;
    uint16_t failed;
    int8_t scale;
  };
  // By value, so that the decoder's state stays in registers.
  static __attribute__((noinline)) Found FindScale(uint16_t failed,
                                                   uint64_t bits) {
    const double v = std::bit_cast<double>(bits);
    // NaN, Inf and zeros say nothing about the series' scale.
    const bool telling = std::isfinite(v) && v != 0;
    for (uint32_t open = ~uint32_t{failed} & ((1u << kNumScales) - 1);
         open != 0; open &= open - 1) {
      const int c = std::countr_zero(open);
      int64_t m;
      if (ToInt(bits, c, &m)) return Found{m, failed, static_cast<int8_t>(c)};
      if (telling) failed = static_cast<uint16_t>(failed | (1u << c));
    }
    return Found{0, failed, -1};
  }

  static CodeTable Table(const IntForm& f) {
    if (f.scale < 0) return kFloat;
    return f.same_score >= kRepeatingScore ? kRepeating : kMoving;
  }
  // After every value written while a scale was active.
  static void Score(IntForm* f, bool same) {
    if (same) {
      if (f->same_score < kMaxScore) ++f->same_score;
    } else if (f->same_score > 0) {
      --f->same_score;
    }
  }

  static int RiceK(const IntForm& f) {
    const int k = std::bit_width(static_cast<uint64_t>(f.avg16) >> 5);
    return k > 48 ? 48 : k;
  }
  static int64_t Predict(const IntForm& f) { return (f.mean16 + 8) >> 4; }

  // After a Rice-written delta of q units of g (wrapping arithmetic: a
  // corrupt chunk decodes garbage, never undefined behaviour).
  static void AfterRice(IntForm* f, int64_t q, uint64_t z) {
    f->m = static_cast<int64_t>(
        WrapAdd(static_cast<uint64_t>(f->m),
                static_cast<uint64_t>(q) * static_cast<uint64_t>(f->g)));
    const uint64_t q16 = static_cast<uint64_t>(q) << 4;
    f->mean16 = static_cast<int64_t>(WrapAdd(
        static_cast<uint64_t>(f->mean16),
        static_cast<uint64_t>(
            static_cast<int64_t>(q16 - static_cast<uint64_t>(f->mean16)) >> 3)));
    const uint64_t zc = z < (uint64_t{1} << 40) ? z : (uint64_t{1} << 40);
    f->avg16 += (static_cast<int64_t>(zc << 4) - f->avg16) >> 2;
  }

  // After a delta written whole (a zero one leaves g unknown). False only
  // for a g no valid chunk has.
  static bool AfterRaw(IntForm* f, int64_t d) {
    f->m = static_cast<int64_t>(
        WrapAdd(static_cast<uint64_t>(f->m), static_cast<uint64_t>(d)));
    const uint64_t ad = d < 0 ? ~static_cast<uint64_t>(d) + 1
                              : static_cast<uint64_t>(d);
    const uint64_t g = std::gcd(static_cast<uint64_t>(f->g), ad);
    if (g > (uint64_t{1} << 62)) return false;
    f->g = static_cast<int64_t>(g);
    const int64_t q = g == 0 ? 0 : d / f->g;
    f->mean16 = static_cast<int64_t>(static_cast<uint64_t>(q) << 4);
    return true;
  }
};

}  // namespace

XorEncoder::XorEncoder() { buf_.assign(2, 0); }

double XorEncoder::last_value() const { return std::bit_cast<double>(prev_v_); }

void XorEncoder::WriteBits(uint64_t v, int n) {
  if (n == 0) return;
  if (n < 64) v &= (uint64_t{1} << n) - 1;
  const int used = static_cast<int>(bit_len_ & 7);
  bit_len_ += static_cast<uint32_t>(n);
  if (used != 0) {
    // Most codes are a few bits and fit the partly filled last byte.
    const int free = 8 - used;
    if (n <= free) {
      buf_.back() |= static_cast<uint8_t>(v << (free - n));
      return;
    }
    n -= free;
    buf_.back() |= static_cast<uint8_t>(v >> n);
    v &= (uint64_t{1} << n) - 1;
  }
  while (n >= 8) {
    n -= 8;
    buf_.push_back(static_cast<uint8_t>(v >> n));
  }
  if (n > 0) buf_.push_back(static_cast<uint8_t>(v << (8 - n)));
}

void XorEncoder::WriteOp(int table, int op) {
  WriteBits(kCodeBits[table][op], kCodeLen[table][op]);
}

void XorEncoder::WriteValue(uint64_t bits) {
  const uint64_t x = bits ^ prev_v_;
  const CodeTable table = XorValueCodec::Table(form_);
  if (table == kFloat) {
    if (x == 0) {
      WriteOp(table, kSame);
      return;
    }
    WriteWindowed(x, table);
    XorValueCodec::ChooseScale(&form_, bits);
    return;
  }
  if (table == kRepeating && x == 0) {
    WriteOp(table, kSame);
    XorValueCodec::Score(&form_, true);
    return;
  }
  int64_t m;
  if (x == 0 || XorValueCodec::ToInt(bits, form_.scale, &m)) {
    if (x == 0) m = form_.m;
    const int64_t d = m - form_.m;  // both within 2^53
    const int64_t g = form_.g;
    // With g still unknown only a repeated value (q = 0) can go this way.
    if (g == 1 || (g != 0 && d % g == 0) || (g == 0 && d == 0)) {
      const int64_t q = g == 1 ? d : (g == 0 ? 0 : d / g);
      const uint64_t z = ZigZag(q - XorValueCodec::Predict(form_));
      const int k = XorValueCodec::RiceK(form_);
      WriteOp(table, kRice);
      const uint64_t hi = z >> k;
      if (hi < kRiceEscape) {
        WriteBits(((uint64_t{1} << hi) - 1) << 1, static_cast<int>(hi) + 1);
        if (k > 0) WriteBits(z & ((uint64_t{1} << k) - 1), k);
      } else {
        const int len = std::bit_width(z);
        WriteBits((uint64_t{1} << kRiceEscape) - 1, kRiceEscape);
        WriteBits(static_cast<uint64_t>(len - 1), 6);
        WriteBits(z, len);
      }
      XorValueCodec::AfterRice(&form_, q, z);
    } else {
      const uint64_t z = ZigZag(d);
      WriteOp(table, kRaw);
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
      XorValueCodec::AfterRaw(&form_, d);
    }
    XorValueCodec::Score(&form_, x == 0);
    return;
  }
  WriteWindowed(x, table);
  XorValueCodec::Score(&form_, false);
  XorValueCodec::ChooseScale(&form_, bits);
}

void XorEncoder::WriteWindowed(uint64_t x, int table) {
  int lead = std::countl_zero(x);
  const int trail = std::countr_zero(x);
  if (lead > 31) lead = 31;
  if (lead_ != 0xff && lead >= lead_ && trail >= trail_) {
    WriteOp(table, kWindow);
    const int n = 64 - lead_ - trail_;
    WriteBits(x >> trail_, n);
    return;
  }
  const int n = 64 - lead - trail;
  WriteOp(table, kNewWindow);
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
    if (bits == 0) {
      WriteOp(kFloat, kSame);
    } else {
      WriteWindowed(bits, kFloat);  // XOR against +0.0
    }
    XorValueCodec::ChooseScale(&form_, bits);
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

// Reads one delta-of-delta timestamp code and moves t and delta on (the
// timestamp half of every sample after the first).
[[gnu::always_inline]] inline void ReadNextTimestamp(BitReader& r, int64_t& t,
                                                     int64_t& delta) {
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

// Samples from..n-1 of a chunk whose value stream has no scale left (table
// kFloat for good), into out_*[i - from]. False on a missing or bad value
// window.
bool DecodeFloatTail(BitReader& r, int from, int n, int64_t& t,
                     int64_t& delta, uint64_t& v, int& lead, int& trail,
                     int64_t* out_t, double* out_v) {
  for (int i = from; i < n; ++i) {
    ReadNextTimestamp(r, t, delta);
    switch (r.ReadOnes(2)) {
      case 0:
        break;
      case 1:
        if (lead < 0) return false;
        v ^= r.ReadWide(64 - lead - trail) << trail;
        break;
      default: {
        lead = static_cast<int>(r.Read(5));
        int bits = static_cast<int>(r.Read(6));
        if (bits == 0) bits = 64;
        if (lead + bits > 64) return false;
        trail = 64 - lead - bits;
        v ^= r.ReadWide(bits) << trail;
        break;
      }
    }
    out_t[i - from] = t;
    out_v[i - from] = std::bit_cast<double>(v);
  }
  return true;
}

// Decodes samples st.index..n-1 into out_*[0..], all of them, and leaves
// `st` after the last. Returns null, or what is wrong with the chunk (then
// `st` is garbage).
const char* DecodeLoop(BitReader& r, XorDecodeState& st, int n,
                       int64_t* out_t, double* out_v) {
  int64_t t = st.t, delta = st.delta;
  uint64_t v = st.v;
  int lead = st.lead, trail = st.trail;
  xor_internal::IntForm form = st.form;
  const int from = static_cast<int>(st.index);
  int i = from;
  for (; i < n; ++i) {
    const CodeTable table = XorValueCodec::Table(form);
    ValueOp op;
    if (i > 0 && r.NextTwoZero()) {
      // The common case: an unchanged interval and the value code '0'.
      r.Skip(2);
      t = static_cast<int64_t>(static_cast<uint64_t>(t) +
                               static_cast<uint64_t>(delta));
      op = table == kMoving ? kRice : kSame;
    } else {
      if (i == 0) {
        int len = static_cast<int>(r.Read(6));
        if (len == 63) len = 64;
        t = UnZigZag(r.ReadWide(len));
      } else {
        ReadNextTimestamp(r, t, delta);
      }
      op = kOpOf[table][r.ReadOnes(kMaxOnes[table])];
    }
    // Value.
    bool xored = false;
    const uint64_t before = v;
    switch (op) {
      case kSame:
        break;
      case kRice:
      case kRaw: {
        if (op == kRice) {
          uint64_t z;
          if (!r.ReadRice(XorValueCodec::RiceK(form), kRiceEscape, &z)) {
            z = r.ReadWide(static_cast<int>(r.Read(6)) + 1);
          }
          const int64_t q = static_cast<int64_t>(
              WrapAdd(static_cast<uint64_t>(XorValueCodec::Predict(form)),
                      static_cast<uint64_t>(UnZigZag(z))));
          XorValueCodec::AfterRice(&form, q, z);
        } else {
          uint64_t z;
          switch (r.ReadOnes(3)) {
            case 0: z = r.Read(7); break;
            case 1: z = r.Read(14); break;
            case 2: z = r.Read(24); break;
            default: z = r.ReadWide(64); break;
          }
          if (!XorValueCodec::AfterRaw(&form, UnZigZag(z))) {
            return "xor chunk has a bad integer unit";
          }
        }
        v = std::bit_cast<uint64_t>(XorValueCodec::FromInt(form.m, form.scale));
        break;
      }
      case kWindow: {
        if (lead < 0) return "xor chunk reuses a missing window";
        const int bits = 64 - lead - trail;
        v ^= r.ReadWide(bits) << trail;
        xored = true;
        break;
      }
      case kNewWindow: {
        lead = static_cast<int>(r.Read(5));
        int bits = static_cast<int>(r.Read(6));
        if (bits == 0) bits = 64;
        if (lead + bits > 64) return "xor chunk has a bad value window";
        trail = 64 - lead - bits;
        v ^= r.ReadWide(bits) << trail;
        xored = true;
        break;
      }
    }
    if (table != kFloat) XorValueCodec::Score(&form, v == before);
    if (xored || i == 0) XorValueCodec::ChooseScale(&form, v);
    out_t[i - from] = t;
    out_v[i - from] = std::bit_cast<double>(v);
    if (form.scale < 0 && form.failed == kAllScalesFailed) {
      // No scale can come back in this chunk: the rest is plain XOR, in
      // a loop with nothing else to keep in registers.
      if (!DecodeFloatTail(r, i + 1, n, t, delta, v, lead, trail,
                           out_t + (i + 1 - from), out_v + (i + 1 - from))) {
        return "xor chunk has a missing or bad value window";
      }
      i = n;
      break;
    }
  }
  st.t = t;
  st.delta = delta;
  st.v = v;
  st.lead = static_cast<int16_t>(lead);
  st.trail = static_cast<uint8_t>(trail);
  st.form = form;
  st.index = static_cast<uint32_t>(i);
  return nullptr;
}

// Keeps the samples of out_*[0, count) with mint <= t <= maxt, stopping at
// the first past maxt (the head only writes increasing timestamps).
size_t KeepRange(int64_t* out_t, double* out_v, size_t count, int64_t mint,
                 int64_t maxt) {
  size_t kept = 0;
  for (size_t i = 0; i < count; ++i) {
    if (out_t[i] > maxt) break;
    if (out_t[i] >= mint) {
      out_t[kept] = out_t[i];
      out_v[kept] = out_v[i];
      ++kept;
    }
  }
  return kept;
}

}  // namespace

namespace {

// Decodes samples st.index..n-1 from `r` straight into the output arrays
// (one resize, no push_back checks in the loop), then keeps those in
// [mint, maxt]. On error the arrays are as they were and `st` is garbage.
absl::StatusOr<size_t> DecodeRun(BitReader& r, XorDecodeState& st, int n,
                                 int64_t mint, int64_t maxt,
                                 std::vector<int64_t>* ts,
                                 std::vector<double>* vs) {
  const size_t start = ts->size();
  const size_t todo = static_cast<size_t>(n) - st.index;
  ts->resize(start + todo);
  vs->resize(start + todo);
  const char* error =
      DecodeLoop(r, st, n, ts->data() + start, vs->data() + start);
  if (error == nullptr && r.overrun()) error = "xor chunk truncated";
  if (error != nullptr) {
    ts->resize(start);
    vs->resize(start);
    return absl::InternalError(error);
  }
  const size_t kept =
      KeepRange(ts->data() + start, vs->data() + start, todo, mint, maxt);
  ts->resize(start + kept);
  vs->resize(start + kept);
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
  XorDecodeState st;
  return DecodeRun(r, st, n, mint, maxt, ts, vs);
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
  XorDecodeState st = *state;
  absl::StatusOr<size_t> kept = DecodeRun(
      r, st, n, mint, std::numeric_limits<int64_t>::max(), ts, vs);
  if (!kept.ok()) return kept;
  st.bit_pos = static_cast<uint32_t>(r.BitPos(chunk.data()));
  *state = st;
  return kept;
}

}  // namespace vigil::storage
