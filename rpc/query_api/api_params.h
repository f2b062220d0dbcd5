// Parsing of the Prometheus HTTP API's time, duration and selector
// parameters, with Prometheus' error texts.
#ifndef VIGIL_RPC_QUERY_API_API_PARAMS_H_
#define VIGIL_RPC_QUERY_API_API_PARAMS_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::rpc {

// Timestamps the API accepts for an omitted start/end ("min"/"max" time).
inline constexpr int64_t kMinApiTimeMs = -9223372036854775LL;  // ~ -292M years
inline constexpr int64_t kMaxApiTimeMs = 9223372036854775LL;

// A timestamp parameter: Unix seconds with optional fraction ("1700000000",
// "1.5") or RFC 3339 ("2026-11-23T17:00:00Z", "...T17:00:00.123+01:00").
// InvalidArgument `cannot parse "x" to a valid timestamp`.
absl::StatusOr<int64_t> ParseApiTimeMs(std::string_view s);

// A duration parameter (step, timeout, lookback_delta): seconds as a float
// ("15", "0.5") or a Prometheus duration ("15s", "1m30s"). InvalidArgument
// `cannot parse "x" to a valid duration`.
absl::StatusOr<int64_t> ParseApiDurationMs(std::string_view s);

}  // namespace vigil::rpc

#endif  // VIGIL_RPC_QUERY_API_API_PARAMS_H_
