// loadgen: remote-write load generator command line. See bench/README.md.
#include <cstdio>
#include <fstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/loadgen/loadgen.h"

ABSL_FLAG(std::string, url, "", "Remote-write endpoint, e.g. http://127.0.0.1:9090/api/v1/write");
ABSL_FLAG(int64_t, series, 10000, "Active series");
ABSL_FLAG(int64_t, rounds, 10, "Scrape rounds; one sample per series each");
ABSL_FLAG(absl::Duration, scrape_interval, absl::Seconds(15),
          "Simulated time between rounds");
ABSL_FLAG(std::string, start, "",
          "Timestamp of round 0: unix seconds or RFC 3339. Default: now, "
          "or with backfill now - rounds * scrape_interval");
ABSL_FLAG(bool, realtime, false,
          "Pace rounds by the wall clock instead of sending as fast as "
          "acknowledged (backfill speed)");
ABSL_FLAG(int64_t, batch, 2000, "Samples per request");
ABSL_FLAG(int, connections, 4, "Concurrent keep-alive connections");
ABSL_FLAG(int64_t, churn, 0, "Series replaced by new series every round");
ABSL_FLAG(int, max_retries, 10, "Retries per request on 5xx/429/transport errors");
ABSL_FLAG(int64_t, max_failed_requests, 50,
          "Abandon the run after this many requests failed for good");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30), "Per-request timeout");
ABSL_FLAG(uint64_t, seed, 42, "Seed of the label/value shaping");
ABSL_FLAG(std::string, json, "", "Also write the report as JSON to this file");
ABSL_FLAG(bool, progress, true, "Print progress on stderr");

namespace {

bool ParseStart(const std::string& s, absl::Time* t) {
  double secs = 0;
  if (absl::SimpleAtod(s, &secs)) {
    *t = absl::FromUnixMillis(static_cast<int64_t>(secs * 1000));
    return true;
  }
  std::string err;
  return absl::ParseTime(absl::RFC3339_full, s, t, &err);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Sends synthetic scrape rounds to a Prometheus remote-write endpoint.\n"
      "  loadgen --url=http://127.0.0.1:9090/api/v1/write --series=100000 "
      "--rounds=100");
  absl::ParseCommandLine(argc, argv);

  vigil::bench::LoadOptions o;
  o.url = absl::GetFlag(FLAGS_url);
  o.series = absl::GetFlag(FLAGS_series);
  o.rounds = absl::GetFlag(FLAGS_rounds);
  o.scrape_interval = absl::GetFlag(FLAGS_scrape_interval);
  o.realtime = absl::GetFlag(FLAGS_realtime);
  o.batch = absl::GetFlag(FLAGS_batch);
  o.connections = absl::GetFlag(FLAGS_connections);
  o.churn = absl::GetFlag(FLAGS_churn);
  o.max_retries = absl::GetFlag(FLAGS_max_retries);
  o.max_failed_requests = absl::GetFlag(FLAGS_max_failed_requests);
  o.request_timeout = absl::GetFlag(FLAGS_timeout);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.progress = absl::GetFlag(FLAGS_progress);

  const std::string start = absl::GetFlag(FLAGS_start);
  if (!start.empty()) {
    if (!ParseStart(start, &o.start)) {
      std::fprintf(stderr, "bad --start %s: want unix seconds or RFC 3339\n",
                   start.c_str());
      return 2;
    }
  } else {
    // Whole seconds, like scrape timestamps; backfill ends at about now so
    // that retention windows keep everything that was sent.
    absl::Time now = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
    o.start = o.realtime ? now : now - o.rounds * o.scrape_interval;
  }

  auto report = vigil::bench::RunLoad(o);
  if (!report.ok()) {
    std::fprintf(stderr, "loadgen: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::fputs(report->ToText().c_str(), stdout);
  const std::string json = absl::GetFlag(FLAGS_json);
  if (!json.empty()) {
    std::ofstream f(json);
    f << report->ToJson() << "\n";
    if (!f) {
      std::fprintf(stderr, "loadgen: cannot write %s\n", json.c_str());
      return 1;
    }
  }
  return report->failed_requests > 0 ? 3 : 0;
}
