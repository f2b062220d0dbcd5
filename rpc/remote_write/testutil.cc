#include "rpc/remote_write/testutil.h"

#include <bit>
#include <cmath>
#include <limits>

#include <snappy.h>

#include "absl/strings/str_cat.h"

namespace vigil::rpc::remote_write {

prompb::WriteRequest MakeWriteRequest(const std::vector<TestSeries>& series) {
  prompb::WriteRequest req;
  for (const TestSeries& s : series) {
    prompb::TimeSeries* ts = req.add_timeseries();
    for (const auto& [n, v] : s.labels) {
      prompb::Label* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    }
    for (const auto& [t, v] : s.samples) {
      prompb::Sample* sample = ts->add_samples();
      sample->set_timestamp(t);
      sample->set_value(v);
    }
  }
  return req;
}

std::string Compress(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

std::string EncodeBody(const prompb::WriteRequest& request) {
  std::string raw;
  request.SerializeToString(&raw);
  return Compress(raw);
}

std::vector<std::pair<std::string, prompb::WriteRequest>> GoldenRequests() {
  std::vector<std::pair<std::string, prompb::WriteRequest>> out;
  out.emplace_back(
      "simple",
      MakeWriteRequest({
          {{{"__name__", "up"}, {"instance", "localhost:9100"}, {"job", "node"}},
           {{1700000000000, 1}, {1700000015000, 1}, {1700000030000, 0}}},
          {{{"__name__", "http_requests_total"},
            {"code", "200"},
            {"job", "api"}},
           {{1700000000000, 1027}, {1700000015000, 1040.5}}},
      }));
  out.emplace_back(
      "special_values",
      MakeWriteRequest({
          {{{"__name__", "weird"}, {"kind", "nan"}},
           {{1700000000000, std::numeric_limits<double>::quiet_NaN()}}},
          {{{"__name__", "weird"}, {"kind", "inf"}},
           {{1700000000000, std::numeric_limits<double>::infinity()},
            {1700000001000, -std::numeric_limits<double>::infinity()}}},
          {{{"__name__", "weird"}, {"kind", "stale"}},
           {{1700000000000, 5},
            {1700000001000, std::bit_cast<double>(0x7ff0000000000002ULL)}}},
      }));
  // Labels out of order, as a careless sender may send them.
  out.emplace_back(
      "unsorted_labels",
      MakeWriteRequest({
          {{{"zone", "b"}, {"job", "x"}, {"__name__", "m"}, {"a", "1"}},
           {{1700000000000, 42}}},
      }));
  {
    TestSeries many;
    many.labels.emplace_back("__name__", "many_series_metric");
    for (int i = 0; i < 1; ++i) many.samples.emplace_back(1700000000000, i);
    std::vector<TestSeries> all;
    for (int s = 0; s < 100; ++s) {
      TestSeries t = many;
      t.labels.emplace_back("series", absl::StrCat("s", s));
      t.samples.clear();
      for (int i = 0; i < 10; ++i) {
        t.samples.emplace_back(1700000000000 + i * 15000, s * 10 + i);
      }
      all.push_back(std::move(t));
    }
    out.emplace_back("hundred_series", MakeWriteRequest(all));
  }
  out.emplace_back("empty", prompb::WriteRequest());
  return out;
}

}  // namespace vigil::rpc::remote_write
