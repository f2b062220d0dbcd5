// The loader's validation hooks wired to vigil's PromQL parser and template
// engine, so `check rules` and the manager report what Prometheus reports.
#ifndef VIGIL_ENGINE_RULE_VALIDATION_H_
#define VIGIL_ENGINE_RULE_VALIDATION_H_

#include "engine/rule_loader.h"

namespace vigil::engine {

// Options whose hooks parse expressions and templates with the real parsers
// available in this build.
RuleLoaderOptions DefaultRuleLoaderOptions();

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_RULE_VALIDATION_H_
