#include "storage/head.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <limits>
#include <new>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "storage/base/status_macros.h"
#include "storage/postings.h"
#include "storage/xor_chunk.h"

namespace vigil::storage {
namespace {

constexpr int64_t kMinT = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxT = std::numeric_limits<int64_t>::max();
// Out-of-order samples are buffered per series up to this many, then folded
// into the chunks.
constexpr size_t kMaxOutOfOrderBuffer = 64;
// What one heap allocation costs beyond its payload (glibc malloc header and
// rounding), for the memory estimate.
constexpr int64_t kMallocOverhead = 16;

struct ClosedChunk {
  int64_t min_t;
  int64_t max_t;
  std::unique_ptr<uint8_t[]> data;
  uint32_t size;
  uint32_t num_samples;

  absl::Span<const uint8_t> bytes() const { return {data.get(), size}; }
};

inline uint64_t Bits(double v) { return std::bit_cast<uint64_t>(v); }

std::string FormatValue(double v) {
  if (IsStaleNaN(v)) return "StaleNaN";
  return absl::StrFormat("%g", v);
}

void AtomicMax(std::atomic<int64_t>* a, int64_t v) {
  int64_t cur = a->load(std::memory_order_relaxed);
  while (cur < v && !a->compare_exchange_weak(cur, v)) {
  }
}

}  // namespace

// One series. Allocated with its label symbol ids (2 per label: name, value)
// right behind it, so a series is one heap block plus its chunk buffers.
struct Head::Series {
  SeriesRef ref = 0;
  uint64_t hash = 0;
  Series* next_same_hash = nullptr;  // collision chain in Shard::by_hash
  int64_t min_t = kMaxT;             // over chunks and the ooo buffer
  int64_t max_t = kMinT;
  XorEncoder open;                   // non-empty once the series has samples
  std::vector<ClosedChunk> closed;   // in time order, not overlapping
  // Sorted by t, unique, all older than the newest in-order sample.
  std::unique_ptr<std::vector<Sample>> ooo;
  uint32_t num_labels = 0;
  uint32_t closed_bytes = 0;  // sum of closed[i].size

  // Moves the open chunk to the closed ones.
  void CutOpenChunk() {
    ClosedChunk c;
    c.min_t = open.min_time();
    c.max_t = open.max_time();
    c.num_samples = static_cast<uint32_t>(open.num_samples());
    std::vector<uint8_t> bytes = open.Release();
    c.size = static_cast<uint32_t>(bytes.size());
    c.data = std::make_unique<uint8_t[]>(bytes.size());
    std::copy(bytes.begin(), bytes.end(), c.data.get());
    closed_bytes += c.size;
    closed.push_back(std::move(c));
  }

  // Whether some chunk or buffered sample falls in [mint, maxt]; chunk
  // ranges stand for their samples, as in Prometheus' head.
  bool Overlaps(int64_t mint, int64_t maxt) const {
    if (max_t < mint || min_t > maxt) return false;
    if (!open.empty() && open.max_time() >= mint && open.min_time() <= maxt) {
      return true;
    }
    for (const ClosedChunk& c : closed) {
      if (c.max_t >= mint && c.min_t <= maxt) return true;
    }
    if (ooo) {
      auto it = std::lower_bound(
          ooo->begin(), ooo->end(), mint,
          [](const Sample& a, int64_t b) { return a.t < b; });
      if (it != ooo->end() && it->t <= maxt) return true;
    }
    return false;
  }

  uint32_t* syms() { return reinterpret_cast<uint32_t*>(this + 1); }
  const uint32_t* syms() const {
    return reinterpret_cast<const uint32_t*>(this + 1);
  }
  // Encoded bytes held (an empty open chunk counts as none).
  int64_t ChunkBytes() const {
    return (open.empty() ? 0 : static_cast<int64_t>(open.bytes().size())) +
           closed_bytes;
  }
};

void Head::SeriesDeleter::operator()(Series* s) const {
  s->~Series();
  ::operator delete(s);
}

struct alignas(64) Head::Shard {
  mutable absl::Mutex mu;
  absl::flat_hash_map<uint64_t, Series*> by_hash ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<SeriesRef, SeriesPtr> by_ref ABSL_GUARDED_BY(mu);
  int64_t min_t ABSL_GUARDED_BY(mu) = kMaxT;
  int64_t max_t ABSL_GUARDED_BY(mu) = kMinT;
  // Written under mu; read without it by the chunk-bytes limit check.
  std::atomic<int64_t> chunk_bytes{0};
  // The change feed: refs appended to, the i-th (counting from the feed's
  // start) at changes[i % changes.size()]. Empty until a reader asks; its
  // size is a power of two (GrowChangeRing), so that position is a mask,
  // not a division (a 64-bit div per ref was most of a feed read).
  std::vector<SeriesRef> changes ABSL_GUARDED_BY(mu);
  // How many refs were ever logged; written under mu, read without it to
  // skip shards with nothing new.
  std::atomic<uint64_t> change_seq{0};

  void LogChange(SeriesRef ref) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const uint64_t seq = change_seq.load(std::memory_order_relaxed);
    changes[seq & (changes.size() - 1)] = ref;
    change_seq.store(seq + 1, std::memory_order_release);
  }
};

// Label pair -> sorted refs. Series creation appends under the writer lock;
// because refs come from next_seq under that same lock, every list stays
// sorted by plain push_back.
struct Head::PostingsIndex {
  mutable absl::Mutex mu;
  absl::flat_hash_map<uint32_t, absl::flat_hash_map<uint32_t, PostingsList>>
      by_name ABSL_GUARDED_BY(mu);
  PostingsList all ABSL_GUARDED_BY(mu);
  // Per metric name: the global generation at the last creation or drop of
  // a series with that name (0: never seen). Values come from the global
  // counter, so they only grow; entries stay when a name's series are all
  // dropped (one small entry per distinct name ever seen).
  absl::flat_hash_map<std::string, uint64_t> name_generation ABSL_GUARDED_BY(mu);
  uint64_t next_seq ABSL_GUARDED_BY(mu) = 1;
};

Head::Head(HeadOptions options, Clock* clock)
    : options_(options),
      clock_(clock),
      shard_mask_(static_cast<uint32_t>(
          std::bit_ceil(static_cast<uint32_t>(
              std::clamp(options.num_shards, 1, 1024))) -
          1)),
      shard_bits_(std::countr_one(shard_mask_)),
      shards_(std::make_unique<Shard[]>(shard_mask_ + 1)),
      index_(std::make_unique<PostingsIndex>()) {}

Head::~Head() { Stop(); }

Head::Shard& Head::ShardFor(uint64_t hash) const {
  // The top bits: the low ones also pick slots in the shard's maps.
  return shards_[(hash >> 40) & shard_mask_];
}

Head::Shard& Head::ShardOfRef(SeriesRef ref) const {
  return shards_[ref & shard_mask_];
}

Head::Series* Head::FindLocked(Shard& shard, uint64_t hash,
                               const Labels& labels) const {
  auto it = shard.by_hash.find(hash);
  if (it == shard.by_hash.end()) return nullptr;
  for (Series* s = it->second; s != nullptr; s = s->next_same_hash) {
    if (s->num_labels != labels.size()) continue;
    const uint32_t* syms = s->syms();
    bool same = true;
    for (size_t i = 0; i < labels.size() && same; ++i) {
      same = symbols_.Get(syms[2 * i]) == labels[i].name &&
             symbols_.Get(syms[2 * i + 1]) == labels[i].value;
    }
    if (same) return s;
  }
  return nullptr;
}

Head::Series* Head::CreateLocked(Shard& shard, uint64_t hash,
                                 const Labels& labels) {
  const size_t n = labels.size();
  void* mem = ::operator new(sizeof(Series) + 2 * n * sizeof(uint32_t));
  SeriesPtr s(new (mem) Series());
  s->hash = hash;
  s->num_labels = static_cast<uint32_t>(n);
  uint32_t* syms = s->syms();
  for (size_t i = 0; i < n; ++i) {
    syms[2 * i] = symbols_.Intern(labels[i].name);
    syms[2 * i + 1] = symbols_.Intern(labels[i].value);
  }
  const uint32_t shard_index = static_cast<uint32_t>(&shard - shards_.get());
  {
    absl::MutexLock lock(&index_->mu);
    s->ref = (index_->next_seq++ << shard_bits_) | shard_index;
    for (size_t i = 0; i < n; ++i) {
      index_->by_name[syms[2 * i]][syms[2 * i + 1]].push_back(s->ref);
    }
    index_->all.push_back(s->ref);
    const uint64_t gen =
        generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
    const std::string_view name = labels.MetricName();
    if (!name.empty()) {
      // Known names (nearly every new series) build no string.
      auto nit = index_->name_generation.find(
          absl::string_view(name.data(), name.size()));
      if (nit != index_->name_generation.end()) {
        nit->second = gen;
      } else {
        index_->name_generation.emplace(std::string(name), gen);
      }
    }
  }
  Series* raw = s.get();
  auto [it, inserted] = shard.by_hash.try_emplace(hash, raw);
  if (!inserted) {
    raw->next_same_hash = it->second;
    it->second = raw;
  }
  shard.by_ref.emplace(raw->ref, std::move(s));
  // Past the directory's capacity (2^36 series ever created) lookups fall
  // back to by_ref.
  by_seq_.Set(raw->ref >> shard_bits_, raw);
  num_series_.fetch_add(1, std::memory_order_relaxed);
  return raw;
}

Head::Series* Head::FindByRefLocked(const Shard& shard,
                                    SeriesRef ref) const {
  const uint64_t seq = ref >> shard_bits_;
  if (seq < RefDirectory<Series>::kCapacity) {
    Series* s = by_seq_.Get(seq);
    // A ref with another shard's bits names no series.
    return s != nullptr && s->ref == ref ? s : nullptr;
  }
  auto it = shard.by_ref.find(ref);
  return it == shard.by_ref.end() ? nullptr : it->second.get();
}

Labels Head::LabelsOf(const Series& s) const {
  std::vector<Label> out;
  out.reserve(s.num_labels);
  const uint32_t* syms = s.syms();
  for (uint32_t i = 0; i < s.num_labels; ++i) {
    out.push_back(Label{std::string(symbols_.Get(syms[2 * i])),
                        std::string(symbols_.Get(syms[2 * i + 1]))});
  }
  return Labels::FromSorted(std::move(out));
}

std::string Head::SeriesString(const Series& s) const {
  return LabelsOf(s).ToString();
}

absl::StatusOr<AppendStats> Head::Append(
    absl::Span<const SeriesSamples> batch) {
  return AppendImpl(batch, {}, nullptr);
}

absl::StatusOr<AppendStats> Head::AppendWithRefs(
    absl::Span<const SeriesSamples> batch, absl::Span<SeriesRef> refs,
    std::vector<size_t>* stale) {
  if (refs.size() != batch.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("AppendWithRefs: ", refs.size(), " refs for ",
                     batch.size(), " entries"));
  }
  return AppendImpl(batch, refs, stale);
}

namespace {

// Per-thread buffers of Head::AppendImpl, reused so that a steady stream of
// batches allocates nothing per series. Only ever touched by its thread.
struct AppendScratch {
  std::vector<uint64_t> hashes;
  std::vector<uint32_t> shard_of;
  std::vector<uint32_t> order;       // entry indices grouped by shard
  std::vector<uint32_t> shard_start;  // counting-sort offsets
};

}  // namespace

absl::StatusOr<AppendStats> Head::AppendImpl(
    absl::Span<const SeriesSamples> batch, absl::Span<SeriesRef> refs,
    std::vector<size_t>* stale) {
  const bool with_refs = !refs.empty();
  for (size_t i = 0; i < batch.size(); ++i) {
    if (with_refs && refs[i] != 0) continue;
    if (batch[i].labels == nullptr || batch[i].labels->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("series ", i, " of the batch has no labels"));
    }
  }
  AppendStats stats;
  int64_t too_old_before = truncated_before_.load(std::memory_order_acquire);
  if (options_.retention_ms > 0) {
    too_old_before =
        std::max(too_old_before, clock_->NowMillis() - options_.retention_ms);
  }

  thread_local AppendScratch scratch;
  const size_t n = batch.size();
  const uint32_t num_shards = shard_mask_ + 1;
  scratch.hashes.resize(n);
  scratch.shard_of.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (with_refs && refs[i] != 0) {
      scratch.hashes[i] = 0;
      scratch.shard_of[i] = static_cast<uint32_t>(refs[i] & shard_mask_);
    } else {
      scratch.hashes[i] = batch[i].labels->Hash();
      scratch.shard_of[i] = static_cast<uint32_t>(
          &ShardFor(scratch.hashes[i]) - shards_.get());
    }
  }
  const uint64_t* hashes = scratch.hashes.data();

  int64_t reserved = 0;
  if (options_.max_series > 0 || options_.max_chunk_bytes > 0) {
    int64_t new_series = 0, samples = 0;
    for (size_t i = 0; i < n; ++i) {
      samples += static_cast<int64_t>(batch[i].samples.size());
      if (options_.max_series == 0 || (with_refs && refs[i] != 0)) continue;
      Shard& sh = shards_[scratch.shard_of[i]];
      absl::ReaderMutexLock lock(&sh.mu);
      if (FindLocked(sh, hashes[i], *batch[i].labels) == nullptr) {
        ++new_series;
      }
    }
    if (options_.max_chunk_bytes > 0) {
      int64_t held = 0;
      for (uint32_t k = 0; k <= shard_mask_; ++k) {
        held += shards_[k].chunk_bytes.load(std::memory_order_relaxed);
      }
      if (held + samples * kEstimatedBytesPerSample >
          options_.max_chunk_bytes) {
        return absl::ResourceExhaustedError(absl::StrFormat(
            "chunk memory limit of %d bytes reached (%d held, batch of %d "
            "samples)",
            options_.max_chunk_bytes, held, samples));
      }
    }
    if (new_series > 0) {
      const int64_t pending =
          pending_series_.fetch_add(new_series, std::memory_order_acq_rel) +
          new_series;
      const int64_t held = num_series_.load(std::memory_order_acquire);
      if (held + pending > options_.max_series) {
        pending_series_.fetch_sub(new_series, std::memory_order_acq_rel);
        return absl::ResourceExhaustedError(absl::StrFormat(
            "series limit of %d reached (%d held, batch adds %d)",
            options_.max_series, held, new_series));
      }
      reserved = new_series;
    }
  }

  // Group entries by shard (a stable counting sort, so the runs of one
  // series stay in order), then lock each shard once.
  scratch.shard_start.assign(num_shards + 1, 0);
  for (size_t i = 0; i < n; ++i) ++scratch.shard_start[scratch.shard_of[i] + 1];
  for (uint32_t k = 0; k < num_shards; ++k) {
    scratch.shard_start[k + 1] += scratch.shard_start[k];
  }
  scratch.order.resize(n);
  {
    // shard_start[k] is advanced while filling; restored below.
    for (size_t i = 0; i < n; ++i) {
      scratch.order[scratch.shard_start[scratch.shard_of[i]]++] =
          static_cast<uint32_t>(i);
    }
    for (uint32_t k = num_shards; k > 0; --k) {
      scratch.shard_start[k] = scratch.shard_start[k - 1];
    }
    scratch.shard_start[0] = 0;
  }

  const size_t stale_before = stale != nullptr ? stale->size() : 0;
  for (uint32_t k = 0; k < num_shards; ++k) {
    const uint32_t from = scratch.shard_start[k];
    const uint32_t to = scratch.shard_start[k + 1];
    if (from == to) continue;
    Shard& sh = shards_[k];
    absl::MutexLock lock(&sh.mu);
    int64_t bytes_delta = 0;
    int64_t shard_min = sh.min_t, shard_max = sh.max_t;
    for (uint32_t o = from; o < to; ++o) {
      const uint32_t i = scratch.order[o];
      const SeriesSamples& entry = batch[i];
      Series* s = nullptr;
      if (with_refs && refs[i] != 0) {
        s = FindByRefLocked(sh, refs[i]);
        if (s == nullptr) {
          refs[i] = 0;
          if (stale != nullptr) stale->push_back(i);
          continue;
        }
      } else {
        if (entry.samples.empty()) continue;
        s = FindLocked(sh, hashes[i], *entry.labels);
      }
      if (s == nullptr) {
        const bool any_recent =
            std::any_of(entry.samples.begin(), entry.samples.end(),
                        [&](const Sample& x) { return x.t >= too_old_before; });
        if (!any_recent) {
          stats.rejected_too_old += static_cast<int64_t>(entry.samples.size());
          if (stats.first_rejection.empty()) {
            stats.first_rejection = absl::StrFormat(
                "sample too old: series %s t=%d (oldest allowed %d)",
                entry.labels->ToString(), entry.samples[0].t, too_old_before);
          }
          continue;
        }
        s = CreateLocked(sh, hashes[i], *entry.labels);
      }
      if (with_refs) refs[i] = s->ref;
      if (entry.samples.empty()) continue;
      const int64_t bytes_before = s->ChunkBytes();
      const int64_t appended_before = stats.appended;
      for (const Sample& x : entry.samples) {
        AppendSample(*s, x.t, x.v, too_old_before, &stats);
      }
      if (!sh.changes.empty() && stats.appended != appended_before) {
        if (sh.changes.size() < sh.by_ref.size()) GrowChangeRing(sh);
        sh.LogChange(s->ref);
      }
      bytes_delta += s->ChunkBytes() - bytes_before;
      if (s->min_t < shard_min) shard_min = s->min_t;
      if (s->max_t > shard_max) shard_max = s->max_t;
    }
    sh.min_t = shard_min;
    sh.max_t = shard_max;
    sh.chunk_bytes.store(
        sh.chunk_bytes.load(std::memory_order_relaxed) + bytes_delta,
        std::memory_order_relaxed);
  }
  if (stale != nullptr) {
    std::sort(stale->begin() + static_cast<std::ptrdiff_t>(stale_before),
              stale->end());
  }
  if (reserved > 0) {
    pending_series_.fetch_sub(reserved, std::memory_order_acq_rel);
  }
  return stats;
}

void Head::AppendSample(Series& s, int64_t t, double v,
                        int64_t too_old_before, AppendStats* stats) {
  if (t < too_old_before) {
    ++stats->rejected_too_old;
    if (stats->first_rejection.empty()) {
      stats->first_rejection =
          absl::StrFormat("sample too old: series %s t=%d (oldest allowed %d)",
                          SeriesString(s), t, too_old_before);
    }
    return;
  }
  if (s.open.empty()) {
    // A brand-new series (the open chunk is only empty before the first
    // sample).
    s.open.Append(t, v);
    s.min_t = s.max_t = t;
    ++stats->appended;
    return;
  }
  const int64_t newest = s.open.max_time();
  if (t > newest) {
    if (s.open.num_samples() >= kSamplesPerChunk) s.CutOpenChunk();
    s.open.Append(t, v);
    s.max_t = t;
    ++stats->appended;
    return;
  }
  if (t == newest) {
    const double stored = s.open.last_value();
    if (Bits(stored) == Bits(v)) {
      ++stats->duplicates_ignored;
    } else {
      ++stats->rejected_duplicate_timestamp;
      if (stats->first_rejection.empty()) {
        stats->first_rejection = absl::StrFormat(
            "duplicate sample for timestamp: series %s t=%d (stored %s, new "
            "%s)",
            SeriesString(s), t, FormatValue(stored), FormatValue(v));
      }
    }
    return;
  }
  if (options_.out_of_order_window_ms > 0 &&
      t >= newest - options_.out_of_order_window_ms) {
    InsertOutOfOrder(s, t, v, stats);
    return;
  }
  ++stats->rejected_out_of_order;
  if (stats->first_rejection.empty()) {
    stats->first_rejection =
        absl::StrFormat("out of order sample: series %s t=%d (newest %d)",
                        SeriesString(s), t, newest);
  }
}

void Head::InsertOutOfOrder(Series& s, int64_t t, double v,
                            AppendStats* stats) {
  auto reject_or_ignore = [&](double stored) {
    if (Bits(stored) == Bits(v)) {
      ++stats->duplicates_ignored;
      return;
    }
    ++stats->rejected_duplicate_timestamp;
    if (stats->first_rejection.empty()) {
      stats->first_rejection = absl::StrFormat(
          "duplicate sample for timestamp: series %s t=%d (stored %s, new %s)",
          SeriesString(s), t, FormatValue(stored), FormatValue(v));
    }
  };
  if (s.ooo) {
    auto it = std::lower_bound(
        s.ooo->begin(), s.ooo->end(), t,
        [](const Sample& a, int64_t b) { return a.t < b; });
    if (it != s.ooo->end() && it->t == t) {
      reject_or_ignore(it->v);
      return;
    }
  }
  // Is there an in-order sample at t? Decode only the chunk that may hold it.
  absl::Span<const uint8_t> chunk;
  if (t >= s.open.min_time()) {
    chunk = s.open.bytes();
  } else {
    for (const ClosedChunk& c : s.closed) {
      if (t >= c.min_t && t <= c.max_t) {
        chunk = c.bytes();
        break;
      }
    }
  }
  if (!chunk.empty()) {
    std::vector<int64_t> ts;
    std::vector<double> vs;
    auto n = DecodeXorChunk(chunk, t, t, &ts, &vs);
    if (n.ok() && *n > 0) {
      reject_or_ignore(vs[0]);
      return;
    }
  }
  if (!s.ooo) s.ooo = std::make_unique<std::vector<Sample>>();
  auto it = std::lower_bound(s.ooo->begin(), s.ooo->end(), t,
                             [](const Sample& a, int64_t b) { return a.t < b; });
  s.ooo->insert(it, Sample{t, v});
  if (t < s.min_t) s.min_t = t;
  ++stats->appended;
  if (s.ooo->size() >= kMaxOutOfOrderBuffer) FoldOutOfOrder(s);
}

void Head::FoldOutOfOrder(Series& s) {
  if (!s.ooo || s.ooo->empty()) {
    s.ooo.reset();
    return;
  }
  const int64_t first = s.ooo->front().t;
  size_t k = 0;
  while (k < s.closed.size() && s.closed[k].max_t < first) ++k;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (size_t i = k; i < s.closed.size(); ++i) {
    auto n = DecodeXorChunk(s.closed[i].bytes(), kMinT, kMaxT, &ts, &vs);
    assert(n.ok());
    (void)n;
  }
  {
    auto n = DecodeXorChunk(s.open.bytes(), kMinT, kMaxT, &ts, &vs);
    assert(n.ok());
    (void)n;
  }
  for (size_t i = k; i < s.closed.size(); ++i) s.closed_bytes -= s.closed[i].size;
  s.closed.resize(k);
  s.open = XorEncoder();
  const std::vector<Sample>& ooo = *s.ooo;
  size_t i = 0, j = 0;
  auto emit = [&](int64_t t, double v) {
    if (s.open.num_samples() >= kSamplesPerChunk) s.CutOpenChunk();
    s.open.Append(t, v);
  };
  while (i < ts.size() || j < ooo.size()) {
    if (j >= ooo.size() || (i < ts.size() && ts[i] < ooo[j].t)) {
      emit(ts[i], vs[i]);
      ++i;
    } else {
      emit(ooo[j].t, ooo[j].v);
      ++j;
    }
  }
  s.ooo.reset();
}

void Head::DecodeSeries(const Series& s, int64_t mint, int64_t maxt,
                        std::vector<int64_t>* ts,
                        std::vector<double>* vs) const {
  const size_t start = ts->size();
  for (const ClosedChunk& c : s.closed) {
    if (c.max_t < mint) continue;
    if (c.min_t > maxt) break;
    auto n = DecodeXorChunk(c.bytes(), mint, maxt, ts, vs);
    assert(n.ok());
    (void)n;
  }
  if (!s.open.empty() && s.open.max_time() >= mint &&
      s.open.min_time() <= maxt) {
    auto n = DecodeXorChunk(s.open.bytes(), mint, maxt, ts, vs);
    assert(n.ok());
    (void)n;
  }
  if (!s.ooo) return;
  auto lo = std::lower_bound(s.ooo->begin(), s.ooo->end(), mint,
                             [](const Sample& a, int64_t b) { return a.t < b; });
  auto hi = std::upper_bound(s.ooo->begin(), s.ooo->end(), maxt,
                             [](int64_t a, const Sample& b) { return a < b.t; });
  if (lo >= hi) return;
  // Merge the buffered samples into what the chunks gave, back to front, in
  // place.
  const size_t extra = static_cast<size_t>(hi - lo);
  const size_t in_order = ts->size() - start;
  ts->resize(ts->size() + extra);
  vs->resize(vs->size() + extra);
  int64_t* t = ts->data() + start;
  double* v = vs->data() + start;
  size_t a = in_order, b = extra, out = in_order + extra;
  while (b > 0) {
    const Sample& o = lo[b - 1];
    if (a > 0 && t[a - 1] > o.t) {
      --a;
      --out;
      t[out] = t[a];
      v[out] = v[a];
    } else {
      --b;
      --out;
      t[out] = o.t;
      v[out] = o.v;
    }
  }
}

size_t Head::ReadSamples(SeriesRef ref, int64_t mint, int64_t maxt,
                         std::vector<int64_t>* ts,
                         std::vector<double>* vs) const {
  mint = std::max(mint, truncated_before_.load(std::memory_order_acquire));
  if (mint > maxt) return 0;
  Shard& sh = ShardOfRef(ref);
  absl::ReaderMutexLock lock(&sh.mu);
  const Series* s = FindByRefLocked(sh, ref);
  if (s == nullptr) return 0;
  const size_t before = ts->size();
  DecodeSeries(*s, mint, maxt, ts, vs);
  return ts->size() - before;
}

void Head::DecodeLatest(const Series& s, int64_t mint, int64_t maxt,
                        std::vector<int64_t>* ts,
                        std::vector<double>* vs) const {
  const size_t start = ts->size();
  auto keep_last = [&]() { KeepNewestSample(start, ts, vs); };
  if (s.ooo) {
    // Buffered samples may be newer than some chunk's: merge all of them.
    DecodeSeries(s, mint, maxt, ts, vs);
    keep_last();
    return;
  }
  // In-order chunks do not overlap, so the newest sample in range is in the
  // newest chunk that has any: try them from the newest back.
  if (!s.open.empty() && s.open.max_time() >= mint &&
      s.open.max_time() <= maxt) {
    // The open chunk's newest sample is in range (the usual instant query
    // at "now"): the encoder has it, no decoding.
    ts->push_back(s.open.max_time());
    vs->push_back(s.open.last_value());
    return;
  }
  if (!s.open.empty() && s.open.max_time() >= mint &&
      s.open.min_time() <= maxt) {
    auto r = DecodeXorChunk(s.open.bytes(), mint, maxt, ts, vs);
    assert(r.ok());
    if (r.ok() && *r > 0) {
      keep_last();
      return;
    }
  }
  for (auto it = s.closed.rbegin(); it != s.closed.rend(); ++it) {
    if (it->min_t > maxt) continue;
    if (it->max_t < mint) break;
    auto r = DecodeXorChunk(it->bytes(), mint, maxt, ts, vs);
    assert(r.ok());
    if (r.ok() && *r > 0) {
      keep_last();
      return;
    }
  }
}

void Head::ReadWindows(absl::Span<const SeriesRef> refs, int64_t mint,
                       int64_t maxt, bool latest_only,
                       std::vector<int64_t>* ts, std::vector<double>* vs,
                       size_t* off, size_t* n) const {
  for (size_t i = 0; i < refs.size(); ++i) {
    off[i] = ts->size();
    n[i] = 0;
  }
  mint = std::max(mint, truncated_before_.load(std::memory_order_acquire));
  if (mint > maxt || refs.empty()) return;
  // Positions of refs grouped by shard (a counting sort), so that each
  // shard's lock is taken once per batch.
  const uint32_t num_shards = shard_mask_ + 1;
  std::vector<uint32_t> begin(num_shards + 1, 0);
  for (SeriesRef r : refs) ++begin[(r & shard_mask_) + 1];
  for (uint32_t k = 0; k < num_shards; ++k) begin[k + 1] += begin[k];
  std::vector<uint32_t> order(refs.size());
  {
    std::vector<uint32_t> next(begin.begin(), begin.end() - 1);
    for (size_t i = 0; i < refs.size(); ++i) {
      order[next[refs[i] & shard_mask_]++] = static_cast<uint32_t>(i);
    }
  }
  // As in ForEachSeries: two passes, prefetching a few ahead, because each
  // series is two dependent cache misses (its map slot, then its block).
  constexpr size_t kAhead = 8;
  std::vector<const Series*> found;
  for (uint32_t k = 0; k < num_shards; ++k) {
    const uint32_t* first = order.data() + begin[k];
    const size_t count = begin[k + 1] - begin[k];
    if (count == 0) continue;
    Shard& sh = shards_[k];
    absl::ReaderMutexLock lock(&sh.mu);
    found.assign(count, nullptr);
    for (size_t j = 0; j < count; ++j) {
      if (j + kAhead < count) PrefetchRef(refs[first[j + kAhead]]);
      found[j] = FindByRefLocked(sh, refs[first[j]]);
    }
    for (size_t j = 0; j < count; ++j) {
      if (j + kAhead < count && found[j + kAhead] != nullptr) {
        const char* p = reinterpret_cast<const char*>(found[j + kAhead]);
        __builtin_prefetch(p);
        __builtin_prefetch(p + 64);
      }
      const uint32_t i = first[j];
      off[i] = ts->size();
      if (found[j] == nullptr) continue;  // gone: n[i] stays 0
      if (latest_only) {
        DecodeLatest(*found[j], mint, maxt, ts, vs);
      } else {
        DecodeSeries(*found[j], mint, maxt, ts, vs);
      }
      n[i] = ts->size() - off[i];
    }
  }
}

size_t Head::ReadNewSamples(SeriesRef ref, int64_t after, TailCursor* cursor,
                            std::vector<int64_t>* ts,
                            std::vector<double>* vs) const {
  if (after == kMaxT) return 0;
  const int64_t mint =
      std::max(after + 1, truncated_before_.load(std::memory_order_acquire));
  Shard& sh = ShardOfRef(ref);
  absl::ReaderMutexLock lock(&sh.mu);
  const Series* found = FindByRefLocked(sh, ref);
  if (found == nullptr) {
    cursor->valid = false;
    return 0;
  }
  const Series& s = *found;
  const size_t before = ts->size();
  // Out-of-order samples may land before the cursor: no shortcut then.
  const bool in_order = options_.out_of_order_window_ms == 0 && !s.ooo;
  if (in_order && !s.open.empty() && cursor->valid &&
      cursor->chunk_min_t == s.open.min_time() &&
      cursor->state.index > 0 && after >= cursor->state.t &&
      static_cast<int>(cursor->state.index) <= s.open.num_samples()) {
    // Everything not yet decoded is at or after the cursor.
    auto n = DecodeXorChunkFrom(s.open.bytes(), &cursor->state, mint, ts, vs);
    if (n.ok()) return *n;
    ts->resize(before);
    vs->resize(before);
  }
  cursor->valid = false;
  if (!in_order || s.open.empty()) {
    DecodeSeries(s, mint, kMaxT, ts, vs);
    return ts->size() - before;
  }
  // Closed chunks as usual, then the open one through a fresh cursor.
  for (const ClosedChunk& c : s.closed) {
    if (c.max_t < mint) continue;
    auto n = DecodeXorChunk(c.bytes(), mint, kMaxT, ts, vs);
    assert(n.ok());
    (void)n;
  }
  TailCursor fresh;
  fresh.chunk_min_t = s.open.min_time();
  auto n = DecodeXorChunkFrom(s.open.bytes(), &fresh.state, mint, ts, vs);
  if (n.ok()) {
    fresh.valid = true;
    *cursor = fresh;
  }
  return ts->size() - before;
}

absl::StatusOr<std::vector<SeriesRef>> Head::MatchingRefs(
    absl::Span<const Matcher> matchers) const {
  using ValueMap = absl::flat_hash_map<uint32_t, PostingsList>;
  absl::ReaderMutexLock lock(&index_->mu);
  std::vector<absl::Span<const uint64_t>> positive;
  std::vector<PostingsList> owned;  // unions built here
  std::vector<PostingsList> negative;
  owned.reserve(matchers.size());
  bool restricted = false;

  auto lookup = [&](const ValueMap& vm,
                    std::string_view value) -> const PostingsList* {
    const uint32_t sym = symbols_.Find(value);
    if (sym == SymbolTable::kNone) return nullptr;
    auto it = vm.find(sym);
    return it == vm.end() ? nullptr : &it->second;
  };
  // Union of the lists of values of `vm` for which pred(value) holds.
  auto union_where = [&](const ValueMap& vm, auto pred) {
    std::vector<absl::Span<const uint64_t>> lists;
    for (const auto& [sym, list] : vm) {
      if (pred(symbols_.Get(sym))) lists.push_back(list);
    }
    return UnionPostings(lists);
  };
  // Union of the lists of the listed values.
  auto union_of = [&](const ValueMap& vm,
                      const std::vector<std::string>& values) {
    std::vector<absl::Span<const uint64_t>> lists;
    for (const std::string& v : values) {
      if (v.empty()) continue;
      if (const PostingsList* l = lookup(vm, v)) lists.push_back(*l);
    }
    return UnionPostings(lists);
  };

  for (const Matcher& m : matchers) {
    const ValueMap* vm = nullptr;
    const uint32_t name_sym = symbols_.Find(m.name());
    if (name_sym != SymbolTable::kNone) {
      auto it = index_->by_name.find(name_sym);
      if (it != index_->by_name.end()) vm = &it->second;
    }
    if (!m.MatchesEmpty()) {
      // Only series with a matching value of this label qualify.
      restricted = true;
      if (vm == nullptr) return std::vector<SeriesRef>{};
      if (m.type() == MatchType::kEqual) {
        const PostingsList* l = lookup(*vm, m.value());
        if (l == nullptr) return std::vector<SeriesRef>{};
        positive.push_back(*l);
      } else if (m.type() == MatchType::kRegexMatch && m.SetMatches()) {
        owned.push_back(union_of(*vm, *m.SetMatches()));
        positive.push_back(owned.back());
      } else {
        owned.push_back(
            union_where(*vm, [&](std::string_view v) { return m.Matches(v); }));
        positive.push_back(owned.back());
      }
    } else {
      // Series without the label match; drop those whose value does not.
      if (vm == nullptr) continue;
      if ((m.type() == MatchType::kNotEqual ||
           m.type() == MatchType::kRegexNoMatch) &&
          m.SetMatches()) {
        negative.push_back(union_of(*vm, *m.SetMatches()));
      } else {
        negative.push_back(union_where(
            *vm, [&](std::string_view v) { return !m.Matches(v); }));
      }
    }
  }
  if (!restricted) {
    return absl::InvalidArgumentError(
        "at least one matcher must not match the empty string (a selector "
        "such as {job=~\".*\"} would select every series)");
  }
  PostingsList result = IntersectPostings(std::move(positive));
  for (const PostingsList& neg : negative) {
    if (result.empty()) break;
    if (!neg.empty()) result = SubtractPostings(result, neg);
  }
  return result;
}

uint64_t Head::SelectGeneration(absl::Span<const Matcher> matchers) const {
  for (const Matcher& m : matchers) {
    if (m.type() != MatchType::kEqual || m.name() != kMetricNameLabel ||
        m.value().empty()) {
      continue;
    }
    absl::ReaderMutexLock lock(&index_->mu);
    // Heterogeneous lookup: no string built per evaluation.
    auto it = index_->name_generation.find(
        absl::string_view(m.value().data(), m.value().size()));
    return it == index_->name_generation.end() ? 0 : it->second;
  }
  return IndexGeneration();
}

std::vector<SeriesRef> Head::AllRefs() const {
  absl::ReaderMutexLock lock(&index_->mu);
  return index_->all;
}

template <typename F>
void Head::ForEachSeries(absl::Span<const SeriesRef> refs, int64_t mint,
                         int64_t maxt, F f) const {
  mint = std::max(mint, truncated_before_.load(std::memory_order_acquire));
  if (mint > maxt) return;
  // Group by shard so each shard is locked once.
  std::vector<std::vector<SeriesRef>> by_shard(shard_mask_ + 1);
  for (SeriesRef r : refs) by_shard[r & shard_mask_].push_back(r);
  // Each series costs two dependent cache misses (its map slot, then its
  // block) that dominate a select over many series; prefetching a few
  // refs ahead in two passes overlaps them.
  constexpr size_t kAhead = 8;
  std::vector<const Series*> found;
  for (uint32_t k = 0; k <= shard_mask_; ++k) {
    const std::vector<SeriesRef>& list = by_shard[k];
    if (list.empty()) continue;
    Shard& sh = shards_[k];
    absl::ReaderMutexLock lock(&sh.mu);
    found.clear();
    for (size_t i = 0; i < list.size(); ++i) {
      if (i + kAhead < list.size()) PrefetchRef(list[i + kAhead]);
      Series* s = FindByRefLocked(sh, list[i]);
      if (s == nullptr) continue;  // dropped meanwhile
      found.push_back(s);
    }
    for (size_t i = 0; i < found.size(); ++i) {
      if (i + kAhead < found.size()) {
        const char* p = reinterpret_cast<const char*>(found[i + kAhead]);
        __builtin_prefetch(p);
        __builtin_prefetch(p + 64);
      }
      const Series& s = *found[i];
      if (!s.Overlaps(mint, maxt)) continue;
      f(s);
    }
  }
}

std::vector<uint32_t> Head::SymbolRanks(
    absl::Span<const uint32_t> syms) const {
  // Position -> distinct index. Symbol ids are dense (slots of a few
  // shards), so a plain array indexed by id beats a hash map when it is not
  // much larger than the input; otherwise (a few series of a huge store)
  // the map keeps the cost proportional to the input.
  std::vector<uint32_t> distinct;  // ids in order of first appearance
  std::vector<uint32_t> index(syms.size());
  uint32_t max_id = 0;
  for (uint32_t id : syms) max_id = std::max(max_id, id);
  if (size_t{max_id} < 4 * syms.size() + 4096) {
    std::vector<uint32_t> slot(size_t{max_id} + 1, SymbolTable::kNone);
    for (size_t i = 0; i < syms.size(); ++i) {
      uint32_t& d = slot[syms[i]];
      if (d == SymbolTable::kNone) {
        d = static_cast<uint32_t>(distinct.size());
        distinct.push_back(syms[i]);
      }
      index[i] = d;
    }
  } else {
    absl::flat_hash_map<uint32_t, uint32_t> slot;
    for (size_t i = 0; i < syms.size(); ++i) {
      auto [it, added] =
          slot.try_emplace(syms[i], static_cast<uint32_t>(distinct.size()));
      if (added) distinct.push_back(syms[i]);
      index[i] = it->second;
    }
  }
  std::vector<std::string_view> strings(distinct.size());
  for (size_t d = 0; d < distinct.size(); ++d) {
    strings[d] = symbols_.Get(distinct[d]);
  }
  std::vector<uint32_t> order(distinct.size());
  for (size_t d = 0; d < order.size(); ++d) order[d] = static_cast<uint32_t>(d);
  std::sort(order.begin(), order.end(), [&strings](uint32_t a, uint32_t b) {
    return strings[a] < strings[b];
  });
  // Interned: distinct ids are distinct strings, so ranks are a strict order.
  std::vector<uint32_t> rank_of(distinct.size());
  for (size_t r = 0; r < order.size(); ++r) {
    rank_of[order[r]] = static_cast<uint32_t>(r);
  }
  for (uint32_t& i : index) i = rank_of[i];
  return index;
}

absl::StatusOr<std::vector<SeriesHandle>> Head::Select(
    absl::Span<const Matcher> matchers, int64_t mint, int64_t maxt) const {
  absl::ReaderMutexLock gc_lock(&symbol_gc_mu_);
  ASSIGN_OR_RETURN(std::vector<SeriesRef> refs, MatchingRefs(matchers));
  // Copy each hit's symbol ids, sort on them, and only then build Labels:
  // symbols are never freed, so no lock is needed past this point, and equal
  // label pairs (most of them) compare as integers, not strings.
  struct Hit {
    SeriesRef ref;
    uint32_t offset;
    uint32_t num_labels;
  };
  std::vector<Hit> hits;
  std::vector<uint32_t> syms;
  hits.reserve(refs.size());
  ForEachSeries(refs, mint, maxt, [&](const Series& s) {
    hits.push_back(Hit{s.ref, static_cast<uint32_t>(syms.size()),
                       s.num_labels});
    syms.insert(syms.end(), s.syms(), s.syms() + 2 * s.num_labels);
  });
  const uint32_t* flat = syms.data();
  // Rank the distinct symbols by their strings once and sort the hits on
  // ranks: selected series share most symbols (names, jobs, hosts), so this
  // compares d strings d log d times instead of a string pair per each of
  // the n log n comparisons, and the sort touches one contiguous array.
  const std::vector<uint32_t> ranks = SymbolRanks(syms);
  const uint32_t* rank = ranks.data();
  std::sort(hits.begin(), hits.end(), [rank](const Hit& a, const Hit& b) {
    const uint32_t* x = rank + a.offset;
    const uint32_t* y = rank + b.offset;
    const uint32_t n = std::min(a.num_labels, b.num_labels);
    for (uint32_t i = 0; i < 2 * n; ++i) {
      if (x[i] != y[i]) return x[i] < y[i];
    }
    return a.num_labels < b.num_labels;
  });
  std::vector<SeriesHandle> out;
  out.reserve(hits.size());
  for (const Hit& h : hits) {
    std::vector<Label> labels;
    labels.reserve(h.num_labels);
    for (uint32_t i = 0; i < h.num_labels; ++i) {
      labels.push_back(
          Label{std::string(symbols_.Get(flat[h.offset + 2 * i])),
                std::string(symbols_.Get(flat[h.offset + 2 * i + 1]))});
    }
    out.push_back(SeriesHandle{h.ref, Labels::FromSorted(std::move(labels))});
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> Head::LabelNames(
    absl::Span<const Matcher> matchers, int64_t mint, int64_t maxt) const {
  absl::ReaderMutexLock gc_lock(&symbol_gc_mu_);
  absl::flat_hash_set<uint32_t> names;
  if (matchers.empty() && mint <= MinTime() && maxt >= MaxTime()) {
    // Every series is in range: the index has the answer.
    absl::ReaderMutexLock lock(&index_->mu);
    for (const auto& [name, values] : index_->by_name) {
      if (!values.empty()) names.insert(name);
    }
  } else {
    std::vector<SeriesRef> refs;
    if (matchers.empty()) {
      refs = AllRefs();
    } else {
      ASSIGN_OR_RETURN(refs, MatchingRefs(matchers));
    }
    ForEachSeries(refs, mint, maxt, [&](const Series& s) {
      for (uint32_t i = 0; i < s.num_labels; ++i) names.insert(s.syms()[2 * i]);
    });
  }
  std::vector<std::string> out;
  out.reserve(names.size());
  for (uint32_t sym : names) out.emplace_back(symbols_.Get(sym));
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<std::string>> Head::LabelValues(
    std::string_view name, absl::Span<const Matcher> matchers, int64_t mint,
    int64_t maxt) const {
  absl::ReaderMutexLock gc_lock(&symbol_gc_mu_);
  const uint32_t name_sym = symbols_.Find(name);
  if (name_sym == SymbolTable::kNone) return std::vector<std::string>{};
  absl::flat_hash_set<uint32_t> values;
  if (matchers.empty() && mint <= MinTime() && maxt >= MaxTime()) {
    absl::ReaderMutexLock lock(&index_->mu);
    auto it = index_->by_name.find(name_sym);
    if (it != index_->by_name.end()) {
      for (const auto& [value, list] : it->second) {
        if (!list.empty()) values.insert(value);
      }
    }
  } else {
    std::vector<SeriesRef> refs;
    if (matchers.empty()) {
      absl::ReaderMutexLock lock(&index_->mu);
      auto it = index_->by_name.find(name_sym);
      if (it != index_->by_name.end()) {
        std::vector<absl::Span<const uint64_t>> lists;
        for (const auto& [value, list] : it->second) lists.push_back(list);
        refs = UnionPostings(lists);
      }
    } else {
      ASSIGN_OR_RETURN(refs, MatchingRefs(matchers));
    }
    ForEachSeries(refs, mint, maxt, [&](const Series& s) {
      for (uint32_t i = 0; i < s.num_labels; ++i) {
        if (s.syms()[2 * i] == name_sym) values.insert(s.syms()[2 * i + 1]);
      }
    });
  }
  std::vector<std::string> out;
  out.reserve(values.size());
  for (uint32_t sym : values) out.emplace_back(symbols_.Get(sym));
  std::sort(out.begin(), out.end());
  return out;
}

int64_t Head::MinTime() const {
  int64_t m = kMaxT;
  for (uint32_t k = 0; k <= shard_mask_; ++k) {
    absl::ReaderMutexLock lock(&shards_[k].mu);
    m = std::min(m, shards_[k].min_t);
  }
  return m;
}

int64_t Head::MaxTime() const {
  int64_t m = kMinT;
  for (uint32_t k = 0; k <= shard_mask_; ++k) {
    absl::ReaderMutexLock lock(&shards_[k].mu);
    m = std::max(m, shards_[k].max_t);
  }
  return m;
}

void Head::Truncate(int64_t min_time_ms) {
  AtomicMax(&truncated_before_, min_time_ms);
  // (name, value) symbol pair -> refs dropped from its list.
  absl::flat_hash_map<uint64_t, PostingsList> dropped_pairs;
  PostingsList dropped;
  for (uint32_t k = 0; k <= shard_mask_; ++k) {
    Shard& sh = shards_[k];
    absl::MutexLock lock(&sh.mu);
    int64_t freed = 0;
    int64_t shard_min = kMaxT, shard_max = kMinT;
    for (auto it = sh.by_ref.begin(); it != sh.by_ref.end();) {
      Series& s = *it->second;
      size_t keep_from = 0;
      while (keep_from < s.closed.size() &&
             s.closed[keep_from].max_t < min_time_ms) {
        freed += s.closed[keep_from].size;
        s.closed_bytes -= s.closed[keep_from].size;
        ++keep_from;
      }
      if (keep_from > 0) {
        s.closed.erase(s.closed.begin(), s.closed.begin() + keep_from);
      }
      if (s.ooo) {
        auto& o = *s.ooo;
        o.erase(o.begin(),
                std::lower_bound(
                    o.begin(), o.end(), min_time_ms,
                    [](const Sample& a, int64_t b) { return a.t < b; }));
        if (o.empty()) s.ooo.reset();
      }
      if (s.open.max_time() < min_time_ms) {
        // Nothing left (buffered out-of-order samples are older than the
        // newest one, so they are gone too).
        freed += static_cast<int64_t>(s.open.bytes().size());
        const uint32_t* syms = s.syms();
        for (uint32_t i = 0; i < s.num_labels; ++i) {
          const uint64_t pair = (static_cast<uint64_t>(syms[2 * i]) << 32) |
                                syms[2 * i + 1];
          dropped_pairs[pair].push_back(s.ref);
        }
        dropped.push_back(s.ref);
        // Unlink from the hash chain.
        auto hit = sh.by_hash.find(s.hash);
        if (hit != sh.by_hash.end()) {
          if (hit->second == &s) {
            if (s.next_same_hash == nullptr) {
              sh.by_hash.erase(hit);
            } else {
              hit->second = s.next_same_hash;
            }
          } else {
            for (Series* p = hit->second; p != nullptr; p = p->next_same_hash) {
              if (p->next_same_hash == &s) {
                p->next_same_hash = s.next_same_hash;
                break;
              }
            }
          }
        }
        by_seq_.Clear(s.ref >> shard_bits_);
        sh.by_ref.erase(it++);
        continue;
      }
      s.min_t = std::max(s.min_t, min_time_ms);
      shard_min = std::min(shard_min, s.min_t);
      shard_max = std::max(shard_max, s.max_t);
      ++it;
    }
    sh.min_t = shard_min;
    sh.max_t = shard_max;
    sh.chunk_bytes.store(sh.chunk_bytes.load(std::memory_order_relaxed) - freed,
                         std::memory_order_relaxed);
  }
  if (dropped.empty()) return;
  {
    // Leaves of the ref directory left empty: freed with every shard
    // locked, since a reader may look up a dropped ref under its lock.
    uint64_t next_seq;
    {
      absl::MutexLock lock(&index_->mu);
      next_seq = index_->next_seq;
    }
    for (uint32_t k = 0; k <= shard_mask_; ++k) shards_[k].mu.Lock();
    by_seq_.FreeEmptyLeaves(next_seq);
    for (uint32_t k = shard_mask_ + 1; k > 0; --k) shards_[k - 1].mu.Unlock();
  }
  std::sort(dropped.begin(), dropped.end());
  {
    absl::MutexLock lock(&index_->mu);
    const uint64_t gen =
        generation_.fetch_add(1, std::memory_order_acq_rel) + 1;
    const uint32_t name_sym = symbols_.Find(kMetricNameLabel);
    for (auto& [pair, refs] : dropped_pairs) {
      if (static_cast<uint32_t>(pair >> 32) == name_sym) {
        const std::string_view name = symbols_.Get(static_cast<uint32_t>(pair));
        auto nit = index_->name_generation.find(
            absl::string_view(name.data(), name.size()));
        if (nit != index_->name_generation.end()) nit->second = gen;
      }
      std::sort(refs.begin(), refs.end());
      const uint32_t name = static_cast<uint32_t>(pair >> 32);
      const uint32_t value = static_cast<uint32_t>(pair);
      auto nit = index_->by_name.find(name);
      if (nit == index_->by_name.end()) continue;
      auto vit = nit->second.find(value);
      if (vit == nit->second.end()) continue;
      vit->second = SubtractPostings(vit->second, refs);
      if (vit->second.empty()) nit->second.erase(vit);
      if (nit->second.empty()) index_->by_name.erase(nit);
    }
    index_->all = SubtractPostings(index_->all, dropped);
  }
  // The series and their postings are gone; give back their symbols.
  for (const auto& [pair, refs] : dropped_pairs) {
    for (size_t i = 0; i < refs.size(); ++i) {
      symbols_.Release(static_cast<uint32_t>(pair >> 32));
      symbols_.Release(static_cast<uint32_t>(pair));
    }
  }
  {
    absl::MutexLock gc_lock(&symbol_gc_mu_);
    symbols_.Sweep();
  }
  num_series_.fetch_sub(static_cast<int64_t>(dropped.size()),
                        std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

void Head::StartBackgroundRetention(absl::Duration period) {
  if (options_.retention_ms <= 0 || retention_thread_.joinable()) return;
  {
    absl::MutexLock lock(&retention_mu_);
    stopping_ = false;
  }
  retention_thread_ = std::thread([this, period] { RetentionLoop(period); });
}

void Head::RetentionLoop(absl::Duration period) {
  retention_mu_.Lock();
  while (!stopping_) {
    retention_mu_.AwaitWithTimeout(absl::Condition(&stopping_), period);
    if (stopping_) break;
    retention_mu_.Unlock();
    Truncate(clock_->NowMillis() - options_.retention_ms);
    retention_mu_.Lock();
  }
  retention_mu_.Unlock();
}

void Head::Stop() {
  {
    absl::MutexLock lock(&retention_mu_);
    stopping_ = true;
  }
  if (retention_thread_.joinable()) retention_thread_.join();
}

int64_t Head::NumSeries() const {
  int64_t n = 0;
  for (uint32_t k = 0; k <= shard_mask_; ++k) {
    const Shard& sh = shards_[k];
    absl::ReaderMutexLock lock(&sh.mu);
    n += static_cast<int64_t>(sh.by_ref.size());
  }
  return n;
}

HeadStats Head::Stats() const {
  HeadStats st;
  int64_t mem = sizeof(*this) +
                static_cast<int64_t>((shard_mask_ + 1) * sizeof(Shard));
  int64_t series_label_bytes = 0;
  // Leaves are only freed with every shard locked, so counting them
  // unlocked sees each either there or not.
  mem += static_cast<int64_t>(by_seq_.NumLeaves() *
                              RefDirectory<Series>::kLeafBytes);
  for (uint32_t k = 0; k <= shard_mask_; ++k) {
    const Shard& sh = shards_[k];
    absl::ReaderMutexLock lock(&sh.mu);
    mem += static_cast<int64_t>(sh.by_hash.capacity() *
                                (sizeof(std::pair<uint64_t, Series*>) + 1));
    mem += static_cast<int64_t>(sh.by_ref.capacity() *
                                (sizeof(std::pair<SeriesRef, SeriesPtr>) + 1));
    for (const auto& [ref, sp] : sh.by_ref) {
      const Series& s = *sp;
      ++st.series;
      const int64_t label_ids = 2 * s.num_labels * sizeof(uint32_t);
      series_label_bytes += label_ids;
      mem += static_cast<int64_t>(sizeof(Series)) + label_ids + kMallocOverhead;
      if (!s.open.empty()) {
        ++st.chunks;
        st.chunk_bytes += static_cast<int64_t>(s.open.bytes().size());
        st.samples += s.open.num_samples();
      }
      if (s.open.capacity_bytes() > 0) {
        mem += static_cast<int64_t>(s.open.capacity_bytes()) + kMallocOverhead;
      }
      if (s.closed.capacity() > 0) {
        mem += static_cast<int64_t>(s.closed.capacity() * sizeof(ClosedChunk)) +
               kMallocOverhead;
      }
      for (const ClosedChunk& c : s.closed) {
        ++st.chunks;
        st.chunk_bytes += c.size;
        st.samples += c.num_samples;
        mem += c.size + kMallocOverhead;
      }
      if (s.ooo) {
        st.samples += static_cast<int64_t>(s.ooo->size());
        mem += static_cast<int64_t>(sizeof(*s.ooo) +
                                    s.ooo->capacity() * sizeof(Sample)) +
               2 * kMallocOverhead;
      }
    }
  }
  {
    absl::ReaderMutexLock lock(&index_->mu);
    mem += static_cast<int64_t>(index_->all.capacity() * sizeof(SeriesRef));
    mem += static_cast<int64_t>(
        index_->by_name.capacity() *
        (sizeof(std::pair<uint32_t,
                          absl::flat_hash_map<uint32_t, PostingsList>>) +
         1));
    for (const auto& [name, values] : index_->by_name) {
      mem += static_cast<int64_t>(
                 values.capacity() *
                 (sizeof(std::pair<uint32_t, PostingsList>) + 1)) +
             kMallocOverhead;
      for (const auto& [value, list] : values) {
        mem += static_cast<int64_t>(list.capacity() * sizeof(SeriesRef)) +
               kMallocOverhead;
      }
    }
  }
  const int64_t symbol_bytes = static_cast<int64_t>(symbols_.MemoryBytes());
  st.label_bytes = symbol_bytes + series_label_bytes;
  st.symbols = static_cast<int64_t>(symbols_.size());
  st.approx_memory_bytes = mem + symbol_bytes;
  return st;
}

void Head::GrowChangeRing(Shard& sh) {
  const size_t want = std::max<size_t>(
      1024, std::bit_ceil(2 * std::max<size_t>(1, sh.by_ref.size())));
  std::vector<SeriesRef> grown(want, 0);
  const uint64_t seq = sh.change_seq.load(std::memory_order_relaxed);
  if (!sh.changes.empty()) {
    // Keep what a reader may still need: the last changes.size() entries.
    const uint64_t kept = std::min<uint64_t>(seq, sh.changes.size());
    for (uint64_t i = seq - kept; i < seq; ++i) {
      grown[i % want] = sh.changes[i % sh.changes.size()];
    }
  }
  sh.changes = std::move(grown);
}

bool Head::ReadChanges(ChangeCursor* cursor,
                       std::vector<SeriesRef>* refs) const {
  const uint32_t num_shards = shard_mask_ + 1;
  if (!change_feed_.load(std::memory_order_acquire)) {
    for (uint32_t k = 0; k < num_shards; ++k) {
      absl::MutexLock lock(&shards_[k].mu);
      if (shards_[k].changes.empty()) GrowChangeRing(shards_[k]);
    }
    change_feed_.store(true, std::memory_order_release);
  }
  const bool started = cursor->seq.size() == num_shards;
  if (!started) cursor->seq.assign(num_shards, 0);
  bool complete = started;
  for (uint32_t k = 0; k < num_shards; ++k) {
    Shard& sh = shards_[k];
    uint64_t& at = cursor->seq[k];
    if (started && sh.change_seq.load(std::memory_order_acquire) == at) {
      continue;
    }
    absl::ReaderMutexLock lock(&sh.mu);
    const uint64_t now = sh.change_seq.load(std::memory_order_relaxed);
    if (started) {
      if (now - at > sh.changes.size()) {
        complete = false;  // overwritten before we came back
      } else {
        // At most two runs: up to the ring's end, then from its start.
        const uint64_t mask = sh.changes.size() - 1;
        const SeriesRef* ring = sh.changes.data();
        uint64_t i = at;
        while (i < now) {
          const uint64_t pos = i & mask;
          const uint64_t run = std::min<uint64_t>(now - i, mask + 1 - pos);
          refs->insert(refs->end(), ring + pos, ring + pos + run);
          i += run;
        }
      }
    }
    at = now;
  }
  return complete;
}

}  // namespace vigil::storage
