// /api/v1/rules and /api/v1/alerts in Prometheus' JSON shapes, over the rule
// manager's groups.
#ifndef VIGIL_RPC_QUERY_API_RULES_HANDLER_H_
#define VIGIL_RPC_QUERY_API_RULES_HANDLER_H_

#include <string>

#include "absl/time/time.h"
#include "engine/manager.h"
#include "rpc/http/http.h"

namespace vigil::rpc {

// Serves the rules and alerts endpoints. Borrows the manager, which must
// outlive it. Thread-safe (the manager's accessors are).
class RulesApi {
 public:
  explicit RulesApi(const engine::Manager* manager) : manager_(manager) {}

  // Adds GET routes for /api/v1/rules and /api/v1/alerts.
  void Register(http::Router* router) const;

  // Query parameters as Prometheus 3.5: type=alert|record, rule_name[],
  // rule_group[], file[], exclude_alerts=true.
  http::Response Rules(const http::Request& request) const;
  http::Response Alerts(const http::Request& request) const;

 private:
  const engine::Manager* const manager_;
};

// Go's time.Time JSON form (RFC 3339 with nanoseconds, trailing zeros
// dropped): "2026-11-23T18:00:00.5Z"; the zero time for InfinitePast.
std::string FormatGoTime(absl::Time t);

}  // namespace vigil::rpc

#endif  // VIGIL_RPC_QUERY_API_RULES_HANDLER_H_
