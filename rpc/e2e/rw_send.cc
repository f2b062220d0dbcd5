// rw_send: remote-writes samples from a JSON-lines file to one or more
// remote-write 1.0 endpoints (vigil, Prometheus, VictoriaMetrics), so that
// end-to-end tests feed every system exactly the same data.
//
//   rw_send --url=http://127.0.0.1:9096/api/v1/write [--url=...] FILE
//
// Each line of FILE: {"labels":{"__name__":"up","job":"a"},"samples":[[t_ms,v],...]}
// Values may be numbers or the strings "NaN", "+Inf", "-Inf", "stale".
// Samples are sent in time order across all series (one request per distinct
// timestamp batch), as a scraper would. Exit 1 when any request fails.
#include <curl/curl.h>
#include <snappy.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "rpc/proto/remote.pb.h"
#include "storage/sample.h"

namespace {

struct Series {
  std::vector<std::pair<std::string, std::string>> labels;  // sorted
  std::vector<std::pair<int64_t, double>> samples;
};

double ParseValue(const nlohmann::json& v) {
  if (v.is_number()) return v.get<double>();
  const std::string s = v.get<std::string>();
  if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (s == "+Inf" || s == "Inf") return std::numeric_limits<double>::infinity();
  if (s == "-Inf") return -std::numeric_limits<double>::infinity();
  if (s == "stale") return vigil::storage::StaleNaN();
  return std::stod(s);
}

size_t Discard(char*, size_t size, size_t n, void* body) {
  (void)body;
  return size * n;
}

bool Post(CURL* curl, const std::string& url, const std::string& body) {
  std::string response;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/x-protobuf");
  headers = curl_slist_append(headers, "Content-Encoding: snappy");
  headers = curl_slist_append(headers, "X-Prometheus-Remote-Write-Version: 0.1.0");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK || status / 100 != 2) {
    std::cerr << "rw_send: POST " << url << " failed: "
              << (rc != CURLE_OK ? curl_easy_strerror(rc) : "") << " HTTP "
              << status << "\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> urls;
  std::string file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--url=", 0) == 0) {
      urls.push_back(a.substr(6));
    } else if (!a.empty() && a[0] != '-') {
      file = a;
    } else {
      std::cerr << "usage: rw_send --url=URL [--url=URL...] FILE\n";
      return 2;
    }
  }
  if (urls.empty() || file.empty()) {
    std::cerr << "usage: rw_send --url=URL [--url=URL...] FILE\n";
    return 2;
  }
  std::ifstream in(file);
  if (!in) {
    std::cerr << "rw_send: cannot open " << file << "\n";
    return 2;
  }
  std::vector<Series> series;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("labels") || !j.contains("samples")) {
      std::cerr << "rw_send: " << file << ":" << lineno << ": bad line\n";
      return 2;
    }
    Series s;
    for (auto it = j["labels"].begin(); it != j["labels"].end(); ++it) {
      s.labels.emplace_back(it.key(), it.value().get<std::string>());
    }
    std::sort(s.labels.begin(), s.labels.end());
    for (const auto& p : j["samples"]) {
      s.samples.emplace_back(p[0].get<int64_t>(), ParseValue(p[1]));
    }
    series.push_back(std::move(s));
  }
  // Group samples by timestamp so that every system receives them in time
  // order, one request per scrape-like round.
  std::map<int64_t, std::vector<std::pair<size_t, double>>> rounds;
  for (size_t i = 0; i < series.size(); ++i) {
    for (const auto& [t, v] : series[i].samples) rounds[t].emplace_back(i, v);
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL* curl = curl_easy_init();
  int64_t sent = 0;
  bool ok = true;
  for (const auto& [t, entries] : rounds) {
    vigil::prompb::WriteRequest req;
    for (const auto& [idx, v] : entries) {
      vigil::prompb::TimeSeries* ts = req.add_timeseries();
      for (const auto& [name, value] : series[idx].labels) {
        vigil::prompb::Label* l = ts->add_labels();
        l->set_name(name);
        l->set_value(value);
      }
      vigil::prompb::Sample* s = ts->add_samples();
      s->set_timestamp(t);
      s->set_value(v);
    }
    std::string raw, compressed;
    req.SerializeToString(&raw);
    snappy::Compress(raw.data(), raw.size(), &compressed);
    for (const std::string& url : urls) ok = Post(curl, url, compressed) && ok;
    sent += static_cast<int64_t>(entries.size());
  }
  curl_easy_cleanup(curl);
  std::cout << "rw_send: " << sent << " samples in " << rounds.size()
            << " requests to " << urls.size() << " target(s)\n";
  return ok ? 0 : 1;
}
