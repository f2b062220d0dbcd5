// The vectorised PromQL evaluator: evaluates a parsed expression over all
// steps of a query at once. A node produces, for each output series, an
// array of values over the steps with presence flags, so functions,
// aggregations and operators run as loops over arrays.
#ifndef VIGIL_PROMQL_EVAL_EVALUATOR_H_
#define VIGIL_PROMQL_EVAL_EVALUATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "promql/parser/ast.h"
#include "promql/value/value.h"
#include "storage/storage.h"

namespace vigil::promql::eval {

// The series a selector resolved to, and what evaluations derive from
// them once rather than at every evaluation: the refs for batched reads and
// the groupings of aggregations over them. Shared (through shared_ptr) by
// every query whose selector has the same matchers, for as long as the
// store's SelectGeneration stays the same. The series are immutable; the
// groupings are computed on first use under a mutex, so every call is
// thread-safe.
class Selection {
 public:
  explicit Selection(std::vector<storage::SeriesHandle> series);
  Selection(const Selection&) = delete;
  Selection& operator=(const Selection&) = delete;

  const std::vector<storage::SeriesHandle>& series() const { return series_; }
  absl::Span<const storage::SeriesRef> refs() const { return refs_; }
  // Whether series i's metric name lacks the counter suffixes rate() and
  // increase() expect (_total, _sum, _count, _bucket), for their info
  // annotation without touching each series' labels at every evaluation.
  bool NamedLikeNonCounter(size_t i) const { return non_counter_[i] != 0; }

  // The series grouped as an aggregation `by (names)` (or `without (names)`
  // and __name__) groups them: group_of[i] is series i's group, whose labels
  // are labels[group_of[i]]. Groups are numbered in order of first
  // appearance.
  struct Grouping {
    std::vector<uint32_t> group_of;
    std::vector<storage::Labels> labels;
  };
  std::shared_ptr<const Grouping> GroupingFor(
      const std::vector<std::string>& names, bool without) const;

  // For each series index in `src`, that series' labels without __name__,
  // __type__ and __unit__ (what the delayed name removal leaves), into
  // out[k]. Each is built on first use and kept: a rule re-executed every
  // interval hands out the same label sets each time, hashes already
  // computed, instead of rebuilding and rehashing a copy per series per
  // evaluation; a query whose output is a few of many series builds only
  // those. One lock per call. REQUIRES: out->size() == src.size().
  void Nameless(absl::Span<const uint32_t> src,
                absl::Span<storage::Labels> out) const;

 private:
  const std::vector<storage::SeriesHandle> series_;
  const std::vector<storage::SeriesRef> refs_;
  std::vector<uint8_t> non_counter_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, std::shared_ptr<const Grouping>>
      groupings_ ABSL_GUARDED_BY(mu_);
  // nameless_[i] is built once nameless_built_[i] is set; both sized on
  // first use.
  mutable std::vector<storage::Labels> nameless_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<uint8_t> nameless_built_ ABSL_GUARDED_BY(mu_);
};

// Remembers the series a selector resolved to, so that a query evaluated
// again and again (a rule) skips the index while the store's
// SelectGeneration() stays the same. Implementations are thread-safe.
class SelectCache {
 public:
  virtual ~SelectCache() = default;
  // The series matching `vs` in `q` (all times; series without samples in
  // the evaluated range are skipped by the caller). The result is shared and
  // immutable.
  virtual absl::StatusOr<std::shared_ptr<const Selection>> Select(
      const parser::VectorSelector& vs, const storage::Queryable& q) = 0;
};

struct EvalOptions {
  int64_t lookback_delta_ms = 300000;
  // Subquery step when the query gives none (Prometheus' global evaluation
  // interval).
  int64_t default_step_ms = 60000;
  int64_t max_samples = 50'000'000;
  absl::Time deadline = absl::InfiniteFuture();
  bool enable_delayed_name_removal = true;
  // Optional, not owned; null: every evaluation asks the index.
  SelectCache* select_cache = nullptr;
};

// Evaluates `expr` at the steps start, start+step, ..., end (an instant
// query when `instant`, with start == end). Returns a Vector, Scalar or
// String (instant), a Matrix (range, or an instant query of a range vector).
// Errors: InvalidArgument for query errors found while evaluating,
// ResourceExhausted for the sample limit, DeadlineExceeded past the deadline.
absl::StatusOr<Result> Evaluate(const parser::Expr& expr,
                                const storage::Queryable& q, int64_t start_ms,
                                int64_t end_ms, int64_t step_ms, bool instant,
                                const EvalOptions& options);

}  // namespace vigil::promql::eval

#endif  // VIGIL_PROMQL_EVAL_EVALUATOR_H_
