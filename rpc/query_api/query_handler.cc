#include "rpc/query_api/query_handler.h"

#include <string>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "rpc/query_api/api_params.h"
#include "rpc/query_api/json_format.h"

namespace vigil::rpc {
namespace {

int HttpStatusForErrorType(std::string_view type) {
  if (type == "bad_data") return 400;
  if (type == "execution") return 422;
  if (type == "timeout" || type == "canceled" || type == "unavailable") {
    return 503;
  }
  if (type == "not_found") return 404;
  return 500;
}

http::Response InvalidParam(std::string_view param, const absl::Status& s) {
  return ApiError("bad_data", absl::StrCat("invalid parameter \"", std::string(param),
                                           "\": ", std::string(s.message())));
}

void AppendMetric(const storage::Labels& metric, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const storage::Label& l : metric) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(l.name, out);
    out->push_back(':');
    AppendJsonString(l.value, out);
  }
  out->push_back('}');
}

void AppendPoint(int64_t t, double v, std::string* out) {
  out->push_back('[');
  AppendPromTimestamp(t, out);
  out->append(",\"");
  AppendPromFloat(v, out);
  out->append("\"]");
}

void AppendStrings(std::string_view key, const std::vector<std::string>& list,
                   std::string* out) {
  if (list.empty()) return;
  out->append(",\"");
  out->append(key);
  out->append("\":[");
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(list[i], out);
  }
  out->push_back(']');
}

// Upper-bound-ish size of a series' metric in JSON, so that the answer is
// allocated once instead of doubling (and copying) as it grows.
size_t MetricSizeHint(const storage::Labels& metric) {
  size_t n = 2;
  for (const storage::Label& l : metric) n += l.name.size() + l.value.size() + 6;
  return n;
}

// A point is at most ~24 bytes of value and ~21 of timestamp.
constexpr size_t kPointSizeHint = 48;

size_t ResultSizeHint(const promql::Value& value) {
  size_t n = 128;
  if (const auto* vec = std::get_if<promql::Vector>(&value)) {
    for (const promql::Sample& s : *vec) {
      n += MetricSizeHint(s.metric) + kPointSizeHint + 24;
    }
  } else if (const auto* mat = std::get_if<promql::Matrix>(&value)) {
    for (const promql::Series& series : *mat) {
      n += MetricSizeHint(series.metric) + 24 + series.ts.size() * kPointSizeHint;
    }
  }
  return n;
}

// Streams a result into Prometheus' success envelope without building a DOM.
std::string EncodeResult(const promql::Result& result) {
  const promql::Value& value = result.value;
  std::string out;
  out.reserve(ResultSizeHint(value));
  out.append("{\"status\":\"success\",\"data\":{\"resultType\":\"");
  if (const auto* scalar = std::get_if<promql::Scalar>(&value)) {
    out.append("scalar\",\"result\":");
    AppendPoint(scalar->t, scalar->v, &out);
  } else if (const auto* str = std::get_if<promql::String>(&value)) {
    out.append("string\",\"result\":[");
    AppendPromTimestamp(str->t, &out);
    out.push_back(',');
    AppendJsonString(str->s, &out);
    out.push_back(']');
  } else if (const auto* vec = std::get_if<promql::Vector>(&value)) {
    out.append("vector\",\"result\":[");
    for (size_t i = 0; i < vec->size(); ++i) {
      const promql::Sample& s = (*vec)[i];
      if (i > 0) out.push_back(',');
      out.append("{\"metric\":");
      AppendMetric(s.metric, &out);
      out.append(",\"value\":");
      AppendPoint(s.t, s.v, &out);
      out.push_back('}');
    }
    out.push_back(']');
  } else if (const auto* mat = std::get_if<promql::Matrix>(&value)) {
    out.append("matrix\",\"result\":[");
    bool first = true;
    for (const promql::Series& series : *mat) {
      if (series.ts.empty()) continue;
      if (!first) out.push_back(',');
      first = false;
      out.append("{\"metric\":");
      AppendMetric(series.metric, &out);
      out.append(",\"values\":[");
      for (size_t i = 0; i < series.ts.size(); ++i) {
        if (i > 0) out.push_back(',');
        AppendPoint(series.ts[i], series.vs[i], &out);
      }
      out.append("]}");
    }
    out.push_back(']');
  }
  out.push_back('}');
  AppendStrings("warnings", result.warnings, &out);
  AppendStrings("infos", result.infos, &out);
  out.push_back('}');
  return out;
}

}  // namespace

http::Response ApiError(std::string_view error_type, std::string_view message) {
  std::string body = "{\"status\":\"error\",\"errorType\":";
  AppendJsonString(error_type, &body);
  body.append(",\"error\":");
  AppendJsonString(message, &body);
  body.push_back('}');
  return http::Response::Json(HttpStatusForErrorType(error_type),
                              std::move(body));
}

std::string_view ErrorTypeForEvalStatus(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kDeadlineExceeded:
      return "timeout";
    case absl::StatusCode::kCancelled:
      return "canceled";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
      return "internal";
    default:
      // Bad operand types at run time, many-to-many matching, too many
      // samples: Prometheus reports these as execution errors (422).
      return "execution";
  }
}

QueryApi::QueryApi(const promql::Engine* engine,
                   const storage::Queryable* store, const Clock* clock,
                   QueryApiOptions options)
    : engine_(engine), store_(store), clock_(clock), options_(options) {}

void QueryApi::Register(http::Router* router) const {
  for (const char* method : {"GET", "POST"}) {
    router->Handle(method, "/api/v1/query",
                   [this](const http::Request& r) { return Query(r); });
    router->Handle(method, "/api/v1/query_range",
                   [this](const http::Request& r) { return QueryRange(r); });
  }
}

http::Response QueryApi::Query(const http::Request& request) const {
  int64_t ts = clock_->NowMillis();
  if (request.HasParam("time") && !request.Param("time").empty()) {
    absl::StatusOr<int64_t> parsed = ParseApiTimeMs(request.Param("time"));
    if (!parsed.ok()) return InvalidParam("time", parsed.status());
    ts = *parsed;
  }
  absl::StatusOr<std::unique_ptr<promql::PreparedQuery>> query =
      engine_->Prepare(request.Param("query"));
  if (!query.ok()) return InvalidParam("query", query.status());
  absl::StatusOr<promql::Result> result = (*query)->EvalInstant(*store_, ts);
  if (!result.ok()) {
    return ApiError(ErrorTypeForEvalStatus(result.status()),
                    std::string(result.status().message()));
  }
  return http::Response::Json(200, EncodeResult(*result));
}

http::Response QueryApi::QueryRange(const http::Request& request) const {
  absl::StatusOr<int64_t> start = ParseApiTimeMs(request.Param("start"));
  if (!start.ok()) return InvalidParam("start", start.status());
  absl::StatusOr<int64_t> end = ParseApiTimeMs(request.Param("end"));
  if (!end.ok()) return InvalidParam("end", end.status());
  if (*end < *start) {
    return InvalidParam("end", absl::InvalidArgumentError(
                                   "end timestamp must not be before start time"));
  }
  absl::StatusOr<int64_t> step = ParseApiDurationMs(request.Param("step"));
  if (!step.ok()) return InvalidParam("step", step.status());
  if (*step <= 0) {
    return InvalidParam(
        "step", absl::InvalidArgumentError(
                    "zero or negative query resolution step widths are not "
                    "accepted. Try a positive integer"));
  }
  if ((*end - *start) / *step > options_.max_points_per_series) {
    return ApiError(
        "bad_data",
        "exceeded maximum resolution of 11,000 points per timeseries. Try "
        "decreasing the query resolution (?step=XX)");
  }
  absl::StatusOr<std::unique_ptr<promql::PreparedQuery>> query =
      engine_->Prepare(request.Param("query"));
  if (!query.ok()) return InvalidParam("query", query.status());
  absl::StatusOr<promql::Result> result =
      (*query)->EvalRange(*store_, *start, *end, *step);
  if (!result.ok()) {
    return ApiError(ErrorTypeForEvalStatus(result.status()),
                    std::string(result.status().message()));
  }
  return http::Response::Json(200, EncodeResult(*result));
}

}  // namespace vigil::rpc
