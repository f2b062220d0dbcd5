// The vigil server: the in-memory store, the HTTP endpoints (remote-write,
// metadata API, /metrics, health) and the self-scrape loop, wired together.
#ifndef VIGIL_RPC_SERVER_SERVER_H_
#define VIGIL_RPC_SERVER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rpc/server/config.h"
#include "rpc/server/flags.h"
#include "storage/base/clock.h"
#include "storage/head.h"

namespace prometheus {
class Registry;
}

namespace vigil::rpc::server {

// Owns everything it starts. Start() returns once the HTTP server listens and
// /-/ready answers 200. Stop() (or the destructor) stops serving, then the
// background threads. Thread-safe.
class Server {
 public:
  // Unavailable when the listen address cannot be bound; InvalidArgument for
  // a malformed address. `clock` is borrowed and must outlive the server.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const Flags& flags,
                                                       Config config,
                                                       Clock* clock);
  ~Server();

  int port() const;
  storage::Head* head();
  prometheus::Registry* registry();
  // The whole /metrics page, as served.
  std::string MetricsText();
  // Appends the current metrics to the store once (what the loop does every
  // scrape_interval); exposed for tests.
  void SelfScrapeOnce();
  // Re-reads the config file and the rule files (SIGHUP, POST /-/reload).
  // On error the running rules stay as they were.
  absl::Status Reload();
  // The bound gRPC port; 0 when gRPC is off.
  int grpc_port() const;
  // Idempotent.
  void Stop();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::rpc::server

#endif  // VIGIL_RPC_SERVER_SERVER_H_
