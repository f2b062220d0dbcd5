#include "promql/window_cache.h"

#include <algorithm>
#include <bit>

namespace vigil::promql {

struct WindowCache::Entry {
  // Every sample of the series with lo <= t <= last is here, in order.
  std::vector<int64_t> t;
  std::vector<double> v;
  int64_t lo = 0;
  int64_t last = 0;  // lo - 1 while nothing is covered
  int64_t span = 0;  // longest maxt - mint read from this entry
  int64_t bytes = 0;  // as counted in bytes_
  uint32_t epoch = 0;  // epoch_ at the last read
};

struct WindowCache::Shard {
  absl::Mutex mu;
  absl::flat_hash_map<storage::SeriesRef, Entry> entries ABSL_GUARDED_BY(mu);
  int64_t hits ABSL_GUARDED_BY(mu) = 0;
  int64_t misses ABSL_GUARDED_BY(mu) = 0;
  int64_t evictions ABSL_GUARDED_BY(mu) = 0;
  int64_t over_budget ABSL_GUARDED_BY(mu) = 0;
};

namespace {

// Map slot and bookkeeping per entry, roughly.
constexpr int64_t kEntryOverhead = sizeof(storage::SeriesRef) + 96;

}  // namespace

WindowCache::WindowCache(const storage::Queryable* base,
                         WindowCacheOptions options)
    : base_(base),
      options_(options),
      shard_mask_(std::bit_ceil(static_cast<uint32_t>(
                      std::clamp(options.num_shards, 1, 4096))) -
                  1),
      shards_(std::make_unique<Shard[]>(shard_mask_ + 1)) {}

WindowCache::~WindowCache() { Stop(); }

WindowCache::Shard& WindowCache::ShardOf(storage::SeriesRef ref) const {
  // Refs carry the head's shard index in their low bits; mix before picking.
  const uint64_t h = ref * 0x9e3779b97f4a7c15ULL;
  return shards_[(h >> 40) & shard_mask_];
}

int64_t WindowCache::EntryBytes(const Entry& e) {
  return kEntryOverhead +
         static_cast<int64_t>(e.t.capacity() * sizeof(int64_t) +
                              e.v.capacity() * sizeof(double));
}

void WindowCache::Account(Entry& e) const {
  const int64_t now = EntryBytes(e);
  if (now != e.bytes) {
    bytes_.fetch_add(now - e.bytes, std::memory_order_relaxed);
    e.bytes = now;
  }
}

size_t WindowCache::CopyOut(const Entry& e, int64_t mint, int64_t maxt,
                            std::vector<int64_t>* ts,
                            std::vector<double>* vs) {
  const auto first = std::lower_bound(e.t.begin(), e.t.end(), mint);
  const auto end = std::upper_bound(first, e.t.end(), maxt);
  const size_t from = static_cast<size_t>(first - e.t.begin());
  const size_t n = static_cast<size_t>(end - first);
  ts->insert(ts->end(), first, end);
  vs->insert(vs->end(), e.v.begin() + from, e.v.begin() + from + n);
  return n;
}

void WindowCache::Trim(Entry& e) const {
  if (e.t.empty()) return;
  const int64_t cut = e.last - e.span - options_.margin_ms;
  if (e.t.front() >= cut) return;
  const size_t k = static_cast<size_t>(
      std::lower_bound(e.t.begin(), e.t.end(), cut) - e.t.begin());
  // Erasing from the front moves what is left; do it in batches.
  if (k < 8 && k * 4 < e.t.size()) return;
  e.t.erase(e.t.begin(), e.t.begin() + k);
  e.v.erase(e.v.begin(), e.v.begin() + k);
  e.lo = std::max(e.lo, cut);
  if (e.t.capacity() > 2 * e.t.size() + 16) {
    e.t.shrink_to_fit();
    e.v.shrink_to_fit();
  }
}

void WindowCache::Sweep() {
  const uint32_t keep_from = epoch_.fetch_add(1, std::memory_order_relaxed) - 1;
  for (uint32_t i = 0; i <= shard_mask_; ++i) {
    Shard& sh = shards_[i];
    absl::MutexLock lock(&sh.mu);
    for (auto it = sh.entries.begin(); it != sh.entries.end();) {
      if (it->second.epoch < keep_from) {
        bytes_.fetch_sub(it->second.bytes, std::memory_order_relaxed);
        ++sh.evictions;
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
    return base_->ReadSamples(ref, mint, maxt, ts, vs);
  }
  Shard& sh = ShardOf(ref);
  absl::MutexLock lock(&sh.mu);
  auto it = sh.entries.find(ref);
  if (it != sh.entries.end() && it->second.lo <= mint) {
    Entry& e = it->second;
    // Samples the store got since: all newer than e.last (in-order store).
    const int64_t from = std::max(e.last + 1, e.lo);
    e.epoch = epoch_.load(std::memory_order_relaxed);
    if (maxt - mint > e.span) e.span = maxt - mint;
    if (from <= maxt && base_->ReadSamples(ref, from, maxt, &e.t, &e.v) > 0) {
      // Only new samples can push old ones out of the window.
      e.last = e.t.back();
      Trim(e);
      Account(e);
    }
    ++sh.hits;
    return CopyOut(e, mint, maxt, ts, vs);
  }
  const size_t start = ts->size();
  const size_t n = base_->ReadSamples(ref, mint, maxt, ts, vs);
  ++sh.misses;
  const int64_t want = kEntryOverhead + static_cast<int64_t>(
                                            n * (sizeof(int64_t) + sizeof(double)));
  if (it == sh.entries.end() &&
      bytes_.load(std::memory_order_relaxed) + want > options_.max_bytes) {
    ++sh.over_budget;
    return n;
  }
  Entry& e = it != sh.entries.end() ? it->second : sh.entries[ref];
  e.t.assign(ts->begin() + static_cast<std::ptrdiff_t>(start), ts->end());
  e.v.assign(vs->begin() + static_cast<std::ptrdiff_t>(start), vs->end());
  e.lo = mint;
  e.last = n > 0 ? e.t.back() : mint - 1;
  e.span = std::max(e.span, maxt - mint);
  e.epoch = epoch_.load(std::memory_order_relaxed);
  Account(e);
  return n;
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
