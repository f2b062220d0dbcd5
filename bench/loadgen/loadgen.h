// Remote-write load generator: sends scrape-like rounds of samples for a
// synthetic SeriesSet to a remote-write 1.0 endpoint over C keep-alive
// connections and reports throughput, latency and status codes.
#ifndef VIGIL_BENCH_LOADGEN_LOADGEN_H_
#define VIGIL_BENCH_LOADGEN_LOADGEN_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace vigil::bench {

struct LoadOptions {
  std::string url;  // e.g. http://127.0.0.1:9090/api/v1/write
  int64_t series = 1000;
  int64_t rounds = 10;
  absl::Duration scrape_interval = absl::Seconds(15);
  // Timestamp of round 0; round r is stamped start + r * scrape_interval.
  absl::Time start = absl::UnixEpoch();
  // Pace rounds by the wall clock (round r is sent at run start + r *
  // scrape_interval) instead of as fast as the target acknowledges them.
  bool realtime = false;
  int64_t batch = 2000;  // Samples (= series) per request.
  int connections = 4;
  int64_t churn = 0;  // Series replaced by new ones before each round > 0.
  int max_retries = 10;
  // Backoff before the first retry; doubles per retry, at most 1 s.
  absl::Duration initial_backoff = absl::Milliseconds(10);
  int64_t max_failed_requests = 50;  // Give up after this many.
  absl::Duration request_timeout = absl::Seconds(30);
  uint64_t seed = 42;
  bool progress = false;  // One line per ~10% of rounds on stderr.
};

struct LoadReport {
  int64_t series = 0;
  int64_t rounds_completed = 0;
  int64_t samples_acked = 0;  // Samples in requests answered 2xx.
  int64_t requests = 0;       // Attempts, retries included.
  int64_t retries = 0;
  int64_t failed_requests = 0;  // Gave up: 4xx other than 429, or retries out.
  std::map<int, int64_t> status_counts;  // HTTP status; 0 = transport error.
  double seconds = 0;  // Wall time of the sending phase.
  double samples_per_second = 0;
  double requests_per_second = 0;
  double latency_p50_ms = 0;
  double latency_p90_ms = 0;
  double latency_p99_ms = 0;
  double latency_max_ms = 0;
  double encode_seconds = 0;   // Summed over connections.
  double loadgen_cpu_seconds = 0;  // This process, user + system.
  int64_t request_bytes = 0;   // Compressed bytes sent (acked requests).
  std::string first_error;     // First non-2xx answer or transport error.

  std::string ToJson() const;
  std::string ToText() const;
};

// Runs the whole load. Returns an error only when the run could not be set up
// or was abandoned (too many failed requests); target errors within the limit
// are counted in the report.
absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options);

}  // namespace vigil::bench

#endif  // VIGIL_BENCH_LOADGEN_LOADGEN_H_
