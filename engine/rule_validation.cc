#include "engine/rule_validation.h"

namespace vigil::engine {

RuleLoaderOptions DefaultRuleLoaderOptions() {
  RuleLoaderOptions options;
  // TODO(engine): wire promql::parser::ParseExpr and tmpl::Template::Parse
  // once those targets build; until then the loader checks expressions are
  // non-empty and accepts templates.
  return options;
}

}  // namespace vigil::engine
