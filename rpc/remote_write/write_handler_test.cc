#include "rpc/remote_write/write_handler.h"

#include <bit>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rpc/remote_write/decode.h"
#include "rpc/remote_write/testutil.h"
#include "storage/base/clock.h"
#include "storage/base/status_matchers.h"
#include "storage/head.h"

namespace vigil::rpc::remote_write {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using Samples = std::vector<std::pair<int64_t, double>>;

std::string Key(const storage::Labels& labels) {
  std::string out;
  for (const storage::Label& l : labels) {
    absl::StrAppend(&out, out.empty() ? "" : ",", l.name, "=", l.value);
  }
  return out;
}

// A tiny in-memory store with the Head's append policy (no out-of-order
// window): older than newest -> out of order; same timestamp, other value ->
// duplicate; same timestamp and value -> ignored.
class FakeStore : public storage::Appendable {
 public:
  absl::StatusOr<storage::AppendStats> Append(
      absl::Span<const storage::SeriesSamples> batch) override {
    absl::MutexLock lock(&mu_);
    ++calls_;
    if (!refuse_.ok()) return refuse_;
    storage::AppendStats stats;
    for (const storage::SeriesSamples& s : batch) {
      EXPECT_TRUE(std::is_sorted(
          s.samples.begin(), s.samples.end(),
          [](const storage::Sample& a, const storage::Sample& b) { return a.t < b.t; }));
      Samples& held = data_[Key(*s.labels)];
      for (const storage::Sample& x : s.samples) {
        if (!held.empty() && x.t < held.back().first) {
          if (stats.rejected() == 0) {
            stats.first_rejection = absl::StrCat("out of order sample for ",
                                                 Key(*s.labels), " at ", x.t);
          }
          ++stats.rejected_out_of_order;
        } else if (!held.empty() && x.t == held.back().first) {
          if (std::bit_cast<uint64_t>(x.v) ==
              std::bit_cast<uint64_t>(held.back().second)) {
            ++stats.duplicates_ignored;
          } else {
            if (stats.rejected() == 0) {
              stats.first_rejection = absl::StrCat(
                  "duplicate timestamp for ", Key(*s.labels), " at ", x.t);
            }
            ++stats.rejected_duplicate_timestamp;
          }
        } else {
          held.emplace_back(x.t, x.v);
          ++stats.appended;
        }
      }
    }
    return stats;
  }

  std::map<std::string, Samples> data() {
    absl::MutexLock lock(&mu_);
    return data_;
  }
  int calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  void Refuse(absl::Status st) {
    absl::MutexLock lock(&mu_);
    refuse_ = st;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, Samples> data_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status refuse_ ABSL_GUARDED_BY(mu_);
};

http::Request MakeRequest(std::string body,
                          std::string encoding = "snappy",
                          std::string type = "application/x-protobuf") {
  http::Request r;
  r.method = "POST";
  r.path = "/api/v1/write";
  if (!encoding.empty()) r.headers.Add("Content-Encoding", encoding);
  if (!type.empty()) r.headers.Add("Content-Type", type);
  r.headers.Add("X-Prometheus-Remote-Write-Version", "0.1.0");
  r.body = std::move(body);
  return r;
}

std::string Body(const std::vector<TestSeries>& series) {
  return EncodeBody(MakeWriteRequest(series));
}

struct Fixture {
  prometheus::Registry registry;
  FakeStore store;
  WriteHandler handler;
  explicit Fixture(WriteHandlerOptions options = {})
      : handler(&store, &registry, options) {}

  std::string Metrics() {
    return prometheus::TextSerializer().Serialize(registry.Collect());
  }
};

TEST(WriteHandler, StoresValidRequest) {
  Fixture f;
  http::Response r = f.handler.Handle(MakeRequest(Body({
      {{{"__name__", "up"}, {"job", "a"}}, {{1000, 1}, {2000, 0}}},
      {{{"job", "b"}, {"__name__", "up"}, {"empty", ""}}, {{1000, 1}}},
  })));
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(r.body, "");
  EXPECT_THAT(f.store.data(),
              ElementsAre(Pair("__name__=up,job=a", Samples{{1000, 1}, {2000, 0}}),
                          Pair("__name__=up,job=b", Samples{{1000, 1}})));
  std::string m = f.Metrics();
  EXPECT_THAT(m, HasSubstr("vigil_remote_write_samples_received_total 3"));
  EXPECT_THAT(m, HasSubstr("vigil_remote_write_samples_appended_total 3"));
  EXPECT_THAT(m, HasSubstr("vigil_remote_write_requests_total{code=\"204\"} 1"));
  EXPECT_THAT(m, HasSubstr("vigil_remote_write_request_duration_seconds_count 1"));
}

TEST(WriteHandler, RefusedRequests) {
  std::string good = Body({{{{"__name__", "up"}}, {{1000, 1}}}});
  std::string raw_good;
  MakeWriteRequest({{{{"__name__", "up"}}, {{1000, 1}}}}).SerializeToString(&raw_good);
  std::vector<TestSeries> huge_labels(1);
  huge_labels[0].labels.emplace_back("__name__", "wide");
  huge_labels[0].samples.emplace_back(1, 1);
  for (int i = 0; i < 2000; ++i) {
    huge_labels[0].labels.emplace_back(absl::StrCat("l", i), "v");
  }
  // Built by hand: protobuf refuses to serialize invalid UTF-8 in proto3.
  std::string bad_utf8;
  {
    std::string label = "\x0a\x08__name__\x12\x01m";
    std::string bad = std::string("\x0a\x01" "a" "\x12\x02\xc3\x28", 8);
    std::string ts = "\x0a" + std::string(1, char(label.size())) + label +
                     "\x0a" + std::string(1, char(bad.size())) + bad;
    bad_utf8 = "\x0a" + std::string(1, char(ts.size())) + ts;
  }
  struct Case {
    std::string name;
    http::Request request;
    int want_status;
    std::string want_body;
  };
  std::vector<Case> cases = {
      {"no encoding", MakeRequest(good, ""), 415, "missing Content-Encoding"},
      {"gzip", MakeRequest(good, "gzip"), 415, "gzip encoding"},
      {"json type", MakeRequest(good, "snappy", "application/json"), 415,
       "expected application/x-protobuf"},
      {"rw2", MakeRequest(good, "snappy",
                          "application/x-protobuf;proto=io.prometheus.write.v2.Request"),
       415, "remote-write 2.0"},
      {"unknown proto", MakeRequest(good, "snappy", "application/x-protobuf;proto=foo"),
       415, "unknown protobuf message"},
      {"bad snappy", MakeRequest("\xff\xff\xff\xff\xff\xff not snappy"), 400,
       "snappy: corrupt input"},
      {"raw protobuf, not compressed", MakeRequest(raw_good), 400, "snappy"},
      {"truncated body", MakeRequest(good.substr(0, good.size() - 3)), 400,
       "snappy: corrupt input"},
      {"bad protobuf", MakeRequest(Compress("\x0a\x05\x0a\x03")), 400,
       "protobuf: timeseries[0]"},
      {"bad wire type", MakeRequest(Compress("\x0b")), 400, "wire type"},
      {"missing name",
       MakeRequest(Body({{{{"__name__", "ok"}}, {{1, 1}}}, {{{"job", "x"}}, {{1, 1}}}})),
       400, "invalid labels in timeseries[1] {job=\"x\"}: missing metric name"},
      {"duplicate label name",
       MakeRequest(Body({{{{"__name__", "m"}, {"a", "1"}, {"a", "2"}}, {{1, 1}}}})),
       400, "timeseries[0] {__name__=\"m\", a=\"1\", a=\"2\"}: duplicate label name \"a\""},
      {"empty label name",
       MakeRequest(Body({{{{"__name__", "m"}, {"", "v"}}, {{1, 1}}}})), 400,
       "label with empty name"},
      {"invalid utf8 value", MakeRequest(Compress(bad_utf8)),
       400, "timeseries[0].labels[1]: label value is not valid UTF-8"},
  };
  {
    WriteHandlerOptions small;
    small.max_decoded_bytes = 10;
    Fixture f(small);
    http::Response r = f.handler.Handle(MakeRequest(good));
    EXPECT_EQ(r.status, 413);
    EXPECT_THAT(r.body, HasSubstr("exceeds the limit of 10 bytes"));
  }
  {
    WriteHandlerOptions small;
    small.max_body_bytes = 5;
    Fixture f(small);
    EXPECT_EQ(f.handler.Handle(MakeRequest(good)).status, 413);
  }
  for (Case& tc : cases) {
    Fixture f;
    http::Response r = f.handler.Handle(tc.request);
    EXPECT_EQ(r.status, tc.want_status) << tc.name << ": " << r.body;
    EXPECT_THAT(r.body, HasSubstr(tc.want_body)) << tc.name;
    EXPECT_EQ(f.store.calls(), 0) << tc.name << ": nothing may be applied";
    EXPECT_THAT(f.store.data(), IsEmpty()) << tc.name;
    EXPECT_THAT(f.Metrics(),
                HasSubstr(absl::StrCat("vigil_remote_write_requests_total{code=\"",
                                       tc.want_status, "\"} 1")))
        << tc.name;
  }
  {
    Fixture f;
    http::Response r = f.handler.Handle(MakeRequest(Body(huge_labels)));
    EXPECT_EQ(r.status, 204) << "wide series are allowed: " << r.body;
    ASSERT_EQ(f.store.data().size(), 1u);
  }
}

TEST(WriteHandler, InvalidLabelsCountedAndNothingApplied) {
  Fixture f;
  http::Response r = f.handler.Handle(MakeRequest(Body({
      {{{"__name__", "good"}}, {{1, 1}, {2, 2}}},
      {{{"__name__", "bad"}, {"x", "1"}, {"x", "2"}}, {{1, 1}}},
  })));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("nothing was stored"));
  EXPECT_THAT(f.store.data(), IsEmpty());
  EXPECT_THAT(f.Metrics(), HasSubstr("vigil_remote_write_samples_rejected_total{"
                                     "reason=\"invalid_labels\"} 3"));
}

TEST(WriteHandler, SpecialValuesStoredBitExact) {
  Fixture f;
  const double stale = std::bit_cast<double>(0x7ff0000000000002ULL);
  http::Response r = f.handler.Handle(MakeRequest(Body({
      {{{"__name__", "v"}},
       {{1, std::numeric_limits<double>::quiet_NaN()},
        {2, std::numeric_limits<double>::infinity()},
        {3, -std::numeric_limits<double>::infinity()},
        {4, stale},
        {5, -0.0}}},
  })));
  EXPECT_EQ(r.status, 204) << r.body;
  Samples got = f.store.data()["__name__=v"];
  ASSERT_EQ(got.size(), 5u);
  EXPECT_TRUE(std::isnan(got[0].second));
  EXPECT_NE(std::bit_cast<uint64_t>(got[0].second), 0x7ff0000000000002ULL);
  EXPECT_EQ(got[1].second, std::numeric_limits<double>::infinity());
  EXPECT_EQ(got[2].second, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(std::bit_cast<uint64_t>(got[3].second), 0x7ff0000000000002ULL);
  EXPECT_TRUE(std::signbit(got[4].second));
}

TEST(WriteHandler, EmptyRequestIs204) {
  Fixture f;
  EXPECT_EQ(f.handler.Handle(MakeRequest(EncodeBody(prompb::WriteRequest()))).status, 204);
  EXPECT_EQ(f.handler.Handle(MakeRequest(Body({{{{"__name__", "x"}}, {}}}))).status, 204);
  EXPECT_EQ(f.store.calls(), 0);
  // Old senders without Content-Type are taken as remote-write 1.0.
  EXPECT_EQ(f.handler.Handle(MakeRequest(Body({{{{"__name__", "x"}}, {{1, 1}}}}),
                                         "snappy", "")).status, 204);
  EXPECT_EQ(f.handler.Handle(MakeRequest(Body({{{{"__name__", "x"}}, {{2, 1}}}}), "snappy",
                                         "application/x-protobuf; proto=prometheus.WriteRequest"))
                .status, 204);
  EXPECT_EQ(f.store.data()["__name__=x"].size(), 2u);
}

TEST(WriteHandler, PartialRejectionKeepsGoodSamples) {
  Fixture f;
  ASSERT_EQ(f.handler.Handle(MakeRequest(Body({{{{"__name__", "m"}}, {{100, 1}}}}))).status,
            204);
  http::Response r = f.handler.Handle(MakeRequest(Body({
      {{{"__name__", "m"}}, {{50, 1}, {100, 2}, {100, 1}, {200, 3}}},
      {{{"__name__", "n"}}, {{10, 1}}},
  })));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            "2 of 5 samples rejected: 1 out of order, 1 duplicate timestamp with "
            "different value; first: out of order sample for __name__=m at 50\n");
  EXPECT_THAT(f.store.data(), ElementsAre(Pair("__name__=m", Samples{{100, 1}, {200, 3}}),
                                          Pair("__name__=n", Samples{{10, 1}})));
  std::string m = f.Metrics();
  EXPECT_THAT(m, HasSubstr("vigil_remote_write_samples_rejected_total{reason=\"out_of_order\"} 1"));
  EXPECT_THAT(m, HasSubstr(
                     "vigil_remote_write_samples_rejected_total{reason=\"duplicate_timestamp\"} 1"));
  EXPECT_THAT(m, HasSubstr("vigil_remote_write_samples_appended_total 3"));
}

TEST(WriteHandler, UnsortedSamplesJudgedAsOutOfOrder) {
  Fixture f;
  http::Response r = f.handler.Handle(
      MakeRequest(Body({{{{"__name__", "m"}}, {{300, 3}, {100, 1}, {400, 4}}}})));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("1 of 3 samples rejected: 1 out of order"));
  EXPECT_THAT(f.store.data(), ElementsAre(Pair("__name__=m", Samples{{300, 3}, {400, 4}})));
}

TEST(WriteHandler, StoreLimitsAre503WithRetryAfter) {
  for (absl::Status st : {absl::ResourceExhaustedError("max series 10 reached"),
                          absl::UnavailableError("busy")}) {
    Fixture f;
    f.store.Refuse(st);
    http::Response r =
        f.handler.Handle(MakeRequest(Body({{{{"__name__", "m"}}, {{1, 1}}}})));
    EXPECT_EQ(r.status, 503);
    EXPECT_THAT(r.body, HasSubstr(std::string(st.message())));
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].first, "Retry-After");
    EXPECT_EQ(r.headers[0].second, "5");
    EXPECT_THAT(f.Metrics(),
                HasSubstr("vigil_remote_write_samples_rejected_total{reason=\"overload\"} 1"));
  }
  Fixture f;
  f.store.Refuse(absl::InternalError("bug"));
  EXPECT_EQ(f.handler.Handle(MakeRequest(Body({{{{"__name__", "m"}}, {{1, 1}}}}))).status,
            500);
}

TEST(WriteHandler, InflightLimit) {
  WriteHandlerOptions options;
  options.max_inflight_requests = 0;  // every request is one too many
  Fixture f(options);
  http::Response r = f.handler.Handle(MakeRequest(Body({{{{"__name__", "m"}}, {{1, 1}}}})));
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("in flight"));
  EXPECT_EQ(f.store.calls(), 0);
}

// The receiver over a real Head: the series-ref cache path.
struct HeadFixture {
  SimulatedClock clock;
  storage::Head head;
  prometheus::Registry registry;
  WriteHandler handler;
  explicit HeadFixture(storage::HeadOptions head_options = {},
                       WriteHandlerOptions options = {})
      : head(head_options, &clock), handler(&head, &registry, options) {}

  // name -> samples of every series whose __name__ matches `name_re`.
  std::map<std::string, Samples> Data(const std::string& name_re = ".+") {
    auto m = storage::Matcher::Create(storage::MatchType::kRegexMatch,
                                      "__name__", name_re);
    EXPECT_TRUE(m.ok());
    auto sel = head.Select({&*m, 1}, std::numeric_limits<int64_t>::min(),
                           std::numeric_limits<int64_t>::max());
    EXPECT_TRUE(sel.ok());
    std::map<std::string, Samples> out;
    for (const storage::SeriesHandle& h : *sel) {
      std::vector<int64_t> ts;
      std::vector<double> vs;
      head.ReadSamples(h.ref, std::numeric_limits<int64_t>::min(),
                       std::numeric_limits<int64_t>::max(), &ts, &vs);
      Samples& got = out[Key(h.labels)];
      for (size_t i = 0; i < ts.size(); ++i) got.emplace_back(ts[i], vs[i]);
    }
    return out;
  }
  std::string Metrics() {
    return prometheus::TextSerializer().Serialize(registry.Collect());
  }
};

std::vector<TestSeries> Round(int num_series, int64_t t, int first = 0) {
  std::vector<TestSeries> out;
  for (int i = first; i < first + num_series; ++i) {
    out.push_back({{{"__name__", "m"}, {"i", absl::StrCat(i)}, {"job", "j"}},
                   {{t, i * 1e6 + t}}});
  }
  return out;
}

TEST(SeriesCache, KnownSeriesGoByRefAndLandInTheirSeries) {
  HeadFixture f;
  for (int64_t t = 1000; t <= 3000; t += 1000) {
    http::Response r = f.handler.Handle(MakeRequest(Body(Round(100, t))));
    ASSERT_EQ(r.status, 204) << r.body;
  }
  std::map<std::string, Samples> data = f.Data();
  ASSERT_EQ(data.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(data[absl::StrCat("__name__=m,i=", i, ",job=j")],
              (Samples{{1000, i * 1e6 + 1000}, {2000, i * 1e6 + 2000},
                       {3000, i * 1e6 + 3000}}))
        << i;
  }
  const std::string m = f.Metrics();
  EXPECT_THAT(m, HasSubstr("vigil_remote_write_series_cache_lookups_total{result=\"miss\"} 100"));
  EXPECT_THAT(m, HasSubstr("vigil_remote_write_series_cache_lookups_total{result=\"hit\"} 200"));
  EXPECT_THAT(m, HasSubstr("vigil_remote_write_series_cache_entries 100\n"));
  // The same labels in another order are other bytes: a miss, same series.
  std::vector<TestSeries> reordered = {
      {{{"job", "j"}, {"i", "0"}, {"__name__", "m"}}, {{4000, 4}}}};
  ASSERT_EQ(f.handler.Handle(MakeRequest(Body(reordered))).status, 204);
  ASSERT_EQ(f.handler.Handle(MakeRequest(Body(reordered))).status, 204);
  EXPECT_EQ(f.Data().size(), 100u);
  EXPECT_EQ(f.Data()["__name__=m,i=0,job=j"].back(), (std::pair<int64_t, double>{4000, 4}));
  // Rejections of cached series still name the series.
  http::Response r = f.handler.Handle(MakeRequest(Body(Round(1, 2000, 5))));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("1 of 1 samples rejected: 1 out of order"));
  EXPECT_THAT(r.body, HasSubstr("m{i=\"5\", job=\"j\"}"));
}

uint64_t CollidingHash(std::string_view key) { return key.size() % 2; }

TEST(SeriesCache, HashCollisionsStillStoreEverySampleInItsSeries) {
  WriteHandlerOptions options;
  options.series_cache.hash = &CollidingHash;  // 2 hash values for 50 series
  HeadFixture f({}, options);
  for (int64_t t = 1000; t <= 4000; t += 1000) {
    http::Response r = f.handler.Handle(MakeRequest(Body(Round(50, t))));
    ASSERT_EQ(r.status, 204) << r.body;
  }
  std::map<std::string, Samples> data = f.Data();
  ASSERT_EQ(data.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    const Samples& got = data[absl::StrCat("__name__=m,i=", i, ",job=j")];
    ASSERT_EQ(got.size(), 4u) << i;
    for (int k = 0; k < 4; ++k) {
      EXPECT_EQ(got[k].second, i * 1e6 + (k + 1) * 1000) << i;
    }
  }
  // At most one series per hash value is served from the cache.
  const std::string m = f.Metrics();
  EXPECT_THAT(m, HasSubstr("vigil_remote_write_series_cache_lookups_total{result=\"hit\"} 6\n"));
}

TEST(SeriesCache, InvalidLabelsNextToCachedSeriesApplyNothingAndAreNotCached) {
  HeadFixture f;
  ASSERT_EQ(f.handler.Handle(MakeRequest(Body(Round(3, 1000)))).status, 204);
  std::vector<TestSeries> mixed = Round(3, 2000);
  mixed.push_back({{{"__name__", "bad"}, {"x", "1"}, {"x", "2"}}, {{2000, 1}}});
  for (int attempt = 0; attempt < 2; ++attempt) {
    http::Response r = f.handler.Handle(MakeRequest(Body(mixed)));
    EXPECT_EQ(r.status, 400) << attempt;
    EXPECT_THAT(r.body, HasSubstr("invalid labels in timeseries[3]"));
    EXPECT_THAT(r.body, HasSubstr("nothing was stored"));
  }
  for (const auto& [name, samples] : f.Data()) {
    EXPECT_EQ(samples.size(), 1u) << name << ": the cached series got nothing";
  }
  // Without the bad series the same samples are stored.
  mixed.pop_back();
  ASSERT_EQ(f.handler.Handle(MakeRequest(Body(mixed))).status, 204);
  for (const auto& [name, samples] : f.Data()) EXPECT_EQ(samples.size(), 2u) << name;
}

TEST(SeriesCache, SeriesDroppedByRetentionAreRecreated) {
  HeadFixture f;
  ASSERT_EQ(f.handler.Handle(MakeRequest(Body(Round(2, 1000)))).status, 204);
  std::vector<TestSeries> keep = Round(1, 9000, 1);
  ASSERT_EQ(f.handler.Handle(MakeRequest(Body(keep))).status, 204);
  f.head.Truncate(5000);  // drops i=0 (newest sample 1000), keeps i=1
  ASSERT_EQ(f.Data().size(), 1u);
  http::Response r = f.handler.Handle(MakeRequest(Body(Round(2, 10000))));
  ASSERT_EQ(r.status, 204) << r.body;
  std::map<std::string, Samples> data = f.Data();
  EXPECT_EQ(data["__name__=m,i=0,job=j"], (Samples{{10000, 10000}}));
  EXPECT_EQ(data["__name__=m,i=1,job=j"],
            (Samples{{9000, 1e6 + 9000}, {10000, 1e6 + 10000}}));
  EXPECT_THAT(f.Metrics(),
              HasSubstr("vigil_remote_write_series_cache_lookups_total{result=\"stale\"} 1"));
  // The re-created series is cached under its new ref.
  ASSERT_EQ(f.handler.Handle(MakeRequest(Body(Round(2, 11000)))).status, 204);
  EXPECT_EQ(f.Data()["__name__=m,i=0,job=j"].size(), 2u);
  EXPECT_THAT(f.Metrics(),
              HasSubstr("vigil_remote_write_series_cache_lookups_total{result=\"stale\"} 1\n"));
}

TEST(SeriesCache, ConcurrentSendersSharingSeries) {
  storage::HeadOptions ho;
  ho.out_of_order_window_ms = int64_t{1} << 40;  // any arrival order is fine
  ho.num_shards = 8;
  HeadFixture f(ho);
  constexpr int kThreads = 4, kRounds = 15, kSeries = 300;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int r = 0; r < kRounds; ++r) {
        // Each sender sends every series, with its own timestamps; a third
        // of the series are new in each round.
        const int64_t t = (r * kThreads + th + 1) * 1000;
        std::vector<TestSeries> req = Round(kSeries, t, r * kSeries / 3);
        http::Response resp = f.handler.Handle(MakeRequest(Body(req)));
        if (resp.status != 204) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::map<std::string, Samples> data = f.Data();
  const int total_series = (kRounds - 1) * kSeries / 3 + kSeries;
  ASSERT_EQ(data.size(), static_cast<size_t>(total_series));
  for (int i = 0; i < total_series; ++i) {
    const Samples& got = data[absl::StrCat("__name__=m,i=", i, ",job=j")];
    // Series i is in rounds r with r*kSeries/3 <= i < r*kSeries/3 + kSeries.
    size_t want = 0;
    for (int r = 0; r < kRounds; ++r) {
      if (i >= r * kSeries / 3 && i < r * kSeries / 3 + kSeries) want += kThreads;
    }
    ASSERT_EQ(got.size(), want) << i;
    for (const auto& [ts, v] : got) ASSERT_EQ(v, i * 1e6 + ts) << i;
  }
}

// Senders racing retention: some series pause long enough to be dropped
// between their samples, so cached refs go stale while other requests are
// in flight. Every answer is 204, every sample sits in its own series, and
// the last round is complete.
TEST(SeriesCache, ConcurrentSendersWithRetentionDroppingSeries) {
  HeadFixture f;
  constexpr int kThreads = 2, kRounds = 40, kSeries = 200;
  std::atomic<int> failures{0};
  // Round each sender has completed; truncation follows the slower one.
  std::atomic<int64_t> progress[kThreads] = {};
  // After each round a sender truncates, racing the other's requests.
  auto truncate = [&] {
    int64_t slowest = progress[0].load();
    for (int th = 1; th < kThreads; ++th) {
      slowest = std::min(slowest, progress[th].load());
    }
    // Keep 3 rounds: a series sent every 5th round is dropped in between.
    const int64_t t = (slowest - 2) * 1000;
    if (t > 0) f.head.Truncate(t);
  };
  std::vector<std::thread> senders;
  for (int th = 0; th < kThreads; ++th) {
    senders.emplace_back([&, th] {
      for (int r = 1; r <= kRounds; ++r) {
        const int64_t t = r * 1000;
        std::vector<TestSeries> req;
        for (TestSeries& s : Round(kSeries, t, th * kSeries)) {
          const int i = std::stoi(s.labels[1].second);
          if (i % 2 == 0 || r % 5 == 0 || r == kRounds) req.push_back(std::move(s));
        }
        http::Response resp = f.handler.Handle(MakeRequest(Body(req)));
        if (resp.status != 204) ++failures;
        progress[th].store(r);
        truncate();
      }
    });
  }
  for (auto& t : senders) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::map<std::string, Samples> data = f.Data();
  ASSERT_EQ(data.size(), static_cast<size_t>(kThreads * kSeries));
  for (int i = 0; i < kThreads * kSeries; ++i) {
    const Samples& got = data[absl::StrCat("__name__=m,i=", i, ",job=j")];
    ASSERT_FALSE(got.empty()) << i;
    EXPECT_EQ(got.back().first, kRounds * 1000) << i;
    for (const auto& [ts, v] : got) ASSERT_EQ(v, i * 1e6 + ts) << i;
  }
}

// The mutation fuzzer again, through the cache into a real Head: a body
// that differs from a cached one by a flipped bit must never reach the
// cached series unchecked.
TEST(Fuzz, MutatedBodiesIntoHeadNeverCrash) {
  std::mt19937_64 rng(20261203);
  HeadFixture f;
  std::vector<std::string> raws;
  for (int round = 1; round <= 3; ++round) {
    std::string raw;
    MakeWriteRequest(Round(20, round * 1000)).SerializeToString(&raw);
    ASSERT_EQ(f.handler.Handle(MakeRequest(Compress(raw))).status, 204);
    raws.push_back(raw);
  }
  int answers[6] = {0};
  for (int iter = 0; iter < 2000; ++iter) {
    std::string raw = raws[iter % raws.size()];
    const int mutations = 1 + static_cast<int>(rng() % 3);
    for (int m = 0; m < mutations && !raw.empty(); ++m) {
      const size_t pos = rng() % raw.size();
      switch (rng() % 3) {
        case 0: raw[pos] = static_cast<char>(raw[pos] ^ (1 << (rng() % 8))); break;
        case 1: raw.resize(pos); break;
        default: raw.insert(pos, 1, static_cast<char>(rng()));
      }
    }
    http::Response r = f.handler.Handle(MakeRequest(Compress(raw)));
    ASSERT_TRUE((r.status >= 200 && r.status < 300) || (r.status >= 400 && r.status < 500))
        << r.status << " " << r.body;
    ++answers[r.status / 100];
  }
  EXPECT_GT(answers[2], 0);
  EXPECT_GT(answers[4], 0);
  // Whatever was accepted went through label validation or an exact
  // byte match: every series the head holds has a valid metric name.
  for (const auto& [name, samples] : f.Data()) EXPECT_FALSE(samples.empty()) << name;
}

// The decoder against protobuf's own parser on the golden requests.
TEST(Decode, MatchesProtobufOnGoldens) {
  for (const auto& [name, req] : GoldenRequests()) {
    std::string raw;
    req.SerializeToString(&raw);
    std::vector<DecodedSeries> got;
    DecodeStats stats;
    ASSERT_THAT(DecodeWriteRequest(raw, &got, &stats), IsOk()) << name;
    ASSERT_EQ(got.size(), static_cast<size_t>(req.timeseries_size())) << name;
    for (int i = 0; i < req.timeseries_size(); ++i) {
      const auto& ts = req.timeseries(i);
      ASSERT_EQ(got[i].labels.size(), static_cast<size_t>(ts.labels_size()));
      for (int j = 0; j < ts.labels_size(); ++j) {
        EXPECT_EQ(got[i].labels[j].name, ts.labels(j).name());
        EXPECT_EQ(got[i].labels[j].value, ts.labels(j).value());
      }
      ASSERT_EQ(got[i].samples.size(), static_cast<size_t>(ts.samples_size()));
      for (int j = 0; j < ts.samples_size(); ++j) {
        EXPECT_EQ(got[i].samples[j].t, ts.samples(j).timestamp());
        EXPECT_EQ(std::bit_cast<uint64_t>(got[i].samples[j].v),
                  std::bit_cast<uint64_t>(ts.samples(j).value()));
      }
    }
  }
}

TEST(Decode, SkipsUnknownFields) {
  // TimeSeries with an exemplar (field 3) and WriteRequest metadata (field 3).
  std::string label = "\x0a\x08__name__\x12\x01m";
  std::string sample = std::string("\x09", 1) + std::string(8, '\0') + "\x10\x05";
  std::string exemplar = "\x10\x07";
  std::string ts = "\x0a" + std::string(1, char(label.size())) + label + "\x12" +
                   std::string(1, char(sample.size())) + sample + "\x1a" +
                   std::string(1, char(exemplar.size())) + exemplar;
  std::string req = "\x0a" + std::string(1, char(ts.size())) + ts + "\x1a\x02\x08\x01";
  std::vector<DecodedSeries> got;
  DecodeStats stats;
  ASSERT_THAT(DecodeWriteRequest(req, &got, &stats), IsOk());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].samples.size(), 1u);
  EXPECT_EQ(got[0].samples[0].t, 5);
  EXPECT_EQ(stats.ignored_fields, 2);
}

// The receiver's lazy decoder (structure and samples first, labels per
// series on demand) against the full one, on the goldens and on mutated
// bodies: same verdict, same labels and samples, and label keys that are
// exactly the label fields' bytes.
TEST(Decode, ViewAgreesWithFullDecoder) {
  std::mt19937_64 rng(20261203);
  std::vector<std::string> raws;
  for (const auto& [name, req] : GoldenRequests()) {
    std::string raw;
    req.SerializeToString(&raw);
    raws.push_back(raw);
  }
  // Labels interleaved with samples: the key is their concatenation.
  {
    std::string l1 = "\x0a\x08__name__\x12\x01m", l2 = "\x0a\x01" "a\x12\x01" "b";
    std::string sample = std::string("\x09", 1) + std::string(8, '\0') + "\x10\x05";
    std::string ts = "\x0a" + std::string(1, char(l1.size())) + l1 + "\x12" +
                     std::string(1, char(sample.size())) + sample + "\x0a" +
                     std::string(1, char(l2.size())) + l2;
    raws.push_back("\x0a" + std::string(1, char(ts.size())) + ts);
    RequestView view;
    DecodeStats stats;
    ASSERT_THAT(DecodeRequestView(raws.back(), &view, &stats), IsOk());
    ASSERT_EQ(view.series.size(), 1u);
    EXPECT_EQ(view.Key(view.series[0]),
              "\x0a" + std::string(1, char(l1.size())) + l1 + "\x0a" +
                  std::string(1, char(l2.size())) + l2);
  }
  int ok = 0, bad = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string raw = raws[iter % raws.size()];
    if (iter >= static_cast<int>(raws.size())) {
      int mutations = 1 + static_cast<int>(rng() % 3);
      for (int m = 0; m < mutations && !raw.empty(); ++m) {
        size_t pos = rng() % raw.size();
        switch (rng() % 3) {
          case 0:
            raw[pos] = static_cast<char>(raw[pos] ^ (1 << (rng() % 8)));
            break;
          case 1:
            raw.resize(pos);
            break;
          default:
            raw.insert(pos, 1, static_cast<char>(rng()));
        }
      }
    }
    std::vector<DecodedSeries> full;
    DecodeStats full_stats;
    const bool full_ok = DecodeWriteRequest(raw, &full, &full_stats).ok();
    RequestView view;
    DecodeStats view_stats;
    bool view_ok = DecodeRequestView(raw, &view, &view_stats).ok();
    std::vector<std::vector<storage::Label>> labels(view.series.size());
    for (size_t i = 0; view_ok && i < view.series.size(); ++i) {
      view_ok = DecodeLabels(view, i, &labels[i]).ok();
    }
    ASSERT_EQ(view_ok, full_ok) << iter;
    if (!full_ok) {
      ++bad;
      continue;
    }
    ++ok;
    ASSERT_EQ(view.series.size(), full.size()) << iter;
    EXPECT_EQ(view_stats.samples, full_stats.samples);
    EXPECT_EQ(view_stats.ignored_fields, full_stats.ignored_fields);
    for (size_t i = 0; i < full.size(); ++i) {
      ASSERT_EQ(labels[i], full[i].labels) << iter << " series " << i;
      auto samples = view.SamplesOf(view.series[i]);
      ASSERT_EQ(samples.size(), full[i].samples.size());
      for (size_t j = 0; j < samples.size(); ++j) {
        EXPECT_EQ(samples[j].t, full[i].samples[j].t);
        EXPECT_EQ(std::bit_cast<uint64_t>(samples[j].v),
                  std::bit_cast<uint64_t>(full[i].samples[j].v));
      }
      EXPECT_EQ(view.Key(view.series[i]).empty(), full[i].labels.empty());
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(bad, 0);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(Golden, FilesMatchGeneratorAndAreAccepted) {
  for (const auto& [name, req] : GoldenRequests()) {
    std::string path = absl::StrCat("testdata/remote_write/", name, ".bin");
    std::string body = ReadFile(path);
    ASSERT_FALSE(body.empty() && name != "empty") << "missing " << path
        << " (bazel run //rpc/remote_write:gen_golden)";
    EXPECT_EQ(body, EncodeBody(req)) << path << " is stale; rerun gen_golden";
    Fixture f;
    http::Response r = f.handler.Handle(MakeRequest(body));
    EXPECT_EQ(r.status, 204) << name << ": " << r.body;
  }
}

// Deterministic mutation fuzzing: random byte flips, truncations and
// insertions into valid bodies, compressed and raw. Never a crash; always a
// 2xx or 4xx answer.
TEST(Fuzz, MutatedBodiesNeverCrash) {
  std::mt19937_64 rng(20261123);
  std::vector<std::string> raws;
  for (const auto& [name, req] : GoldenRequests()) {
    std::string raw;
    req.SerializeToString(&raw);
    raws.push_back(raw);
  }
  Fixture f;
  int answers[6] = {0};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string raw = raws[iter % raws.size()];
    int mutations = 1 + static_cast<int>(rng() % 4);
    for (int m = 0; m < mutations && !raw.empty(); ++m) {
      size_t pos = rng() % raw.size();
      switch (rng() % 4) {
        case 0:
          raw[pos] = static_cast<char>(raw[pos] ^ (1 << (rng() % 8)));
          break;
        case 1:
          raw[pos] = static_cast<char>(rng());
          break;
        case 2:
          raw.resize(pos);
          break;
        default:
          raw.insert(pos, 1, static_cast<char>(rng()));
      }
    }
    std::string body = Compress(raw);
    if (iter % 3 == 0 && !body.empty()) {
      // Corrupt the compressed form too.
      body[rng() % body.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    http::Response r = f.handler.Handle(MakeRequest(body));
    ASSERT_TRUE((r.status >= 200 && r.status < 300) ||
                (r.status >= 400 && r.status < 500))
        << r.status << " " << r.body;
    ++answers[r.status / 100];
  }
  // Both outcomes must actually occur, or the fuzzer tests nothing.
  EXPECT_GT(answers[2], 0);
  EXPECT_GT(answers[4], 0);
}

}  // namespace
}  // namespace vigil::rpc::remote_write
