// Helper for alertmanager_integration_test.sh: sends alerts to a real
// Alertmanager through Notifier + CurlHttpSender, and checks what
// Alertmanager reports back from GET /api/v2/alerts.
//
//   tool free-port
//   tool send  <am base url> <firing|resolved> <starts_at_unix_ms>
//   tool check <am base url> <firing|resolved> <starts_at_unix_ms>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "rpc/notifier/notifier.h"
#include "rpc/notifier/payload.h"

namespace vigil::rpc::notifier {
namespace {

constexpr char kAlertName[] = "VigilIntegration";

int Fail(const std::string& msg) {
  std::fprintf(stderr, "FAIL: %s\n", msg.c_str());
  return 1;
}

std::vector<engine::Alert> Alerts(bool firing, absl::Time starts) {
  std::vector<engine::Alert> out;
  for (const char* inst : {"i1", "i2"}) {
    engine::Alert a;
    a.labels = *storage::Labels::FromUnsorted(
        {{"alertname", kAlertName}, {"instance", inst}, {"severity", "page"}});
    a.annotations = *storage::Labels::FromUnsorted(
        {{"summary", absl::StrCat("instance ", inst, " is slow")}});
    a.starts_at = starts;
    a.generator_url = "http://vigil.test/graph";
    if (firing) {
      a.state = engine::AlertState::kFiring;
      a.ends_at = absl::Now() + absl::Hours(1);
    } else {
      a.state = engine::AlertState::kInactive;
      a.resolved_at = absl::Now() - absl::Seconds(1);
      a.ends_at = a.resolved_at;
    }
    out.push_back(std::move(a));
  }
  return out;
}

int Send(const std::string& base, bool firing, absl::Time starts) {
  const std::string hostport = base.substr(base.find("://") + 3);
  absl::StatusOr<AlertingConfig> cfg = ParseAlertingConfigYaml(absl::StrCat(
      "alertmanagers:\n  - timeout: 5s\n    static_configs: [{targets: ['",
      hostport, "']}]\n"));
  if (!cfg.ok()) {
    return Fail(cfg.status().ToString());
  }
  prometheus::Registry registry;
  NotifierOptions opts;
  opts.external_labels = *storage::Labels::FromUnsorted({{"source", "vigil"}});
  absl::StatusOr<std::unique_ptr<Notifier>> n = Notifier::Create(
      opts, *cfg, std::make_shared<CurlHttpSender>(), &registry);
  if (!n.ok()) {
    return Fail(n.status().ToString());
  }
  (*n)->Send(Alerts(firing, starts));
  (*n)->Stop(absl::Seconds(20));
  if ((*n)->dropped() != 0) {
    return Fail(absl::StrCat("notifier dropped ", (*n)->dropped(), " alerts"));
  }
  std::printf("sent %s alerts to %s\n", firing ? "firing" : "resolved",
              (*n)->AlertmanagerUrls()[0].c_str());
  return 0;
}

size_t Append(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

int Check(const std::string& base, bool firing, absl::Time starts) {
  CURL* curl = curl_easy_init();
  std::string body;
  const std::string url = base + "/api/v2/alerts";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return Fail(absl::StrCat("GET ", url, ": ", curl_easy_strerror(rc)));
  }
  const nlohmann::json alerts = nlohmann::json::parse(body, nullptr, false);
  if (!alerts.is_array()) {
    return Fail("GET /api/v2/alerts did not return an array: " + body);
  }
  int active = 0;
  for (const nlohmann::json& a : alerts) {
    if (a["labels"].value("alertname", "") != kAlertName) {
      continue;
    }
    if (a["status"].value("state", "") != "active") {
      continue;
    }
    ++active;
    const nlohmann::json& l = a["labels"];
    const std::string inst = l.value("instance", "");
    const nlohmann::json want_labels = {{"alertname", kAlertName},
                                        {"instance", inst},
                                        {"severity", "page"},
                                        {"source", "vigil"}};
    if (l != want_labels) {
      return Fail("labels differ: " + l.dump());
    }
    if (a["annotations"].value("summary", "") !=
        absl::StrCat("instance ", inst, " is slow")) {
      return Fail("annotations differ: " + a["annotations"].dump());
    }
    if (a.value("startsAt", "") != FormatRfc3339Millis(starts)) {
      return Fail(absl::StrCat("startsAt ", a.value("startsAt", ""),
                               " want ", FormatRfc3339Millis(starts)));
    }
    if (a.value("generatorURL", "") != "http://vigil.test/graph") {
      return Fail("generatorURL differs: " + a.dump());
    }
  }
  const int want = firing ? 2 : 0;
  if (active != want) {
    return Fail(absl::StrCat(active, " active alerts, want ", want, ": ", body));
  }
  std::printf("alertmanager shows %d active %s alerts as expected\n", active,
              kAlertName);
  return 0;
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Fail("bind");
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("%d\n", ntohs(addr.sin_port));
  close(fd);
  return 0;
}

int Main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 1 && args[0] == "free-port") {
    return FreePort();
  }
  int64_t ms = 0;
  if (args.size() != 4 || (args[2] != "firing" && args[2] != "resolved") ||
      !absl::SimpleAtoi(args[3], &ms)) {
    return Fail("usage: tool free-port | (send|check) URL firing|resolved MS");
  }
  const bool firing = args[2] == "firing";
  const absl::Time starts = absl::FromUnixMillis(ms);
  if (args[0] == "send") {
    return Send(args[1], firing, starts);
  }
  if (args[0] == "check") {
    return Check(args[1], firing, starts);
  }
  return Fail("unknown command " + args[0]);
}

}  // namespace
}  // namespace vigil::rpc::notifier

int main(int argc, char** argv) {
  return vigil::rpc::notifier::Main(argc, argv);
}
