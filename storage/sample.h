// Float samples and Prometheus' staleness marker.
#ifndef VIGIL_STORAGE_SAMPLE_H_
#define VIGIL_STORAGE_SAMPLE_H_

#include <bit>
#include <cstdint>

namespace vigil::storage {

// Prometheus marks a series stale with this exact NaN bit pattern
// (value.StaleNaN); any other NaN is an ordinary value.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;

inline double StaleNaN() { return std::bit_cast<double>(kStaleNaNBits); }
inline bool IsStaleNaN(double v) {
  return std::bit_cast<uint64_t>(v) == kStaleNaNBits;
}

// A float sample: milliseconds since the Unix epoch and a value.
struct Sample {
  int64_t t;
  double v;
};

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_SAMPLE_H_
