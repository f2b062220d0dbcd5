#include "promql/engine.h"

#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

#include "promql/eval/evaluator.h"
#include "promql/parser/parser.h"

namespace vigil::promql {
namespace {

eval::EvalOptions ToEvalOptions(const EngineOptions& o) {
  eval::EvalOptions e;
  e.lookback_delta_ms = o.lookback_delta_ms;
  e.default_step_ms = o.default_subquery_step_ms;
  e.max_samples = o.max_samples;
  e.enable_delayed_name_removal = o.enable_delayed_name_removal;
  e.deadline = absl::Now() + o.timeout;
  return e;
}

}  // namespace

// One entry per selector node. Entries are replaced, never edited, so a
// reader keeps a consistent list while another thread refreshes it.
class PreparedQuery::Cache final : public eval::SelectCache {
 public:
  absl::StatusOr<std::shared_ptr<const std::vector<storage::SeriesHandle>>>
  Select(const parser::VectorSelector& vs,
         const storage::Queryable& q) override {
    const uint64_t gen = q.SelectGeneration(vs.matchers);
    {
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(&vs);
      if (it != entries_.end() && it->second.store == &q &&
          it->second.generation == gen) {
        return it->second.series;
      }
    }
    absl::StatusOr<std::vector<storage::SeriesHandle>> fresh =
        q.Select(vs.matchers, std::numeric_limits<int64_t>::min(),
                 std::numeric_limits<int64_t>::max());
    if (!fresh.ok()) return fresh.status();
    auto shared = std::make_shared<const std::vector<storage::SeriesHandle>>(
        *std::move(fresh));
    absl::MutexLock lock(&mu_);
    entries_[&vs] = Entry{&q, gen, shared};
    return shared;
  }

 private:
  struct Entry {
    const storage::Queryable* store;
    uint64_t generation;
    std::shared_ptr<const std::vector<storage::SeriesHandle>> series;
  };
  absl::Mutex mu_;
  absl::flat_hash_map<const parser::VectorSelector*, Entry> entries_
      ABSL_GUARDED_BY(mu_);
};

PreparedQuery::PreparedQuery(std::string query,
                             std::unique_ptr<parser::Expr> expr,
                             const EngineOptions& opts)
    : query_(std::move(query)),
      expr_(std::move(expr)),
      opts_(opts),
      cache_(opts.cache_selected_series ? std::make_unique<Cache>() : nullptr) {}

PreparedQuery::~PreparedQuery() = default;

absl::StatusOr<std::unique_ptr<PreparedQuery>> Engine::Prepare(
    std::string_view expr) const {
  parser::ParseOptions po;
  po.enable_experimental_functions = opts_.enable_experimental_functions;
  po.enable_experimental_duration_expr = opts_.enable_experimental_functions;
  absl::StatusOr<std::unique_ptr<parser::Expr>> parsed =
      parser::ParseExpr(expr, po);
  if (!parsed.ok()) return parsed.status();
  return std::unique_ptr<PreparedQuery>(
      new PreparedQuery(std::string(expr), *std::move(parsed), opts_));
}

absl::StatusOr<Result> PreparedQuery::EvalInstant(const storage::Queryable& q,
                                                  int64_t ts_ms) const {
  eval::EvalOptions eo = ToEvalOptions(opts_);
  eo.select_cache = cache_.get();
  return eval::Evaluate(*expr_, q, ts_ms, ts_ms, 0, /*instant=*/true, eo);
}

absl::StatusOr<Result> PreparedQuery::EvalRange(const storage::Queryable& q,
                                                int64_t start_ms,
                                                int64_t end_ms,
                                                int64_t step_ms) const {
  eval::EvalOptions eo = ToEvalOptions(opts_);
  eo.select_cache = cache_.get();
  return eval::Evaluate(*expr_, q, start_ms, end_ms, step_ms,
                        /*instant=*/false, eo);
}

}  // namespace vigil::promql
