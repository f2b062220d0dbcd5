#include "engine/promql_query_engine.h"

#include <memory>
#include <utility>
#include <variant>

#include "engine/thread_cpu.h"

namespace vigil::engine {

absl::StatusOr<std::vector<EvalSample>> ToEvalSamples(promql::Result result,
                                                      int64_t ts_ms) {
  std::vector<EvalSample> out;
  if (auto* vec = std::get_if<promql::Vector>(&result.value)) {
    out.reserve(vec->size());
    for (promql::Sample& s : *vec) {
      out.push_back({std::move(s.metric), s.t, s.v});
    }
    return out;
  }
  if (auto* sc = std::get_if<promql::Scalar>(&result.value)) {
    out.push_back({storage::Labels(), ts_ms, sc->v});
    return out;
  }
  return absl::InvalidArgumentError("rule result is not a vector or scalar");
}

absl::StatusOr<InstantQueryFunc> PromqlRuleQueryEngine::Prepare(
    std::string_view expr) {
  absl::StatusOr<std::unique_ptr<promql::PreparedQuery>> q =
      engine_->Prepare(expr);
  if (!q.ok()) {
    return q.status();
  }
  std::shared_ptr<const promql::PreparedQuery> prepared = *std::move(q);
  const storage::Queryable* store = queryable_;
  return InstantQueryFunc(
      [prepared, store](int64_t ts) -> absl::StatusOr<std::vector<EvalSample>> {
        const absl::Duration cpu0 = ThreadCpuTime();
        absl::StatusOr<promql::Result> r = prepared->EvalInstant(*store, ts);
        absl::StatusOr<std::vector<EvalSample>> out =
            r.ok() ? ToEvalSamples(*std::move(r), ts)
                   : absl::StatusOr<std::vector<EvalSample>>(r.status());
        ThreadQueryCpuTime() += ThreadCpuTime() - cpu0;
        return out;
      });
}

absl::StatusOr<std::vector<EvalSample>> PromqlRuleQueryEngine::Query(
    std::string_view expr, int64_t ts_ms) {
  absl::StatusOr<InstantQueryFunc> f = Prepare(expr);
  if (!f.ok()) {
    return f.status();
  }
  return (*f)(ts_ms);
}

}  // namespace vigil::engine
