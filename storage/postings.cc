#include "storage/postings.h"

#include <algorithm>
#include <queue>
#include <utility>

namespace vigil::storage {
namespace {

// First index >= from with a[i] >= x, probing 1, 2, 4, ... ahead first so that
// walking a long list with few targets costs O(log gap) per target.
size_t Gallop(absl::Span<const uint64_t> a, size_t from, uint64_t x) {
  size_t step = 1;
  size_t lo = from;
  size_t hi = from;
  while (hi < a.size() && a[hi] < x) {
    lo = hi + 1;
    hi += step;
    step <<= 1;
  }
  if (hi > a.size()) hi = a.size();
  return std::lower_bound(a.begin() + lo, a.begin() + hi, x) - a.begin();
}

PostingsList IntersectTwo(absl::Span<const uint64_t> small,
                          absl::Span<const uint64_t> big) {
  PostingsList out;
  out.reserve(small.size());
  if (small.size() * 16 < big.size()) {
    size_t j = 0;
    for (uint64_t x : small) {
      j = Gallop(big, j, x);
      if (j == big.size()) break;
      if (big[j] == x) out.push_back(x);
    }
    return out;
  }
  size_t i = 0, j = 0;
  while (i < small.size() && j < big.size()) {
    const uint64_t a = small[i], b = big[j];
    if (a == b) {
      out.push_back(a);
      ++i;
      ++j;
    } else if (a < b) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

}  // namespace

PostingsList IntersectPostings(std::vector<absl::Span<const uint64_t>> lists) {
  if (lists.empty()) return {};
  std::sort(lists.begin(), lists.end(),
            [](auto a, auto b) { return a.size() < b.size(); });
  PostingsList acc(lists[0].begin(), lists[0].end());
  for (size_t k = 1; k < lists.size() && !acc.empty(); ++k) {
    acc = IntersectTwo(acc, lists[k]);
  }
  return acc;
}

PostingsList UnionPostings(absl::Span<const absl::Span<const uint64_t>> lists) {
  PostingsList out;
  if (lists.empty()) return out;
  if (lists.size() == 1) return PostingsList(lists[0].begin(), lists[0].end());
  size_t total = 0;
  for (auto l : lists) total += l.size();
  out.reserve(total);
  if (lists.size() <= 8) {
    // Few lists (a literal alternation): merge pairwise, linear time.
    out.assign(lists[0].begin(), lists[0].end());
    PostingsList tmp;
    tmp.reserve(total);
    for (size_t k = 1; k < lists.size(); ++k) {
      tmp.clear();
      std::set_union(out.begin(), out.end(), lists[k].begin(), lists[k].end(),
                     std::back_inserter(tmp));
      out.swap(tmp);
    }
    return out;
  }
  // Many lists (a regex over a high-cardinality label): concatenating and
  // sorting beats a heap merge while most lists are tiny.
  for (auto l : lists) out.insert(out.end(), l.begin(), l.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

PostingsList SubtractPostings(absl::Span<const uint64_t> a,
                              absl::Span<const uint64_t> b) {
  PostingsList out;
  out.reserve(a.size());
  size_t j = 0;
  for (uint64_t x : a) {
    while (j < b.size() && b[j] < x) ++j;
    if (j < b.size() && b[j] == x) continue;
    out.push_back(x);
  }
  return out;
}

}  // namespace vigil::storage
