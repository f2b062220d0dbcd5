// The PromQL engine: parse a query once into a PreparedQuery, then evaluate
// it at instants or over ranges against any storage::Queryable. This is the
// API the rule engine and the HTTP API use.
#ifndef VIGIL_PROMQL_ENGINE_H_
#define VIGIL_PROMQL_ENGINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "promql/parser/ast.h"
#include "promql/value/value.h"
#include "storage/storage.h"

namespace vigil::promql {

struct EngineOptions {
  // How far back an instant selector looks for a sample.
  int64_t lookback_delta_ms = 300000;
  // Most samples one query may load or produce (ResourceExhausted past it).
  int64_t max_samples = 50'000'000;
  // Wall-clock budget of one evaluation (DeadlineExceeded past it).
  absl::Duration timeout = absl::Minutes(2);
  // Prometheus' promql-delayed-name-removal: functions mark __name__ for
  // removal and it goes only at the end of the query.
  bool enable_delayed_name_removal = true;
  // Step of subqueries that give none (`x[5m:]`): the global evaluation
  // interval.
  int64_t default_subquery_step_ms = 60000;
  // Experimental functions (limitk, sort_by_label, ...) and duration
  // expressions.
  bool enable_experimental_functions = true;
  // Keep each selector's resolved series in the PreparedQuery while the
  // store's IndexGeneration() does not change.
  bool cache_selected_series = true;
  // Also keep the last this many resolved selectors alive (at most
  // kRecentSelectionsMaxSeries series in all) after the queries that used
  // them end, so that the next query with the same selector (a dashboard
  // refreshing) skips the index while its generation holds. 0: only what a
  // live query holds. Only for stores that outlive the engine's queries at
  // a stable address (the server's head): a selection is matched by store
  // address and generation.
  int keep_recent_selections = 0;
};

inline constexpr size_t kRecentSelectionsMaxSeries = 256 * 1024;

// A parsed query, ready to be evaluated many times (rules evaluate the same
// query every interval). Immutable after Prepare; evaluations may run
// concurrently from several threads.
class PreparedQuery {
 public:
  // Evaluates at one instant. Vector, Scalar or String result (Matrix for a
  // bare range-vector expression).
  absl::StatusOr<Result> EvalInstant(const storage::Queryable& q,
                                     int64_t ts_ms) const;
  // Evaluates at start, start+step, ..., end. Matrix result, sorted by
  // labels. REQUIRES: step_ms > 0 and end_ms >= start_ms (InvalidArgument
  // otherwise).
  absl::StatusOr<Result> EvalRange(const storage::Queryable& q,
                                   int64_t start_ms, int64_t end_ms,
                                   int64_t step_ms) const;

  // The parsed expression; lives as long as this object.
  const parser::Expr& expr() const { return *expr_; }
  const std::string& query() const { return query_; }

 private:
  friend class Engine;
  class SharedSelections;
  PreparedQuery(std::string query, std::unique_ptr<parser::Expr> expr,
                const EngineOptions& opts,
                std::shared_ptr<SharedSelections> shared);

 public:
  ~PreparedQuery();

 private:

  class Cache;
  friend class Cache;

  std::string query_;
  std::unique_ptr<parser::Expr> expr_;
  EngineOptions opts_;
  // Series each selector resolved to, per store and index generation.
  std::unique_ptr<Cache> cache_;
};

// Creates prepared queries. Thread-safe. Copies share one table of
// resolved selectors, so that the many rules selecting the same series hold
// one list of them (with its labels), not one each.
class Engine {
 public:
  explicit Engine(EngineOptions opts = EngineOptions());

  // Parses and type-checks `expr`. InvalidArgument with the parser's
  // positioned message on a bad query.
  absl::StatusOr<std::unique_ptr<PreparedQuery>> Prepare(
      std::string_view expr) const;

  const EngineOptions& options() const { return opts_; }

 private:
  EngineOptions opts_;
  std::shared_ptr<PreparedQuery::SharedSelections> shared_;
};

}  // namespace vigil::promql

#endif  // VIGIL_PROMQL_ENGINE_H_
