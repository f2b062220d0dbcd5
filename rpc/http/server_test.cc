#include "rpc/http/server.h"

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/http/test_client.h"
#include "storage/base/status_matchers.h"

namespace vigil::rpc::http {
namespace {

using ::testing::HasSubstr;

std::unique_ptr<Server> StartTestServer(size_t max_body = 1024) {
  Router router;
  router.Handle("GET", "/hello", [](const Request& r) {
    Response resp = Response::Text(200, absl::StrCat("hello ", std::string(r.Param("name"))));
    resp.headers.emplace_back("X-Test", "yes");
    return resp;
  });
  router.Handle("POST", "/echo", [](const Request& r) {
    std::string out = absl::StrCat(r.body.size(), ":", r.body, "|");
    for (const auto& [k, v] : r.params) absl::StrAppend(&out, k, "=", v, ";");
    return Response::Text(200, out);
  });
  router.Handle("POST", "/small", [](const Request& r) { return Response::NoContent(); },
                RouteOptions{.max_body_bytes = 10});
  router.Handle("GET", "/throw", [](const Request&) -> Response {
    throw std::runtime_error("kaboom");
  });
  router.HandlePrefix("GET", "/api/v1/label/", [](const Request& r) {
    return Response::Json(200, absl::StrCat("{\"suffix\":\"", r.path_suffix, "\"}"));
  });
  ServerOptions options;
  options.port = 0;
  options.num_threads = 2;
  options.max_body_bytes = max_body;
  auto server = Server::Start(options, std::move(router));
  EXPECT_THAT(server.status(), IsOk());
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(Server, ServesRoutesOnKeptAliveConnection) {
  auto server = StartTestServer();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->port(), 0);
  TestClient client(server->port());
  auto r1 = client.Do("GET", "/hello?name=vigil");
  ASSERT_THAT(r1.status(), IsOk());
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->body, "hello vigil");
  EXPECT_EQ(r1->headers.Get("x-test"), "yes");
  EXPECT_EQ(r1->headers.Get("content-type"), "text/plain; charset=utf-8");
  EXPECT_FALSE(client.closed());
  auto r2 = client.Do("GET", "/api/v1/label/job%2Fx/values");
  ASSERT_THAT(r2.status(), IsOk());
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(r2->body, "{\"suffix\":\"job/x/values\"}");
  EXPECT_EQ(r2->headers.Get("Content-Type"), "application/json");
  EXPECT_FALSE(client.closed());
}

TEST(Server, HeadHasLengthButNoBody) {
  Router router;
  router.Handle("HEAD", "/h", [](const Request&) { return Response::Text(200, "twelve bytes"); });
  router.Handle("GET", "/g", [](const Request&) { return Response::Text(200, "after"); });
  auto server = Server::Start(ServerOptions{}, std::move(router));
  ASSERT_THAT(server.status(), IsOk());
  TestClient client((*server)->port());
  // The test client reads Content-Length bytes, so send HEAD raw and check
  // that the next response on the connection starts right after the header.
  auto r = client.Raw("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.Get("Content-Length"), "12");
  // What the client took as HEAD's "body" is the start of the GET answer.
  EXPECT_THAT(r->body, testing::StartsWith("HTTP/1.1 200"));
}

TEST(Server, StatusCodes) {
  auto server = StartTestServer();
  ASSERT_NE(server, nullptr);
  struct Case {
    std::string method, target;
    int want;
    std::string body_has;
  };
  for (const Case& tc : std::vector<Case>{
           {"GET", "/nope", 404, "404 page not found"},
           {"POST", "/hello", 405, "method not allowed"},
           {"GET", "/throw", 500, "kaboom"},
           {"GET", "/hello?x=%zz", 400, "bad query string"},
           {"GET", "/%zz", 400, "bad request path"},
       }) {
    TestClient client(server->port());
    auto r = client.Do(tc.method, tc.target);
    ASSERT_THAT(r.status(), IsOk()) << tc.target;
    EXPECT_EQ(r->status, tc.want) << tc.target;
    EXPECT_THAT(r->body, HasSubstr(tc.body_has)) << tc.target;
  }
}

TEST(Server, FormBodyMergedBeforeQuery) {
  auto server = StartTestServer();
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto r = client.Do("POST", "/echo?match[]=q",
                     {{"Content-Type", "application/x-www-form-urlencoded"}},
                     "match%5B%5D=f1&match[]=f+2");
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body,
            "26:match%5B%5D=f1&match[]=f+2|match[]=f1;match[]=f 2;match[]=q;");
}

TEST(Server, BodyLimits) {
  auto server = StartTestServer(/*max_body=*/100);
  ASSERT_NE(server, nullptr);
  {
    // Declared length over the route's limit: refused before reading.
    TestClient client(server->port());
    auto r = client.Do("POST", "/small", {}, "0123456789ABC");
    ASSERT_THAT(r.status(), IsOk());
    EXPECT_EQ(r->status, 413);
    EXPECT_THAT(r->body, HasSubstr("limit of 10 bytes"));
    EXPECT_TRUE(client.closed());
  }
  {
    // A sender that writes its whole (large) body before reading must still
    // get the 413, not a connection reset.
    TestClient client(server->port());
    auto r = client.Do("POST", "/small", {}, std::string(512 << 10, 'z'));
    ASSERT_THAT(r.status(), IsOk());
    EXPECT_EQ(r->status, 413);
  }
  {
    TestClient client(server->port());
    auto r = client.Do("POST", "/echo", {}, std::string(101, 'x'));
    ASSERT_THAT(r.status(), IsOk());
    EXPECT_EQ(r->status, 413);
  }
  {
    // Chunked body that grows past the limit while being read.
    TestClient client(server->port());
    std::string chunk(60, 'y');
    auto r = client.Raw(absl::StrCat(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
        "3c\r\n", chunk, "\r\n3c\r\n", chunk, "\r\n0\r\n\r\n"));
    ASSERT_THAT(r.status(), IsOk());
    EXPECT_EQ(r->status, 413);
  }
  {
    // Within limits, chunked, accepted.
    TestClient client(server->port());
    auto r = client.Raw(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0\r\n\r\n");
    ASSERT_THAT(r.status(), IsOk());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "3:abc|");
  }
  {
    // Expect: 100-continue gets the interim answer, then the real one.
    TestClient client(server->port());
    auto r = client.Do("POST", "/echo", {{"Expect", "100-continue"}}, "hi");
    ASSERT_THAT(r.status(), IsOk());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "2:hi|");
  }
}

TEST(Server, MalformedRequestIs400) {
  auto server = StartTestServer();
  ASSERT_NE(server, nullptr);
  TestClient client(server->port());
  auto r = client.Raw("GARBAGE\x01 / HTTP/9\r\n\r\n");
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->status, 400);
  TestClient client2(server->port());
  auto r2 = client2.Raw(absl::StrCat("GET / HTTP/1.1\r\nX-Big: ",
                                     std::string(70000, 'a'), "\r\n\r\n"));
  ASSERT_THAT(r2.status(), IsOk());
  EXPECT_EQ(r2->status, 431);
}

TEST(Server, ManyConcurrentClients) {
  auto server = StartTestServer();
  ASSERT_NE(server, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      TestClient client(server->port());
      for (int i = 0; i < 25; ++i) {
        auto r = client.Do("GET", absl::StrCat("/hello?name=", t, "-", i));
        if (r.ok() && r->status == 200 && r->body == absl::StrCat("hello ", t, "-", i)) {
          ++ok;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 200);
}

TEST(Server, StopClosesIdleConnections) {
  auto server = StartTestServer();
  ASSERT_NE(server, nullptr);
  int port = server->port();
  TestClient idle(port);
  ASSERT_THAT(idle.Do("GET", "/hello").status(), IsOk());
  server->Stop();  // must not wait for the idle keep-alive connection
  server->Stop();  // idempotent
  auto r = idle.Do("GET", "/hello");
  EXPECT_FALSE(r.ok());
}

TEST(Server, BindFailureNamesAddress) {
  auto first = StartTestServer();
  ASSERT_NE(first, nullptr);
  ServerOptions options;
  options.port = first->port();
  auto second = Server::Start(options, Router());
  EXPECT_THAT(second.status(), StatusIs(absl::StatusCode::kUnavailable,
                                        HasSubstr(absl::StrCat(":", first->port()))));
}

TEST(SplitHostPort, Forms) {
  std::string host;
  int port = 0;
  ASSERT_THAT(SplitHostPort("0.0.0.0:9096", &host, &port), IsOk());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 9096);
  ASSERT_THAT(SplitHostPort(":80", &host, &port), IsOk());
  EXPECT_EQ(host, "0.0.0.0");
  ASSERT_THAT(SplitHostPort("[::1]:9", &host, &port), IsOk());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9);
  EXPECT_FALSE(SplitHostPort("localhost", &host, &port).ok());
  EXPECT_FALSE(SplitHostPort("a:b", &host, &port).ok());
  EXPECT_FALSE(SplitHostPort("a:70000", &host, &port).ok());
  EXPECT_FALSE(SplitHostPort("::1:80", &host, &port).ok());
}

}  // namespace
}  // namespace vigil::rpc::http
