#include "rpc/query_api/rules_handler.h"

#include <charconv>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/alerting_rule.h"
#include "engine/group.h"
#include "engine/rule.h"
#include "rpc/query_api/json_format.h"
#include "rpc/query_api/query_handler.h"

namespace vigil::rpc {
namespace {

void AppendLabelsObject(const storage::Labels& labels, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const storage::Label& l : labels) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(l.name, out);
    out->push_back(':');
    AppendJsonString(l.value, out);
  }
  out->push_back('}');
}

void AppendSpecLabels(const std::vector<storage::Label>& labels,
                      std::string* out) {
  out->push_back('{');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(labels[i].name, out);
    out->push_back(':');
    AppendJsonString(labels[i].value, out);
  }
  out->push_back('}');
}

// A JSON number for float64 seconds, as encoding/json writes it (the same
// digits as the API's sample values, without quotes).
void AppendJsonNumber(double v, std::string* out) {
  if (!std::isfinite(v)) {
    out->append("0");
    return;
  }
  AppendPromFloat(v, out);
}

void AppendSeconds(absl::Duration d, std::string* out) {
  AppendJsonNumber(absl::ToDoubleSeconds(d), out);
}

// The alerts API formats an alert's value as Go's FormatFloat(v, 'e', -1).
void AppendAlertValue(double v, std::string* out) {
  out->push_back('"');
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[64];
    std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v,
                                           std::chars_format::scientific);
    std::string s(buf, r.ptr);
    out->append(s);
  }
  out->push_back('"');
}

void AppendAlert(const engine::Alert& a, std::string* out) {
  out->append("{\"labels\":");
  AppendLabelsObject(a.labels, out);
  out->append(",\"annotations\":");
  AppendLabelsObject(a.annotations, out);
  out->append(",\"state\":");
  AppendJsonString(engine::AlertStateName(a.state), out);
  out->append(",\"activeAt\":");
  AppendJsonString(FormatGoTime(a.active_at), out);
  out->append(",\"value\":");
  AppendAlertValue(a.value, out);
  out->push_back('}');
}

bool Wanted(const std::vector<std::string>& filter, const std::string& v) {
  if (filter.empty()) return true;
  for (const std::string& f : filter) {
    if (f == v) return true;
  }
  return false;
}

}  // namespace

std::string FormatGoTime(absl::Time t) {
  if (t == absl::InfinitePast()) return "0001-01-01T00:00:00Z";
  std::string s = absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
  return s;
}

void RulesApi::Register(http::Router* router) const {
  router->Handle("GET", "/api/v1/rules",
                 [this](const http::Request& r) { return Rules(r); });
  router->Handle("POST", "/api/v1/rules",
                 [this](const http::Request& r) { return Rules(r); });
  router->Handle("GET", "/api/v1/alerts",
                 [this](const http::Request& r) { return Alerts(r); });
  router->Handle("POST", "/api/v1/alerts",
                 [this](const http::Request& r) { return Alerts(r); });
}

http::Response RulesApi::Rules(const http::Request& request) const {
  const std::string type(request.Param("type"));
  if (!type.empty() && type != "alert" && type != "record") {
    return ApiError("bad_data", "invalid query parameter type='" + type +
                                    "', must be one of: alert, record");
  }
  const bool want_alerting = type.empty() || type == "alert";
  const bool want_recording = type.empty() || type == "record";
  const std::vector<std::string> rule_names = request.Params("rule_name[]");
  const std::vector<std::string> group_names = request.Params("rule_group[]");
  const std::vector<std::string> files = request.Params("file[]");
  const bool exclude_alerts = request.Param("exclude_alerts") == "true";

  std::string out = "{\"status\":\"success\",\"data\":{\"groups\":[";
  bool first_group = true;
  for (const std::shared_ptr<engine::Group>& group : manager_->Groups()) {
    if (!Wanted(group_names, group->name()) || !Wanted(files, group->file())) {
      continue;
    }
    std::string rules_json;
    bool first_rule = true;
    for (const std::unique_ptr<engine::Rule>& rule : group->rules()) {
      if (!Wanted(rule_names, rule->name())) continue;
      if (rule->is_alerting() ? !want_alerting : !want_recording) continue;
      const engine::RuleEvalStatus st = rule->status();
      if (!first_rule) rules_json.push_back(',');
      first_rule = false;
      rules_json.push_back('{');
      if (rule->is_alerting()) {
        const auto* alerting = static_cast<const engine::AlertingRule*>(rule.get());
        rules_json.append("\"state\":");
        AppendJsonString(engine::AlertStateName(alerting->State()), &rules_json);
        rules_json.append(",\"name\":");
        AppendJsonString(rule->name(), &rules_json);
        rules_json.append(",\"query\":");
        AppendJsonString(rule->spec().expr, &rules_json);
        rules_json.append(",\"duration\":");
        AppendSeconds(alerting->hold_duration(), &rules_json);
        rules_json.append(",\"keepFiringFor\":");
        AppendSeconds(alerting->keep_firing_for(), &rules_json);
        rules_json.append(",\"labels\":");
        AppendSpecLabels(rule->spec().labels, &rules_json);
        rules_json.append(",\"annotations\":");
        AppendSpecLabels(rule->spec().annotations, &rules_json);
        if (!exclude_alerts) {
          rules_json.append(",\"alerts\":[");
          bool first_alert = true;
          for (const engine::Alert& a : alerting->ActiveAlerts()) {
            if (!first_alert) rules_json.push_back(',');
            first_alert = false;
            AppendAlert(a, &rules_json);
          }
          rules_json.push_back(']');
        }
      } else {
        rules_json.append("\"name\":");
        AppendJsonString(rule->name(), &rules_json);
        rules_json.append(",\"query\":");
        AppendJsonString(rule->spec().expr, &rules_json);
        rules_json.append(",\"labels\":");
        AppendSpecLabels(rule->spec().labels, &rules_json);
      }
      rules_json.append(",\"health\":");
      AppendJsonString(engine::RuleHealthName(st.health), &rules_json);
      if (!st.last_error.empty()) {
        rules_json.append(",\"lastError\":");
        AppendJsonString(st.last_error, &rules_json);
      }
      rules_json.append(",\"evaluationTime\":");
      AppendSeconds(st.evaluation_time, &rules_json);
      rules_json.append(",\"lastEvaluation\":");
      AppendJsonString(FormatGoTime(st.last_evaluation), &rules_json);
      rules_json.append(",\"type\":");
      AppendJsonString(rule->is_alerting() ? "alerting" : "recording",
                       &rules_json);
      rules_json.push_back('}');
    }
    // Prometheus leaves out groups that filters emptied.
    if (first_rule && (!rule_names.empty() || !type.empty())) continue;
    const engine::GroupEvalStatus gs = group->status();
    if (!first_group) out.push_back(',');
    first_group = false;
    out.append("{\"name\":");
    AppendJsonString(group->name(), &out);
    out.append(",\"file\":");
    AppendJsonString(group->file(), &out);
    out.append(",\"rules\":[");
    out.append(rules_json);
    out.append("],\"interval\":");
    AppendSeconds(group->interval(), &out);
    out.append(",\"limit\":");
    out.append(std::to_string(group->limit()));
    out.append(",\"evaluationTime\":");
    AppendSeconds(gs.evaluation_time, &out);
    out.append(",\"lastEvaluation\":");
    AppendJsonString(FormatGoTime(gs.last_evaluation), &out);
    out.push_back('}');
  }
  out.append("]}}");
  return http::Response::Json(200, std::move(out));
}

http::Response RulesApi::Alerts(const http::Request& request) const {
  (void)request;
  std::string out = "{\"status\":\"success\",\"data\":{\"alerts\":[";
  bool first = true;
  for (const engine::Alert& a : manager_->ActiveAlerts()) {
    if (!first) out.push_back(',');
    first = false;
    AppendAlert(a, &out);
  }
  out.append("]}}");
  return http::Response::Json(200, std::move(out));
}

}  // namespace vigil::rpc
