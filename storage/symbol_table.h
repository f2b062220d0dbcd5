// Interned strings for the head: each distinct label name or value is stored
// once and series refer to it by a 32-bit id.
#ifndef VIGIL_STORAGE_SYMBOL_TABLE_H_
#define VIGIL_STORAGE_SYMBOL_TABLE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace vigil::storage {

// A concurrent, reference-counted string interner. Intern, Find and Release
// take a lock on one of kShards shards (picked by the string's hash); Get is
// lock-free, because strings live in fixed blocks that never move once
// published. A symbol whose count drops to zero leaves the lookup map at once,
// but its slot is only cleared and reused after Sweep(), which the owner calls
// when no reader can still hold the id (the head excludes readers with a lock
// of its own). Thread-safe.
class SymbolTable {
 public:
  static constexpr uint32_t kNone = 0xffffffffu;

  SymbolTable();
  ~SymbolTable();
  SymbolTable(const SymbolTable&) = delete;
  SymbolTable& operator=(const SymbolTable&) = delete;

  // The id of `s`, adding it when new, and one more reference to it. Dies
  // (with a reason) past 2^24 live strings per shard, far beyond any memory
  // limit.
  uint32_t Intern(std::string_view s);
  // Drops one reference taken by Intern. REQUIRES: the id has one.
  void Release(uint32_t id);
  // Clears and recycles the slots of symbols released to zero since the last
  // sweep. REQUIRES: no thread will Get() any of those ids any more.
  void Sweep();
  // The id of `s`, or kNone when it was never interned.
  uint32_t Find(std::string_view s) const;
  // REQUIRES: `id` came from Intern on this table and the caller saw it
  // through some synchronisation (a lock both sides took). The view lives as
  // long as the table.
  std::string_view Get(uint32_t id) const {
    const Shard& sh = shards_[id & (kShards - 1)];
    const uint32_t index = id >> kShardBits;
    const std::string* block =
        sh.blocks[index >> kBlockBits].load(std::memory_order_acquire);
    return block[index & (kBlockSize - 1)];
  }

  // Number of live symbols and the bytes they take (string objects, heap text,
  // index), for stats.
  size_t size() const;
  size_t MemoryBytes() const;

 private:
  static constexpr int kShardBits = 4;
  static constexpr uint32_t kShards = 1u << kShardBits;
  static constexpr int kBlockBits = 10;
  static constexpr uint32_t kBlockSize = 1u << kBlockBits;
  static constexpr uint32_t kMaxBlocks = 1u << 14;

  struct alignas(64) Shard {
    mutable absl::Mutex mu;
    // Keys view the strings in `blocks`.
    absl::flat_hash_map<absl::string_view, uint32_t> ids ABSL_GUARDED_BY(mu);
    uint32_t count ABSL_GUARDED_BY(mu) = 0;  // slots ever used
    uint32_t live ABSL_GUARDED_BY(mu) = 0;
    std::vector<uint32_t> refs ABSL_GUARDED_BY(mu);  // by slot
    std::vector<uint32_t> dead ABSL_GUARDED_BY(mu);  // released, not swept
    std::vector<uint32_t> free ABSL_GUARDED_BY(mu);  // swept, reusable
    size_t heap_bytes ABSL_GUARDED_BY(mu) = 0;
    // Written under mu, read without it (see Get).
    std::unique_ptr<std::atomic<std::string*>[]> blocks;
  };

  std::array<Shard, kShards> shards_;
};

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_SYMBOL_TABLE_H_
