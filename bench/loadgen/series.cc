#include "bench/loadgen/series.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vigil::bench {
namespace {

// One series of a simulated instance's scrape, before job/instance/region.
struct SlotTemplate {
  std::string name;
  LabelPairs labels;  // Family labels (handler, method, le, ...).
  SeriesKind kind;
  double scale = 1;      // Counter increment unit or gauge level unit.
  bool constant = false;  // Gauges like `up` that never move.
  double cdf = 1;         // kBucket: share of observations <= le.
  int histogram = -1;     // Histogram index within the instance.
};

constexpr const char* kJobs[] = {"api", "node", "db", "frontend"};
constexpr const char* kRegions[] = {"eu-west-1", "us-east-1", "ap-south-1"};
constexpr const char* kHandlers[] = {"/api/v1/query", "/api/v1/write",
                                     "/metrics",      "/login",
                                     "/cart",         "/search"};
constexpr const char* kGrpcMethods[] = {"Get", "Put", "List"};
constexpr const char* kLe[] = {"0.005", "0.01", "0.025", "0.05",
                               "0.1",   "0.25", "0.5",   "1",
                               "2.5",   "5",    "10",    "+Inf"};
// A latency distribution's CDF at kLe; cumulative and ending at 1.
constexpr double kCdf[] = {0.05, 0.1,  0.2,   0.35,  0.55,  0.75,
                           0.87, 0.94, 0.98,  0.995, 0.999, 1.0};

void AddHistogram(const std::string& base, const LabelPairs& labels,
                  int* histograms, std::vector<SlotTemplate>* out) {
  const int h = (*histograms)++;
  // _count first: it is the series the others derive from.
  out->push_back({base + "_count", labels, SeriesKind::kHistogramCount, 1,
                  false, 1, h});
  out->push_back(
      {base + "_sum", labels, SeriesKind::kHistogramSum, 1, false, 1, h});
  for (size_t j = 0; j < std::size(kLe); ++j) {
    LabelPairs with_le = labels;
    with_le.emplace_back("le", kLe[j]);
    out->push_back({base + "_bucket", with_le, SeriesKind::kBucket, 1, false,
                    kCdf[j], h});
  }
}

std::vector<SlotTemplate> BuildTemplates() {
  std::vector<SlotTemplate> t;
  auto counter = [&t](std::string name, LabelPairs labels, double scale) {
    t.push_back({std::move(name), std::move(labels), SeriesKind::kCounter,
                 scale});
  };
  auto gauge = [&t](std::string name, LabelPairs labels, double scale,
                    bool constant = false) {
    t.push_back({std::move(name), std::move(labels), SeriesKind::kGauge, scale,
                 constant});
  };
  for (const char* handler : kHandlers) {
    for (const char* method : {"GET", "POST"}) {
      for (const char* status : {"200", "500"}) {
        counter("http_requests_total",
                {{"handler", handler}, {"method", method}, {"status", status}},
                status[0] == '5' ? 0.05 : 1);
      }
    }
  }
  counter("process_cpu_seconds_total", {}, 0.01);
  for (const char* device : {"eth0", "lo"}) {
    counter("node_network_receive_bytes_total", {{"device", device}}, 1500);
    counter("node_network_transmit_bytes_total", {{"device", device}}, 1500);
  }
  for (const char* cpu : {"0", "1"}) {
    for (const char* mode : {"idle", "user", "system", "iowait"}) {
      counter("node_cpu_seconds_total", {{"cpu", cpu}, {"mode", mode}}, 0.1);
    }
  }
  for (const char* method : kGrpcMethods) {
    for (const char* code : {"OK", "Unavailable"}) {
      counter("grpc_server_handled_total",
              {{"grpc_code", code}, {"grpc_method", method}}, 1);
    }
  }
  counter("node_context_switches_total", {}, 100);
  counter("node_intr_total", {}, 50);
  counter("go_memstats_alloc_bytes_total", {}, 4096);

  gauge("up", {}, 1, /*constant=*/true);
  gauge("process_start_time_seconds", {}, 1.7e6, /*constant=*/true);
  gauge("process_resident_memory_bytes", {}, 1 << 20);
  gauge("process_open_fds", {}, 1);
  gauge("go_goroutines", {}, 1);
  gauge("go_threads", {}, 0.1);
  gauge("node_load1", {}, 0.01);
  gauge("node_memory_MemAvailable_bytes", {}, 1 << 22);
  for (const char* mount : {"/", "/var"}) {
    gauge("node_filesystem_avail_bytes", {{"mountpoint", mount}}, 1 << 24);
  }
  for (const char* queue : {"ingest", "notify", "compact"}) {
    gauge("queue_length", {{"queue", queue}}, 1);
  }

  int histograms = 0;
  for (const char* handler : kHandlers) {
    AddHistogram("http_request_duration_seconds", {{"handler", handler}},
                 &histograms, &t);
  }
  for (const char* method : kGrpcMethods) {
    AddHistogram("grpc_server_handling_seconds", {{"grpc_method", method}},
                 &histograms, &t);
  }
  return t;
}

const std::vector<SlotTemplate>& Templates() {
  static const auto* templates =
      new std::vector<SlotTemplate>(BuildTemplates());
  return *templates;
}

// splitmix64: cheap, well-mixed, and the same on every platform.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A monotone counter: each round adds between 1 and 2*rate-1 units.
double CounterValue(uint64_t seed, int64_t k) {
  const uint64_t rate = 1 + seed % 97;
  return static_cast<double>(k * static_cast<int64_t>(rate) +
                             static_cast<int64_t>(
                                 Mix(seed ^ static_cast<uint64_t>(k)) % rate));
}

}  // namespace

SeriesSet::SeriesSet(const Options& options)
    : seed_(options.seed),
      generation_(static_cast<size_t>(std::max<int64_t>(options.series, 0)),
                  0),
      birth_round_(generation_.size(), 0) {}

size_t SeriesSet::SeriesPerInstance() { return Templates().size(); }

uint64_t SeriesSet::SlotSeed(size_t i) const {
  return Mix(seed_ ^ Mix(i) ^ (static_cast<uint64_t>(generation_[i]) << 40));
}

uint64_t SeriesSet::HistogramSeed(size_t i) const {
  const size_t per = SeriesPerInstance();
  const SlotTemplate& t = Templates()[i % per];
  const uint64_t instance = i / per;
  return Mix(seed_ ^ Mix(instance * 64 + static_cast<uint64_t>(t.histogram)) ^
             (static_cast<uint64_t>(generation_[i]) << 40));
}

SeriesKind SeriesSet::Kind(size_t i) const {
  return Templates()[i % SeriesPerInstance()].kind;
}

LabelPairs SeriesSet::Labels(size_t i) const {
  const size_t per = SeriesPerInstance();
  const SlotTemplate& t = Templates()[i % per];
  const size_t k = i / per;
  LabelPairs labels = t.labels;
  labels.reserve(labels.size() + 4);
  labels.emplace_back("__name__", t.name);
  labels.emplace_back("job", kJobs[k % std::size(kJobs)]);
  std::string instance = absl::StrFormat("10.%d.%d.%d:9100", (k >> 16) & 255,
                                         (k >> 8) & 255, k & 255);
  if (k >= (1u << 24)) {
    absl::StrAppend(&instance, "-", k >> 24);
  }
  if (generation_[i] > 0) {
    absl::StrAppend(&instance, "-g", generation_[i]);
  }
  labels.emplace_back("instance", std::move(instance));
  labels.emplace_back("region",
                      kRegions[(k / std::size(kJobs)) % std::size(kRegions)]);
  std::sort(labels.begin(), labels.end());
  return labels;
}

double SeriesSet::Value(size_t i, int64_t round) const {
  const SlotTemplate& t = Templates()[i % SeriesPerInstance()];
  const int64_t k = std::max<int64_t>(0, round - birth_round_[i]);
  switch (t.kind) {
    case SeriesKind::kCounter:
      return CounterValue(SlotSeed(i), k) * t.scale;
    case SeriesKind::kGauge: {
      const uint64_t s = SlotSeed(i);
      const double level = static_cast<double>(1 + s % 1000) * t.scale;
      if (t.constant) {
        return t.scale == 1 ? 1 : level;
      }
      const double phase = static_cast<double>(s % 628) / 100.0;
      const double noise = static_cast<double>(
                               Mix(s ^ static_cast<uint64_t>(k)) % 1000) /
                           20000.0;  // Up to 5% of the level.
      return std::round(level * (1 + 0.2 * std::sin(0.05 * k + phase) + noise) /
                        t.scale) *
             t.scale;
    }
    case SeriesKind::kHistogramCount:
      return CounterValue(HistogramSeed(i), k);
    case SeriesKind::kBucket:
      return std::floor(CounterValue(HistogramSeed(i), k) * t.cdf);
    case SeriesKind::kHistogramSum: {
      const uint64_t hs = HistogramSeed(i);
      const double mean = 0.05 + static_cast<double>(hs % 100) / 200.0;
      return CounterValue(hs, k) * mean;
    }
  }
  return 0;
}

std::vector<std::pair<size_t, size_t>> SeriesSet::Churn(int64_t round,
                                                         size_t count) {
  std::vector<std::pair<size_t, size_t>> ranges;
  const size_t n = size();
  if (n == 0 || count == 0) {
    return ranges;
  }
  count = std::min(count, n);
  size_t lo = churn_cursor_;
  size_t left = count;
  while (left > 0) {
    const size_t hi = std::min(n, lo + left);
    for (size_t i = lo; i < hi; ++i) {
      ++generation_[i];
      birth_round_[i] = static_cast<int32_t>(round);
    }
    ranges.emplace_back(lo, hi);
    left -= hi - lo;
    lo = hi == n ? 0 : hi;
  }
  churn_cursor_ = lo;
  return ranges;
}

}  // namespace vigil::bench
