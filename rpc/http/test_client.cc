#include "rpc/http/test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace vigil::rpc::http {
namespace {
absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }
}  // namespace

TestClient::~TestClient() { Close(); }

void TestClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

absl::Status TestClient::Connect() {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return absl::InternalError("socket failed");
  timeval tv{30, 0};  // a hung server fails the test instead of hanging it
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    Close();
    return absl::UnavailableError(absl::StrCat("connect: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::Status TestClient::SendAll(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<ClientResponse> TestClient::ReadResponse() {
  auto fill = [this]() -> bool {
    char buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  };
  for (;;) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        Close();
        return absl::UnavailableError("connection closed before response");
      }
    }
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    ClientResponse resp;
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    // "HTTP/1.1 200 OK"
    if (status_line.size() < 12 ||
        !absl::SimpleAtoi(AV(std::string_view(status_line).substr(9, 3)),
                          &resp.status)) {
      Close();
      return absl::InternalError(absl::StrCat("bad status line: ", status_line));
    }
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string value = line.substr(colon + 1);
        absl::StripAsciiWhitespace(&value);
        resp.headers.Add(line.substr(0, colon), value);
      }
      pos = e + 2;
    }
    if (resp.status == 100) continue;  // interim answer to Expect
    size_t length = 0;
    std::string_view cl = resp.headers.Get("Content-Length");
    if (!cl.empty() && !absl::SimpleAtoi(AV(cl), &length)) {
      Close();
      return absl::InternalError("bad Content-Length");
    }
    while (buffer_.size() < length) {
      if (!fill()) {
        Close();
        return absl::UnavailableError("connection closed inside body");
      }
    }
    resp.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    if (absl::EqualsIgnoreCase(AV(resp.headers.Get("Connection")), "close")) {
      Close();
    }
    return resp;
  }
}

absl::StatusOr<ClientResponse> TestClient::Raw(std::string_view bytes) {
  if (fd_ < 0) {
    absl::Status st = Connect();
    if (!st.ok()) return st;
  }
  absl::Status st = SendAll(bytes);
  if (!st.ok()) {
    Close();
    return st;
  }
  return ReadResponse();
}

absl::StatusOr<ClientResponse> TestClient::Do(
    std::string_view method, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body) {
  std::string req = absl::StrCat(AV(method), " ", AV(target),
                                 " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  for (const auto& [k, v] : headers) absl::StrAppend(&req, k, ": ", v, "\r\n");
  if (!body.empty() || method == "POST" || method == "PUT") {
    absl::StrAppend(&req, "Content-Length: ", body.size(), "\r\n");
  }
  req.append("\r\n");
  req.append(body);
  return Raw(req);
}

absl::StatusOr<ClientResponse> HttpGet(int port, std::string_view target) {
  TestClient c(port);
  return c.Do("GET", target);
}

absl::StatusOr<ClientResponse> HttpPost(
    int port, std::string_view target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::string_view body) {
  TestClient c(port);
  return c.Do("POST", target, headers, body);
}

}  // namespace vigil::rpc::http
