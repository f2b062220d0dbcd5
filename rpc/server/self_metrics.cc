#include "rpc/server/self_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <prometheus/text_serializer.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vigil::rpc::server {
namespace {

prometheus::MetricFamily Gauge(std::string name, std::string help, double v) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  f.metric.emplace_back();
  f.metric.back().gauge.value = v;
  return f;
}

prometheus::MetricFamily Counter(std::string name, std::string help,
                                 double v) {
  prometheus::MetricFamily f = Gauge(std::move(name), std::move(help), 0);
  f.type = prometheus::MetricType::Counter;
  f.metric.back().counter.value = v;
  return f;
}

std::string ReadAll(const char* path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Shortest round-trip form, as Go's strconv.FormatFloat(v, 'g', -1, 64)
// prints `le` and `quantile` values for the common cases ("0.005", "10").
std::string FormatBound(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, ptr);
}

}  // namespace

std::string VersionText() {
  return absl::StrCat(
      "vigil, version ", kVersion, " (branch: ", kBranch,
      ", revision: ", kRevision, ")\n",
      "  build user:       unknown\n",
      "  build date:       unknown\n",
      "  compiler:         gcc ", __VERSION__, " (C++", __cplusplus / 100 % 100,
      ")\n", "  platform:         linux/",
#if defined(__x86_64__)
      "amd64",
#elif defined(__aarch64__)
      "arm64",
#else
      "unknown",
#endif
      "\n");
}

std::vector<prometheus::MetricFamily> ProcessMetrics() {
  std::vector<prometheus::MetricFamily> out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::string stat = ReadAll("/proc/self/stat");
  // The command name (field 2) may hold spaces; fields restart after ')'.
  size_t paren = stat.rfind(')');
  if (paren != std::string::npos && ticks > 0) {
    std::vector<std::string> f =
        absl::StrSplit(stat.substr(paren + 2), ' ', absl::SkipEmpty());
    // f[0] is field 3 (state): field N is f[N - 3].
    if (f.size() > 21) {
      double utime = std::stod(f[11]), stime = std::stod(f[12]);
      double start_ticks = std::stod(f[19]);
      double vsize = std::stod(f[20]), rss = std::stod(f[21]);
      out.push_back(Gauge("process_cpu_seconds_total",
                          "Total user and system CPU time spent in seconds.",
                          (utime + stime) / ticks));
      out.back().type = prometheus::MetricType::Counter;
      out.back().metric.back().counter.value = (utime + stime) / ticks;
      out.push_back(Gauge("process_resident_memory_bytes",
                          "Resident memory size in bytes.", rss * page));
      out.push_back(Gauge("process_virtual_memory_bytes",
                          "Virtual memory size in bytes.", vsize));
      double btime = 0;
      std::istringstream ps(ReadAll("/proc/stat"));
      for (std::string line; std::getline(ps, line);) {
        if (line.rfind("btime ", 0) == 0) btime = std::stod(line.substr(6));
      }
      if (btime > 0) {
        out.push_back(Gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            btime + start_ticks / ticks));
      }
    }
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    int n = 0;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    out.push_back(Gauge("process_open_fds", "Number of open file descriptors.",
                        n - 1));  // minus the one opendir holds
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    out.push_back(Gauge("process_max_fds",
                        "Maximum number of open file descriptors.",
                        rl.rlim_cur == RLIM_INFINITY
                            ? std::numeric_limits<double>::infinity()
                            : static_cast<double>(rl.rlim_cur)));
  }
  return out;
}

std::vector<prometheus::MetricFamily> HeadMetrics(const storage::HeadStats& s) {
  return {
      Gauge("vigil_head_series", "Series held in memory.",
            static_cast<double>(s.series)),
      Gauge("vigil_head_chunks", "Sample chunks held in memory.",
            static_cast<double>(s.chunks)),
      Gauge("vigil_head_chunk_bytes", "Encoded bytes of the sample chunks.",
            static_cast<double>(s.chunk_bytes)),
      Gauge("vigil_head_samples", "Samples held in memory.",
            static_cast<double>(s.samples)),
      Gauge("vigil_head_label_bytes",
            "Bytes of interned label symbols and per-series label ids.",
            static_cast<double>(s.label_bytes)),
      Gauge("vigil_head_memory_bytes",
            "Approximate memory the in-memory store accounts for.",
            static_cast<double>(s.approx_memory_bytes)),
  };
}

std::vector<prometheus::MetricFamily> WindowCacheMetrics(
    const promql::WindowCacheStats& s) {
  return {
      Counter("vigil_rule_window_cache_hits_total",
              "Rule reads of a series served from its cached window.",
              static_cast<double>(s.hits)),
      Counter("vigil_rule_window_cache_misses_total",
              "Rule reads of a series that decoded its chunks.",
              static_cast<double>(s.misses)),
      Counter("vigil_rule_window_cache_evictions_total",
              "Cached series windows dropped because no rule read them.",
              static_cast<double>(s.evictions)),
      Counter("vigil_rule_window_cache_over_budget_total",
              "Reads not cached because --rules.window-cache-size was full.",
              static_cast<double>(s.over_budget)),
      Gauge("vigil_rule_window_cache_entries", "Series with a cached window.",
            static_cast<double>(s.entries)),
      Gauge("vigil_rule_window_cache_bytes",
            "Memory of the cached series windows.",
            static_cast<double>(s.bytes)),
  };
}

prometheus::MetricFamily BuildInfoMetric() {
  prometheus::MetricFamily f =
      Gauge("vigil_build_info",
            "A metric with a constant '1' value labeled by version, revision, "
            "branch and compiler from which vigil was built.",
            1);
  f.metric.back().label = {{"branch", std::string(kBranch)},
                           {"compiler", absl::StrCat("gcc ", __VERSION__)},
                           {"revision", std::string(kRevision)},
                           {"version", std::string(kVersion)}};
  return f;
}

std::string SerializeText(
    const std::vector<prometheus::MetricFamily>& families) {
  return prometheus::TextSerializer().Serialize(families);
}

SelfScrape::SelfScrape(const std::vector<prometheus::MetricFamily>& families,
                       const std::vector<storage::Label>& target,
                       int64_t t_ms) {
  for (const prometheus::MetricFamily& f : families) {
    for (const prometheus::ClientMetric& m : f.metric) {
      std::vector<storage::Label> base = target;
      for (const auto& l : m.label) base.push_back({l.name, l.value});
      auto with = [&](std::string name, std::string extra_name = "",
                      std::string extra_value = "") {
        std::vector<storage::Label> ls = base;
        ls.push_back({std::string(storage::kMetricNameLabel), std::move(name)});
        if (!extra_name.empty()) {
          ls.push_back({std::move(extra_name), std::move(extra_value)});
        }
        return ls;
      };
      switch (f.type) {
        case prometheus::MetricType::Counter:
          Add(with(f.name), m.counter.value, t_ms);
          break;
        case prometheus::MetricType::Gauge:
          Add(with(f.name), m.gauge.value, t_ms);
          break;
        case prometheus::MetricType::Untyped:
          Add(with(f.name), m.untyped.value, t_ms);
          break;
        case prometheus::MetricType::Histogram:
          for (const auto& b : m.histogram.bucket) {
            Add(with(f.name + "_bucket", "le", FormatBound(b.upper_bound)),
                static_cast<double>(b.cumulative_count), t_ms);
          }
          Add(with(f.name + "_sum"), m.histogram.sample_sum, t_ms);
          Add(with(f.name + "_count"),
              static_cast<double>(m.histogram.sample_count), t_ms);
          break;
        case prometheus::MetricType::Summary:
          for (const auto& q : m.summary.quantile) {
            Add(with(f.name, "quantile", FormatBound(q.quantile)), q.value,
                t_ms);
          }
          Add(with(f.name + "_sum"), m.summary.sample_sum, t_ms);
          Add(with(f.name + "_count"),
              static_cast<double>(m.summary.sample_count), t_ms);
          break;
      }
    }
  }
}

void SelfScrape::AddReportSeries(const std::vector<storage::Label>& target,
                                 double duration_seconds, int64_t t_ms) {
  const double scraped = static_cast<double>(labels_.size());
  auto with_name = [&](std::string name) {
    std::vector<storage::Label> ls = target;
    ls.push_back({std::string(storage::kMetricNameLabel), std::move(name)});
    return ls;
  };
  Add(with_name("up"), 1.0, t_ms);
  Add(with_name("scrape_duration_seconds"), duration_seconds, t_ms);
  Add(with_name("scrape_samples_scraped"), scraped, t_ms);
}

void SelfScrape::Add(std::vector<storage::Label> labels, double v,
                     int64_t t_ms) {
  auto parsed = storage::Labels::FromUnsorted(std::move(labels));
  if (!parsed.ok()) return;  // a metric label clashing with job/instance
  labels_.push_back(*std::move(parsed));
  samples_.push_back(storage::Sample{t_ms, v});
}

std::vector<storage::SeriesSamples> SelfScrape::batch() const {
  std::vector<storage::SeriesSamples> out;
  out.reserve(labels_.size());
  for (size_t i = 0; i < labels_.size(); ++i) {
    out.push_back(storage::SeriesSamples{
        &labels_[i], absl::Span<const storage::Sample>(&samples_[i], 1)});
  }
  return out;
}

}  // namespace vigil::rpc::server
