#include "rpc/server/metadata_api.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "promql/parser/parser.h"
#include "rpc/query_api/api_params.h"
#include "rpc/query_api/json_format.h"

namespace vigil::rpc::server {
namespace {

absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

http::Response ApiError(int status, std::string_view type,
                        std::string_view message) {
  std::string body = "{\"status\":\"error\",\"errorType\":";
  rpc::AppendJsonString(type, &body);
  body += ",\"error\":";
  rpc::AppendJsonString(message, &body);
  body += "}";
  return http::Response::Json(status, std::move(body));
}

http::Response BadData(absl::string_view message) {
  return ApiError(400, "bad_data",
                  std::string_view(message.data(), message.size()));
}

struct Window {
  int64_t start = rpc::kMinApiTimeMs;
  int64_t end = rpc::kMaxApiTimeMs;
};

absl::StatusOr<Window> ParseWindow(const http::Request& r) {
  Window w;
  if (!r.Param("start").empty()) {
    auto t = rpc::ParseApiTimeMs(r.Param("start"));
    if (!t.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid parameter \"start\": ", t.status().message()));
    }
    w.start = *t;
  }
  if (!r.Param("end").empty()) {
    auto t = rpc::ParseApiTimeMs(r.Param("end"));
    if (!t.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid parameter \"end\": ", t.status().message()));
    }
    w.end = *t;
  }
  if (w.end < w.start) {
    return absl::InvalidArgumentError(
        "invalid parameter \"end\": end timestamp must not be before start time");
  }
  return w;
}

absl::StatusOr<std::vector<std::vector<storage::Matcher>>> ParseMatchers(
    const http::Request& r) {
  std::vector<std::vector<storage::Matcher>> out;
  for (const std::string& m : r.Params("match[]")) {
    auto parsed = promql::parser::ParseMetricSelector(m);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid parameter \"match[]\": ", parsed.status().message()));
    }
    bool any_non_empty = false;
    for (const storage::Matcher& x : *parsed) {
      if (!x.MatchesEmpty()) any_non_empty = true;
    }
    if (!any_non_empty) {
      return absl::InvalidArgumentError(
          "match[] must contain at least one non-empty matcher");
    }
    out.push_back(*std::move(parsed));
  }
  return out;
}

// Prometheus 2.50+: `limit` caps the result and adds a warning.
absl::StatusOr<size_t> ParseLimit(const http::Request& r) {
  std::string_view s = r.Param("limit");
  if (s.empty()) return 0;
  int64_t n;
  if (!absl::SimpleAtoi(AV(s), &n) || n < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid parameter \"limit\": cannot parse \"", AV(s),
                     "\" to a valid limit"));
  }
  return static_cast<size_t>(n);
}

// Union of Select over every matcher set, sorted, unique.
absl::StatusOr<std::vector<storage::SeriesHandle>> SelectAll(
    const storage::Queryable& store,
    const std::vector<std::vector<storage::Matcher>>& sets, const Window& w) {
  std::vector<storage::SeriesHandle> all;
  for (const auto& set : sets) {
    auto got = store.Select(set, w.start, w.end);
    if (!got.ok()) return got.status();
    for (auto& h : *got) all.push_back(std::move(h));
  }
  if (sets.size() > 1) {
    std::sort(all.begin(), all.end(),
              [](const storage::SeriesHandle& a, const storage::SeriesHandle& b) {
                return a.labels < b.labels;
              });
    all.erase(std::unique(all.begin(), all.end(),
                          [](const storage::SeriesHandle& a,
                             const storage::SeriesHandle& b) {
                            return a.labels == b.labels;
                          }),
              all.end());
  }
  return all;
}

void AppendLabelsObject(const storage::Labels& labels, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const storage::Label& l : labels) {
    if (!first) out->push_back(',');
    first = false;
    rpc::AppendJsonString(l.name, out);
    out->push_back(':');
    rpc::AppendJsonString(l.value, out);
  }
  out->push_back('}');
}

http::Response StringList(const std::vector<std::string>& values, size_t limit) {
  std::string body = "{\"status\":\"success\",\"data\":[";
  size_t n = limit > 0 ? std::min(limit, values.size()) : values.size();
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) body.push_back(',');
    rpc::AppendJsonString(values[i], &body);
  }
  body += "]";
  if (n < values.size()) {
    body += ",\"warnings\":[\"results truncated due to limit\"]";
  }
  body += "}";
  return http::Response::Json(200, std::move(body));
}

// The name/value union over several matcher sets (or all series).
template <typename Fn>
absl::StatusOr<std::vector<std::string>> Union(
    const std::vector<std::vector<storage::Matcher>>& sets, Fn fn) {
  if (sets.empty()) return fn(absl::Span<const storage::Matcher>());
  std::set<std::string> u;
  for (const auto& set : sets) {
    auto got = fn(set);
    if (!got.ok()) return got.status();
    u.insert(got->begin(), got->end());
  }
  return std::vector<std::string>(u.begin(), u.end());
}

}  // namespace

void MetadataApi::Register(http::Router* router) const {
  for (const char* method : {"GET", "POST"}) {
    router->Handle(method, "/api/v1/series",
                   [this](const http::Request& r) { return Series(r); });
    router->Handle(method, "/api/v1/labels",
                   [this](const http::Request& r) { return LabelNames(r); });
    router->Handle(method, "/api/v1/export",
                   [this](const http::Request& r) { return Export(r); });
  }
  router->HandlePrefix("GET", "/api/v1/label/",
                       [this](const http::Request& r) { return LabelValues(r); });
}

http::Response MetadataApi::Series(const http::Request& request) const {
  auto window = ParseWindow(request);
  if (!window.ok()) return BadData(window.status().message());
  auto sets = ParseMatchers(request);
  if (!sets.ok()) return BadData(sets.status().message());
  if (sets->empty()) return BadData("no match[] parameter provided");
  auto limit = ParseLimit(request);
  if (!limit.ok()) return BadData(limit.status().message());
  auto series = SelectAll(*store_, *sets, *window);
  if (!series.ok()) return BadData(series.status().message());
  std::string body = "{\"status\":\"success\",\"data\":[";
  size_t n = *limit > 0 ? std::min(*limit, series->size()) : series->size();
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) body.push_back(',');
    AppendLabelsObject((*series)[i].labels, &body);
  }
  body += "]";
  if (n < series->size()) {
    body += ",\"warnings\":[\"results truncated due to limit\"]";
  }
  body += "}";
  return http::Response::Json(200, std::move(body));
}

http::Response MetadataApi::LabelNames(const http::Request& request) const {
  auto window = ParseWindow(request);
  if (!window.ok()) return BadData(window.status().message());
  auto sets = ParseMatchers(request);
  if (!sets.ok()) return BadData(sets.status().message());
  auto limit = ParseLimit(request);
  if (!limit.ok()) return BadData(limit.status().message());
  auto names = Union(*sets, [&](absl::Span<const storage::Matcher> m) {
    return store_->LabelNames(m, window->start, window->end);
  });
  if (!names.ok()) return BadData(names.status().message());
  return StringList(*names, *limit);
}

http::Response MetadataApi::LabelValues(const http::Request& request) const {
  std::string_view suffix = request.path_suffix;
  constexpr std::string_view kValues = "/values";
  if (suffix.size() <= kValues.size() ||
      suffix.substr(suffix.size() - kValues.size()) != kValues) {
    return http::Response::Text(404, "404 page not found\n");
  }
  std::string name(suffix.substr(0, suffix.size() - kValues.size()));
  if (name.empty() || name.find('/') != std::string::npos) {
    return BadData(absl::StrCat("invalid label name: \"", name, "\""));
  }
  auto window = ParseWindow(request);
  if (!window.ok()) return BadData(window.status().message());
  auto sets = ParseMatchers(request);
  if (!sets.ok()) return BadData(sets.status().message());
  auto limit = ParseLimit(request);
  if (!limit.ok()) return BadData(limit.status().message());
  auto values = Union(*sets, [&](absl::Span<const storage::Matcher> m) {
    return store_->LabelValues(name, m, window->start, window->end);
  });
  if (!values.ok()) return BadData(values.status().message());
  return StringList(*values, *limit);
}

http::Response MetadataApi::Export(const http::Request& request) const {
  auto window = ParseWindow(request);
  if (!window.ok()) return BadData(window.status().message());
  auto sets = ParseMatchers(request);
  if (!sets.ok()) return BadData(sets.status().message());
  if (sets->empty()) return BadData("missing `match[]` arg");
  auto series = SelectAll(*store_, *sets, *window);
  if (!series.ok()) return BadData(series.status().message());
  std::string body;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (const storage::SeriesHandle& h : *series) {
    ts.clear();
    vs.clear();
    if (store_->ReadSamples(h.ref, window->start, window->end, &ts, &vs) == 0) {
      continue;
    }
    body += "{\"metric\":";
    AppendLabelsObject(h.labels, &body);
    body += ",\"values\":[";
    for (size_t i = 0; i < vs.size(); ++i) {
      if (i > 0) body.push_back(',');
      // JSON has no NaN/Inf; these are the tokens JavaScript and Python
      // read back.
      if (std::isnan(vs[i])) {
        body += "NaN";
      } else if (std::isinf(vs[i])) {
        body += vs[i] > 0 ? "Infinity" : "-Infinity";
      } else {
        rpc::AppendPromFloat(vs[i], &body);
      }
    }
    body += "],\"timestamps\":[";
    for (size_t i = 0; i < ts.size(); ++i) {
      if (i > 0) body.push_back(',');
      absl::StrAppend(&body, ts[i]);
    }
    body += "]}\n";
  }
  http::Response r = http::Response::Text(200, std::move(body));
  r.content_type = "application/stream+json";
  return r;
}

}  // namespace vigil::rpc::server
