// vigil's own metrics beyond the prometheus-cpp registry: process_* read from
// /proc/self, head statistics, build info; and the conversion that lets vigil
// append its own metrics to its store (job="vigil"), as if scraped.
#ifndef VIGIL_RPC_SERVER_SELF_METRICS_H_
#define VIGIL_RPC_SERVER_SELF_METRICS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>

#include "promql/window_cache.h"
#include "storage/head.h"
#include "storage/labels.h"
#include "storage/storage.h"

namespace vigil::rpc::server {

inline constexpr char kVersion[] = "0.1.0";
inline constexpr char kBranch[] = "main";
inline constexpr char kRevision[] = "unknown";

// `vigil, version 0.1.0 (branch: main, revision: unknown)` plus build lines,
// as `--version` prints it.
std::string VersionText();

// process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds,
// process_max_fds. Families whose /proc files cannot be read are left out.
std::vector<prometheus::MetricFamily> ProcessMetrics();

// vigil_head_series, _chunks, _chunk_bytes, _samples, _label_bytes,
// vigil_head_memory_bytes.
std::vector<prometheus::MetricFamily> HeadMetrics(const storage::HeadStats& s);

// vigil_rule_window_cache_{hits,misses,evictions,over_budget}_total and
// _entries, _bytes.
std::vector<prometheus::MetricFamily> WindowCacheMetrics(
    const promql::WindowCacheStats& s);

// vigil_build_info{version,revision,branch,compiler} 1.
prometheus::MetricFamily BuildInfoMetric();

// The text exposition format 0.0.4 of `families`.
std::string SerializeText(const std::vector<prometheus::MetricFamily>& families);

// Samples at time `t_ms` for every metric in `families` (histograms expand to
// _bucket/_sum/_count, summaries to quantiles/_sum/_count), each series also
// carrying `target` labels (job, instance). Owns its labels and samples; use
// batch() to append.
class SelfScrape {
 public:
  SelfScrape(const std::vector<prometheus::MetricFamily>& families,
             const std::vector<storage::Label>& target, int64_t t_ms);
  // The series Prometheus synthesises for every scrape: up (1: vigil reads
  // its own registry, which cannot fail), scrape_duration_seconds and
  // scrape_samples_scraped (the samples added by the constructor). Call once,
  // after the constructor.
  void AddReportSeries(const std::vector<storage::Label>& target,
                       double duration_seconds, int64_t t_ms);
  // Valid while this object lives.
  std::vector<storage::SeriesSamples> batch() const;
  size_t size() const { return labels_.size(); }

 private:
  void Add(std::vector<storage::Label> labels, double v, int64_t t_ms);
  std::vector<storage::Labels> labels_;
  std::vector<storage::Sample> samples_;
};

}  // namespace vigil::rpc::server

#endif  // VIGIL_RPC_SERVER_SELF_METRICS_H_
