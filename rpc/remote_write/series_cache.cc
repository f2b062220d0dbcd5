#include "rpc/remote_write/series_cache.h"

#include <atomic>
#include <cstring>

#include "absl/hash/hash.h"

namespace vigil::rpc::remote_write {

SeriesRefCache::SeriesRefCache(Options options) : options_(options) {}

uint64_t SeriesRefCache::Hash(std::string_view key) const {
  if (options_.hash != nullptr) return options_.hash(key);
  return absl::Hash<std::string_view>{}(key);
}

void SeriesRefCache::Lookup(absl::Span<const std::string_view> keys,
                            absl::Span<const uint64_t> hashes,
                            absl::Span<storage::SeriesRef> refs,
                            uint32_t epoch) const {
  absl::ReaderMutexLock lock(&mu_);
  for (size_t i = 0; i < keys.size(); ++i) {
    refs[i] = 0;
    const std::string_view key = keys[i];
    if (key.empty()) continue;
    auto it = map_.find(hashes[i]);
    if (it == map_.end()) continue;
    const Entry& e = it->second;
    if (e.key_size != key.size() ||
        std::memcmp(e.key.get(), key.data(), key.size()) != 0) {
      continue;  // a collision: not this series
    }
    refs[i] = e.ref;
    std::atomic_ref<uint32_t> used(e.last_used);
    if (used.load(std::memory_order_relaxed) != epoch) {
      used.store(epoch, std::memory_order_relaxed);
    }
  }
}

size_t SeriesRefCache::Insert(absl::Span<const Insertion> items,
                              uint32_t epoch) {
  if (items.empty()) return 0;
  absl::MutexLock lock(&mu_);
  size_t stored = 0;
  for (const Insertion& item : items) {
    if (item.ref == 0 || item.key.empty()) continue;
    auto it = map_.find(item.hash);
    if (it != map_.end()) {
      Entry& e = it->second;
      if (e.key_size == item.key.size() &&
          std::memcmp(e.key.get(), item.key.data(), item.key.size()) == 0) {
        e.ref = item.ref;
        e.last_used = epoch;
        ++stored;
      }
      continue;  // equal key updated, or a collision: the first one stays
    }
    if (map_.size() >= options_.max_entries) continue;
    Entry e;
    e.ref = item.ref;
    e.key_size = static_cast<uint32_t>(item.key.size());
    e.key = std::make_unique_for_overwrite<char[]>(item.key.size());
    std::memcpy(e.key.get(), item.key.data(), item.key.size());
    e.last_used = epoch;
    key_bytes_ += item.key.size();
    map_.emplace(item.hash, std::move(e));
    ++stored;
  }
  return stored;
}

size_t SeriesRefCache::EvictUnusedSince(uint32_t epoch) {
  absl::MutexLock lock(&mu_);
  size_t evicted = 0;
  for (auto it = map_.begin(); it != map_.end();) {
    if (it->second.last_used < epoch) {
      key_bytes_ -= it->second.key_size;
      map_.erase(it++);
      ++evicted;
    } else {
      ++it;
    }
  }
  return evicted;
}

size_t SeriesRefCache::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return map_.size();
}

size_t SeriesRefCache::MemoryBytes() const {
  absl::ReaderMutexLock lock(&mu_);
  // Slot plus control byte; each key copy pays malloc's header.
  return map_.capacity() * (sizeof(std::pair<uint64_t, Entry>) + 1) +
         key_bytes_ + map_.size() * 16;
}

}  // namespace vigil::rpc::remote_write
