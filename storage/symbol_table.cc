#include "storage/symbol_table.h"

#include <cstdio>
#include <cstdlib>

#include "absl/hash/hash.h"

namespace vigil::storage {

namespace {
inline absl::string_view AV(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
}  // namespace

SymbolTable::SymbolTable() {
  for (Shard& sh : shards_) {
    sh.blocks = std::make_unique<std::atomic<std::string*>[]>(kMaxBlocks);
    for (uint32_t i = 0; i < kMaxBlocks; ++i) {
      sh.blocks[i].store(nullptr, std::memory_order_relaxed);
    }
  }
}

SymbolTable::~SymbolTable() {
  for (Shard& sh : shards_) {
    for (uint32_t i = 0; i < kMaxBlocks; ++i) {
      delete[] sh.blocks[i].load(std::memory_order_relaxed);
    }
  }
}

uint32_t SymbolTable::Intern(std::string_view s) {
  const size_t h = absl::Hash<absl::string_view>()(AV(s));
  // The low bits pick the map slot inside the shard too; use high ones here.
  const uint32_t shard = static_cast<uint32_t>(h >> 60) & (kShards - 1);
  Shard& sh = shards_[shard];
  absl::MutexLock lock(&sh.mu);
  auto it = sh.ids.find(AV(s));
  if (it != sh.ids.end()) {
    ++sh.refs[it->second >> kShardBits];
    return it->second;
  }
  uint32_t index;
  if (!sh.free.empty()) {
    index = sh.free.back();
    sh.free.pop_back();
  } else {
    index = sh.count;
    if ((index >> kBlockBits) >= kMaxBlocks) {
      std::fprintf(stderr, "vigil: symbol table shard full (%u strings)\n",
                   index);
      std::abort();
    }
    ++sh.count;
    sh.refs.push_back(0);
  }
  const uint32_t block = index >> kBlockBits;
  std::string* b = sh.blocks[block].load(std::memory_order_relaxed);
  if (b == nullptr) b = new std::string[kBlockSize];
  std::string& slot = b[index & (kBlockSize - 1)];
  slot.assign(s.data(), s.size());
  if (slot.capacity() > 15) sh.heap_bytes += slot.capacity() + 1;
  // Publish the block (and the string in it) before anyone can learn the id.
  sh.blocks[block].store(b, std::memory_order_release);
  sh.refs[index] = 1;
  ++sh.live;
  const uint32_t id = (index << kShardBits) | shard;
  sh.ids.emplace(AV(slot), id);
  return id;
}

void SymbolTable::Release(uint32_t id) {
  Shard& sh = shards_[id & (kShards - 1)];
  const uint32_t index = id >> kShardBits;
  absl::MutexLock lock(&sh.mu);
  if (index >= sh.count || sh.refs[index] == 0) return;  // caller bug
  if (--sh.refs[index] > 0) return;
  const std::string* block =
      sh.blocks[index >> kBlockBits].load(std::memory_order_relaxed);
  sh.ids.erase(AV(block[index & (kBlockSize - 1)]));
  sh.dead.push_back(index);
  --sh.live;
}

void SymbolTable::Sweep() {
  for (Shard& sh : shards_) {
    absl::MutexLock lock(&sh.mu);
    for (uint32_t index : sh.dead) {
      std::string* block =
          sh.blocks[index >> kBlockBits].load(std::memory_order_relaxed);
      std::string& slot = block[index & (kBlockSize - 1)];
      if (slot.capacity() > 15) sh.heap_bytes -= slot.capacity() + 1;
      std::string().swap(slot);
      sh.free.push_back(index);
    }
    sh.dead.clear();
  }
}

uint32_t SymbolTable::Find(std::string_view s) const {
  const size_t h = absl::Hash<absl::string_view>()(AV(s));
  const uint32_t shard = static_cast<uint32_t>(h >> 60) & (kShards - 1);
  const Shard& sh = shards_[shard];
  absl::ReaderMutexLock lock(&sh.mu);
  auto it = sh.ids.find(AV(s));
  return it == sh.ids.end() ? kNone : it->second;
}

size_t SymbolTable::size() const {
  size_t n = 0;
  for (const Shard& sh : shards_) {
    absl::ReaderMutexLock lock(&sh.mu);
    n += sh.live;
  }
  return n;
}

size_t SymbolTable::MemoryBytes() const {
  size_t bytes = sizeof(*this);
  for (const Shard& sh : shards_) {
    absl::ReaderMutexLock lock(&sh.mu);
    const size_t blocks = (sh.count + kBlockSize - 1) / kBlockSize;
    bytes += kMaxBlocks * sizeof(std::atomic<std::string*>);
    bytes += blocks * kBlockSize * sizeof(std::string);
    bytes += sh.heap_bytes;
    bytes += sh.ids.capacity() *
             (sizeof(std::pair<absl::string_view, uint32_t>) + 1);
    bytes += (sh.refs.capacity() + sh.dead.capacity() + sh.free.capacity()) *
             sizeof(uint32_t);
  }
  return bytes;
}

}  // namespace vigil::storage
