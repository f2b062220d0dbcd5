#include "promql/engine.h"

#include <limits>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
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

using SeriesList = std::vector<storage::SeriesHandle>;
using eval::Selection;

// Selections by matcher set, across all queries of an engine. Holds them
// weakly: a list lives as long as some query's Cache holds it, so a rule
// file with a thousand rules over http_requests_total keeps one copy of
// those series' labels. Thread-safe.
class PreparedQuery::SharedSelections {
 public:
  static std::string Key(const parser::VectorSelector& vs) {
    std::string key;
    for (const storage::Matcher& m : vs.matchers) {
      absl::StrAppend(&key, m.name().size(), ":", m.name(),
                      static_cast<int>(m.type()), m.value().size(), ":",
                      m.value(), ";");
    }
    return key;
  }

  std::shared_ptr<const Selection> Find(const std::string& key,
                                         const storage::Queryable* q,
                                         uint64_t gen) {
    absl::MutexLock lock(&mu_);
    auto it = lists_.find(key);
    if (it == lists_.end() || it->second.store != q ||
        it->second.generation != gen) {
      return nullptr;
    }
    return it->second.series.lock();
  }

  explicit SharedSelections(int keep_recent) : keep_recent_(keep_recent) {}

  void Put(const std::string& key, const storage::Queryable* q, uint64_t gen,
           const std::shared_ptr<const Selection>& series) {
    absl::MutexLock lock(&mu_);
    lists_[key] = Weak{q, gen, series};
    if (keep_recent_ > 0) {
      recent_.push_back(series);
      recent_series_ += series->series().size();
      while (!recent_.empty() &&
             (recent_.size() > static_cast<size_t>(keep_recent_) ||
              recent_series_ > kRecentSelectionsMaxSeries)) {
        recent_series_ -= recent_.front()->series().size();
        recent_.pop_front();
      }
    }
    // Forget lists no query holds any more, now and then.
    if (++puts_ % 1024 == 0) {
      for (auto it = lists_.begin(); it != lists_.end();) {
        if (it->second.series.expired()) {
          lists_.erase(it++);
        } else {
          ++it;
        }
      }
    }
  }

 private:
  struct Weak {
    const storage::Queryable* store;
    uint64_t generation;
    std::weak_ptr<const Selection> series;
  };
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Weak> lists_ ABSL_GUARDED_BY(mu_);
  uint64_t puts_ ABSL_GUARDED_BY(mu_) = 0;
  // The latest selections put, held strongly (oldest first).
  const int keep_recent_;
  std::deque<std::shared_ptr<const Selection>> recent_ ABSL_GUARDED_BY(mu_);
  size_t recent_series_ ABSL_GUARDED_BY(mu_) = 0;
};

// One entry per selector node. Entries are replaced, never edited, so a
// reader keeps a consistent list while another thread refreshes it.
class PreparedQuery::Cache final : public eval::SelectCache {
 public:
  explicit Cache(std::shared_ptr<SharedSelections> shared)
      : shared_(std::move(shared)) {}

  absl::StatusOr<std::shared_ptr<const Selection>> Select(
      const parser::VectorSelector& vs, const storage::Queryable& q) override {
    const uint64_t gen = q.SelectGeneration(vs.matchers);
    {
      absl::MutexLock lock(&mu_);
      auto it = entries_.find(&vs);
      if (it != entries_.end() && it->second.store == &q &&
          it->second.generation == gen) {
        return it->second.series;
      }
    }
    const std::string key =
        shared_ != nullptr ? SharedSelections::Key(vs) : std::string();
    std::shared_ptr<const Selection> list;
    if (shared_ != nullptr) list = shared_->Find(key, &q, gen);
    if (list == nullptr) {
      absl::StatusOr<SeriesList> fresh =
          q.Select(vs.matchers, std::numeric_limits<int64_t>::min(),
                   std::numeric_limits<int64_t>::max());
      if (!fresh.ok()) return fresh.status();
      list = std::make_shared<const Selection>(*std::move(fresh));
      if (shared_ != nullptr) shared_->Put(key, &q, gen, list);
    }
    absl::MutexLock lock(&mu_);
    entries_[&vs] = Entry{&q, gen, list};
    return list;
  }

 private:
  const std::shared_ptr<SharedSelections> shared_;
  struct Entry {
    const storage::Queryable* store;
    uint64_t generation;
    std::shared_ptr<const Selection> series;
  };
  absl::Mutex mu_;
  absl::flat_hash_map<const parser::VectorSelector*, Entry> entries_
      ABSL_GUARDED_BY(mu_);
};

PreparedQuery::PreparedQuery(std::string query,
                             std::unique_ptr<parser::Expr> expr,
                             const EngineOptions& opts,
                             std::shared_ptr<SharedSelections> shared)
    : query_(std::move(query)),
      expr_(std::move(expr)),
      opts_(opts),
      cache_(opts.cache_selected_series
                 ? std::make_unique<Cache>(std::move(shared))
                 : nullptr) {}

Engine::Engine(EngineOptions opts)
    : opts_(opts),
      shared_(std::make_shared<PreparedQuery::SharedSelections>(
          opts.keep_recent_selections)) {}

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
      new PreparedQuery(std::string(expr), *std::move(parsed), opts_, shared_));
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
