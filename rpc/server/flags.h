// The vigil server's command-line flags, spelled as Prometheus spells its own
// (`--config.file`, `--web.listen-address`, ...). Abseil flags cannot hold
// dots, so this is a small parser of its own.
#ifndef VIGIL_RPC_SERVER_FLAGS_H_
#define VIGIL_RPC_SERVER_FLAGS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/base/logfmt.h"

namespace vigil::rpc::server {

inline constexpr std::string_view kDefaultListenAddress = "0.0.0.0:9096";

struct Flags {
  std::string config_file;  // "" when not given: see ResolveConfigPath
  bool config_file_set = false;
  std::string listen_address = std::string(kDefaultListenAddress);
  std::string external_url;
  int64_t max_request_bytes = 32 << 20;
  int web_threads = 0;  // 0: number of CPUs, at least 2
  absl::Duration retention = absl::Hours(2);
  absl::Duration out_of_order_window = absl::ZeroDuration();
  int64_t max_series = 0;  // 0: unlimited
  int64_t max_memory_bytes = 0;  // chunk bytes; 0: unlimited
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kLogfmt;
  absl::Duration resend_delay = absl::Minutes(1);
  absl::Duration for_outage_tolerance = absl::Hours(1);
  absl::Duration for_grace_period = absl::Minutes(10);
  // Where the last ALERTS_FOR_STATE samples are kept across restarts; ""
  // keeps them in memory only (see for_state_file.h).
  std::string for_state_file;
  absl::Duration for_state_write_interval = absl::Seconds(10);
  // Memory for decoded rule windows (promql/window_cache.h); 0 turns the
  // cache off. Always off with an out-of-order window.
  int64_t rules_window_cache_bytes = int64_t{1} << 30;
  absl::Duration lookback_delta = absl::Minutes(5);
  int64_t query_max_samples = 50000000;
  absl::Duration query_timeout = absl::Minutes(2);
  // gRPC service (rules, alerts, watch stream); "" turns it off.
  std::string grpc_listen_address = "0.0.0.0:9097";
  int64_t notification_queue_capacity = 10000;
  // Group evaluation slots as Prometheus builds without stringlabels
  // (2.43 and older) place them.
  bool legacy_group_hash = false;
  bool help = false;
  bool version = false;
};

// Parses `args` (without the program name). Accepts `--name=value` and
// `--name value`; `-h`/`--help` and `--version` need no value. InvalidArgument
// naming the flag for an unknown flag, a missing or malformed value, or a
// stray positional argument.
absl::StatusOr<Flags> ParseFlags(const std::vector<std::string>& args);

// Every flag's name (without dashes) and current value in Prometheus'
// spelling, sorted by name, as /api/v1/status/flags shows them.
std::vector<std::pair<std::string, std::string>> FlagValues(const Flags& flags);

// Usage text listing every flag with its default, as `--help` prints it.
std::string FlagsHelp(std::string_view program);

// Parses a byte size: "1048576", "512KiB", "32MiB", "1GB", "64MB".
absl::StatusOr<int64_t> ParseByteSize(std::string_view s);

}  // namespace vigil::rpc::server

#endif  // VIGIL_RPC_SERVER_FLAGS_H_
