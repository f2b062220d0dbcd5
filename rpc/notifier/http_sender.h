// HttpSender: the one HTTP call the notifier makes (a POST with a deadline),
// behind an interface so tests substitute a fake; CurlHttpSender is the real
// one, over libcurl.
#ifndef VIGIL_RPC_NOTIFIER_HTTP_SENDER_H_
#define VIGIL_RPC_NOTIFIER_HTTP_SENDER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "rpc/notifier/config.h"

namespace vigil::rpc::notifier {

struct HttpRequest {
  std::string url;
  // Sent as given, in order ("Content-Type", "application/json").
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  absl::Duration timeout = absl::Seconds(10);
  // TLS and redirect settings of the target; null means defaults.
  const HttpClientConfig* client = nullptr;
};

// Posts requests. Implementations are thread-safe: the notifier calls Post
// from several sender threads at once.
class HttpSender {
 public:
  virtual ~HttpSender() = default;
  // The HTTP status code of the response (any code, 2xx or not), or
  // Unavailable / DeadlineExceeded when no response came back in time.
  virtual absl::StatusOr<int> Post(const HttpRequest& request) = 0;
};

// libcurl easy handles, pooled so that connections to a target are reused.
// Thread-safe.
class CurlHttpSender final : public HttpSender {
 public:
  CurlHttpSender();
  ~CurlHttpSender() override;
  CurlHttpSender(const CurlHttpSender&) = delete;
  CurlHttpSender& operator=(const CurlHttpSender&) = delete;

  absl::StatusOr<int> Post(const HttpRequest& request) override;

 private:
  void* Acquire();
  void Release(void* handle);

  absl::Mutex mu_;
  std::vector<void*> idle_ ABSL_GUARDED_BY(mu_);  // CURL* handles
};

}  // namespace vigil::rpc::notifier

#endif  // VIGIL_RPC_NOTIFIER_HTTP_SENDER_H_
