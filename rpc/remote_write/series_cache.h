// SeriesRefCache: the remote-write receiver's memory of which store series a
// sender's TimeSeries is, keyed by the raw protobuf bytes of its labels, so
// that a series seen again (every scrape) costs no label decoding, sorting,
// interning or hashing of labels.
#ifndef VIGIL_RPC_REMOTE_WRITE_SERIES_CACHE_H_
#define VIGIL_RPC_REMOTE_WRITE_SERIES_CACHE_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "storage/storage.h"

namespace vigil::rpc::remote_write {

// Maps label bytes -> storage::SeriesRef. Only keys whose labels were
// validated and stored may be inserted; a hit is therefore a series that was
// valid with exactly these bytes. Every hit compares the whole key with the
// stored copy, so a 64-bit hash collision can never send samples to the
// wrong series: of two colliding keys the first stays cached and the other
// always takes the slow path. A cached ref may be stale (the store dropped
// the series); the store reports that and the caller re-inserts the new ref.
//
// Memory: one hash slot plus one exact-size copy of the key per entry.
// Entries unused for a while are evicted (EvictUnusedSince), and inserts stop
// at max_entries. Thread-safe: lookups of a whole request share one reader
// lock, inserts of a request take the writer lock once.
class SeriesRefCache {
 public:
  using HashFn = uint64_t (*)(std::string_view);

  struct Options {
    size_t max_entries = size_t{16} << 20;
    // For tests: replaces the hash (e.g. a constant, to force collisions).
    HashFn hash = nullptr;
  };

  struct Insertion {
    std::string_view key;
    uint64_t hash;
    storage::SeriesRef ref;
  };

  SeriesRefCache() : SeriesRefCache(Options{}) {}
  explicit SeriesRefCache(Options options);
  SeriesRefCache(const SeriesRefCache&) = delete;
  SeriesRefCache& operator=(const SeriesRefCache&) = delete;

  uint64_t Hash(std::string_view key) const;

  // refs[i] = the cached ref of keys[i] (hash hashes[i]), or 0. Marks hits
  // as used in `epoch`. An empty key never hits. REQUIRES: equal sizes.
  void Lookup(absl::Span<const std::string_view> keys,
              absl::Span<const uint64_t> hashes,
              absl::Span<storage::SeriesRef> refs, uint32_t epoch) const;

  // Remembers each key -> ref (ref != 0, key non-empty); an equal key gets
  // the new ref (its series was re-created). Returns how many were stored.
  size_t Insert(absl::Span<const Insertion> items, uint32_t epoch);

  // Forgets entries last used before `epoch`; returns how many.
  size_t EvictUnusedSince(uint32_t epoch);

  size_t size() const;
  // Approximate bytes held (slots and key copies).
  size_t MemoryBytes() const;

 private:
  struct Entry {
    storage::SeriesRef ref;
    std::unique_ptr<char[]> key;
    uint32_t key_size;
    // Written under the reader lock (std::atomic_ref, relaxed): the epoch
    // of the last hit.
    mutable uint32_t last_used;
  };

  const Options options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, Entry> map_ ABSL_GUARDED_BY(mu_);
  size_t key_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vigil::rpc::remote_write

#endif  // VIGIL_RPC_REMOTE_WRITE_SERIES_CACHE_H_
