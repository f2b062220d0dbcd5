// Expanding alert label and annotation templates for one alert, and checking
// templates parse. Bridges the alerting rule to the Go-template engine.
#ifndef VIGIL_ENGINE_RULE_TEMPLATE_H_
#define VIGIL_ENGINE_RULE_TEMPLATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "engine/query_func.h"
#include "engine/template/template.h"
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

// One label or annotation template of an alerting rule, parsed once and
// expanded per alert. Immutable; thread-safe.
class RuleTemplate {
 public:
  RuleTemplate(std::string_view alert_name, std::string_view text);

  // True when the text has no action: Expand returns it unchanged.
  bool literal() const { return literal_; }
  const std::string& text() const { return text_; }
  // Same result as ExpandRuleTemplate for the same inputs.
  std::string Expand(const tmpl::Data& data, const tmpl::Env& env) const;

 private:
  std::string name_;  // __alert_<AlertName>
  std::string text_;
  bool literal_ = true;
  std::optional<tmpl::Template> parsed_;
  std::string parse_error_;
};

// The template engine's view of `ctx`. The Env borrows ctx.query.
tmpl::Data MakeTemplateData(const RuleTemplateContext& ctx);
tmpl::Env MakeTemplateEnv(const RuleTemplateContext& ctx);

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
