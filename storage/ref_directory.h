// RefDirectory: finds an object by a dense sequence number in two or three
// dependent loads, where a hash map probe costs a miss on its control bytes
// and another on its slot. The head numbers its series from one counter,
// so "series by ref" (every append by ref, every read of a selection) can
// index instead of hash.
//
// Layout: a fixed top array, lazily allocated middle nodes and leaves
// (1,024 entries, 8 KB), 2^36 sequence numbers in all. Memory is 8 bytes per
// sequence number of the live range, plus empty leaves until freed.
//
// Thread safety: entries are atomics, so Get may race with Set/Clear of
// other entries (and even of the same one, returning either value). The
// caller keeps what an entry points to alive (the head: Get and Set of a
// series under its shard's lock). Nodes are created lock-free and never
// move; FreeEmptyLeaves must not run concurrently with any other call on
// the leaves it may free (the head holds every shard lock).
#ifndef VIGIL_STORAGE_REF_DIRECTORY_H_
#define VIGIL_STORAGE_REF_DIRECTORY_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace vigil::storage {

template <typename T>
class RefDirectory {
 public:
  static constexpr int kLeafBits = 10;
  static constexpr int kMidBits = 12;
  static constexpr int kTopBits = 14;
  static constexpr uint64_t kCapacity = uint64_t{1}
                                        << (kLeafBits + kMidBits + kTopBits);

  RefDirectory() : top_(std::make_unique<std::atomic<Mid*>[]>(kTopSize)) {}
  RefDirectory(const RefDirectory&) = delete;
  RefDirectory& operator=(const RefDirectory&) = delete;
  ~RefDirectory() {
    for (size_t t = 0; t < kTopSize; ++t) {
      Mid* m = top_[t].load(std::memory_order_relaxed);
      if (m == nullptr) continue;
      for (size_t i = 0; i < kMidSize; ++i) {
        delete m->leaves[i].load(std::memory_order_relaxed);
      }
      delete m;
    }
  }

  // The entry for `seq`, or null (never set, cleared, or past capacity).
  T* Get(uint64_t seq) const {
    const Leaf* l = FindLeaf(seq);
    if (l == nullptr) return nullptr;
    return l->entries[seq & (kLeafSize - 1)].load(std::memory_order_acquire);
  }

  // Starts fetching the leaf slot of `seq` into cache.
  void Prefetch(uint64_t seq) const {
    const Leaf* l = FindLeaf(seq);
    if (l != nullptr) __builtin_prefetch(&l->entries[seq & (kLeafSize - 1)]);
  }

  // Points `seq` at `value` (non-null). False past capacity. At most one
  // thread sets or clears a given seq at a time.
  bool Set(uint64_t seq, T* value) {
    if (seq >= kCapacity) return false;
    Leaf* l = LeafFor(seq);
    std::atomic<T*>& e = l->entries[seq & (kLeafSize - 1)];
    if (e.load(std::memory_order_relaxed) == nullptr) {
      l->live.fetch_add(1, std::memory_order_relaxed);
    }
    e.store(value, std::memory_order_release);
    return true;
  }

  void Clear(uint64_t seq) {
    Leaf* l = const_cast<Leaf*>(FindLeaf(seq));
    if (l == nullptr) return;
    std::atomic<T*>& e = l->entries[seq & (kLeafSize - 1)];
    if (e.exchange(nullptr, std::memory_order_acq_rel) != nullptr) {
      l->live.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  // Frees the leaves with no entries whose whole range lies below
  // `below_seq` (numbers that will not be handed out again). Returns how
  // many. REQUIRES: no concurrent call of any other method.
  size_t FreeEmptyLeaves(uint64_t below_seq) {
    size_t freed = 0;
    for (size_t t = 0; t < kTopSize; ++t) {
      Mid* m = top_[t].load(std::memory_order_relaxed);
      if (m == nullptr) continue;
      for (size_t i = 0; i < kMidSize; ++i) {
        Leaf* l = m->leaves[i].load(std::memory_order_relaxed);
        if (l == nullptr || l->live.load(std::memory_order_relaxed) != 0) {
          continue;
        }
        const uint64_t end = ((static_cast<uint64_t>(t) << kMidBits | i) + 1)
                             << kLeafBits;
        if (end > below_seq) continue;
        m->leaves[i].store(nullptr, std::memory_order_relaxed);
        delete l;
        ++freed;
      }
    }
    return freed;
  }

  // Leaves allocated (for memory accounting and tests).
  size_t NumLeaves() const {
    size_t n = 0;
    for (size_t t = 0; t < kTopSize; ++t) {
      const Mid* m = top_[t].load(std::memory_order_relaxed);
      if (m == nullptr) continue;
      for (size_t i = 0; i < kMidSize; ++i) {
        n += m->leaves[i].load(std::memory_order_relaxed) != nullptr;
      }
    }
    return n;
  }
  static constexpr size_t kLeafBytes = (size_t{1} << kLeafBits) * sizeof(T*);

 private:
  static constexpr size_t kLeafSize = size_t{1} << kLeafBits;
  static constexpr size_t kMidSize = size_t{1} << kMidBits;
  static constexpr size_t kTopSize = size_t{1} << kTopBits;
  struct Leaf {
    std::atomic<T*> entries[kLeafSize] = {};
    std::atomic<uint32_t> live{0};
  };
  struct Mid {
    std::atomic<Leaf*> leaves[kMidSize] = {};
  };

  // The leaf holding `seq`, or null (past capacity, or not created).
  const Leaf* FindLeaf(uint64_t seq) const {
    if (seq >= kCapacity) return nullptr;
    const Mid* m = top_[seq >> (kLeafBits + kMidBits)].load(
        std::memory_order_acquire);
    if (m == nullptr) return nullptr;
    return m->leaves[(seq >> kLeafBits) & (kMidSize - 1)].load(
        std::memory_order_acquire);
  }

  // The node in `slot`, created if there is none; a thread that loses the
  // race to install one drops its copy.
  template <typename Node>
  static Node* InstallIfNull(std::atomic<Node*>& slot) {
    Node* n = slot.load(std::memory_order_acquire);
    if (n != nullptr) return n;
    auto fresh = std::make_unique<Node>();
    if (slot.compare_exchange_strong(n, fresh.get(),
                                     std::memory_order_acq_rel)) {
      n = fresh.release();
    }
    return n;
  }

  Leaf* LeafFor(uint64_t seq) {
    Mid* m = InstallIfNull(top_[seq >> (kLeafBits + kMidBits)]);
    return InstallIfNull(m->leaves[(seq >> kLeafBits) & (kMidSize - 1)]);
  }

  std::unique_ptr<std::atomic<Mid*>[]> top_;
};

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_REF_DIRECTORY_H_
