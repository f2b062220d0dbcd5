// The interfaces the layers above use to write samples to and read them from
// a store: Appendable (remote-write, recording rules, ALERTS) and Queryable
// (PromQL, the HTTP API). storage::Head implements both.
#ifndef VIGIL_STORAGE_STORAGE_H_
#define VIGIL_STORAGE_STORAGE_H_

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "storage/labels.h"
#include "storage/matcher.h"
#include "storage/sample.h"
#include "storage/xor_chunk.h"

namespace vigil::storage {

// One series' worth of input to Append. Borrowed: lives for the call only.
// Samples must be in time order within one entry.
struct SeriesSamples {
  const Labels* labels;
  absl::Span<const Sample> samples;
};

// What happened to each sample of an Append call.
struct AppendStats {
  int64_t appended = 0;
  // Same timestamp and same value as the newest sample: silently ignored, as
  // Prometheus does (not an error).
  int64_t duplicates_ignored = 0;
  // Same timestamp as an existing sample but another value.
  int64_t rejected_duplicate_timestamp = 0;
  // Older than the series' newest sample, beyond the out-of-order window.
  int64_t rejected_out_of_order = 0;
  // Older than the retention window allows.
  int64_t rejected_too_old = 0;
  // A one-line description of the first rejection ("" when none), naming the
  // series and timestamp.
  std::string first_rejection;

  int64_t rejected() const {
    return rejected_duplicate_timestamp + rejected_out_of_order +
           rejected_too_old;
  }
};

// Where a store's ReadNewSamples stopped in a series. Opaque to callers;
// value-initialised means "nowhere yet".
struct TailCursor {
  int64_t chunk_min_t = 0;  // identifies the chunk the state belongs to
  bool valid = false;
  XorDecodeState state;
};

// Where a reader of a store's change feed (Queryable::ReadChanges) is.
// Opaque to callers; value-initialised means "not started".
struct ChangeCursor {
  std::vector<uint64_t> seq;
};

// Keeps, of the samples appended to ts/vs from index `start` on, only the
// newest (what a latest_only read answers); returns how many are left.
inline size_t KeepNewestSample(size_t start, std::vector<int64_t>* ts,
                               std::vector<double>* vs) {
  if (ts->size() - start > 1) {
    (*ts)[start] = ts->back();
    (*vs)[start] = vs->back();
    ts->resize(start + 1);
    vs->resize(start + 1);
  }
  return ts->size() - start;
}

// Opaque id of a series inside one store. Valid until retention drops the
// series; reading a dropped ref yields no samples, never a crash. Never 0.
using SeriesRef = uint64_t;

// A sink for samples. Thread-safe.
class Appendable {
 public:
  virtual ~Appendable() = default;
  // Appends every acceptable sample of `batch`; rejected samples are counted
  // in the result, they never fail the others. Returns an error, with nothing
  // applied, only when the whole batch is refused: ResourceExhausted when a
  // memory or series limit would be exceeded, Unavailable when overloaded.
  virtual absl::StatusOr<AppendStats> Append(
      absl::Span<const SeriesSamples> batch) = 0;

  // Append for callers that remember series between calls (the remote-write
  // receiver), so that a known series costs no label work. REQUIRES:
  // refs.size() == batch.size(). On input refs[i] != 0 names the series of
  // batch[i] (a ref this store returned before; batch[i].labels is then
  // ignored and may be null), 0 means "find or create by labels". On return
  // refs[i] is the ref of the series the entry went to, or 0 when none (all
  // samples too old for a new series, or a store without refs). An entry
  // whose given ref is no longer held (dropped by retention) is not applied:
  // its index goes to *stale (ascending) and its refs[i] becomes 0, so the
  // caller can append it again by labels. Same errors as Append.
  //
  // The default, for stores that do not hand out refs: refs come back 0 and
  // every entry given a ref is stale.
  virtual absl::StatusOr<AppendStats> AppendWithRefs(
      absl::Span<const SeriesSamples> batch, absl::Span<SeriesRef> refs,
      std::vector<size_t>* stale) {
    std::vector<SeriesSamples> by_labels;
    by_labels.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      if (refs[i] != 0) {
        stale->push_back(i);
      } else {
        by_labels.push_back(batch[i]);
      }
      refs[i] = 0;
    }
    if (by_labels.empty()) return AppendStats{};
    return Append(by_labels);
  }
};

struct SeriesHandle {
  SeriesRef ref;
  Labels labels;
};

// Read access to a store. Thread-safe; reads see a consistent prefix of every
// series (samples appended concurrently may or may not be visible).
class Queryable {
 public:
  virtual ~Queryable() = default;

  // Series matching all `matchers` that have at least one sample in
  // [mint, maxt], sorted by labels. InvalidArgument when no matcher could
  // restrict the set (all matchers match the empty string), as Prometheus.
  virtual absl::StatusOr<std::vector<SeriesHandle>> Select(
      absl::Span<const Matcher> matchers, int64_t mint, int64_t maxt) const = 0;

  // Appends the samples of `ref` with mint <= t <= maxt, in time order, to
  // `ts` and `vs` (decoded chunk by chunk, no per-sample virtual call).
  // Returns how many were appended; 0 when the series is gone.
  virtual size_t ReadSamples(SeriesRef ref, int64_t mint, int64_t maxt,
                             std::vector<int64_t>* ts,
                             std::vector<double>* vs) const = 0;

  // ReadSamples for many series at once, for evaluators that read every
  // series of a selector: a store can then take each lock and warm each
  // structure once per batch instead of once per series. For each refs[i]
  // appends its samples in [mint, maxt] (only the newest of them when
  // `latest_only`: an instant selector needs no more) to ts/vs and sets
  // off[i] and n[i] to where they went. One series' samples are contiguous
  // and in time order; series may come in any order in the buffers.
  // REQUIRES: off and n point to refs.size() elements each.
  virtual void ReadWindows(absl::Span<const SeriesRef> refs, int64_t mint,
                           int64_t maxt, bool latest_only,
                           std::vector<int64_t>* ts, std::vector<double>* vs,
                           size_t* off, size_t* n) const {
    for (size_t i = 0; i < refs.size(); ++i) {
      off[i] = ts->size();
      n[i] = ReadSamples(refs[i], mint, maxt, ts, vs);
      if (latest_only) n[i] = KeepNewestSample(off[i], ts, vs);
    }
  }

  // Called by VisitWindows with refs[i]'s samples in [mint, maxt]: n > 0
  // times and values in time order, valid only during the call.
  using WindowVisitor = absl::FunctionRef<void(
      size_t i, const int64_t* ts, const double* vs, size_t n)>;

  // ReadWindows for readers that look at each window once and keep nothing
  // (range functions): a store or cache that holds the samples decoded may
  // lend them instead of copying. Calls visit once for every refs[i] with
  // samples in [mint, maxt], in any order; possibly with a lock held, so
  // visit must not call into this Queryable.
  virtual void VisitWindows(absl::Span<const SeriesRef> refs, int64_t mint,
                            int64_t maxt, WindowVisitor visit) const {
    std::vector<int64_t> ts;
    std::vector<double> vs;
    std::vector<size_t> off(refs.size()), n(refs.size());
    ReadWindows(refs, mint, maxt, /*latest_only=*/false, &ts, &vs, off.data(),
                n.data());
    for (size_t i = 0; i < refs.size(); ++i) {
      if (n[i] > 0) visit(i, ts.data() + off[i], vs.data() + off[i], n[i]);
    }
  }

  // Appends every sample of `ref` newer than `after`, in time order; returns
  // how many. `cursor` lets a store go on decoding where the previous call
  // for this series stopped, so polling a series for its new samples costs
  // the new samples, not the whole newest chunk. Pass the same cursor for
  // the same series every time (a default TailCursor to start); a store may
  // ignore it (the default does).
  virtual size_t ReadNewSamples(SeriesRef ref, int64_t after,
                                TailCursor* cursor, std::vector<int64_t>* ts,
                                std::vector<double>* vs) const {
    (void)cursor;
    if (after == std::numeric_limits<int64_t>::max()) return 0;
    return ReadSamples(ref, after + 1, std::numeric_limits<int64_t>::max(),
                       ts, vs);
  }

  // The store's change feed, for caches in front of it: appends to `refs`
  // every series that got a sample since the previous call with this
  // cursor (some maybe more than once), and moves the cursor on. Returns
  // false when it cannot tell (a fresh cursor, a reader so far behind that
  // the feed no longer holds what it missed, or a store without a feed:
  // the default): the reader must then treat every series as changed.
  // A sample appended before the call started is always reported by it or
  // an earlier call. Thread-safe; one cursor per reader.
  virtual bool ReadChanges(ChangeCursor* cursor,
                           std::vector<SeriesRef>* refs) const {
    (void)cursor;
    (void)refs;
    return false;
  }

  // Sorted, unique label names / values over series matching `matchers`
  // (all series when empty) with samples in [mint, maxt].
  virtual absl::StatusOr<std::vector<std::string>> LabelNames(
      absl::Span<const Matcher> matchers, int64_t mint, int64_t maxt) const = 0;
  virtual absl::StatusOr<std::vector<std::string>> LabelValues(
      std::string_view name, absl::Span<const Matcher> matchers, int64_t mint,
      int64_t maxt) const = 0;

  // Changes whenever a series is created or dropped, so callers may cache
  // Select results while it stays the same.
  virtual uint64_t IndexGeneration() const = 0;

  // When >= 0, ref >> RefSequenceShift() numbers the store's series densely
  // in creation order (1, 2, 3, ..., never reused), so that a reader may
  // keep per-series state in arrays indexed by it instead of hashing refs.
  // -1 (the default): refs are opaque.
  virtual int RefSequenceShift() const { return -1; }

  // Changes whenever the set of series `matchers` could select may have
  // changed. A store may keep it steadier than IndexGeneration() (the head
  // tracks it per metric name, so writing ALERTS does not invalidate a
  // cached selector of http_requests_total); never steadier than correct.
  virtual uint64_t SelectGeneration(absl::Span<const Matcher> matchers) const {
    (void)matchers;
    return IndexGeneration();
  }
};

// A Queryable that passes every call on to another one, for decorators
// (caches, counters in tests) that override only what they change. Borrows
// `base`, which must outlive it; as thread-safe as `base` and the overrides.
// A decorator that changes ReadSamples must change ReadWindows and
// VisitWindows too: the forwarded ones go to `base` directly.
class ForwardingQueryable : public Queryable {
 public:
  explicit ForwardingQueryable(const Queryable* base) : base_(base) {}

  absl::StatusOr<std::vector<SeriesHandle>> Select(
      absl::Span<const Matcher> matchers, int64_t mint,
      int64_t maxt) const override {
    return base_->Select(matchers, mint, maxt);
  }
  size_t ReadSamples(SeriesRef ref, int64_t mint, int64_t maxt,
                     std::vector<int64_t>* ts,
                     std::vector<double>* vs) const override {
    return base_->ReadSamples(ref, mint, maxt, ts, vs);
  }
  size_t ReadNewSamples(SeriesRef ref, int64_t after, TailCursor* cursor,
                        std::vector<int64_t>* ts,
                        std::vector<double>* vs) const override {
    return base_->ReadNewSamples(ref, after, cursor, ts, vs);
  }
  void ReadWindows(absl::Span<const SeriesRef> refs, int64_t mint,
                   int64_t maxt, bool latest_only, std::vector<int64_t>* ts,
                   std::vector<double>* vs, size_t* off,
                   size_t* n) const override {
    base_->ReadWindows(refs, mint, maxt, latest_only, ts, vs, off, n);
  }
  void VisitWindows(absl::Span<const SeriesRef> refs, int64_t mint,
                    int64_t maxt, WindowVisitor visit) const override {
    base_->VisitWindows(refs, mint, maxt, visit);
  }
  absl::StatusOr<std::vector<std::string>> LabelNames(
      absl::Span<const Matcher> matchers, int64_t mint,
      int64_t maxt) const override {
    return base_->LabelNames(matchers, mint, maxt);
  }
  absl::StatusOr<std::vector<std::string>> LabelValues(
      std::string_view name, absl::Span<const Matcher> matchers, int64_t mint,
      int64_t maxt) const override {
    return base_->LabelValues(name, matchers, mint, maxt);
  }
  bool ReadChanges(ChangeCursor* cursor,
                   std::vector<SeriesRef>* refs) const override {
    return base_->ReadChanges(cursor, refs);
  }
  uint64_t IndexGeneration() const override {
    return base_->IndexGeneration();
  }
  int RefSequenceShift() const override { return base_->RefSequenceShift(); }
  uint64_t SelectGeneration(absl::Span<const Matcher> matchers) const override {
    return base_->SelectGeneration(matchers);
  }

 protected:
  const Queryable& base() const { return *base_; }

 private:
  const Queryable* const base_;
};

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_STORAGE_H_
