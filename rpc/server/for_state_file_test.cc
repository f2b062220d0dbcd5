#include "rpc/server/for_state_file.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/base/clock.h"
#include "storage/head.h"
#include "storage/sample.h"

namespace vigil::rpc::server {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1700000000000;

std::string TmpPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void Add(storage::Head* head, std::vector<storage::Label> labels,
         std::vector<storage::Sample> samples) {
  storage::Labels ls = *storage::Labels::FromUnsorted(std::move(labels));
  storage::SeriesSamples in{&ls, samples};
  ASSERT_TRUE(head->Append({&in, 1}).ok());
}

// The last sample of `name`'s series with `alertname`, or NaN.
double Last(const storage::Head& head, const std::string& alertname,
            int64_t* t) {
  auto m1 = *storage::Matcher::Create(storage::MatchType::kEqual, "__name__",
                                      "ALERTS_FOR_STATE");
  auto m2 = *storage::Matcher::Create(storage::MatchType::kEqual, "alertname",
                                      alertname);
  std::vector<storage::Matcher> ms = {m1, m2};
  auto series = head.Select(ms, 0, kNow * 2);
  if (!series.ok() || series->empty()) return std::nan("");
  std::vector<int64_t> ts;
  std::vector<double> vs;
  head.ReadSamples((*series)[0].ref, 0, kNow * 2, &ts, &vs);
  *t = ts.back();
  return vs.back();
}

TEST(ForStateFile, SavesLastSampleAndLoadsItIntoAFreshStore) {
  SimulatedClock clock(absl::FromUnixMillis(kNow));
  storage::Head before(storage::HeadOptions{}, &clock);
  Add(&before, {{"__name__", "ALERTS_FOR_STATE"}, {"alertname", "Hot"}, {"instance", "a"}},
      {{kNow - 20000, 1699999900}, {kNow - 5000, 1699999900}});
  // Resolved alerts end with a stale marker: nothing to restore.
  Add(&before, {{"__name__", "ALERTS_FOR_STATE"}, {"alertname", "Gone"}},
      {{kNow - 20000, 1699999000}, {kNow - 5000, storage::StaleNaN()}});
  // Older than the outage tolerance: left out.
  Add(&before, {{"__name__", "ALERTS_FOR_STATE"}, {"alertname", "Old"}},
      {{kNow - 7200000, 1699990000}});
  Add(&before, {{"__name__", "up"}}, {{kNow - 5000, 1}});
  const std::string path = TmpPath("state.jsonl");
  absl::StatusOr<size_t> saved = SaveForState(before, kNow, absl::Hours(1), path);
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(*saved, 1u);
  EXPECT_THAT(Read(path), HasSubstr("\"alertname\":\"Hot\""));
  EXPECT_FALSE(std::ifstream(path + ".tmp").good());  // renamed away

  storage::Head after(storage::HeadOptions{}, &clock);
  absl::StatusOr<size_t> loaded = LoadForState(path, &after);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(*loaded, 1u);
  int64_t t = 0;
  EXPECT_EQ(Last(after, "Hot", &t), 1699999900);
  EXPECT_EQ(t, kNow - 5000);
  EXPECT_TRUE(std::isnan(Last(after, "Gone", &t)));
  EXPECT_TRUE(std::isnan(Last(after, "Old", &t)));
}

TEST(ForStateFile, MissingFileIsEmpty) {
  SimulatedClock clock(absl::FromUnixMillis(kNow));
  storage::Head head(storage::HeadOptions{}, &clock);
  absl::StatusOr<size_t> loaded = LoadForState(TmpPath("does-not-exist"), &head);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(*loaded, 0u);
}

TEST(ForStateFile, MalformedFileNamesPathAndLineAndAppendsNothing) {
  SimulatedClock clock(absl::FromUnixMillis(kNow));
  storage::Head head(storage::HeadOptions{}, &clock);
  const std::string path = TmpPath("bad.jsonl");
  struct Case {
    std::string second_line, want;
  };
  for (const Case& c : std::vector<Case>{
           {"{not json", "bad.jsonl:2: not a JSON object"},
           {"{\"labels\":{\"__name__\":\"up\"},\"t\":1,\"v\":1}", "bad.jsonl:2: series is not ALERTS_FOR_STATE"},
           {"{\"labels\":{\"__name__\":\"ALERTS_FOR_STATE\"},\"v\":1}", "bad.jsonl:2: no integer \"t\""},
           {"{\"labels\":{\"__name__\":\"ALERTS_FOR_STATE\",\"a\":1},\"t\":1,\"v\":1}", "bad.jsonl:2: label a is not a string"},
       }) {
    std::ofstream(path) << "{\"labels\":{\"__name__\":\"ALERTS_FOR_STATE\",\"alertname\":\"Ok\"},\"t\":"
                        << kNow << ",\"v\":1699999900}\n"
                        << c.second_line << "\n";
    absl::StatusOr<size_t> loaded = LoadForState(path, &head);
    EXPECT_FALSE(loaded.ok()) << c.second_line;
    EXPECT_THAT(loaded.status().message(), HasSubstr(c.want));
    int64_t t = 0;
    EXPECT_TRUE(std::isnan(Last(head, "Ok", &t))) << "half-applied: " << c.second_line;
  }
}

}  // namespace
}  // namespace vigil::rpc::server
