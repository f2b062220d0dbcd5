#include "engine/rule.h"

#include "absl/strings/str_cat.h"

namespace vigil::engine {

const char* RuleHealthName(RuleHealth h) {
  switch (h) {
    case RuleHealth::kOk:
      return "ok";
    case RuleHealth::kErr:
      return "err";
    case RuleHealth::kUnknown:
      break;
  }
  return "unknown";
}

void Rule::RecordEval(const absl::Status& result, absl::Time at,
                      absl::Duration took) {
  absl::MutexLock lock(&status_mu_);
  status_.last_evaluation = at;
  status_.evaluation_time = took;
  if (result.ok()) {
    status_.health = RuleHealth::kOk;
    status_.last_error.clear();
  } else {
    status_.health = RuleHealth::kErr;
    status_.last_error = std::string(result.message());
  }
}

void Rule::RecordError(const absl::Status& error) {
  absl::MutexLock lock(&status_mu_);
  status_.health = RuleHealth::kErr;
  status_.last_error = std::string(error.message());
}

RuleEvalStatus Rule::status() const {
  absl::MutexLock lock(&status_mu_);
  return status_;
}

std::string Rule::IdentityKey() const {
  std::string key = spec_.name;
  key += '{';
  for (const storage::Label& l : spec_.labels) {
    absl::StrAppend(&key, l.name, "=", storage::QuoteGo(l.value), ",");
  }
  key += '}';
  return key;
}

}  // namespace vigil::engine
