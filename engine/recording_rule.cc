#include "engine/recording_rule.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace vigil::engine {

RecordingRule::RecordingRule(RuleSpec spec, InstantQueryFunc query)
    : Rule(std::move(spec)), query_(std::move(query)) {}

absl::StatusOr<std::vector<EvalSample>> RecordingRule::Eval(
    int64_t ts_ms, int64_t query_offset_ms, int64_t limit) {
  const int64_t query_ts = ts_ms - query_offset_ms;
  absl::StatusOr<std::vector<EvalSample>> res = query_(query_ts);
  if (!res.ok()) {
    return res.status();
  }
  std::vector<EvalSample> out = *std::move(res);
  storage::LabelsBuilder lb;
  for (EvalSample& s : out) {
    lb.Reset(s.labels);
    lb.Set(storage::kMetricNameLabel, spec_.name);
    for (const storage::Label& l : spec_.labels) {
      lb.Set(l.name, l.value);
    }
    s.labels = lb.Build();
    s.t = query_ts;
  }
  if (out.size() > 1) {
    std::vector<const storage::Labels*> sorted;
    sorted.reserve(out.size());
    for (const EvalSample& s : out) {
      sorted.push_back(&s.labels);
    }
    std::sort(sorted.begin(), sorted.end(),
              [](const storage::Labels* a, const storage::Labels* b) {
                return *a < *b;
              });
    for (size_t i = 1; i < sorted.size(); ++i) {
      if (*sorted[i] == *sorted[i - 1]) {
        return absl::InvalidArgumentError(
            "vector contains metrics with the same labelset after applying "
            "rule labels");
      }
    }
  }
  if (limit > 0 && static_cast<int64_t>(out.size()) > limit) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "exceeded limit of ", limit, " with ", out.size(), " series"));
  }
  return out;
}

}  // namespace vigil::engine
