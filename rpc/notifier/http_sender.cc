#include "rpc/notifier/http_sender.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vigil::rpc::notifier {
namespace {

// Keeps the pool bounded: idle handles beyond this are freed.
constexpr size_t kMaxIdleHandles = 16;

void GlobalInit() {
  static std::once_flag once;
  // curl_global_init is not thread-safe; run it once before any handle.
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Go's tls.Config.ServerName: verify (and send SNI for) `server_name` while
// still connecting to the URL's host. libcurl has no such option, so the URL's
// host becomes `server_name`, CURLOPT_CONNECT_TO sends it to the real address
// and an explicit Host header keeps what the server sees unchanged.
struct ServerNameOverride {
  std::string url;
  std::string connect_to;
  std::string host_header;
};

bool OverrideServerName(const std::string& url, const std::string& server_name,
                        ServerNameOverride* out) {
  CURLU* u = curl_url();
  if (u == nullptr) {
    return false;
  }
  bool ok = false;
  char* host = nullptr;
  char* port = nullptr;
  char* rewritten = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
          CURLUE_OK) {
    char* explicit_port = nullptr;
    const bool has_port =
        curl_url_get(u, CURLUPART_PORT, &explicit_port, 0) == CURLUE_OK;
    out->host_header = has_port ? absl::StrCat(host, ":", explicit_port)
                                : std::string(host);
    curl_free(explicit_port);
    out->connect_to = absl::StrCat(server_name, ":", port, ":", host, ":", port);
    if (curl_url_set(u, CURLUPART_HOST, server_name.c_str(), 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &rewritten, 0) == CURLUE_OK) {
      out->url = rewritten;
      ok = true;
    }
  }
  curl_free(host);
  curl_free(port);
  curl_free(rewritten);
  curl_url_cleanup(u);
  return ok;
}

size_t DiscardBody(char* /*ptr*/, size_t size, size_t nmemb, void* /*user*/) {
  return size * nmemb;
}

}  // namespace

CurlHttpSender::CurlHttpSender() { GlobalInit(); }

CurlHttpSender::~CurlHttpSender() {
  absl::MutexLock lock(&mu_);
  for (void* h : idle_) {
    curl_easy_cleanup(static_cast<CURL*>(h));
  }
  idle_.clear();
}

void* CurlHttpSender::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void CurlHttpSender::Release(void* handle) {
  {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < kMaxIdleHandles) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

absl::StatusOr<int> CurlHttpSender::Post(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(Acquire());
  if (curl == nullptr) {
    return absl::InternalError("curl_easy_init failed");
  }
  curl_easy_reset(curl);  // keeps the connection cache, drops old options
  struct curl_slist* headers = nullptr;
  struct curl_slist* connect_to = nullptr;
  std::string url = request.url;
  const HttpClientConfig* c = request.client;
  if (c != nullptr && !c->tls.server_name.empty() &&
      request.url.rfind("https://", 0) == 0) {
    ServerNameOverride o;
    if (OverrideServerName(request.url, c->tls.server_name, &o)) {
      url = o.url;
      connect_to = curl_slist_append(connect_to, o.connect_to.c_str());
      headers = curl_slist_append(headers, absl::StrCat("Host: ", o.host_header).c_str());
    }
  }
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  // libcurl would otherwise send "Expect: 100-continue" for large bodies and
  // wait for an answer Alertmanager never sends.
  headers = curl_slist_append(headers, "Expect:");
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (connect_to != nullptr) {
    curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to);
  }
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads + timeouts
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  const long timeout_ms =
      std::max<long>(1, static_cast<long>(absl::ToInt64Milliseconds(request.timeout)));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  if (c != nullptr) {
    if (c->follow_redirects) {
      curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
      // Keep the POST a POST across 301/302/303, as Go's client does not
      // (it turns them into GET); Alertmanager never redirects in practice.
      curl_easy_setopt(curl, CURLOPT_POSTREDIR, CURL_REDIR_POST_ALL);
    }
    const TlsConfig& tls = c->tls;
    if (!tls.ca_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_CAINFO, tls.ca_file.c_str());
    }
    if (!tls.cert_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLCERT, tls.cert_file.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLKEY, tls.key_file.c_str());
    }
    if (tls.insecure_skip_verify) {
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  }
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  }
  curl_slist_free_all(headers);
  curl_slist_free_all(connect_to);
  // Don't let the pooled handle point at our stack buffer.
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  Release(curl);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return absl::DeadlineExceededError(
        absl::StrCat("POST ", request.url, ": ",
                     errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  if (rc != CURLE_OK) {
    return absl::UnavailableError(
        absl::StrCat("POST ", request.url, ": ",
                     errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  return static_cast<int>(status);
}

}  // namespace vigil::rpc::notifier
