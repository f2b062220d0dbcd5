// A tiny blocking HTTP/1.1 client over a loopback socket, for tests only: it
// speaks just enough (Content-Length bodies, keep-alive) to drive the server.
#ifndef VIGIL_RPC_HTTP_TEST_CLIENT_H_
#define VIGIL_RPC_HTTP_TEST_CLIENT_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "rpc/http/http.h"

namespace vigil::rpc::http {

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

// One connection to 127.0.0.1:port. Not thread-safe.
class TestClient {
 public:
  explicit TestClient(int port) : port_(port) {}
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  // Sends one request (reconnecting if needed) and reads the answer.
  absl::StatusOr<ClientResponse> Do(
      std::string_view method, std::string_view target,
      const std::vector<std::pair<std::string, std::string>>& headers = {},
      std::string_view body = {});
  // Sends raw bytes and reads one response (for malformed requests).
  absl::StatusOr<ClientResponse> Raw(std::string_view bytes);
  // Whether the server closed the connection after the last response.
  bool closed() const { return fd_ < 0; }

 private:
  absl::Status Connect();
  absl::Status SendAll(std::string_view bytes);
  absl::StatusOr<ClientResponse> ReadResponse();
  void Close();

  int port_;
  int fd_ = -1;
  std::string buffer_;
};

// One-shot helpers on a fresh connection.
absl::StatusOr<ClientResponse> HttpGet(int port, std::string_view target);
absl::StatusOr<ClientResponse> HttpPost(
    int port, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body);

}  // namespace vigil::rpc::http

#endif  // VIGIL_RPC_HTTP_TEST_CLIENT_H_
