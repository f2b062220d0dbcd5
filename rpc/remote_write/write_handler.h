// POST /api/v1/write: the Prometheus remote-write 1.0 receiver. Checks the
// headers, decompresses (snappy) and decodes the body, validates every series
// before anything is stored, then appends the whole request as one batch.
#ifndef VIGIL_RPC_REMOTE_WRITE_WRITE_HANDLER_H_
#define VIGIL_RPC_REMOTE_WRITE_WRITE_HANDLER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "rpc/http/http.h"
#include "rpc/remote_write/series_cache.h"
#include "storage/storage.h"

namespace prometheus {
class Counter;
class Histogram;
class Registry;
}  // namespace prometheus

namespace vigil::rpc::remote_write {

struct WriteHandlerOptions {
  // Compressed body size; 413 beyond it (enforced while reading).
  size_t max_body_bytes = 32 << 20;
  // Decompressed size announced by the snappy header; 413 beyond it, checked
  // before allocating.
  size_t max_decoded_bytes = 256 << 20;
  // Requests being decoded/appended at once, and their decoded bytes; a
  // request over either limit gets 503 + Retry-After (the sender retries).
  int max_inflight_requests = 64;
  size_t max_inflight_bytes = size_t{1} << 30;
  // Sent as Retry-After (seconds) with every 503.
  absl::Duration retry_after = absl::Seconds(5);
  // Series known by their raw label bytes (see series_cache.h) are forgotten
  // after this long without a sample; they are then looked up by labels
  // again. Checked every max_idle / 8.
  absl::Duration series_cache_max_idle = absl::Hours(1);
  SeriesRefCache::Options series_cache;
};

// Status codes, chosen for what Prometheus' sender does with them (it retries
// 5xx always, 429 only when configured, and drops the batch on other 4xx):
//   204  everything stored (also an empty request)
//   400  malformed body, invalid labels (nothing stored), or some samples
//        rejected by the store (the others stored): retrying cannot help
//   413  body or decoded body too large
//   415  wrong Content-Encoding / Content-Type, or remote-write 2.0
//   503  store refused the batch for memory or series limits, or too many
//        requests in flight (with Retry-After): retrying later may succeed
//   500  unexpected store error
// A series seen before (same label bytes) goes to the store by ref, with no
// label work; see SeriesRefCache. Only stores that hand out refs
// (Appendable::AppendWithRefs) benefit; others get every series by labels.
// Thread-safe; borrows the store and the registry, which must outlive it.
class WriteHandler {
 public:
  WriteHandler(storage::Appendable* store, prometheus::Registry* registry,
               WriteHandlerOptions options = {});
  ~WriteHandler();
  WriteHandler(const WriteHandler&) = delete;
  WriteHandler& operator=(const WriteHandler&) = delete;

  http::Response Handle(const http::Request& request);

  // Registers POST /api/v1/write with the body limit.
  void Register(http::Router* router);

 private:
  struct Metrics;
  http::Response HandleInner(const http::Request& request, int64_t* samples);
  http::Response Overloaded(std::string message);
  void UpdateCacheGauges();

  storage::Appendable* const store_;
  const WriteHandlerOptions options_;
  std::unique_ptr<Metrics> metrics_;
  std::atomic<int> inflight_requests_{0};
  std::atomic<size_t> inflight_bytes_{0};
  std::atomic<int64_t> last_warn_ms_{0};
  SeriesRefCache cache_;
  const absl::Time start_;
  std::atomic<uint32_t> next_sweep_epoch_;
};

}  // namespace vigil::rpc::remote_write

#endif  // VIGIL_RPC_REMOTE_WRITE_WRITE_HANDLER_H_
