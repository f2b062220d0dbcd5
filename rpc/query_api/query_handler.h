// The Prometheus HTTP API's query endpoints, /api/v1/query and
// /api/v1/query_range, over vigil's store: the same parameters, JSON shapes,
// number formatting, error types and HTTP status codes as Prometheus, so
// Grafana's Prometheus data source works unchanged.
#ifndef VIGIL_RPC_QUERY_API_QUERY_HANDLER_H_
#define VIGIL_RPC_QUERY_API_QUERY_HANDLER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "promql/engine.h"
#include "rpc/http/http.h"
#include "storage/base/clock.h"
#include "storage/storage.h"

namespace vigil::rpc {

struct QueryApiOptions {
  // Prometheus refuses range queries with more points than this per series.
  int64_t max_points_per_series = 11000;
};

// Serves the query endpoints. Borrows the engine, store and clock, which
// must outlive it. Thread-safe: every request works on its own query.
class QueryApi {
 public:
  QueryApi(const promql::Engine* engine, const storage::Queryable* store,
           const Clock* clock, QueryApiOptions options = {});

  // Adds GET and POST routes for /api/v1/query and /api/v1/query_range.
  void Register(http::Router* router) const;

  http::Response Query(const http::Request& request) const;
  http::Response QueryRange(const http::Request& request) const;

 private:
  const promql::Engine* const engine_;
  const storage::Queryable* const store_;
  const Clock* const clock_;
  const QueryApiOptions options_;
};

// Prometheus' error envelope: {"status":"error","errorType":...,"error":...}
// with the HTTP status that goes with the type ("bad_data" 400, "execution"
// 422, "timeout"/"canceled"/"unavailable" 503, "internal" 500, "not_found"
// 404).
http::Response ApiError(std::string_view error_type, std::string_view message);
// The error type a failed query evaluation maps to.
std::string_view ErrorTypeForEvalStatus(const absl::Status& status);

}  // namespace vigil::rpc

#endif  // VIGIL_RPC_QUERY_API_QUERY_HANDLER_H_
