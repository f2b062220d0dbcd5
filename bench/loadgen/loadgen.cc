#include "bench/loadgen/loadgen.h"

#include <curl/curl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/loadgen/encoder.h"
#include "bench/loadgen/series.h"
#include "nlohmann/json.hpp"

namespace vigil::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

size_t CollectBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<std::string*>(user);
  const size_t n = size * nmemb;
  if (body->size() < 512) {
    body->append(data, std::min(n, 512 - body->size()));
  }
  return n;
}

// What one connection accumulates; merged after the run.
struct WorkerStats {
  int64_t samples_acked = 0;
  int64_t requests = 0;
  int64_t retries = 0;
  int64_t failed_requests = 0;
  int64_t request_bytes = 0;
  double encode_seconds = 0;
  std::map<int, int64_t> status_counts;
  std::vector<float> latencies_ms;
  std::string first_error;
};

// One keep-alive connection: a thread-confined libcurl easy handle.
class Connection {
 public:
  explicit Connection(const LoadOptions& options) : options_(options) {
    curl_ = curl_easy_init();
    headers_ = curl_slist_append(headers_, "Content-Encoding: snappy");
    headers_ =
        curl_slist_append(headers_, "Content-Type: application/x-protobuf");
    headers_ = curl_slist_append(headers_,
                                 "X-Prometheus-Remote-Write-Version: 0.1.0");
    headers_ = curl_slist_append(headers_, "User-Agent: vigil-loadgen");
    // libcurl waits for "100 Continue" on large bodies unless told not to.
    headers_ = curl_slist_append(headers_, "Expect:");
    if (curl_ != nullptr) {
      curl_easy_setopt(curl_, CURLOPT_URL, options_.url.c_str());
      curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
      curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      curl_easy_setopt(curl_, CURLOPT_TCP_NODELAY, 1L);
      curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS,
                       static_cast<long>(
                           absl::ToInt64Milliseconds(options_.request_timeout)));
      curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, CollectBody);
      curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response_);
    }
  }
  ~Connection() {
    if (curl_ != nullptr) {
      curl_easy_cleanup(curl_);
    }
    curl_slist_free_all(headers_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool ok() const { return curl_ != nullptr; }

  // Sends `body` until it is acknowledged, rejected for good, or retries run
  // out. Returns true when acknowledged.
  bool Send(const std::string& body, int64_t samples, WorkerStats* stats) {
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body.size()));
    absl::Duration backoff = options_.initial_backoff;
    for (int attempt = 0;; ++attempt) {
      response_.clear();
      const auto t0 = SteadyClock::now();
      const CURLcode rc = curl_easy_perform(curl_);
      stats->latencies_ms.push_back(static_cast<float>(SecondsSince(t0) * 1e3));
      ++stats->requests;
      long status = 0;
      if (rc == CURLE_OK) {
        curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
      }
      ++stats->status_counts[static_cast<int>(status)];
      if (status >= 200 && status < 300) {
        stats->samples_acked += samples;
        stats->request_bytes += static_cast<int64_t>(body.size());
        return true;
      }
      if (stats->first_error.empty()) {
        stats->first_error =
            rc != CURLE_OK
                ? absl::StrCat("transport: ", curl_easy_strerror(rc))
                : absl::StrCat("HTTP ", status, ": ", response_);
      }
      const bool retryable = status == 0 || status == 429 || status >= 500;
      if (!retryable || attempt >= options_.max_retries) {
        ++stats->failed_requests;
        return false;
      }
      ++stats->retries;
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(1));
    }
  }

 private:
  const LoadOptions& options_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string response_;
};

double Percentile(const std::vector<float>& sorted, double q) {
  if (sorted.empty()) {
    return 0;
  }
  const size_t i = static_cast<size_t>(
      std::min<double>(sorted.size() - 1, std::ceil(q * sorted.size()) - 1));
  return sorted[i];
}

}  // namespace

std::string LoadReport::ToJson() const {
  nlohmann::json j;
  j["series"] = series;
  j["rounds_completed"] = rounds_completed;
  j["samples_acked"] = samples_acked;
  j["requests"] = requests;
  j["retries"] = retries;
  j["failed_requests"] = failed_requests;
  nlohmann::json codes = nlohmann::json::object();
  for (const auto& [code, n] : status_counts) {
    codes[std::to_string(code)] = n;
  }
  j["status_counts"] = codes;
  j["seconds"] = seconds;
  j["samples_per_second"] = samples_per_second;
  j["requests_per_second"] = requests_per_second;
  j["latency_ms"] = {{"p50", latency_p50_ms},
                     {"p90", latency_p90_ms},
                     {"p99", latency_p99_ms},
                     {"max", latency_max_ms}};
  j["encode_seconds"] = encode_seconds;
  j["loadgen_cpu_seconds"] = loadgen_cpu_seconds;
  j["request_bytes"] = request_bytes;
  j["first_error"] = first_error;
  return j.dump(2);
}

std::string LoadReport::ToText() const {
  std::string codes;
  for (const auto& [code, n] : status_counts) {
    absl::StrAppend(&codes, codes.empty() ? "" : " ", code, ":", n);
  }
  return absl::StrFormat(
      "series=%d rounds=%d samples=%d in %.2fs\n"
      "samples/s=%.0f requests/s=%.1f bytes/sample(wire)=%.2f\n"
      "latency ms p50=%.2f p90=%.2f p99=%.2f max=%.2f\n"
      "status {%s} retries=%d failed=%d\n"
      "loadgen cpu=%.2fs (encode %.2fs)%s%s\n",
      series, rounds_completed, samples_acked, seconds, samples_per_second,
      requests_per_second,
      samples_acked > 0 ? static_cast<double>(request_bytes) / samples_acked
                        : 0.0,
      latency_p50_ms, latency_p90_ms, latency_p99_ms, latency_max_ms, codes,
      retries, failed_requests, loadgen_cpu_seconds, encode_seconds,
      first_error.empty() ? "" : "\nfirst error: ", first_error);
}

absl::StatusOr<LoadReport> RunLoad(const LoadOptions& options) {
  if (options.url.empty()) {
    return absl::InvalidArgumentError("--url is required");
  }
  if (options.series <= 0 || options.rounds <= 0 || options.batch <= 0 ||
      options.connections <= 0) {
    return absl::InvalidArgumentError(
        "series, rounds, batch and connections must be positive");
  }
  if (options.scrape_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("scrape interval must be positive");
  }
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
    return absl::InternalError("curl_global_init failed");
  }

  SeriesSet series({.series = options.series, .seed = options.seed});
  BatchEncoder encoder(&series, static_cast<size_t>(options.batch));
  const int nconn = options.connections;

  // Round state, written by the main thread before the start barrier.
  int64_t round = 0;
  int64_t round_ts = 0;
  std::atomic<size_t> next_batch{0};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> failed{0};
  std::barrier sync(nconn + 1);

  std::vector<WorkerStats> stats(nconn);
  std::vector<std::thread> workers;
  workers.reserve(nconn);
  std::atomic<int> broken_connections{0};
  for (int w = 0; w < nconn; ++w) {
    workers.emplace_back([&, w] {
      Connection conn(options);
      if (!conn.ok()) {
        broken_connections.fetch_add(1);
      }
      WorkerStats& st = stats[w];
      std::string scratch, body;
      for (;;) {
        sync.arrive_and_wait();  // Round start.
        if (stop.load()) {
          return;
        }
        for (;;) {
          const size_t b = next_batch.fetch_add(1);
          if (b >= encoder.num_batches() || !conn.ok() ||
              failed.load() > options.max_failed_requests) {
            break;
          }
          const auto t0 = SteadyClock::now();
          encoder.EncodeCompressed(b, round, round_ts, &scratch, &body);
          st.encode_seconds += SecondsSince(t0);
          if (!conn.Send(body, static_cast<int64_t>(encoder.batch_series(b)),
                         &st)) {
            failed.fetch_add(1);
          }
        }
        sync.arrive_and_wait();  // Round done.
      }
    });
  }

  const double cpu0 = ProcessCpuSeconds();
  const auto t0 = SteadyClock::now();
  const absl::Time wall0 = absl::Now();
  int64_t completed = 0;
  bool abandoned = false;
  for (int64_t r = 0; r < options.rounds; ++r) {
    if (options.realtime) {
      absl::SleepFor(wall0 + r * options.scrape_interval - absl::Now());
    }
    if (r > 0 && options.churn > 0) {
      for (const auto& [lo, hi] :
           series.Churn(r, static_cast<size_t>(options.churn))) {
        encoder.Refresh(lo, hi);
      }
    }
    round = r;
    round_ts = absl::ToUnixMillis(options.start + r * options.scrape_interval);
    next_batch.store(0);
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    if (failed.load() > options.max_failed_requests ||
        broken_connections.load() > 0) {
      abandoned = true;
      break;
    }
    ++completed;
    if (options.progress &&
        (options.rounds < 10 || (r + 1) % (options.rounds / 10) == 0)) {
      std::fprintf(stderr, "round %lld/%lld done after %.1fs\n",
                   static_cast<long long>(r + 1),
                   static_cast<long long>(options.rounds), SecondsSince(t0));
    }
  }
  const double seconds = SecondsSince(t0);
  stop.store(true);
  sync.arrive_and_wait();
  for (auto& t : workers) {
    t.join();
  }

  LoadReport report;
  report.series = options.series;
  report.rounds_completed = completed;
  report.seconds = seconds;
  report.loadgen_cpu_seconds = ProcessCpuSeconds() - cpu0;
  std::vector<float> latencies;
  for (WorkerStats& st : stats) {
    report.samples_acked += st.samples_acked;
    report.requests += st.requests;
    report.retries += st.retries;
    report.failed_requests += st.failed_requests;
    report.request_bytes += st.request_bytes;
    report.encode_seconds += st.encode_seconds;
    for (const auto& [code, n] : st.status_counts) {
      report.status_counts[code] += n;
    }
    latencies.insert(latencies.end(), st.latencies_ms.begin(),
                     st.latencies_ms.end());
    if (report.first_error.empty()) {
      report.first_error = st.first_error;
    }
  }
  std::sort(latencies.begin(), latencies.end());
  report.latency_p50_ms = Percentile(latencies, 0.50);
  report.latency_p90_ms = Percentile(latencies, 0.90);
  report.latency_p99_ms = Percentile(latencies, 0.99);
  report.latency_max_ms = latencies.empty() ? 0 : latencies.back();
  if (seconds > 0) {
    report.samples_per_second = report.samples_acked / seconds;
    report.requests_per_second = report.requests / seconds;
  }
  if (broken_connections.load() > 0) {
    return absl::InternalError("could not create a libcurl handle");
  }
  if (abandoned) {
    return absl::UnavailableError(absl::StrCat(
        "gave up after ", report.failed_requests,
        " failed requests in round ", completed, "; first error: ",
        report.first_error, "\n", report.ToText()));
  }
  return report;
}

}  // namespace vigil::bench
