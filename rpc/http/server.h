// vigil's HTTP/1.1 server: keep-alive connections served by a small pool of
// threads (Boost.Beast/Asio inside server.cc only, so users don't pay its
// compile cost).
#ifndef VIGIL_RPC_HTTP_SERVER_H_
#define VIGIL_RPC_HTTP_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/http/http.h"

namespace vigil::rpc::http {

struct ServerOptions {
  // Host or IP to bind ("0.0.0.0", "127.0.0.1", "::", "localhost").
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port; see Server::port()
  int num_threads = 2;
  // Default body limit for routes that set none; 413 beyond it.
  size_t max_body_bytes = 32 << 20;
  // Request line + headers; 431 beyond it.
  size_t max_header_bytes = 64 << 10;
  // How long a kept-alive connection may sit idle, and how long reading one
  // request's body may take, before the server closes it.
  absl::Duration idle_timeout = absl::Minutes(5);
  absl::Duration read_timeout = absl::Minutes(1);
  // How long Stop() waits for requests in flight before dropping them.
  absl::Duration shutdown_grace = absl::Seconds(10);
};

// A running server. Created by Start(); Stop() (or the destructor) stops
// accepting, closes idle connections, lets requests in flight finish (up to
// shutdown_grace) and joins the threads. Handlers run on the server's threads
// and must be thread-safe; a handler that throws yields a 500. Thread-safe.
class Server {
 public:
  // Binds, listens and starts serving before returning. Unavailable when the
  // address cannot be bound (the message names it).
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options,
                                                       Router router);
  ~Server();

  // The bound port (the real one when options.port was 0).
  int port() const;
  // Idempotent.
  void Stop();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "host:port" / "[::1]:port" / ":port" (host "0.0.0.0"), as
// --web.listen-address takes it. InvalidArgument naming the problem.
absl::Status SplitHostPort(std::string_view address, std::string* host,
                           int* port);

}  // namespace vigil::rpc::http

#endif  // VIGIL_RPC_HTTP_SERVER_H_
