#include "rpc/http/http.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/status_matchers.h"

namespace vigil::rpc::http {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(ParseQuery, DecodesAndKeepsRepeats) {
  std::vector<std::pair<std::string, std::string>> out;
  ASSERT_THAT(ParseQuery("match%5B%5D=up&match[]=a+b&x=%7B%22%7D&flag&&y=",
                         &out),
              IsOk());
  EXPECT_THAT(out, ElementsAre(Pair("match[]", "up"), Pair("match[]", "a b"),
                               Pair("x", "{\"}"), Pair("flag", ""),
                               Pair("y", "")));
}

TEST(ParseQuery, RejectsBadEscape) {
  std::vector<std::pair<std::string, std::string>> out;
  EXPECT_THAT(ParseQuery("a=%zz", &out),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseQuery("a=%4", &out),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PercentDecode, PathKeepsPlus) {
  EXPECT_EQ(*PercentDecode("/a+b%2Fc", false), "/a+b/c");
  EXPECT_EQ(*PercentDecode("a+b", true), "a b");
  EXPECT_EQ(*PercentDecode(QueryEscape("{a=\"b c\"}&x"), true), "{a=\"b c\"}&x");
}

TEST(Headers, CaseInsensitive) {
  Headers h;
  h.Add("Content-Type", "a");
  h.Add("content-type", "b");
  EXPECT_EQ(h.Get("CONTENT-TYPE"), "a");
  EXPECT_TRUE(h.Has("content-TYPE"));
  EXPECT_FALSE(h.Has("Accept"));
  EXPECT_EQ(h.Get("Accept"), "");
}

TEST(Request, Params) {
  Request r;
  r.params = {{"match[]", "a"}, {"start", "1"}, {"match[]", "b"}};
  EXPECT_EQ(r.Param("start"), "1");
  EXPECT_EQ(r.Param("end"), "");
  EXPECT_FALSE(r.HasParam("end"));
  EXPECT_THAT(r.Params("match[]"), ElementsAre("a", "b"));
}

TEST(Router, ExactPrefixAndMethods) {
  Router router;
  router.Handle("GET", "/a", [](const Request&) { return Response::Text(200, "a"); });
  router.Handle("*", "/any", [](const Request&) { return Response::Text(200, "any"); });
  router.HandlePrefix("GET", "/api/v1/label/", [](const Request&) { return Response::Text(200, "p"); });
  router.HandlePrefix("GET", "/api/", [](const Request&) { return Response::Text(200, "short"); });
  struct Case {
    std::string method, path;
    Router::Match want;
    std::string body, suffix;
  };
  for (const Case& tc : std::vector<Case>{
           {"GET", "/a", Router::Match::kFound, "a", ""},
           {"POST", "/a", Router::Match::kMethodNotAllowed, "", ""},
           {"DELETE", "/any", Router::Match::kFound, "any", ""},
           {"GET", "/api/v1/label/job/values", Router::Match::kFound, "p", "job/values"},
           {"GET", "/api/v1/other", Router::Match::kFound, "short", "v1/other"},
           {"POST", "/api/v1/other", Router::Match::kMethodNotAllowed, "", ""},
           {"GET", "/nope", Router::Match::kNotFound, "", ""},
       }) {
    const Router::Route* route = nullptr;
    std::string suffix;
    EXPECT_EQ(router.Find(tc.method, tc.path, &route, &suffix), tc.want)
        << tc.method << " " << tc.path;
    if (tc.want == Router::Match::kFound) {
      EXPECT_EQ(route->handler(Request{}).body, tc.body);
      EXPECT_EQ(suffix, tc.suffix);
    }
  }
}

}  // namespace
}  // namespace vigil::rpc::http
