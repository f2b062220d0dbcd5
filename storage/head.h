// Head: the in-memory store of recent samples. Series live in a sharded map,
// their labels as interned symbols, their samples in XOR chunks, and a
// postings index answers label matchers.
#ifndef VIGIL_STORAGE_HEAD_H_
#define VIGIL_STORAGE_HEAD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "storage/base/clock.h"
#include "storage/ref_directory.h"
#include "storage/storage.h"
#include "storage/symbol_table.h"

namespace vigil::storage {

struct HeadOptions {
  int num_shards = 64;                 // power of two, 1..1024
  int64_t out_of_order_window_ms = 0;  // 0: older samples rejected
  int64_t retention_ms = 0;            // 0: keep forever
  // 0: unlimited. A batch that would create series beyond it is refused
  // whole (ResourceExhausted).
  int64_t max_series = 0;
  // 0: unlimited. A batch is refused whole (ResourceExhausted) when the
  // chunk bytes held plus an estimate for the batch (kEstimatedBytesPerSample
  // per sample) would exceed it.
  int64_t max_chunk_bytes = 0;
};

struct HeadStats {
  int64_t series = 0;
  int64_t chunks = 0;       // closed chunks plus non-empty open ones
  int64_t chunk_bytes = 0;  // encoded bytes
  int64_t samples = 0;      // samples held (after truncation)
  int64_t label_bytes = 0;  // symbol table plus per-series symbol ids
  int64_t symbols = 0;      // distinct interned names and values in use
  // Everything the head allocates that we can account for: series, chunk
  // buffers with their slack, maps, postings, symbols.
  int64_t approx_memory_bytes = 0;
};

// The store. Owns all series and their samples; borrows the clock, which must
// outlive it. Thread-safe: appends lock only the shard of the series they
// touch (and the index when a series is created); reads take shard and index
// locks shared.
//
// Sample policy, per series: a newer timestamp is appended; the same
// timestamp with the same value bits is ignored, with other bits rejected; an
// older timestamp is rejected unless it is within out_of_order_window_ms of
// the newest sample, in which case it is kept in a small per-series buffer
// merged on read (and folded into the chunks when it grows). With retention,
// samples older than now - retention_ms are rejected, and so is anything
// older than the last Truncate.
//
// Layout, for memory: a series is one allocation holding its symbol ids (two
// uint32 per label) and the open chunk's encoder; closed chunks (120 samples
// each) are exact-size byte arrays. Refs are never reused: a global sequence
// number with the shard index in the low bits, so postings lists stay sorted
// by appending. Truncate drops series, their postings and, once no reader can
// see them, the symbols only they used.
class Head final : public Appendable, public Queryable {
 public:
  static constexpr int kSamplesPerChunk = 120;
  static constexpr int kEstimatedBytesPerSample = 2;

  Head(HeadOptions options, Clock* clock);
  ~Head() override;
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  // Appendable. InvalidArgument (nothing applied) when an entry has no labels
  // (and, for AppendWithRefs, no ref). Entries are grouped by shard, and
  // each shard is locked once per call; entries of one series keep their
  // order. A known ref goes straight to its series (no hashing, no label
  // comparison).
  absl::StatusOr<AppendStats> Append(
      absl::Span<const SeriesSamples> batch) override;
  absl::StatusOr<AppendStats> AppendWithRefs(
      absl::Span<const SeriesSamples> batch, absl::Span<SeriesRef> refs,
      std::vector<size_t>* stale) override;

  // Queryable.
  absl::StatusOr<std::vector<SeriesHandle>> Select(
      absl::Span<const Matcher> matchers, int64_t mint,
      int64_t maxt) const override;
  size_t ReadSamples(SeriesRef ref, int64_t mint, int64_t maxt,
                     std::vector<int64_t>* ts,
                     std::vector<double>* vs) const override;
  // Shard by shard, each shard locked once per batch, with the map slots
  // and series blocks prefetched ahead (per-series lookups were a cache
  // miss each); with `latest_only`, only the newest chunk holding samples
  // in range is decoded.
  void ReadWindows(absl::Span<const SeriesRef> refs, int64_t mint,
                   int64_t maxt, bool latest_only, std::vector<int64_t>* ts,
                   std::vector<double>* vs, size_t* off,
                   size_t* n) const override;
  // Decodes only the samples appended since `cursor` when it still points
  // into the series' open chunk (and no out-of-order window is configured);
  // otherwise reads from `after` and leaves the cursor at the end.
  size_t ReadNewSamples(SeriesRef ref, int64_t after, TailCursor* cursor,
                        std::vector<int64_t>* ts,
                        std::vector<double>* vs) const override;
  absl::StatusOr<std::vector<std::string>> LabelNames(
      absl::Span<const Matcher> matchers, int64_t mint,
      int64_t maxt) const override;
  absl::StatusOr<std::vector<std::string>> LabelValues(
      std::string_view name, absl::Span<const Matcher> matchers, int64_t mint,
      int64_t maxt) const override;
  // The feed starts with the first call (the head keeps no feed until a
  // reader asks for one). Per shard it holds a ring of the refs appended
  // to, one to two times the shard's series (8 to 16 bytes per series), so
  // a reader that comes back at least once per scrape round misses
  // nothing.
  bool ReadChanges(ChangeCursor* cursor,
                   std::vector<SeriesRef>* refs) const override;
  uint64_t IndexGeneration() const override {
    return generation_.load(std::memory_order_acquire);
  }
  // Per metric name when a matcher is __name__="..."; else IndexGeneration().
  uint64_t SelectGeneration(
      absl::Span<const Matcher> matchers) const override;
  // Refs are a global sequence number above the shard index bits.
  int RefSequenceShift() const override { return shard_bits_; }

  // Refs of the series matching all `matchers`, sorted by ref, ignoring
  // time. Cheaper than Select (no labels built, no sorting by labels), for
  // callers that cache resolved selectors per IndexGeneration. Same errors
  // as Select.
  absl::StatusOr<std::vector<SeriesRef>> MatchingRefs(
      absl::Span<const Matcher> matchers) const;

  // Drops samples older than min_time_ms: whole chunks that end before it are
  // freed, and reads never return older samples again. Series left with
  // nothing are dropped (and the index generation moves).
  void Truncate(int64_t min_time_ms);

  // Starts a thread calling Truncate(now - retention_ms) every `period`
  // (nothing to do when retention_ms is 0, or when already running). Stop()
  // ends it; so does the destructor. Not to be called concurrently with
  // itself or Stop().
  void StartBackgroundRetention(absl::Duration period);
  void Stop();

  // Walks every series (about 0.1 CPU s at 1M series); meant for /metrics
  // and tests, not hot paths. NumSeries is the cheap part of it.
  HeadStats Stats() const;
  // The series held: a lock and a size per shard, not a walk.
  int64_t NumSeries() const;

  // Oldest and newest timestamps held (INT64_MAX / INT64_MIN when empty).
  int64_t MinTime() const;
  int64_t MaxTime() const;

 private:
  struct Series;
  struct Shard;
  struct SeriesDeleter {
    void operator()(Series* s) const;
  };
  using SeriesPtr = std::unique_ptr<Series, SeriesDeleter>;
  struct PostingsIndex;
  struct ResolvedMatchers;

  Shard& ShardFor(uint64_t hash) const;
  Shard& ShardOfRef(SeriesRef ref) const;
  // Finds the series with these labels in `shard`, or null.
  Series* FindLocked(Shard& shard, uint64_t hash, const Labels& labels) const;
  Series* CreateLocked(Shard& shard, uint64_t hash, const Labels& labels);
  // The series `ref` names, or null. REQUIRES: the lock of `shard`, ref's
  // shard, held.
  Series* FindByRefLocked(const Shard& shard, SeriesRef ref) const;
  void PrefetchRef(SeriesRef ref) const {
    by_seq_.Prefetch(ref >> shard_bits_);
  }
  Labels LabelsOf(const Series& s) const;
  std::string SeriesString(const Series& s) const;

  // Both Appends; `refs` empty for plain Append.
  absl::StatusOr<AppendStats> AppendImpl(absl::Span<const SeriesSamples> batch,
                                         absl::Span<SeriesRef> refs,
                                         std::vector<size_t>* stale);
  // Appends one sample, updating stats. REQUIRES: shard lock held.
  void AppendSample(Series& s, int64_t t, double v, int64_t too_old_before,
                    AppendStats* stats);
  void InsertOutOfOrder(Series& s, int64_t t, double v, AppendStats* stats);
  // Re-encodes the chunks from the first one the out-of-order buffer
  // overlaps, with the buffer merged in.
  void FoldOutOfOrder(Series& s);
  void DecodeSeries(const Series& s, int64_t mint, int64_t maxt,
                    std::vector<int64_t>* ts, std::vector<double>* vs) const;
  // Appends the newest sample of `s` in [mint, maxt], if any.
  void DecodeLatest(const Series& s, int64_t mint, int64_t maxt,
                    std::vector<int64_t>* ts, std::vector<double>* vs) const;
  std::vector<SeriesRef> AllRefs() const;
  // For each element of `syms` (symbol ids), the rank of its string among
  // the distinct strings of `syms`: comparing ranks orders as comparing the
  // strings. REQUIRES: symbol_gc_mu_ held (the ids stay valid).
  std::vector<uint32_t> SymbolRanks(absl::Span<const uint32_t> syms) const;
  // Calls f(series) for each live series of `refs` overlapping [mint, maxt],
  // with its shard locked shared.
  template <typename F>
  void ForEachSeries(absl::Span<const SeriesRef> refs, int64_t mint,
                     int64_t maxt, F f) const;
  void RetentionLoop(absl::Duration period);
  // Makes the change ring of `sh` big enough for its series, keeping its
  // newest entries. REQUIRES: sh.mu held exclusively.
  static void GrowChangeRing(Shard& sh);

  const HeadOptions options_;
  Clock* const clock_;
  const uint32_t shard_mask_;
  const int shard_bits_;
  std::unique_ptr<Shard[]> shards_;
  // Every series by its sequence number (ref >> shard_bits_): what finding
  // a series by ref indexes instead of probing its shard's by_ref map
  // (which owns the series and is what is iterated). An entry is set and
  // cleared under its series' shard lock.
  RefDirectory<Series> by_seq_;
  mutable SymbolTable symbols_;
  // Held shared by readers that use symbol ids after letting go of the
  // shard and index locks (Select, LabelNames, LabelValues), and exclusively
  // by Truncate while it recycles released symbols.
  mutable absl::Mutex symbol_gc_mu_;
  std::unique_ptr<PostingsIndex> index_;

  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> num_series_{0};
  // Series reserved by Append calls in flight, so concurrent batches cannot
  // together overshoot max_series.
  std::atomic<int64_t> pending_series_{0};
  std::atomic<int64_t> truncated_before_{INT64_MIN};
  // Set by the first ReadChanges; appends log refs only from then on.
  mutable std::atomic<bool> change_feed_{false};

  absl::Mutex retention_mu_;
  bool stopping_ ABSL_GUARDED_BY(retention_mu_) = false;
  std::thread retention_thread_;
};

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_HEAD_H_
