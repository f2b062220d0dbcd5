#include "rpc/server/server.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/http/test_client.h"
#include "rpc/remote_write/testutil.h"
#include "rpc/server/config.h"
#include "rpc/server/flags.h"
#include "rpc/server/subcommands.h"
#include "storage/base/status_matchers.h"

namespace vigil::rpc::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::vector<std::pair<std::string, std::string>> kWriteHeaders = {
    {"Content-Encoding", "snappy"},
    {"Content-Type", "application/x-protobuf"},
    {"X-Prometheus-Remote-Write-Version", "0.1.0"}};

struct TestServer {
  SimulatedClock clock{absl::FromUnixMillis(1700000060000)};
  std::unique_ptr<Server> server;

  TestServer() {
    auto flags = ParseFlags({"--web.listen-address=127.0.0.1:0", "--web.threads=2"});
    EXPECT_THAT(flags.status(), IsOk());
    auto config = ParseConfig("global:\n  evaluation_interval: 15s\nrule_files: []\n",
                              "in-test.yml");
    EXPECT_THAT(config.status(), IsOk());
    auto s = Server::Start(*flags, *config, &clock);
    EXPECT_THAT(s.status(), IsOk());
    if (s.ok()) server = *std::move(s);
  }
  int port() const { return server->port(); }
};

TEST(Server, IngestsAndExportsExactly) {
  TestServer t;
  ASSERT_NE(t.server, nullptr);
  http::TestClient client(t.port());
  // The golden "simple" request, built as a sender builds it.
  std::string body;
  for (const auto& [name, req] : remote_write::GoldenRequests()) {
    if (name == "simple") body = remote_write::EncodeBody(req);
  }
  ASSERT_FALSE(body.empty());
  auto w = client.Do("POST", "/api/v1/write", kWriteHeaders, body);
  ASSERT_THAT(w.status(), IsOk());
  EXPECT_EQ(w->status, 204) << w->body;

  auto e = client.Do("GET", "/api/v1/export?match[]=%7B__name__%3D~%22up%7Chttp.*%22%7D");
  ASSERT_THAT(e.status(), IsOk());
  EXPECT_EQ(e->status, 200) << e->body;
  EXPECT_EQ(e->body,
            "{\"metric\":{\"__name__\":\"http_requests_total\",\"code\":\"200\","
            "\"job\":\"api\"},\"values\":[1027,1040.5],\"timestamps\":"
            "[1700000000000,1700000015000]}\n"
            "{\"metric\":{\"__name__\":\"up\",\"instance\":\"localhost:9100\","
            "\"job\":\"node\"},\"values\":[1,1,0],\"timestamps\":[1700000000000,"
            "1700000015000,1700000030000]}\n");
  // A window: start/end in seconds, both ends inclusive.
  auto e2 = client.Do("GET", "/api/v1/export?match[]=up&start=1700000015&end=1700000015");
  ASSERT_THAT(e2.status(), IsOk());
  EXPECT_THAT(e2->body, HasSubstr("\"values\":[1],\"timestamps\":[1700000015000]"));

  auto series = client.Do("GET", "/api/v1/series?match[]=up");
  ASSERT_THAT(series.status(), IsOk());
  EXPECT_EQ(series->body,
            "{\"status\":\"success\",\"data\":[{\"__name__\":\"up\",\"instance\":"
            "\"localhost:9100\",\"job\":\"node\"}]}");
  auto labels = client.Do("GET", "/api/v1/labels");
  ASSERT_THAT(labels.status(), IsOk());
  EXPECT_EQ(labels->body,
            "{\"status\":\"success\",\"data\":[\"__name__\",\"code\",\"instance\",\"job\"]}");
  auto values = client.Do("GET", "/api/v1/label/job/values?match[]=up");
  ASSERT_THAT(values.status(), IsOk());
  EXPECT_EQ(values->body, "{\"status\":\"success\",\"data\":[\"node\"]}");
  auto form = client.Do("POST", "/api/v1/series",
                        {{"Content-Type", "application/x-www-form-urlencoded"}},
                        "match%5B%5D=http_requests_total");
  ASSERT_THAT(form.status(), IsOk());
  EXPECT_THAT(form->body, HasSubstr("\"code\":\"200\""));
  auto bad = client.Do("GET", "/api/v1/series");
  ASSERT_THAT(bad.status(), IsOk());
  EXPECT_EQ(bad->status, 400);
  EXPECT_THAT(bad->body, HasSubstr("\"errorType\":\"bad_data\""));
  auto bad_sel = client.Do("GET", "/api/v1/series?match[]=up{");
  ASSERT_THAT(bad_sel.status(), IsOk());
  EXPECT_EQ(bad_sel->status, 400);

  auto m = client.Do("GET", "/metrics");
  ASSERT_THAT(m.status(), IsOk());
  EXPECT_EQ(m->status, 200);
  EXPECT_EQ(m->headers.Get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  for (const char* want :
       {"vigil_remote_write_samples_appended_total 5\n",
        "vigil_remote_write_requests_total{code=\"204\"} 1\n",
        "vigil_head_series 2\n", "vigil_head_samples 5\n",
        "# TYPE process_cpu_seconds_total counter\n", "process_resident_memory_bytes ",
        "process_start_time_seconds ", "process_open_fds ", "vigil_build_info{",
        "# TYPE vigil_rule_window_cache_hits_total counter\n",
        "vigil_rule_window_cache_bytes ",
        "# TYPE vigil_rule_group_iterations_missed_total counter\n",
        "# TYPE vigil_rule_group_last_duration_seconds gauge\n"}) {
    EXPECT_THAT(m->body, HasSubstr(want));
  }
}

TEST(Server, HealthReadyAndErrors) {
  TestServer t;
  ASSERT_NE(t.server, nullptr);
  struct Case {
    std::string method, target;
    int status;
    std::string body;
  };
  for (const Case& tc : std::vector<Case>{
           {"GET", "/-/healthy", 200, "vigil is Healthy.\n"},
           {"GET", "/-/ready", 200, "vigil is Ready.\n"},
           {"GET", "/nope", 404, "404 page not found\n"},
           {"GET", "/api/v1/write", 405, "method not allowed\n"},
           {"GET", "/api/v1/label/job/nonsense", 404, "404 page not found\n"},
       }) {
    http::TestClient client(t.port());
    auto r = client.Do(tc.method, tc.target);
    ASSERT_THAT(r.status(), IsOk()) << tc.target;
    EXPECT_EQ(r->status, tc.status) << tc.target;
    EXPECT_EQ(r->body, tc.body) << tc.target;
  }
  auto b = http::HttpGet(t.port(), "/api/v1/status/buildinfo");
  ASSERT_THAT(b.status(), IsOk());
  EXPECT_THAT(b->body, HasSubstr("{\"status\":\"success\",\"data\":{\"version\":\"0.1.0\""));
  auto cfg = http::HttpGet(t.port(), "/api/v1/status/config");
  ASSERT_THAT(cfg.status(), IsOk());
  EXPECT_EQ(cfg->body,
            "{\"status\":\"success\",\"data\":{\"yaml\":\"global:\\n  "
            "evaluation_interval: 15s\\nrule_files: []\\n\"}}");
  auto fl = http::HttpGet(t.port(), "/api/v1/status/flags");
  ASSERT_THAT(fl.status(), IsOk());
  EXPECT_THAT(fl->body, HasSubstr("\"storage.retention\":\"2h\""));
  EXPECT_THAT(fl->body, HasSubstr("\"web.listen-address\":\"127.0.0.1:0\""));
  // Wrong encoding reaches the write handler's 415 through the real server.
  auto w = http::HttpPost(t.port(), "/api/v1/write", {{"Content-Encoding", "gzip"}}, "x");
  ASSERT_THAT(w.status(), IsOk());
  EXPECT_EQ(w->status, 415);
}

TEST(Server, SelfScrapeAppendsOwnMetrics) {
  TestServer t;
  ASSERT_NE(t.server, nullptr);
  t.server->SelfScrapeOnce();
  auto e = http::HttpGet(t.port(), "/api/v1/export?match[]=vigil_build_info");
  ASSERT_THAT(e.status(), IsOk());
  EXPECT_THAT(e->body, HasSubstr("\"job\":\"vigil\""));
  EXPECT_THAT(e->body, HasSubstr(absl::StrCat("\"instance\":\"127.0.0.1:", t.port(), "\"")));
  EXPECT_THAT(e->body, HasSubstr("\"values\":[1],\"timestamps\":[1700000060000]"));
  auto h = http::HttpGet(
      t.port(), "/api/v1/series?match[]=vigil_remote_write_request_duration_seconds_bucket");
  ASSERT_THAT(h.status(), IsOk());
  EXPECT_THAT(h->body, HasSubstr("\"le\":\"+Inf\""));
  EXPECT_THAT(h->body, HasSubstr("\"le\":\"0.005\""));
  // The synthesised scrape series, as Prometheus writes them per target.
  auto up = http::HttpGet(t.port(), "/api/v1/export?match[]=up{job=\"vigil\"}");
  ASSERT_THAT(up.status(), IsOk());
  EXPECT_THAT(up->body, HasSubstr("\"values\":[1],\"timestamps\":[1700000060000]"));
  auto scraped = http::HttpGet(t.port(), "/api/v1/export?match[]=scrape_samples_scraped");
  ASSERT_THAT(scraped.status(), IsOk());
  EXPECT_THAT(scraped->body, HasSubstr("\"job\":\"vigil\""));
  EXPECT_THAT(scraped->body, Not(HasSubstr("\"values\":[0]")));
  auto took = http::HttpGet(t.port(), "/api/v1/export?match[]=scrape_duration_seconds");
  ASSERT_THAT(took.status(), IsOk());
  EXPECT_THAT(took->body, HasSubstr("\"timestamps\":[1700000060000]"));
}

TEST(Server, StopIsCleanAndBindConflictIsReported) {
  TestServer t;
  ASSERT_NE(t.server, nullptr);
  auto flags = ParseFlags({absl::StrCat("--web.listen-address=127.0.0.1:", t.port())});
  ASSERT_THAT(flags.status(), IsOk());
  SimulatedClock clock;
  auto second = Server::Start(*flags, Config(), &clock);
  EXPECT_THAT(second.status(), StatusIs(absl::StatusCode::kUnavailable));
  int port = t.port();
  t.server->Stop();
  t.server->Stop();
  EXPECT_FALSE(http::HttpGet(port, "/-/healthy").ok());
}

TEST(Subcommands, Dispatch) {
  std::ostringstream out, err;
  EXPECT_EQ(RunSubcommand({"--web.listen-address=:1"}, out, err), std::nullopt);
  EXPECT_EQ(RunSubcommand({}, out, err), std::nullopt);
  EXPECT_EQ(RunSubcommand({"check"}, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("check config"));
  EXPECT_EQ(RunSubcommand({"test", "promql", "x.test"}, out, err), 2);
  EXPECT_EQ(RunSubcommand({"check", "config"}, out, err), 2);

  std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/good.yml") << "global:\n  evaluation_interval: 15s\n";
  std::ofstream(dir + "/bad.yml") << "global:\n  evaluation_intervall: 15s\n";
  std::ostringstream out2, err2;
  EXPECT_EQ(RunSubcommand({"check", "config", dir + "/good.yml"}, out2, err2), 0)
      << err2.str();
  EXPECT_THAT(out2.str(), HasSubstr("SUCCESS: 0 rule files found"));
  std::ostringstream out3, err3;
  EXPECT_EQ(RunSubcommand({"check", "config", dir + "/bad.yml"}, out3, err3), 1);
  EXPECT_THAT(err3.str(), HasSubstr("line 2: field evaluation_intervall not found"));
}

}  // namespace
}  // namespace vigil::rpc::server
