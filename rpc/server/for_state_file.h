// Keeps alerts' "for" state across restarts. Prometheus restores pending
// alerts from the ALERTS_FOR_STATE series in its TSDB; vigil's store is in
// memory, so the last ALERTS_FOR_STATE sample of every series is saved to a
// file and appended back into the fresh store at start, before the rule
// groups run. The groups' own restore step (engine/alerting_rule.cc
// RestoreForState, with --rules.alert.for-outage-tolerance and
// --rules.alert.for-grace-period) then applies exactly Prometheus' rules,
// and only to alerts whose rule and labels still exist.
//
// File format: one JSON object a line,
//   {"labels":{"__name__":"ALERTS_FOR_STATE","alertname":"A",...},"t":<ms>,"v":<active-at seconds>}
// Written to PATH.tmp, fsynced, then renamed over PATH, so a crash leaves
// the old file or the new one, never half of one. Stateless functions;
// thread-compatible.
#ifndef VIGIL_RPC_SERVER_FOR_STATE_FILE_H_
#define VIGIL_RPC_SERVER_FOR_STATE_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/storage.h"

namespace vigil::rpc::server {

// Writes the last non-stale ALERTS_FOR_STATE sample of every series with a
// sample in [now_ms - lookback, now_ms]. Returns how many were written.
absl::StatusOr<size_t> SaveForState(const storage::Queryable& store,
                                    int64_t now_ms, absl::Duration lookback,
                                    const std::string& path);

// Appends the samples of `path` to `store`. A missing file is 0 samples; an
// unreadable or malformed one is an error naming the path and line, and then
// nothing is appended.
absl::StatusOr<size_t> LoadForState(const std::string& path,
                                    storage::Appendable* store);

}  // namespace vigil::rpc::server

#endif  // VIGIL_RPC_SERVER_FOR_STATE_FILE_H_
