// Number and string formatting for the Prometheus HTTP API's JSON, byte for
// byte as Prometheus writes it (values as Go's strconv.AppendFloat in 'f'
// form, 'e' form for tiny and huge magnitudes; timestamps as seconds with up
// to three decimals).
#ifndef VIGIL_RPC_QUERY_API_JSON_FORMAT_H_
#define VIGIL_RPC_QUERY_API_JSON_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/base/json_string.h"

namespace vigil::rpc {

// Appends a sample value as Prometheus' API does, without quotes:
// "1", "0.1", "1e-07", "1.5e+21", "+Inf", "-Inf", "NaN"; from 1e15 up the
// shortest digits padded with zeros, as Go ("999999999999999900000").
void AppendPromFloat(double v, std::string* out);
// Appends a millisecond timestamp as seconds, the fraction always in three
// digits as Prometheus writes it: 1.500 for 1500, 1 for 1000, 0.001 for 1,
// -1.500 for -1500.
void AppendPromTimestamp(int64_t t_ms, std::string* out);
// JSON string literals: the shared, Go-compatible writer.
using ::vigil::AppendJsonString;

}  // namespace vigil::rpc

#endif  // VIGIL_RPC_QUERY_API_JSON_FORMAT_H_
