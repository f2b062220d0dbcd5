#include "promql/window_cache.h"

#include "storage/sample.h"

#include <algorithm>
#include <bit>
#include <new>

namespace vigil::promql {

// One allocation per series: this header, then `cap` timestamps, then `cap`
// values, so that a read touches its slot and one block, and a range
// function can run on the arrays in place (VisitWindows).
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

  int64_t* times() { return reinterpret_cast<int64_t*>(this + 1); }
  const int64_t* times() const {
    return reinterpret_cast<const int64_t*>(this + 1);
  }
  double* values() { return reinterpret_cast<double*>(times() + cap); }
  const double* values() const {
    return reinterpret_cast<const double*>(times() + cap);
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

// Entries are found by position, not by hashing refs: the store numbers its
// series densely (Queryable::RefSequenceShift), so series k's entry pointer
// is slot k % kPageSlots of page k / kPageSlots, and page p belongs to shard
// p % num_shards. A selector's series then look up their entries in a few
// compact arrays (8 bytes a series) instead of probing a hash table per read.
// Pages are small (1 KB) so that a sparse corner of the numbering costs
// little.
constexpr int kPageBits = 7;
constexpr uint32_t kPageSlots = 1u << kPageBits;

struct WindowCache::Page {
  Entry* slot[kPageSlots] = {};
  uint32_t used = 0;  // non-null slots
};

struct WindowCache::Shard {
  absl::Mutex mu;
  // pages[i] is the shard's i-th page: global page i * num_shards + shard.
  // Null until one of its series is cached, and again once none is.
  std::vector<std::unique_ptr<Page>> pages ABSL_GUARDED_BY(mu);
  int64_t entries ABSL_GUARDED_BY(mu) = 0;
  // Scratch for store reads, kept to avoid allocating per read.
  std::vector<int64_t> t ABSL_GUARDED_BY(mu);
  std::vector<double> v ABSL_GUARDED_BY(mu);
  int64_t hits ABSL_GUARDED_BY(mu) = 0;
  int64_t misses ABSL_GUARDED_BY(mu) = 0;
  int64_t evictions ABSL_GUARDED_BY(mu) = 0;
  int64_t over_budget ABSL_GUARDED_BY(mu) = 0;

  ~Shard() {
    for (auto& page : pages) {
      if (page == nullptr) continue;
      for (Entry* e : page->slot) {
        if (e != nullptr) FreeEntry()(e);
      }
    }
  }
};

namespace {

// A ref whose sequence number lies beyond this many pages per shard is not
// cached (no store numbers that many series; a bound against a bad ref
// sizing a page directory).
constexpr size_t kMaxPagesPerShard = size_t{1} << 24;

}  // namespace

WindowCache::WindowCache(const storage::Queryable* base,
                         WindowCacheOptions options)
    : storage::ForwardingQueryable(base),
      options_(options),
      shard_mask_(std::bit_ceil(static_cast<uint32_t>(
                      std::clamp(options.num_shards, 1, 4096))) -
                  1),
      shard_bits_(std::countr_one(shard_mask_)),
      ref_shift_(base->RefSequenceShift()),
      enabled_(options.max_bytes > 0 && ref_shift_ >= 0 && ref_shift_ < 64),
      shards_(std::make_unique<Shard[]>(shard_mask_ + 1)) {}

WindowCache::~WindowCache() { Stop(); }

WindowCache::Where WindowCache::Locate(storage::SeriesRef ref) const {
  const uint64_t seq = ref >> ref_shift_;
  const uint64_t page = seq >> kPageBits;
  return Where{static_cast<uint32_t>(page & shard_mask_),
               static_cast<size_t>(page >> shard_bits_),
               static_cast<uint32_t>(seq & (kPageSlots - 1))};
}

WindowCache::Entry** WindowCache::FindSlot(Shard& sh, const Where& w) const {
  if (w.page >= sh.pages.size() || sh.pages[w.page] == nullptr) return nullptr;
  return &sh.pages[w.page]->slot[w.slot];
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
    fresh->cap = cap;
    std::copy(e->times(), e->times() + e->n, fresh->times());
    std::copy(e->values(), e->values() + e->n, fresh->values());
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
  std::copy(t, t + n, e->times() + e->n);
  std::copy(v, v + n, e->values() + e->n);
  e->n += static_cast<uint32_t>(n);
  return e;
}

std::pair<uint32_t, uint32_t> WindowCache::Bounds(const Entry& e,
                                                  int64_t mint, int64_t maxt,
                                                  bool latest_only) {
  const int64_t* t = e.times();
  // Rules read up to the newest sample: look for maxt from the end.
  uint32_t last = e.n;
  while (last != 0 && t[last - 1] > maxt) --last;
  uint32_t first;
  if (latest_only) {
    first = last != 0 && t[last - 1] >= mint ? last - 1 : last;
  } else if (last == 0 || t[0] >= mint) {
    first = 0;
  } else {
    first = static_cast<uint32_t>(std::lower_bound(t, t + last, mint) - t);
  }
  return {first, last};
}

size_t WindowCache::CopyOut(const Entry& e, int64_t mint, int64_t maxt,
                            bool latest_only, std::vector<int64_t>* ts,
                            std::vector<double>* vs) {
  const auto [first, last] = Bounds(e, mint, maxt, latest_only);
  ts->insert(ts->end(), e.times() + first, e.times() + last);
  vs->insert(vs->end(), e.values() + first, e.values() + last);
  return last - first;
}

void WindowCache::Trim(Entry& e, int64_t keep_from) const {
  if (e.n == 0) return;
  const int64_t cut =
      std::min(keep_from, e.last - e.span - options_.margin_ms);
  int64_t* t = e.times();
  if (t[0] >= cut) return;
  const uint32_t k =
      static_cast<uint32_t>(std::lower_bound(t, t + e.n, cut) - t);
  // Moving the rest (a window's worth, a few hundred bytes) costs less than
  // keeping dead samples in memory and in every later read.
  std::copy(t + k, t + e.n, t);
  std::copy(e.values() + k, e.values() + e.n, e.values());
  e.n -= k;
  e.lo = std::max(e.lo, cut);
}

void WindowCache::Sweep() {
  const uint32_t keep_from = epoch_.fetch_add(1, std::memory_order_relaxed) - 1;
  for (uint32_t i = 0; i <= shard_mask_; ++i) {
    Shard& sh = shards_[i];
    absl::MutexLock lock(&sh.mu);
    for (std::unique_ptr<Page>& page : sh.pages) {
      if (page == nullptr) continue;
      for (Entry*& e : page->slot) {
        if (e == nullptr || e->epoch >= keep_from) continue;
        bytes_.fetch_sub(Entry::BytesFor(e->cap), std::memory_order_relaxed);
        ++sh.evictions;
        --sh.entries;
        --page->used;
        FreeEntry()(e);
        e = nullptr;
      }
      if (page->used == 0) {
        page.reset();
        bytes_.fetch_sub(sizeof(Page), std::memory_order_relaxed);
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
  if (!enabled_ || mint > maxt) {
    return base().ReadSamples(ref, mint, maxt, ts, vs);
  }
  const uint32_t feed_epoch = SyncWithFeed();
  const Where w = Locate(ref);
  Shard& sh = shards_[w.shard];
  absl::MutexLock lock(&sh.mu);
  return ReadLocked(sh, ref, w, FindSlot(sh, w), mint, maxt,
                    /*latest_only=*/false, feed_epoch, ts, vs);
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
      Entry** slot = FindSlot(sh, Locate(changed_[i]));
      if (slot != nullptr && *slot != nullptr) (*slot)->current_in = 0;
    }
  });
  return feed_epoch_;
}

template <typename F>
void WindowCache::ForEachSlot(absl::Span<const storage::SeriesRef> refs,
                              F f) const {
  // A selector's entries are spread over more memory than the CPU caches
  // hold, and each read needs three lines in turn: the entry's slot, its
  // header, its samples. So the loop runs as a pipeline: slots are fetched
  // kSlotAhead series ahead, headers kHeaderAhead ahead, samples
  // kSamplesAhead ahead, and series j is read with all three in cache.
  //
  // The pipeline spans the whole batch, not one shard's part of it: the
  // series of one metric across instances lie a page apart, so a batch of a
  // few hundred of them has only a handful in each shard, too few to fill a
  // pipeline. Hence every shard the batch touches is locked for the batch,
  // in ascending order (the only order any reader takes more than one in),
  // and the series are visited shard by shard.
  constexpr size_t kSlotAhead = 16, kHeaderAhead = 10, kSamplesAhead = 5;
  thread_local std::vector<uint32_t> order, run_end;
  // Per position in `order`: the shard, and the slot (valid while the
  // shard's lock is held; pages go only in Sweep), null where the page did
  // not exist yet.
  thread_local std::vector<Shard*> shard_at;
  thread_local std::vector<Entry**> slots;
  const size_t count = refs.size();
  OrderByShard(refs, &order, &run_end);
  shard_at.resize(count);
  slots.resize(count);
  uint32_t begin = 0;
  for (uint32_t k = 0; k < run_end.size(); ++k) {
    const uint32_t end = run_end[k];
    if (begin == end) continue;
    shards_[k].mu.Lock();  // ascending k
    std::fill(shard_at.begin() + begin, shard_at.begin() + end, &shards_[k]);
    begin = end;
  }
  const auto find_slot = [&](size_t j) {
    Entry** slot = FindSlot(*shard_at[j], Locate(refs[order[j]]));
    slots[j] = slot;
    if (slot != nullptr) __builtin_prefetch(slot);
  };
  const auto fetch_header = [&](size_t j) {
    if (slots[j] != nullptr && *slots[j] != nullptr) {
      __builtin_prefetch(*slots[j]);
    }
  };
  const auto fetch_samples = [&](size_t j) {
    const Entry* e = slots[j] != nullptr ? *slots[j] : nullptr;
    if (e == nullptr) return;
    // Entries hold about one window: fetch the newest 8 lines of each
    // array (rules read up to the newest sample).
    const size_t k = std::min<size_t>(e->n, 64);
    const char* t = reinterpret_cast<const char*>(e->times() + e->n - k);
    const char* v = reinterpret_cast<const char*>(e->values() + e->n - k);
    for (size_t b = 0; b < k * 8; b += 64) {
      __builtin_prefetch(t + b);
      __builtin_prefetch(v + b);
    }
  };
  for (size_t j = 0; j < count && j < kSlotAhead; ++j) find_slot(j);
  for (size_t j = 0; j < count && j < kHeaderAhead; ++j) fetch_header(j);
  for (size_t j = 0; j < count && j < kSamplesAhead; ++j) fetch_samples(j);
  for (size_t j = 0; j < count; ++j) {
    if (j + kSlotAhead < count) find_slot(j + kSlotAhead);
    if (j + kHeaderAhead < count) fetch_header(j + kHeaderAhead);
    if (j + kSamplesAhead < count) fetch_samples(j + kSamplesAhead);
    f(*shard_at[j], order[j], slots[j]);
  }
  begin = 0;
  for (uint32_t k = 0; k < run_end.size(); ++k) {
    if (begin != run_end[k]) shards_[k].mu.Unlock();
    begin = run_end[k];
  }
}

void WindowCache::ReadWindows(absl::Span<const storage::SeriesRef> refs,
                              int64_t mint, int64_t maxt, bool latest_only,
                              std::vector<int64_t>* ts,
                              std::vector<double>* vs, size_t* off,
                              size_t* n) const {
  if (!enabled_ || mint > maxt) {
    base().ReadWindows(refs, mint, maxt, latest_only, ts, vs, off, n);
    return;
  }
  const uint32_t feed_epoch = SyncWithFeed();
  ForEachSlot(refs, [&](Shard& sh, uint32_t i, Entry** slot) {
    off[i] = ts->size();
    n[i] = ReadLocked(sh, refs[i], Locate(refs[i]), slot, mint, maxt,
                      latest_only, feed_epoch, ts, vs);
  });
}

void WindowCache::VisitWindows(absl::Span<const storage::SeriesRef> refs,
                               int64_t mint, int64_t maxt,
                               WindowVisitor visit) const {
  if (!enabled_ || mint > maxt) {
    base().VisitWindows(refs, mint, maxt, visit);
    return;
  }
  const uint32_t feed_epoch = SyncWithFeed();
  // For series read from the store (a miss, or over budget).
  std::vector<int64_t> miss_t;
  std::vector<double> miss_v;
  ForEachSlot(refs, [&](Shard& sh, uint32_t i, Entry** slot) {
    const Where w = Locate(refs[i]);
    if (slot == nullptr) slot = FindSlot(sh, w);
    Entry* e = slot != nullptr ? *slot : nullptr;
    if (e != nullptr && e->lo <= mint) {
      e = Refresh(sh, refs[i], slot, mint, maxt, feed_epoch);
      ++sh.hits;
      const auto [first, last] = Bounds(*e, mint, maxt, /*latest_only=*/false);
      if (last > first) {
        visit(i, e->times() + first, e->values() + first, last - first);
      }
      return;
    }
    miss_t.clear();
    miss_v.clear();
    const size_t k = ReadLocked(sh, refs[i], w, slot, mint, maxt,
                                /*latest_only=*/false, feed_epoch, &miss_t,
                                &miss_v);
    if (k > 0) visit(i, miss_t.data(), miss_v.data(), k);
  });
}

void WindowCache::OrderByShard(absl::Span<const storage::SeriesRef> refs,
                               std::vector<uint32_t>* order,
                               std::vector<uint32_t>* run_end) const {
  // A counting sort: two passes over refs, no comparisons.
  const uint32_t num_shards = shard_mask_ + 1;
  thread_local std::vector<uint32_t> shard_of;
  shard_of.resize(refs.size());
  run_end->assign(num_shards + 1, 0);
  for (size_t i = 0; i < refs.size(); ++i) {
    shard_of[i] = Locate(refs[i]).shard;
    ++(*run_end)[shard_of[i] + 1];
  }
  for (uint32_t k = 0; k < num_shards; ++k) {
    (*run_end)[k + 1] += (*run_end)[k];
  }
  order->resize(refs.size());
  // (*run_end)[k] starts as the beginning of shard k's run and is advanced
  // past each of its series, ending as the run's end.
  for (size_t i = 0; i < refs.size(); ++i) {
    (*order)[(*run_end)[shard_of[i]]++] = static_cast<uint32_t>(i);
  }
  run_end->pop_back();
}

template <typename F>
void WindowCache::ForEachByShard(absl::Span<const storage::SeriesRef> refs,
                                 F f) const {
  // Shard by shard, so that each shard's lock is taken once per batch
  // rather than once per series.
  thread_local std::vector<uint32_t> order, run_end;
  OrderByShard(refs, &order, &run_end);
  uint32_t begin = 0;
  for (uint32_t k = 0; k < run_end.size(); ++k) {
    const uint32_t end = run_end[k];
    if (begin == end) continue;
    Shard& sh = shards_[k];
    absl::MutexLock lock(&sh.mu);
    f(sh, absl::MakeConstSpan(order.data() + begin, end - begin));
    begin = end;
  }
}

WindowCache::Entry* WindowCache::Refresh(Shard& sh, storage::SeriesRef ref,
                                         Entry** slot, int64_t mint,
                                         int64_t maxt,
                                         uint32_t feed_epoch) const {
  Entry* e = *slot;
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
      e = Put(e, sh.t.data(), sh.v.data(), n);
      *slot = e;
    }
    e->current_in = feed_epoch;
  }
  return e;
}

size_t WindowCache::ReadLocked(Shard& sh, storage::SeriesRef ref,
                               const Where& w, Entry** slot, int64_t mint,
                               int64_t maxt, bool latest_only,
                               uint32_t feed_epoch, std::vector<int64_t>* ts,
                               std::vector<double>* vs) const {
  if (slot == nullptr) slot = FindSlot(sh, w);
  Entry* found = slot != nullptr ? *slot : nullptr;
  if (found != nullptr && found->lo <= mint) {
    Entry* e = Refresh(sh, ref, slot, mint, maxt, feed_epoch);
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
    const int64_t page_bytes = slot == nullptr ? sizeof(Page) : 0;
    if (w.page >= kMaxPagesPerShard ||
        bytes_.load(std::memory_order_relaxed) + page_bytes +
                Entry::BytesFor(static_cast<uint32_t>(n)) >
            options_.max_bytes) {
      ++sh.over_budget;
      return answer();
    }
    if (slot == nullptr) {
      if (w.page >= sh.pages.size()) sh.pages.resize(w.page + 1);
      sh.pages[w.page] = std::make_unique<Page>();
      bytes_.fetch_add(sizeof(Page), std::memory_order_relaxed);
      slot = &sh.pages[w.page]->slot[w.slot];
    }
    ++sh.pages[w.page]->used;
    ++sh.entries;
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
  // Filled up to maxt only: the store may hold newer samples.
  e->current_in = 0;
  *slot = e;
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
    st.entries += sh.entries;
  }
  st.bytes = bytes_.load(std::memory_order_relaxed);
  return st;
}

}  // namespace vigil::promql
