// WindowCache: a Queryable in front of a store that keeps, per series, the
// decoded samples of the recent window rules read, so that the many rules
// reading the same series in one evaluation interval decode its chunk once
// instead of once each.
//
// Why it is exact: the store appends each series' samples in time order (no
// out-of-order window), so a sample not yet in the store when the cache last
// read a series has a newer timestamp than every sample the cache holds for
// it. A read therefore asks the store only for samples newer than the newest
// one cached (cheap when there are none: no chunk is decoded) and serves the
// rest from memory. Reads reaching further back than what is cached go to the
// store whole and refill the entry. Do not put it in front of a store that
// accepts out-of-order samples.
//
// Entries are indexed by the store's dense series numbering
// (Queryable::RefSequenceShift); over a store whose refs are opaque the
// cache is off and reads pass through.
//
// Memory: each entry keeps its samples from (newest - span - margin) on,
// where span is the longest window read from it; entries are created only
// while the total stays under max_bytes, and Sweep() drops entries not read
// since the sweep before the previous one (StartBackgroundSweep calls it on
// a timer).
//
// Thread-safe: entries live in shards, each behind its own mutex (held
// across the store read that refreshes an entry, so one series is decoded
// once even when several rules read it at the same moment).
#ifndef VIGIL_PROMQL_WINDOW_CACHE_H_
#define VIGIL_PROMQL_WINDOW_CACHE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/storage.h"

namespace vigil::promql {

struct WindowCacheOptions {
  // Budget for cached samples and entry overhead; 0 caches nothing.
  int64_t max_bytes = int64_t{1} << 30;
  // Power of two.
  int num_shards = 64;
  // Samples kept before (newest - span), so that a group evaluating a little
  // earlier than another still finds its window cached.
  int64_t margin_ms = 60000;
};

struct WindowCacheStats {
  int64_t hits = 0;         // served from memory (plus newer samples)
  int64_t misses = 0;       // read whole from the store
  int64_t entries = 0;
  int64_t bytes = 0;
  int64_t evictions = 0;    // entries dropped by sweeps
  int64_t over_budget = 0;  // reads not cached because of max_bytes
};

// Borrows `base`, which must outlive it.
class WindowCache final : public storage::ForwardingQueryable {
 public:
  WindowCache(const storage::Queryable* base, WindowCacheOptions options);
  ~WindowCache() override;
  WindowCache(const WindowCache&) = delete;
  WindowCache& operator=(const WindowCache&) = delete;

  // The same samples base->ReadSamples would return.
  size_t ReadSamples(storage::SeriesRef ref, int64_t mint, int64_t maxt,
                     std::vector<int64_t>* ts,
                     std::vector<double>* vs) const override;

  // The same as base->ReadWindows, shard by shard: one lock per shard per
  // batch.
  void ReadWindows(absl::Span<const storage::SeriesRef> refs, int64_t mint,
                   int64_t maxt, bool latest_only, std::vector<int64_t>* ts,
                   std::vector<double>* vs, size_t* off,
                   size_t* n) const override;

  // The same windows as base->VisitWindows, lent from the cache's memory
  // (visit runs with a shard's lock held).
  void VisitWindows(absl::Span<const storage::SeriesRef> refs, int64_t mint,
                    int64_t maxt, WindowVisitor visit) const override;

  // Everything else is the store's (ForwardingQueryable).

  WindowCacheStats Stats() const;

  // Drops the entries not read since the call before the previous one.
  void Sweep();
  // Calls Sweep() every `period` on a thread of its own until Stop() or the
  // destructor. Not to be called concurrently with itself or Stop().
  void StartBackgroundSweep(absl::Duration period);
  void Stop();

 private:
  struct Entry;
  struct Page;
  struct Shard;
  // Where a series' entry pointer lives: shard, page within it, slot.
  struct Where {
    uint32_t shard;
    size_t page;
    uint32_t slot;
  };

  Where Locate(storage::SeriesRef ref) const;
  // The slot for `w` in sh (sh.mu held), null while its page does not exist.
  Entry** FindSlot(Shard& sh, const Where& w) const;
  // ReadSamples (only the newest sample when `latest_only`) with sh.mu held
  // and sh the shard of ref, at `w`. `slot` is FindSlot(sh, w) if the caller
  // has it, else null. `feed_epoch` is what SyncWithFeed returned at the
  // start of the read.
  size_t ReadLocked(Shard& sh, storage::SeriesRef ref, const Where& w,
                    Entry** slot, int64_t mint, int64_t maxt,
                    bool latest_only, uint32_t feed_epoch,
                    std::vector<int64_t>* ts, std::vector<double>* vs) const;
  // Marks the entries of series the store's change feed reports as behind
  // it; returns the feed epoch a read may then trust entries of. Every read
  // calls it first, so a sample the store had when the read began is seen.
  uint32_t SyncWithFeed() const;
  // Sorts the indices of refs by shard: shard k's are
  // order[run_end[k-1] (0 for k = 0), run_end[k]), in refs' order.
  void OrderByShard(absl::Span<const storage::SeriesRef> refs,
                    std::vector<uint32_t>* order,
                    std::vector<uint32_t>* run_end) const;
  // Calls f(shard, indices into refs of that shard's series) with the
  // shard's lock held, shard by shard.
  template <typename F>
  void ForEachByShard(absl::Span<const storage::SeriesRef> refs, F f) const;
  // Calls f(shard, i, slot) for every refs[i], shard by shard, with every
  // shard the batch touches locked (ascending) for the whole batch,
  // prefetching slots, entries and samples ahead; slot is FindSlot's or
  // null.
  template <typename F>
  void ForEachSlot(absl::Span<const storage::SeriesRef> refs, F f) const;
  // Brings the entry at *slot (which covers mint) up to date with the store
  // for a read of [mint, maxt]; returns it (also stored in *slot: it may
  // move).
  Entry* Refresh(Shard& sh, storage::SeriesRef ref, Entry** slot,
                 int64_t mint, int64_t maxt, uint32_t feed_epoch) const;
  // [first, last) of e's samples in [mint, maxt] (the newest of them when
  // `latest_only`).
  static std::pair<uint32_t, uint32_t> Bounds(const Entry& e, int64_t mint,
                                              int64_t maxt, bool latest_only);
  // Appends e's samples in [mint, maxt] (the newest of them when
  // `latest_only`) to ts/vs.
  static size_t CopyOut(const Entry& e, int64_t mint, int64_t maxt,
                        bool latest_only, std::vector<int64_t>* ts,
                        std::vector<double>* vs);
  // Drops samples older than the window, keeping [keep_from, ...).
  void Trim(Entry& e, int64_t keep_from) const;
  // Returns `e` (null: a new entry) or a replacement with room for `want`
  // samples, keeping bytes_ up to date.
  Entry* Resize(Entry* e, uint32_t want) const;
  // Appends n samples, growing e; returns where e now lives.
  Entry* Put(Entry* e, const int64_t* t, const double* v, size_t n) const;

  const WindowCacheOptions options_;
  const uint32_t shard_mask_;
  const int shard_bits_;
  const int ref_shift_;  // base's RefSequenceShift()
  // Off (every read goes to the store) without a budget or when the store's
  // refs are opaque.
  const bool enabled_;
  std::unique_ptr<Shard[]> shards_;
  mutable std::atomic<int64_t> bytes_{0};
  // Stamped on entries when read; Sweep() moves it on.
  std::atomic<uint32_t> epoch_{2};

  // The store's change feed: which series got samples since the last read.
  mutable absl::Mutex feed_mu_;
  mutable storage::ChangeCursor feed_cursor_ ABSL_GUARDED_BY(feed_mu_);
  mutable std::vector<storage::SeriesRef> changed_ ABSL_GUARDED_BY(feed_mu_);
  // Moves on whenever the feed cannot tell what changed; starts at 1 so
  // that 0 never names a current epoch.
  mutable uint32_t feed_epoch_ ABSL_GUARDED_BY(feed_mu_) = 1;

  absl::Mutex sweep_mu_;
  bool stopping_ ABSL_GUARDED_BY(sweep_mu_) = false;
  std::thread sweep_thread_;
};

}  // namespace vigil::promql

#endif  // VIGIL_PROMQL_WINDOW_CACHE_H_
