// FakeHttpSender: an in-memory HttpSender for tests. Records every request,
// answers with scripted status codes, and can hold requests to a URL until
// the test releases them (a "slow" target without any sleeping).
#ifndef VIGIL_RPC_NOTIFIER_FAKE_HTTP_SENDER_H_
#define VIGIL_RPC_NOTIFIER_FAKE_HTTP_SENDER_H_

#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/notifier/http_sender.h"

namespace vigil::rpc::notifier {

// Thread-safe.
class FakeHttpSender final : public HttpSender {
 public:
  struct Recorded {
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    absl::Duration timeout;

    std::string Header(const std::string& name) const {
      for (const auto& [k, v] : headers) {
        if (k == name) {
          return v;
        }
      }
      return "";
    }
  };

  absl::StatusOr<int> Post(const HttpRequest& r) override {
    absl::MutexLock lock(&mu_);
    requests_.push_back({r.url, r.headers, r.body, r.timeout});
    const std::string url = r.url;
    auto released = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return held_.count(url) == 0;
    };
    mu_.Await(absl::Condition(&released));
    auto it = scripted_.find(url);
    if (it != scripted_.end() && !it->second.empty()) {
      absl::StatusOr<int> r2 = it->second.front();
      it->second.pop_front();
      return r2;
    }
    auto d = defaults_.find(url);
    return d != defaults_.end() ? d->second : absl::StatusOr<int>(200);
  }

  // Requests to `url` wait in Post until Release(url).
  void Hold(const std::string& url) {
    absl::MutexLock lock(&mu_);
    held_.insert(url);
  }
  void Release(const std::string& url) {
    absl::MutexLock lock(&mu_);
    held_.erase(url);
  }
  // The next answers for `url`, in order; then the default.
  void Script(const std::string& url, std::vector<absl::StatusOr<int>> answers) {
    absl::MutexLock lock(&mu_);
    for (auto& a : answers) {
      scripted_[url].push_back(std::move(a));
    }
  }
  void SetDefault(const std::string& url, absl::StatusOr<int> answer) {
    absl::MutexLock lock(&mu_);
    defaults_.insert_or_assign(url, std::move(answer));
  }

  // Waits (bounded) until `n` requests to `url` have arrived.
  bool WaitForRequests(const std::string& url, size_t n,
                       absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock lock(&mu_);
    auto cond = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return CountLocked(url) >= n;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&cond), timeout);
  }

  std::vector<Recorded> RequestsTo(const std::string& url) const {
    absl::MutexLock lock(&mu_);
    std::vector<Recorded> out;
    for (const Recorded& r : requests_) {
      if (r.url == url) {
        out.push_back(r);
      }
    }
    return out;
  }
  std::vector<Recorded> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  size_t CountLocked(const std::string& url) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_t n = 0;
    for (const Recorded& r : requests_) {
      n += r.url == url ? 1 : 0;
    }
    return n;
  }

  mutable absl::Mutex mu_;
  std::vector<Recorded> requests_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> held_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<absl::StatusOr<int>>> scripted_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::StatusOr<int>> defaults_ ABSL_GUARDED_BY(mu_);
};

// Holds requests to a URL for its lifetime. Declare it after the Notifier
// under test so that a failing test releases the hold before the Notifier's
// destructor waits for its threads.
class ScopedHold {
 public:
  ScopedHold(FakeHttpSender* sender, std::string url)
      : sender_(sender), url_(std::move(url)) {
    sender_->Hold(url_);
  }
  ~ScopedHold() { sender_->Release(url_); }
  ScopedHold(const ScopedHold&) = delete;
  ScopedHold& operator=(const ScopedHold&) = delete;

 private:
  FakeHttpSender* sender_;
  std::string url_;
};

}  // namespace vigil::rpc::notifier

#endif  // VIGIL_RPC_NOTIFIER_FAKE_HTTP_SENDER_H_
