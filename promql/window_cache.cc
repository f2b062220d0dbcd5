#include "promql/window_cache.h"

#include "storage/sample.h"

#include <algorithm>
#include <bit>
#include <new>

namespace vigil::promql {

// One allocation per series: this header, then `cap` samples, so that a
// read touches the map slot and one block.
struct WindowCache::Entry {
  // Every sample of the series with lo <= t <= last is held, in order.
  int64_t lo = 0;
  int64_t last = 0;   // lo - 1 while nothing is covered
  int64_t span = 0;   // longest maxt - mint read from this entry
  uint32_t epoch = 0;  // epoch_ at the last read
  // The feed epoch (feed_epoch_) in which the entry was last brought up to
  // date with the store and has not been reported changed since; any
  // other value (0 included) means the store may hold newer samples.
  uint32_t current_in = 0;
  uint32_t n = 0;
  uint32_t cap = 0;
  // Where the store stopped decoding this series for us.
  storage::TailCursor cursor;

  storage::Sample* samples() { return reinterpret_cast<storage::Sample*>(this + 1); }
  const storage::Sample* samples() const {
    return reinterpret_cast<const storage::Sample*>(this + 1);
  }
  static int64_t BytesFor(uint32_t cap) {
    return static_cast<int64_t>(sizeof(Entry) + cap * sizeof(storage::Sample));
  }
};

namespace {

struct FreeEntry {
  void operator()(void* p) const { ::operator delete(p); }
};

}  // namespace

struct WindowCache::Shard {
  absl::Mutex mu;
  absl::flat_hash_map<storage::SeriesRef, Entry*> entries ABSL_GUARDED_BY(mu);
  // Scratch for store reads, kept to avoid allocating per read.
  std::vector<int64_t> t ABSL_GUARDED_BY(mu);
  std::vector<double> v ABSL_GUARDED_BY(mu);
  int64_t hits ABSL_GUARDED_BY(mu) = 0;
  int64_t misses ABSL_GUARDED_BY(mu) = 0;
  int64_t evictions ABSL_GUARDED_BY(mu) = 0;
  int64_t over_budget ABSL_GUARDED_BY(mu) = 0;
  // Moves on whenever an entry moves in memory or is created, so that a
  // batch holding entry pointers knows to look them up again.
  uint64_t relocations ABSL_GUARDED_BY(mu) = 0;

  ~Shard() {
    for (auto& [ref, e] : entries) FreeEntry()(e);
  }
};

namespace {

// Map slot and hash table slack per entry, roughly.
constexpr int64_t kSlotBytes = 2 * (sizeof(storage::SeriesRef) + sizeof(void*));

}  // namespace

WindowCache::WindowCache(const storage::Queryable* base,
                         WindowCacheOptions options)
    : storage::ForwardingQueryable(base),
      options_(options),
      shard_mask_(std::bit_ceil(static_cast<uint32_t>(
                      std::clamp(options.num_shards, 1, 4096))) -
                  1),
      shards_(std::make_unique<Shard[]>(shard_mask_ + 1)) {}

WindowCache::~WindowCache() { Stop(); }

uint32_t WindowCache::ShardIndex(storage::SeriesRef ref) const {
  // Refs carry the head's shard index in their low bits; mix before picking.
  const uint64_t h = ref * 0x9e3779b97f4a7c15ULL;
  return static_cast<uint32_t>(h >> 40) & shard_mask_;
}

WindowCache::Entry* WindowCache::Resize(Entry* e, uint32_t want) const {
  if (e != nullptr && e->cap >= want && e->cap <= 2 * want + 8) return e;
  // A quarter of headroom: a window grows by a sample per scrape and is
  // trimmed in batches.
  const uint32_t cap = std::max<uint32_t>(8, (want + want / 4 + 3) & ~3u);
  void* mem = ::operator new(static_cast<size_t>(Entry::BytesFor(cap)));
  Entry* fresh = new (mem) Entry();
  if (e != nullptr) {
    *fresh = *e;
    std::copy(e->samples(), e->samples() + e->n, fresh->samples());
    bytes_.fetch_sub(Entry::BytesFor(e->cap), std::memory_order_relaxed);
    FreeEntry()(e);
  }
  fresh->cap = cap;
  bytes_.fetch_add(Entry::BytesFor(cap), std::memory_order_relaxed);
  return fresh;
}

WindowCache::Entry* WindowCache::Put(Entry* e, const int64_t* t,
                                     const double* v, size_t n) const {
  e = Resize(e, e->n + static_cast<uint32_t>(n));
  storage::Sample* out = e->samples() + e->n;
  for (size_t i = 0; i < n; ++i) out[i] = storage::Sample{t[i], v[i]};
  e->n += static_cast<uint32_t>(n);
  return e;
}

size_t WindowCache::CopyOut(const Entry& e, int64_t mint, int64_t maxt,
                            bool latest_only, std::vector<int64_t>* ts,
                            std::vector<double>* vs) {
  const storage::Sample* begin = e.samples();
  const storage::Sample* end = begin + e.n;
  // Rules read up to the newest sample: look for maxt from the end.
  const storage::Sample* last = end;
  while (last != begin && (last - 1)->t > maxt) --last;
  const storage::Sample* first;
  if (latest_only) {
    first = last != begin && (last - 1)->t >= mint ? last - 1 : last;
  } else {
    first = std::lower_bound(
        begin, last, mint,
        [](const storage::Sample& a, int64_t b) { return a.t < b; });
  }
  const size_t n = static_cast<size_t>(last - first);
  const size_t at = ts->size();
  ts->resize(at + n);
  vs->resize(at + n);
  int64_t* out_t = ts->data() + at;
  double* out_v = vs->data() + at;
  for (size_t i = 0; i < n; ++i) {
    out_t[i] = first[i].t;
    out_v[i] = first[i].v;
  }
  return n;
}

void WindowCache::Trim(Entry& e, int64_t keep_from) const {
  if (e.n == 0) return;
  const int64_t cut =
      std::min(keep_from, e.last - e.span - options_.margin_ms);
  storage::Sample* s = e.samples();
  if (s[0].t >= cut) return;
  const uint32_t k = static_cast<uint32_t>(
      std::lower_bound(s, s + e.n, cut,
                       [](const storage::Sample& a, int64_t b) {
                         return a.t < b;
                       }) -
      s);
  // Moving the rest (a window's worth, a few hundred bytes) costs less than
  // keeping dead samples in memory and in every later copy.
  std::copy(s + k, s + e.n, s);
  e.n -= k;
  e.lo = std::max(e.lo, cut);
}

void WindowCache::Sweep() {
  const uint32_t keep_from = epoch_.fetch_add(1, std::memory_order_relaxed) - 1;
  for (uint32_t i = 0; i <= shard_mask_; ++i) {
    Shard& sh = shards_[i];
    absl::MutexLock lock(&sh.mu);
    for (auto it = sh.entries.begin(); it != sh.entries.end();) {
      if (it->second->epoch < keep_from) {
        bytes_.fetch_sub(Entry::BytesFor(it->second->cap) + kSlotBytes,
                         std::memory_order_relaxed);
        ++sh.evictions;
        FreeEntry()(it->second);
        sh.entries.erase(it++);
      } else {
        ++it;
      }
    }
  }
}

void WindowCache::StartBackgroundSweep(absl::Duration period) {
  if (sweep_thread_.joinable()) return;
  {
    absl::MutexLock lock(&sweep_mu_);
    stopping_ = false;
  }
  sweep_thread_ = std::thread([this, period] {
    absl::MutexLock lock(&sweep_mu_);
    while (!sweep_mu_.AwaitWithTimeout(absl::Condition(&stopping_), period)) {
      sweep_mu_.Unlock();
      Sweep();
      sweep_mu_.Lock();
    }
  });
}

void WindowCache::Stop() {
  {
    absl::MutexLock lock(&sweep_mu_);
    stopping_ = true;
  }
  if (sweep_thread_.joinable()) sweep_thread_.join();
}

size_t WindowCache::ReadSamples(storage::SeriesRef ref, int64_t mint,
                                int64_t maxt, std::vector<int64_t>* ts,
                                std::vector<double>* vs) const {
  if (options_.max_bytes <= 0 || mint > maxt) {
    return base().ReadSamples(ref, mint, maxt, ts, vs);
  }
  const uint32_t feed_epoch = SyncWithFeed();
  Shard& sh = shards_[ShardIndex(ref)];
  absl::MutexLock lock(&sh.mu);
  auto it = sh.entries.find(ref);
  return ReadLocked(sh, ref, it != sh.entries.end() ? it->second : nullptr,
                    mint, maxt, /*latest_only=*/false, feed_epoch,
                    ts, vs);
}

uint32_t WindowCache::SyncWithFeed() const {
  absl::MutexLock lock(&feed_mu_);
  changed_.clear();
  if (!base().ReadChanges(&feed_cursor_, &changed_)) {
    // Nothing known: every entry may be behind the store.
    feed_epoch_ = feed_epoch_ + 1 == 0 ? 1 : feed_epoch_ + 1;
    return feed_epoch_;
  }
  if (changed_.empty()) return feed_epoch_;
  ForEachByShard(changed_, [&](Shard& sh, absl::Span<const uint32_t> idx) {
    for (uint32_t i : idx) {
      auto it = sh.entries.find(changed_[i]);
      if (it != sh.entries.end()) it->second->current_in = 0;
    }
  });
  return feed_epoch_;
}

void WindowCache::ReadWindows(absl::Span<const storage::SeriesRef> refs,
                              int64_t mint, int64_t maxt, bool latest_only,
                              std::vector<int64_t>* ts,
                              std::vector<double>* vs, size_t* off,
                              size_t* n) const {
  if (options_.max_bytes <= 0 || mint > maxt) {
    base().ReadWindows(refs, mint, maxt, latest_only, ts, vs, off, n);
    return;
  }
  const uint32_t feed_epoch = SyncWithFeed();
  ForEachByShard(refs, [&](Shard& sh, absl::Span<const uint32_t> idx) {
    // A selector's entries are spread over more memory than the CPU caches
    // hold, and each read needs three of its lines in turn: the map slot,
    // the entry's header, its samples. So the loop runs as a pipeline: map
    // slots are fetched kSlotAhead series ahead, entries looked up (and
    // their headers fetched) kEntryAhead ahead, samples fetched
    // kSamplesAhead ahead, and series j is read with all three in cache.
    constexpr size_t kSlotAhead = 16, kEntryAhead = 8, kSamplesAhead = 4;
    thread_local std::vector<Entry*> found;
    // sh.relocations when found[j] was looked up: a read that moved an
    // entry since makes found[j] suspect (a ref listed twice).
    thread_local std::vector<uint64_t> found_at;
    found.resize(idx.size());
    found_at.resize(idx.size());
    const size_t count = idx.size();
    const auto lookup = [&](size_t j) {
      auto it = sh.entries.find(refs[idx[j]]);
      found[j] = it != sh.entries.end() ? it->second : nullptr;
      found_at[j] = sh.relocations;
      if (found[j] != nullptr) __builtin_prefetch(found[j]);
    };
    const auto fetch_samples = [&](size_t j) {
      const Entry* e = found[j];
      if (e == nullptr || sh.relocations != found_at[j]) return;
      // Entries hold about one window: fetch all of it, up to 16 lines.
      const char* p = reinterpret_cast<const char*>(e->samples());
      const size_t bytes =
          std::min<size_t>(e->n * sizeof(storage::Sample), 16 * 64);
      for (size_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b);
    };
    for (size_t j = 0; j < count && j < kSlotAhead; ++j) {
      sh.entries.prefetch(refs[idx[j]]);
    }
    for (size_t j = 0; j < count && j < kEntryAhead; ++j) lookup(j);
    for (size_t j = 0; j < count && j < kSamplesAhead; ++j) fetch_samples(j);
    for (size_t j = 0; j < count; ++j) {
      if (j + kSlotAhead < count) sh.entries.prefetch(refs[idx[j + kSlotAhead]]);
      if (j + kEntryAhead < count) lookup(j + kEntryAhead);
      if (j + kSamplesAhead < count) fetch_samples(j + kSamplesAhead);
      const uint32_t i = idx[j];
      if (sh.relocations != found_at[j]) {
        auto it = sh.entries.find(refs[i]);
        found[j] = it != sh.entries.end() ? it->second : nullptr;
      }
      off[i] = ts->size();
      n[i] = ReadLocked(sh, refs[i], found[j], mint, maxt, latest_only,
                        feed_epoch, ts, vs);
    }
  });
}

template <typename F>
void WindowCache::ForEachByShard(absl::Span<const storage::SeriesRef> refs,
                                 F f) const {
  // Shard by shard, so that each shard's lock is taken once per batch
  // rather than once per series.
  const uint32_t num_shards = shard_mask_ + 1;
  thread_local std::vector<uint32_t> shard_of, start, order;
  shard_of.resize(refs.size());
  start.assign(num_shards + 1, 0);
  for (size_t i = 0; i < refs.size(); ++i) {
    shard_of[i] = ShardIndex(refs[i]);
    ++start[shard_of[i] + 1];
  }
  for (uint32_t k = 0; k < num_shards; ++k) start[k + 1] += start[k];
  order.resize(refs.size());
  for (size_t i = 0; i < refs.size(); ++i) {
    order[start[shard_of[i]]++] = static_cast<uint32_t>(i);
  }
  // start[k] is now the end of shard k's run; its beginning is the end of
  // shard k-1's.
  uint32_t begin = 0;
  for (uint32_t k = 0; k < num_shards; ++k) {
    const uint32_t end = start[k];
    if (begin == end) continue;
    Shard& sh = shards_[k];
    absl::MutexLock lock(&sh.mu);
    f(sh, absl::MakeConstSpan(order.data() + begin, end - begin));
    begin = end;
  }
}

size_t WindowCache::ReadLocked(Shard& sh, storage::SeriesRef ref, Entry* found,
                               int64_t mint, int64_t maxt, bool latest_only,
                               uint32_t feed_epoch, std::vector<int64_t>* ts,
                               std::vector<double>* vs) const {
  if (found != nullptr && found->lo <= mint) {
    Entry* e = found;
    e->epoch = epoch_.load(std::memory_order_relaxed);
    if (maxt - mint > e->span) e->span = maxt - mint;
    // Samples the store got since: all newer than e->last (in-order store).
    // None when the change feed has not reported the series since the entry
    // was last brought up to date: then the store is not asked at all.
    const int64_t from = std::max(e->last + 1, e->lo);
    if (from <= maxt && e->current_in != feed_epoch) {
      sh.t.clear();
      sh.v.clear();
      // Everything newer, also past maxt: e->last must be the newest sample
      // the store had, or the cursor would skip what lies beyond maxt.
      const size_t n =
          base().ReadNewSamples(ref, from - 1, &e->cursor, &sh.t, &sh.v);
      if (n > 0) {
        e->last = sh.t.back();
        // Only new samples can push old ones out of the window.
        Trim(*e, mint);
        Entry* moved = Put(e, sh.t.data(), sh.v.data(), n);
        if (moved != e) {
          sh.entries[ref] = moved;
          ++sh.relocations;
        }
        e = moved;
      }
      e->current_in = feed_epoch;
    }
    ++sh.hits;
    return CopyOut(*e, mint, maxt, latest_only, ts, vs);
  }
  const size_t start = ts->size();
  size_t n = base().ReadSamples(ref, mint, maxt, ts, vs);
  ++sh.misses;
  // The whole window goes into the entry; the caller gets only what it
  // asked for.
  const auto answer = [&] {
    return latest_only ? storage::KeepNewestSample(start, ts, vs) : n;
  };
  Entry* e = found;
  if (e == nullptr) {
    if (bytes_.load(std::memory_order_relaxed) + kSlotBytes +
            Entry::BytesFor(static_cast<uint32_t>(n)) >
        options_.max_bytes) {
      ++sh.over_budget;
      return answer();
    }
    bytes_.fetch_add(kSlotBytes, std::memory_order_relaxed);
  } else {
    e->n = 0;
  }
  e = Resize(e, static_cast<uint32_t>(n));
  e->n = 0;
  e = Put(e, ts->data() + start, vs->data() + start, n);
  e->lo = mint;
  e->last = n > 0 ? ts->back() : mint - 1;
  e->span = std::max(e->span, maxt - mint);
  e->epoch = epoch_.load(std::memory_order_relaxed);
  e->cursor = storage::TailCursor();
  // A new or moved entry: pointers a batch looked up before are suspect
  // (a ref listed twice would otherwise find none and insert a second).
  if (e != found) ++sh.relocations;
  // Filled up to maxt only: the store may hold newer samples.
  e->current_in = 0;
  sh.entries[ref] = e;
  return answer();
}

WindowCacheStats WindowCache::Stats() const {
  WindowCacheStats st;
  for (uint32_t i = 0; i <= shard_mask_; ++i) {
    Shard& sh = shards_[i];
    absl::MutexLock lock(&sh.mu);
    st.hits += sh.hits;
    st.misses += sh.misses;
    st.evictions += sh.evictions;
    st.over_budget += sh.over_budget;
    st.entries += static_cast<int64_t>(sh.entries.size());
  }
  st.bytes = bytes_.load(std::memory_order_relaxed);
  return st;
}

}  // namespace vigil::promql
