// Helpers shared by the notifier's tests: alert construction and reading a
// metric's value back out of a prometheus::Registry.
#ifndef VIGIL_RPC_NOTIFIER_TEST_UTIL_H_
#define VIGIL_RPC_NOTIFIER_TEST_UTIL_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "engine/alert_sink.h"
#include "prometheus/registry.h"
#include "storage/labels.h"

namespace vigil::rpc::notifier::testing {

inline storage::Labels L(std::vector<storage::Label> labels) {
  return *storage::Labels::FromUnsorted(std::move(labels));
}

inline engine::Alert FiringAlert(const std::string& name,
                                 std::vector<storage::Label> extra = {}) {
  engine::Alert a;
  extra.push_back({"alertname", name});
  a.labels = L(std::move(extra));
  a.state = engine::AlertState::kFiring;
  a.starts_at = absl::FromUnixMillis(1700000000123);
  a.fired_at = a.starts_at;
  a.active_at = a.starts_at;
  a.ends_at = a.starts_at + absl::Minutes(4);
  a.generator_url = "http://vigil:9090/graph?g0.expr=up";
  return a;
}

// Value of the counter, gauge or (count of) summary/histogram `name` with the
// given label pairs; -1 when absent.
inline double MetricValue(prometheus::Registry& registry,
                          const std::string& name,
                          const std::vector<std::pair<std::string, std::string>>&
                              labels = {}) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != name) {
      continue;
    }
    for (const prometheus::ClientMetric& m : f.metric) {
      bool match = true;
      for (const auto& [k, v] : labels) {
        bool found = false;
        for (const prometheus::ClientMetric::Label& l : m.label) {
          found = found || (l.name == k && l.value == v);
        }
        match = match && found;
      }
      if (!match) {
        continue;
      }
      switch (f.type) {
        case prometheus::MetricType::Counter:
          return m.counter.value;
        case prometheus::MetricType::Gauge:
          return m.gauge.value;
        case prometheus::MetricType::Summary:
          return static_cast<double>(m.summary.sample_count);
        case prometheus::MetricType::Histogram:
          return static_cast<double>(m.histogram.sample_count);
        default:
          return -1;
      }
    }
  }
  return -1;
}

}  // namespace vigil::rpc::notifier::testing

#endif  // VIGIL_RPC_NOTIFIER_TEST_UTIL_H_
