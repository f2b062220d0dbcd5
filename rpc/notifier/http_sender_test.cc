// Real-socket tests: a tiny one-connection HTTP server on 127.0.0.1 (port 0)
// receives what CurlHttpSender and the Notifier actually put on the wire.
#include "rpc/notifier/http_sender.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rpc/notifier/notifier.h"
#include "rpc/notifier/test_util.h"
#include "storage/base/status_matchers.h"

namespace vigil::rpc::notifier {
namespace {

using ::testing::HasSubstr;

// Accepts up to `connections` connections, one at a time, reads one request
// from each (bounded), answers `status` (or never answers when status is 0).
class TinyHttpServer {
 public:
  explicit TinyHttpServer(int status, int connections = 1) : status_(status) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i) {
        if (!ServeOne()) {
          break;
        }
      }
    });
  }
  ~TinyHttpServer() {
    Join();
    close(fd_);
  }

  int port() const { return port_; }
  // Valid after the thread is done (destructor or Join).
  void Join() {
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  const std::string& head() const { return head_; }
  const std::string& body() const { return body_; }

 private:
  bool ServeOne() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) {
      return false;  // nobody came: the test will fail on its own checks
    }
    const int c = accept(fd_, nullptr, nullptr);
    if (c < 0) {
      return false;
    }
    std::string data;
    char buf[4096];
    size_t want = std::string::npos;
    while (data.size() < (1 << 20)) {
      pollfd cp{c, POLLIN, 0};
      if (poll(&cp, 1, 10000) != 1) {
        break;
      }
      const ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) {
        break;
      }
      data.append(buf, n);
      const size_t end = data.find("\r\n\r\n");
      if (end != std::string::npos && want == std::string::npos) {
        head_ = data.substr(0, end);
        size_t len = 0;
        for (absl::string_view line : absl::StrSplit(head_, "\r\n")) {
          if (absl::StartsWithIgnoreCase(line, "content-length:")) {
            absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(15)), &len);
          }
        }
        want = end + 4 + len;
      }
      if (want != std::string::npos && data.size() >= want) {
        body_ = data.substr(head_.size() + 4);
        break;
      }
    }
    if (status_ != 0) {
      const std::string resp = absl::StrCat(
          "HTTP/1.1 ", status_, " X\r\nContent-Length: 2\r\n"
          "Connection: close\r\n\r\nok");
      (void)!write(c, resp.data(), resp.size());
    } else {
      // Hold the connection until the client gives up.
      pollfd cp{c, POLLIN, 0};
      poll(&cp, 1, 10000);
    }
    close(c);
    return true;
  }

  int fd_ = -1;
  int port_ = 0;
  int status_;
  std::string head_;
  std::string body_;
  std::thread thread_;
};

TEST(CurlHttpSender, PostsHeadersAndBody) {
  TinyHttpServer server(200);
  CurlHttpSender sender;
  HttpRequest req;
  req.url = absl::StrCat("http://127.0.0.1:", server.port(), "/am/api/v2/alerts");
  req.headers = {{"Content-Type", "application/json"},
                 {"User-Agent", "vigil/0.1.0"}};
  req.body = R"([{"labels":{"alertname":"A"}}])";
  absl::StatusOr<int> status = sender.Post(req);
  server.Join();
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(*status, 200);
  EXPECT_THAT(server.head(), ::testing::StartsWith("POST /am/api/v2/alerts HTTP/1.1\r\n"));
  EXPECT_THAT(server.head(), HasSubstr("\r\nContent-Type: application/json"));
  EXPECT_THAT(server.head(), HasSubstr("\r\nUser-Agent: vigil/0.1.0"));
  EXPECT_THAT(server.head(), ::testing::Not(HasSubstr("Expect:")));
  EXPECT_EQ(server.body(), req.body);
}

TEST(CurlHttpSender, ReturnsNon2xxStatusAsValue) {
  TinyHttpServer server(503);
  CurlHttpSender sender;
  HttpRequest req;
  req.url = absl::StrCat("http://127.0.0.1:", server.port(), "/");
  absl::StatusOr<int> status = sender.Post(req);
  server.Join();
  ASSERT_THAT(status, IsOk());
  EXPECT_EQ(*status, 503);
}

TEST(CurlHttpSender, RefusedConnectionIsUnavailable) {
  // A port that was just free: bind, read it, close.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  CurlHttpSender sender;
  HttpRequest req;
  req.url = absl::StrCat("http://127.0.0.1:", ntohs(addr.sin_port), "/");
  EXPECT_THAT(sender.Post(req), StatusIs(absl::StatusCode::kUnavailable,
                                         HasSubstr("127.0.0.1")));
}

TEST(CurlHttpSender, SilentServerHitsTheTimeout) {
  TinyHttpServer server(0);
  CurlHttpSender sender;
  HttpRequest req;
  req.url = absl::StrCat("http://127.0.0.1:", server.port(), "/");
  req.body = "x";
  req.timeout = absl::Milliseconds(200);
  EXPECT_THAT(sender.Post(req),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
}

TEST(NotifierOverCurl, DeliversToARealSocket) {
  TinyHttpServer server(200);
  absl::StatusOr<AlertingConfig> cfg = ParseAlertingConfigYaml(absl::StrCat(
      "alertmanagers:\n  - path_prefix: /p\n    authorization: {credentials: t}\n"
      "    static_configs: [{targets: ['127.0.0.1:",
      server.port(), "']}]\n"));
  ASSERT_THAT(cfg, IsOk());
  prometheus::Registry registry;
  NotifierOptions opts;
  opts.external_labels = testing::L({{"replica", "r1"}});
  absl::StatusOr<std::unique_ptr<Notifier>> n = Notifier::Create(
      opts, *cfg, std::make_shared<CurlHttpSender>(), &registry);
  ASSERT_THAT(n, IsOk());
  (*n)->Send({testing::FiringAlert("Real")});
  (*n)->Stop(absl::Seconds(10));
  server.Join();
  EXPECT_THAT(server.head(), ::testing::StartsWith("POST /p/api/v2/alerts "));
  EXPECT_THAT(server.head(), HasSubstr("\r\nAuthorization: Bearer t"));
  const nlohmann::json body = nlohmann::json::parse(server.body());
  EXPECT_EQ(body[0]["labels"],
            nlohmann::json({{"alertname", "Real"}, {"replica", "r1"}}));
  EXPECT_EQ(testing::MetricValue(registry, "prometheus_notifications_sent_total"),
            1);
  EXPECT_EQ(testing::MetricValue(registry,
                                 "prometheus_notifications_errors_total"),
            0);
}

}  // namespace
}  // namespace vigil::rpc::notifier
