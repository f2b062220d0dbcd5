#include "bench/loadgen/loadgen.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/proto/remote.pb.h"
#include "snappy.h"

namespace vigil::bench {
namespace {

// A minimal HTTP/1.1 keep-alive remote-write receiver on 127.0.0.1:0 that
// decodes every body and answers 503 to every `fail_every`-th request.
class FakeReceiver {
 public:
  explicit FakeReceiver(int fail_every) : fail_every_(fail_every) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }
  ~FakeReceiver() {
    shutdown(listen_fd_, SHUT_RDWR);
    close(listen_fd_);
    acceptor_.join();
    for (auto& t : conns_) {
      t.join();
    }
  }

  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", port_, "/api/v1/write");
  }

  struct Seen {
    int64_t timestamp;
    int series;
  };
  std::vector<Seen> accepted() {
    absl::MutexLock l(&mu_);
    return accepted_;
  }
  int failed() {
    absl::MutexLock l(&mu_);
    return failed_;
  }
  std::vector<std::string> errors() {
    absl::MutexLock l(&mu_);
    return errors_;
  }

 private:
  void AcceptLoop() {
    for (int i = 0; i < 64; ++i) {  // Bounded: the client opens a few.
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) {
        return;
      }
      conns_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    std::string buf;
    char chunk[65536];
    for (;;) {
      size_t header_end;
      while ((header_end = buf.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0) {
          close(fd);
          return;
        }
        buf.append(chunk, n);
      }
      std::string headers = buf.substr(0, header_end);
      std::transform(headers.begin(), headers.end(), headers.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      size_t length = 0;
      const size_t cl = headers.find("content-length:");
      if (cl != std::string::npos) {
        const size_t eol = headers.find("\r\n", cl);
        std::string v = headers.substr(cl + 15, eol == std::string::npos
                                                     ? std::string::npos
                                                     : eol - cl - 15);
        absl::SimpleAtoi(absl::StripAsciiWhitespace(v), &length);
      }
      while (buf.size() < header_end + 4 + length) {
        const ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n <= 0) {
          close(fd);
          return;
        }
        buf.append(chunk, n);
      }
      const std::string body = buf.substr(header_end + 4, length);
      buf.erase(0, header_end + 4 + length);
      const std::string reply = Handle(headers, body);
      if (write(fd, reply.data(), reply.size()) !=
          static_cast<ssize_t>(reply.size())) {
        close(fd);
        return;
      }
    }
  }

  std::string Handle(const std::string& headers, const std::string& body) {
    absl::MutexLock l(&mu_);
    ++requests_;
    if (fail_every_ > 0 && requests_ % fail_every_ == 0) {
      ++failed_;
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";
    }
    std::string raw;
    prompb::WriteRequest req;
    if (headers.find("content-encoding: snappy") == std::string::npos ||
        !snappy::Uncompress(body.data(), body.size(), &raw) ||
        !req.ParseFromString(raw) || req.timeseries_size() == 0) {
      errors_.push_back("undecodable request");
      return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    }
    const int64_t ts = req.timeseries(0).samples(0).timestamp();
    for (const auto& s : req.timeseries()) {
      if (s.samples_size() != 1 || s.samples(0).timestamp() != ts) {
        errors_.push_back("mixed timestamps in one request");
      }
    }
    accepted_.push_back({ts, req.timeseries_size()});
    return "HTTP/1.1 204 No Content\r\n\r\n";
  }

  const int fail_every_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::vector<std::thread> conns_;  // Only touched by the acceptor, then ~.
  absl::Mutex mu_;
  int requests_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Seen> accepted_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
};

TEST(RunLoad, SendsEveryRoundInOrderAndRetries503) {
  FakeReceiver receiver(/*fail_every=*/7);
  LoadOptions o;
  o.url = receiver.url();
  o.series = 5000;
  o.rounds = 6;
  o.batch = 700;
  o.connections = 3;
  o.initial_backoff = absl::ZeroDuration();
  o.start = absl::FromUnixSeconds(1700000000);
  o.scrape_interval = absl::Seconds(15);
  auto report = RunLoad(o);
  ASSERT_TRUE(report.ok()) << report.status();

  EXPECT_EQ(report->rounds_completed, 6);
  EXPECT_EQ(report->samples_acked, 5000 * 6);
  EXPECT_EQ(report->failed_requests, 0);
  EXPECT_GT(receiver.failed(), 0);
  EXPECT_EQ(report->retries, receiver.failed());
  EXPECT_EQ(report->status_counts[503], receiver.failed());
  EXPECT_EQ(report->status_counts[204], 8 * 6);  // ceil(5000/700) per round.
  EXPECT_EQ(report->requests, 8 * 6 + receiver.failed());
  EXPECT_THAT(receiver.errors(), ::testing::IsEmpty());

  // Arrival order: a round's samples only after all of the previous round.
  std::map<int64_t, int> per_round;
  int64_t newest = 0;
  for (const auto& s : receiver.accepted()) {
    EXPECT_GE(s.timestamp, newest) << "out-of-order round";
    newest = std::max(newest, s.timestamp);
    per_round[s.timestamp] += s.series;
  }
  ASSERT_EQ(per_round.size(), 6u);
  int64_t want_ts = 1700000000000;
  for (const auto& [ts, n] : per_round) {
    EXPECT_EQ(ts, want_ts);
    EXPECT_EQ(n, 5000);
    want_ts += 15000;
  }
  EXPECT_GT(report->latency_p99_ms, 0);
  EXPECT_GE(report->latency_max_ms, report->latency_p50_ms);
}

TEST(RunLoad, GivesUpWhenTargetIsUnreachable) {
  // A port nobody listens on: bind to 0, close, use its number.
  int port = 0;
  {
    FakeReceiver probe(0);
    port = std::stoi(probe.url().substr(17));
  }
  LoadOptions o;
  o.url = absl::StrCat("http://127.0.0.1:", port, "/api/v1/write");
  o.series = 10;
  o.rounds = 3;
  o.connections = 1;
  o.max_retries = 1;
  o.max_failed_requests = 0;
  o.initial_backoff = absl::ZeroDuration();
  auto report = RunLoad(o);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kUnavailable)
      << report.status();
}

TEST(RunLoad, RejectsBadOptions) {
  LoadOptions o;
  EXPECT_EQ(RunLoad(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.url = "http://127.0.0.1:1/api/v1/write";
  o.connections = 0;
  EXPECT_EQ(RunLoad(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vigil::bench
