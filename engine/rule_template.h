// Expanding alert label and annotation templates for one alert, and checking
// templates parse. Bridges the alerting rule to the Go-template engine.
#ifndef VIGIL_ENGINE_RULE_TEMPLATE_H_
#define VIGIL_ENGINE_RULE_TEMPLATE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "engine/query_func.h"
#include "storage/labels.h"

namespace vigil::engine {

// What a template sees ($labels, $value, $externalLabels, $externalURL) and
// may call (query). Borrowed for the call.
struct RuleTemplateContext {
  const storage::Labels* labels = nullptr;  // the sample's labels
  const storage::Labels* external_labels = nullptr;
  std::string_view external_url;
  double value = 0;
  int64_t eval_time_ms = 0;
  const QueryFunc* query = nullptr;  // may be null: `query` then fails
};

// Expands `text` for one alert of the rule `alert_name` with Prometheus'
// prelude ($labels, $value, ...). Text without `{{` is returned as is. On an
// expansion error returns "<error expanding template: ...>", as Prometheus
// does; never fails.
std::string ExpandRuleTemplate(std::string_view alert_name,
                               std::string_view text,
                               const RuleTemplateContext& ctx);

// OK when `text` parses as the template `name` ("__alert_<AlertName>") after
// Prometheus' prelude; InvalidArgument with Go's message otherwise (what
// promtool check rules reports).
absl::Status ValidateRuleTemplate(std::string_view name,
                                  std::string_view text);

// Go's %v for a float64 (strconv 'g', shortest): "1", "0.5", "1e+06", "NaN",
// "+Inf". How $value prints.
std::string FormatGoFloat(double v);

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_RULE_TEMPLATE_H_
