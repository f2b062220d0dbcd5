#include "rpc/query_api/query_handler.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "promql/engine.h"
#include "rpc/query_api/api_params.h"
#include "storage/base/clock.h"
#include "storage/head.h"

namespace vigil::rpc {
namespace {

using ::testing::HasSubstr;

class QueryApiTest : public ::testing::Test {
 protected:
  QueryApiTest()
      : clock_(absl::FromUnixSeconds(1000)),
        head_(storage::HeadOptions{}, &clock_),
        api_(&engine_, &head_, &clock_) {
    Add({{"__name__", "up"}, {"job", "api"}, {"instance", "a"}},
        {{0, 1}, {15000, 1}, {30000, 0}});
    Add({{"__name__", "up"}, {"job", "api"}, {"instance", "b"}},
        {{0, 1}, {15000, 1}, {30000, 1}});
  }

  void Add(std::vector<storage::Label> labels,
           std::vector<storage::Sample> samples) {
    absl::StatusOr<storage::Labels> ls =
        storage::Labels::FromUnsorted(std::move(labels));
    ASSERT_TRUE(ls.ok());
    storage::SeriesSamples in{&*ls, samples};
    ASSERT_TRUE(head_.Append({&in, 1}).ok());
  }

  http::Response Get(std::string path,
                     std::vector<std::pair<std::string, std::string>> params) {
    http::Request r;
    r.method = "GET";
    r.path = path;
    r.params = std::move(params);
    return path == "/api/v1/query" ? api_.Query(r) : api_.QueryRange(r);
  }

  SimulatedClock clock_;
  storage::Head head_;
  promql::Engine engine_;
  QueryApi api_;
};

TEST_F(QueryApiTest, InstantVectorInPrometheusShape) {
  http::Response r = Get("/api/v1/query", {{"query", "up == 0"}, {"time", "30"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
            "\"result\":[{\"metric\":{\"__name__\":\"up\",\"instance\":\"a\","
            "\"job\":\"api\"},\"value\":[30,\"0\"]}]}}");
}

TEST_F(QueryApiTest, ScalarAndDefaultTimeFromClock) {
  http::Response r = Get("/api/v1/query", {{"query", "1/3"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
            "\"result\":[1000,\"0.3333333333333333\"]}}");
}

TEST_F(QueryApiTest, RangeQueryMatrix) {
  http::Response r = Get("/api/v1/query_range", {{"query", "sum(up)"},
                                                 {"start", "0"},
                                                 {"end", "30"},
                                                 {"step", "15s"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\","
            "\"result\":[{\"metric\":{},\"values\":[[0,\"2\"],[15,\"2\"],"
            "[30,\"1\"]]}]}}");
}

TEST_F(QueryApiTest, BadQueryIsBadData400WithPosition) {
  http::Response r = Get("/api/v1/query", {{"query", "sum(up"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("\"errorType\":\"bad_data\""));
  EXPECT_THAT(r.body, HasSubstr("invalid parameter \\\"query\\\": 1:"));
}

TEST_F(QueryApiTest, BadParametersNameTheParameter) {
  EXPECT_THAT(Get("/api/v1/query", {{"query", "up"}, {"time", "yesterday"}}).body,
              HasSubstr("invalid parameter \\\"time\\\": cannot parse "
                        "\\\"yesterday\\\" to a valid timestamp"));
  http::Response r = Get("/api/v1/query_range",
                         {{"query", "up"}, {"start", "10"}, {"end", "0"}, {"step", "1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("end timestamp must not be before start time"));
  r = Get("/api/v1/query_range",
          {{"query", "up"}, {"start", "0"}, {"end", "10"}, {"step", "0"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("zero or negative query resolution step"));
  r = Get("/api/v1/query_range",
          {{"query", "up"}, {"start", "0"}, {"end", "100000"}, {"step", "1"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("exceeded maximum resolution of 11,000 points"));
}

TEST_F(QueryApiTest, ExecutionErrorIs422) {
  // Both sides have two series with identical label sets after dropping
  // instance: many-to-many matching is an execution error.
  http::Response r =
      Get("/api/v1/query", {{"query", "up + ignoring(instance) up"}, {"time", "30"}});
  EXPECT_EQ(r.status, 422);
  EXPECT_THAT(r.body, HasSubstr("\"errorType\":\"execution\""));
}

TEST(ApiParams, TimesAndDurations) {
  EXPECT_EQ(*ParseApiTimeMs("1.5"), 1500);
  EXPECT_EQ(*ParseApiTimeMs("2026-11-23T17:00:00Z"), 1795453200000);
  EXPECT_EQ(*ParseApiTimeMs("2026-11-23T17:00:00.250+01:00"), 1795449600250);
  EXPECT_FALSE(ParseApiTimeMs("tomorrow").ok());
  EXPECT_EQ(*ParseApiDurationMs("15"), 15000);
  EXPECT_EQ(*ParseApiDurationMs("0.5"), 500);
  EXPECT_EQ(*ParseApiDurationMs("1m30s"), 90000);
  EXPECT_FALSE(ParseApiDurationMs("fast").ok());
}

}  // namespace
}  // namespace vigil::rpc
