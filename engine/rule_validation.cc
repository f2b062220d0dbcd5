#include "engine/rule_validation.h"

#include "engine/rule_template.h"
#include "promql/parser/parser.h"

namespace vigil::engine {

RuleLoaderOptions DefaultRuleLoaderOptions() {
  RuleLoaderOptions options;
  options.validate_expr = [](std::string_view expr) -> absl::Status {
    absl::StatusOr<std::unique_ptr<promql::parser::Expr>> e =
        promql::parser::ParseExpr(expr);
    if (!e.ok()) {
      return absl::InvalidArgumentError(e.status().message());
    }
    return absl::OkStatus();
  };
  options.validate_template = [](std::string_view name,
                                 std::string_view text) {
    return ValidateRuleTemplate(name, text);
  };
  return options;
}

}  // namespace vigil::engine
