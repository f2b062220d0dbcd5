// Set operations on postings lists: sorted, duplicate-free arrays of series
// refs, which is how the head's index answers label matchers.
#ifndef VIGIL_STORAGE_POSTINGS_H_
#define VIGIL_STORAGE_POSTINGS_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace vigil::storage {

using PostingsList = std::vector<uint64_t>;

// Intersection of all `lists` (each sorted, unique). Smallest first, with a
// galloping search when one list is much shorter than the other.
PostingsList IntersectPostings(std::vector<absl::Span<const uint64_t>> lists);

// Union of `lists` (each sorted, unique), sorted and unique.
PostingsList UnionPostings(absl::Span<const absl::Span<const uint64_t>> lists);

// Elements of `a` not in `b`.
PostingsList SubtractPostings(absl::Span<const uint64_t> a,
                              absl::Span<const uint64_t> b);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_POSTINGS_H_
