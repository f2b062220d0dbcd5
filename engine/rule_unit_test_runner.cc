#include "engine/rule_unit_test_runner.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "engine/cli.h"
#include "engine/duration.h"
#include "engine/group.h"
#include "engine/promql_query_engine.h"
#include "engine/rule_loader.h"
#include "engine/rule_validation.h"
#include "engine/str_util.h"
#include "engine/yaml_util.h"
#include "promql/engine.h"
#include "promql/promqltest/script.h"
#include "re2/re2.h"
#include "storage/base/clock.h"
#include "storage/head.h"
#include "storage/labels.h"
#include "storage/sample.h"
#include "yaml-cpp/yaml.h"

namespace vigil::engine {
namespace {

namespace pt = ::vigil::promql::promqltest;

// ---- The test file, as promtool reads it. ----

struct InputSeries {
  std::string series;
  std::string values;
};

struct ExpAlert {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct AlertTestCase {
  int64_t eval_time_ms = 0;
  std::string alertname;
  std::vector<ExpAlert> exp_alerts;
};

struct ExpSample {
  std::string labels;
  double value = 0;
};

struct PromqlTestCase {
  std::string expr;
  int64_t eval_time_ms = 0;
  std::vector<ExpSample> exp_samples;
};

struct TestGroup {
  std::optional<int64_t> interval_ms;
  std::vector<InputSeries> input_series;
  std::vector<AlertTestCase> alert_tests;
  std::vector<PromqlTestCase> promql_tests;
  std::map<std::string, std::string> external_labels;
  std::string external_url;
  std::string name;
  // start_timestamp: the time input series start at and eval_time counts
  // from (Unix epoch by default).
  int64_t start_ms = 0;
};

struct TestFile {
  std::vector<std::string> rule_files;
  int64_t evaluation_interval_ms = 60000;
  std::vector<std::string> group_eval_order;
  // Sample values may differ in the last bit of the mantissa.
  bool fuzzy_compare = false;
  std::vector<TestGroup> tests;
};

// YAML helpers that turn shape errors into exceptions carrying a line, so
// the loader reads straight-line; caught at the file boundary.
struct ShapeError {
  int line;
  std::string msg;
};

int Line(const YAML::Node& n) {
  return n.IsDefined() && n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
}

// promtool's --ignore-unknown-fields, for the run in progress (the CLI
// runs one at a time).
bool ignore_unknown_fields = false;

void CheckKeys(const YAML::Node& n,
               std::initializer_list<std::string_view> known,
               std::string_view type) {
  if (!n.IsMap()) {
    throw ShapeError{Line(n), absl::StrCat("expected a map for ", Sv(type))};
  }
  if (ignore_unknown_fields) return;
  for (auto it = n.begin(); it != n.end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      throw ShapeError{Line(it->first),
                       absl::StrCat("field ", key, " not found in type ",
                                    Sv(type))};
    }
  }
}

std::string Str(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) {
    return "";
  }
  if (!n.IsScalar()) {
    throw ShapeError{Line(n), "expected a string"};
  }
  return n.Scalar();
}

int64_t DurMs(const YAML::Node& n) {
  const std::string s = Str(n);
  absl::StatusOr<absl::Duration> d = ParsePromDuration(s);
  if (!d.ok()) {
    throw ShapeError{Line(n), std::string(d.status().message())};
  }
  return absl::ToInt64Milliseconds(*d);
}

std::map<std::string, std::string> StrMap(const YAML::Node& n) {
  std::map<std::string, std::string> out;
  if (!n.IsDefined() || n.IsNull()) {
    return out;
  }
  if (!n.IsMap()) {
    throw ShapeError{Line(n), "expected a map of strings"};
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    out[Str(it->first)] = Str(it->second);
  }
  return out;
}

// start_timestamp: Unix seconds (fractions allowed) or an RFC 3339 time.
int64_t StartTimestampMs(const YAML::Node& n) {
  const std::string v = Str(n);
  double secs = 0;
  if (absl::SimpleAtod(v, &secs) && std::isfinite(secs)) {
    return static_cast<int64_t>(std::llround(secs * 1000));
  }
  absl::Time t;
  std::string why;
  if (absl::ParseTime(absl::RFC3339_full, v, &t, &why)) {
    return absl::ToUnixMillis(t);
  }
  throw ShapeError{Line(n),
                   absl::StrCat("invalid start_timestamp ", storage::QuoteGo(v),
                                ": want Unix seconds or an RFC 3339 time")};
}

template <typename F>
void ForEach(const YAML::Node& n, F f) {
  if (!n.IsDefined() || n.IsNull()) {
    return;
  }
  if (!n.IsSequence()) {
    throw ShapeError{Line(n), "expected a list"};
  }
  for (const YAML::Node& x : n) {
    f(x);
  }
}

double ParseValue(const YAML::Node& n) {
  const std::string s = Str(n);
  if (s == "NaN" || s == "nan") {
    return std::nan("");
  }
  if (s == "Inf" || s == "+Inf" || s == "inf" || s == "+inf") {
    return INFINITY;
  }
  if (s == "-Inf" || s == "-inf") {
    return -INFINITY;
  }
  try {
    return n.as<double>();
  } catch (const YAML::Exception&) {
    throw ShapeError{Line(n), absl::StrCat("cannot parse value \"", s, "\"")};
  }
}

TestFile ParseTestFile(const std::string& content) {
  TestFile tf;
  YAML::Node root = LoadYaml(content);
  if (!root.IsDefined() || root.IsNull()) {
    return tf;
  }
  CheckKeys(root,
            {"rule_files", "evaluation_interval", "fuzzy_compare",
             "group_eval_order", "tests"},
            "unitTestFile");
  if (root["fuzzy_compare"].IsDefined() && !root["fuzzy_compare"].IsNull()) {
    const std::string v = Str(root["fuzzy_compare"]);
    if (v != "true" && v != "false") {
      throw ShapeError{Line(root["fuzzy_compare"]),
                       absl::StrCat("cannot unmarshal !!str `", v,
                                    "` into bool")};
    }
    tf.fuzzy_compare = v == "true";
  }
  ForEach(root["rule_files"],
          [&](const YAML::Node& n) { tf.rule_files.push_back(Str(n)); });
  if (root["evaluation_interval"].IsDefined() &&
      !root["evaluation_interval"].IsNull()) {
    tf.evaluation_interval_ms = DurMs(root["evaluation_interval"]);
    if (tf.evaluation_interval_ms == 0) {
      tf.evaluation_interval_ms = 60000;
    }
  }
  ForEach(root["group_eval_order"],
          [&](const YAML::Node& n) { tf.group_eval_order.push_back(Str(n)); });
  ForEach(root["tests"], [&](const YAML::Node& tn) {
    CheckKeys(tn,
              {"interval", "input_series", "alert_rule_test",
               "promql_expr_test", "external_labels", "external_url", "name",
               "start_timestamp"},
              "testGroup");
    TestGroup tg;
    if (tn["start_timestamp"].IsDefined() && !tn["start_timestamp"].IsNull()) {
      tg.start_ms = StartTimestampMs(tn["start_timestamp"]);
    }
    if (tn["interval"].IsDefined() && !tn["interval"].IsNull()) {
      tg.interval_ms = DurMs(tn["interval"]);
    }
    ForEach(tn["input_series"], [&](const YAML::Node& sn) {
      CheckKeys(sn, {"series", "values"}, "series");
      tg.input_series.push_back({Str(sn["series"]), Str(sn["values"])});
    });
    ForEach(tn["alert_rule_test"], [&](const YAML::Node& an) {
      CheckKeys(an, {"eval_time", "alertname", "exp_alerts"}, "alertTestCase");
      AlertTestCase c;
      if (an["eval_time"].IsDefined()) {
        c.eval_time_ms = DurMs(an["eval_time"]);
      }
      c.alertname = Str(an["alertname"]);
      ForEach(an["exp_alerts"], [&](const YAML::Node& en) {
        if (en.IsNull()) {
          c.exp_alerts.push_back({});
          return;
        }
        CheckKeys(en, {"exp_labels", "exp_annotations"}, "alert");
        c.exp_alerts.push_back(
            {StrMap(en["exp_labels"]), StrMap(en["exp_annotations"])});
      });
      tg.alert_tests.push_back(std::move(c));
    });
    ForEach(tn["promql_expr_test"], [&](const YAML::Node& pn) {
      CheckKeys(pn, {"expr", "eval_time", "exp_samples"}, "promqlTestCase");
      PromqlTestCase c;
      c.expr = Str(pn["expr"]);
      if (pn["eval_time"].IsDefined()) {
        c.eval_time_ms = DurMs(pn["eval_time"]);
      }
      ForEach(pn["exp_samples"], [&](const YAML::Node& en) {
        CheckKeys(en, {"labels", "value", "histogram"}, "sample");
        ExpSample s;
        s.labels = Str(en["labels"]);
        s.value = en["value"].IsDefined() ? ParseValue(en["value"]) : 0;
        c.exp_samples.push_back(std::move(s));
      });
      tg.promql_tests.push_back(std::move(c));
    });
    tg.external_labels = StrMap(tn["external_labels"]);
    tg.external_url = Str(tn["external_url"]);
    tg.name = Str(tn["name"]);
    tf.tests.push_back(std::move(tg));
  });
  return tf;
}

// ---- Output formats promtool uses. ----

// Prometheus' Labels.String(): `{a="b", c="d"}`, __name__ included.
std::string LabelsString(const storage::Labels& l) {
  std::string out = "{";
  bool first = true;
  for (const storage::Label& x : l) {
    if (!first) {
      out += ", ";
    }
    first = false;
    absl::StrAppend(&out, x.name, "=", storage::QuoteGo(x.value));
  }
  out += "}";
  return out;
}

std::string IndentLines(const std::string& lines, const std::string& indent) {
  std::vector<std::string> parts = absl::StrSplit(lines, '\n');
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) {
      out += indent;
    }
    out += parts[i];
    if (i + 1 != parts.size()) {
      out += '\n';
    }
  }
  return out;
}

struct LabelsAndAnnotations {
  storage::Labels labels;
  storage::Labels annotations;
  std::string String() const {
    return "Labels:" + LabelsString(labels) +
           "\nAnnotations:" + LabelsString(annotations);
  }
  friend bool operator<(const LabelsAndAnnotations& a,
                        const LabelsAndAnnotations& b) {
    if (a.labels != b.labels) {
      return a.labels < b.labels;
    }
    return a.annotations < b.annotations;
  }
  friend bool operator==(const LabelsAndAnnotations& a,
                         const LabelsAndAnnotations& b) {
    return a.labels == b.labels && a.annotations == b.annotations;
  }
};

std::string AlertListString(const std::vector<LabelsAndAnnotations>& la) {
  if (la.empty()) {
    return "[]";
  }
  std::string s = "[\n0:" + IndentLines("\n" + la[0].String(), "  ");
  for (size_t i = 1; i < la.size(); ++i) {
    s += ",\n" + std::to_string(i) + ":" +
         IndentLines("\n" + la[i].String(), "  ");
  }
  s += "\n]";
  return s;
}

struct ParsedSample {
  storage::Labels labels;
  double value = 0;
  std::string String() const {
    return LabelsString(labels) + " " + FormatFloatE(value);
  }
};

std::string SamplesString(const std::vector<ParsedSample>& s) {
  if (s.empty()) {
    return "nil";
  }
  std::vector<std::string> parts;
  for (const ParsedSample& p : s) {
    parts.push_back(p.String());
  }
  return absl::StrJoin(parts, ", ");
}

// As Prometheus' labels.FromMap: empty values stay, so an expected label
// or annotation "" matches only an annotation that expanded to "" (alert
// labels never have empty values).
storage::Labels FromMap(const std::map<std::string, std::string>& m) {
  std::vector<storage::Label> v;
  for (const auto& [k, val] : m) {
    v.push_back({k, val});
  }
  return storage::Labels::FromSorted(std::move(v));
}

// Prometheus compares sample values with ==, so an expected NaN never
// matches; fuzzy_compare also accepts the neighbouring doubles.
bool SameValue(double exp, double got, bool fuzzy) {
  if (exp == got) return true;
  return fuzzy && (std::nextafter(exp, -HUGE_VAL) == got ||
                   std::nextafter(exp, HUGE_VAL) == got);
}

// ---- Running one test group. ----

std::vector<std::string> RunTestGroup(const TestGroup& tg,
                                      const TestFile& tf,
                                      const std::map<std::string, int>& order) {
  const int64_t eval_interval = tf.evaluation_interval_ms;
  const int64_t interval = tg.interval_ms.value_or(eval_interval);
  SimulatedClock clock(absl::UnixEpoch());
  storage::Head head(storage::HeadOptions{}, &clock);

  // Input series.
  for (const InputSeries& in : tg.input_series) {
    absl::StatusOr<storage::Labels> labels = pt::ParseSeriesDesc(in.series);
    if (!labels.ok()) {
      return {absl::StrCat("    series ", storage::QuoteGo(in.series), ": ",
                           labels.status().message())};
    }
    absl::StatusOr<std::vector<pt::Point>> points = pt::ParsePoints(in.values);
    if (!points.ok()) {
      return {absl::StrCat("    series ", storage::QuoteGo(in.series),
                           " values ", storage::QuoteGo(in.values), ": ",
                           points.status().message())};
    }
    std::vector<storage::Sample> samples;
    for (size_t i = 0; i < points->size(); ++i) {
      const pt::Point& p = (*points)[i];
      const int64_t t = tg.start_ms + static_cast<int64_t>(i) * interval;
      if (p.kind == pt::Point::kFloat) {
        samples.push_back({t, p.v});
      } else if (p.kind == pt::Point::kStale) {
        samples.push_back({t, storage::StaleNaN()});
      } else if (p.kind == pt::Point::kHistogram) {
        return {"    native histograms in input_series are not supported"};
      }
    }
    storage::SeriesSamples ss{&*labels, samples};
    absl::StatusOr<storage::AppendStats> st =
        head.Append(absl::MakeConstSpan(&ss, 1));
    if (!st.ok()) {
      return {std::string(st.status().message())};
    }
  }

  // Rule groups.
  promql::EngineOptions eopts;
  eopts.default_subquery_step_ms = eval_interval;
  promql::Engine engine(eopts);
  PromqlRuleQueryEngine qe(&engine, &head);
  std::vector<GroupSpec> specs;
  std::vector<std::string> errors;
  RuleLoaderOptions lopts = DefaultRuleLoaderOptions();
  for (const std::string& f : tf.rule_files) {
    RuleFileResult r = LoadRuleFile(f, lopts);
    errors.insert(errors.end(), r.errors.begin(), r.errors.end());
    for (GroupSpec& g : r.groups) {
      specs.push_back(std::move(g));
    }
  }
  if (!errors.empty()) {
    return errors;
  }
  std::stable_sort(specs.begin(), specs.end(),
                   [&](const GroupSpec& a, const GroupSpec& b) {
                     auto ia = order.find(a.name);
                     auto ib = order.find(b.name);
                     int oa = ia == order.end() ? 0 : ia->second;
                     int ob = ib == order.end() ? 0 : ib->second;
                     return oa < ob;
                   });
  AlertingRuleOptions aopts;
  aopts.external_labels = FromMap(tg.external_labels);
  aopts.external_url = tg.external_url;
  aopts.restored = true;
  aopts.template_query = [&qe](std::string_view expr, int64_t ts) {
    return qe.Query(expr, ts);
  };
  GroupOptions gopts;
  gopts.appendable = &head;
  gopts.queryable = &head;
  gopts.clock = &clock;
  gopts.default_interval = absl::Milliseconds(interval);
  std::vector<std::unique_ptr<Group>> groups;
  for (const GroupSpec& s : specs) {
    absl::StatusOr<std::unique_ptr<Group>> g = BuildGroup(
        s, [&](std::string_view e) { return qe.Prepare(e); }, aopts, gopts);
    if (!g.ok()) {
      return {std::string(g.status().message())};
    }
    groups.push_back(*std::move(g));
  }

  // Alert tests by evaluation time.
  std::map<int64_t, std::vector<const AlertTestCase*>> alert_tests;
  int64_t maxt = 0;
  for (const AlertTestCase& c : tg.alert_tests) {
    if (c.alertname.empty()) {
      std::string group_log =
          tg.name.empty() ? "" : absl::StrCat(" (in TestGroup ", tg.name, ")");
      return {absl::StrCat(
          "an item under alert_rule_test misses required attribute alertname "
          "at eval_time ",
          FormatPromDuration(absl::Milliseconds(c.eval_time_ms)), group_log)};
    }
    alert_tests[c.eval_time_ms].push_back(&c);
    maxt = std::max(maxt, c.eval_time_ms);
  }
  for (const PromqlTestCase& c : tg.promql_tests) {
    maxt = std::max(maxt, c.eval_time_ms);
  }

  auto next_alert_time = alert_tests.begin();
  // ts counts from the start (what eval_time is measured against); the
  // evaluations run at start + ts.
  for (int64_t ts = 0; ts <= maxt; ts += eval_interval) {
    clock.Set(absl::FromUnixMillis(tg.start_ms + ts));
    std::vector<std::string> eval_errors;
    for (const std::unique_ptr<Group>& g : groups) {
      g->Eval(tg.start_ms + ts);
      for (const std::unique_ptr<Rule>& r : g->rules()) {
        RuleEvalStatus st = r->status();
        if (st.health == RuleHealth::kErr) {
          eval_errors.push_back(absl::StrCat("    rule: ", r->name(),
                                             ", time: ",
                                             GoDurationString(tg.start_ms + ts),
                                             ", err: ", st.last_error));
        }
      }
    }
    if (!eval_errors.empty()) {
      errors.insert(errors.end(), eval_errors.begin(), eval_errors.end());
      return errors;
    }
    // Alert tests whose eval_time falls in [ts, ts + eval_interval).
    while (next_alert_time != alert_tests.end() &&
           next_alert_time->first >= ts &&
           next_alert_time->first < ts + eval_interval) {
      for (const AlertTestCase* c : next_alert_time->second) {
        std::vector<LabelsAndAnnotations> got;
        for (const std::unique_ptr<Group>& g : groups) {
          for (const std::unique_ptr<Rule>& r : g->rules()) {
            if (!r->is_alerting() || r->name() != c->alertname) {
              continue;
            }
            for (const Alert& a :
                 static_cast<const AlertingRule&>(*r).ActiveAlerts()) {
              if (a.state == AlertState::kFiring) {
                got.push_back({a.labels, a.annotations});
              }
            }
          }
        }
        std::vector<LabelsAndAnnotations> exp;
        for (const ExpAlert& e : c->exp_alerts) {
          std::map<std::string, std::string> l = e.labels;
          l["alertname"] = c->alertname;
          exp.push_back({FromMap(l), FromMap(e.annotations)});
        }
        std::sort(got.begin(), got.end());
        std::sort(exp.begin(), exp.end());
        if (got != exp) {
          std::string test_name =
              tg.name.empty() ? ""
                              : absl::StrCat("    name: ", tg.name, ",\n");
          errors.push_back(absl::StrCat(
              test_name, "    alertname: ", c->alertname, ", time: ",
              FormatPromDuration(absl::Milliseconds(c->eval_time_ms)),
              ", \n        exp:",
              IndentLines(AlertListString(exp), "            "),
              ", \n        got:",
              IndentLines(AlertListString(got), "            ")));
        }
      }
      ++next_alert_time;
    }
    // Skip alert times before ts (not reachable with ts starting at 0, but
    // keeps the loop bounded for odd inputs).
    while (next_alert_time != alert_tests.end() &&
           next_alert_time->first < ts) {
      ++next_alert_time;
    }
  }

  // PromQL expression tests, over everything written.
  for (const PromqlTestCase& c : tg.promql_tests) {
    const std::string time = FormatPromDuration(absl::Milliseconds(c.eval_time_ms));
    absl::StatusOr<std::vector<EvalSample>> got =
        qe.Query(c.expr, tg.start_ms + c.eval_time_ms);
    if (!got.ok()) {
      errors.push_back(absl::StrCat("    expr: ", storage::QuoteGo(c.expr),
                                    ", time: ", time,
                                    ", err: ", got.status().message()));
      continue;
    }
    std::vector<ParsedSample> got_samples;
    for (EvalSample& s : *got) {
      got_samples.push_back({std::move(s.labels), s.value});
    }
    std::vector<ParsedSample> exp_samples;
    bool bad = false;
    for (const ExpSample& e : c.exp_samples) {
      absl::StatusOr<storage::Labels> l = pt::ParseSeriesDesc(e.labels);
      if (!l.ok()) {
        errors.push_back(absl::StrCat(
            "    expr: ", storage::QuoteGo(c.expr), ", time: ", time,
            ", err: labels ", storage::QuoteGo(e.labels), ": ",
            l.status().message()));
        bad = true;
        break;
      }
      exp_samples.push_back({*std::move(l), e.value});
    }
    if (bad) {
      continue;
    }
    auto by_labels = [](const ParsedSample& a, const ParsedSample& b) {
      return a.labels < b.labels;
    };
    std::sort(exp_samples.begin(), exp_samples.end(), by_labels);
    std::sort(got_samples.begin(), got_samples.end(), by_labels);
    bool equal = exp_samples.size() == got_samples.size();
    for (size_t i = 0; equal && i < exp_samples.size(); ++i) {
      const double a = exp_samples[i].value;
      const double b = got_samples[i].value;
      equal = exp_samples[i].labels == got_samples[i].labels &&
              SameValue(a, b, tf.fuzzy_compare);
    }
    if (!equal) {
      errors.push_back(absl::StrCat(
          "    expr: ", storage::QuoteGo(c.expr), ", time: ", time,
          ",\n        exp: ", SamplesString(exp_samples),
          "\n        got: ", SamplesString(got_samples)));
    }
  }
  return errors;
}

// Runs one test file; returns its failures (empty on success).
// Test groups to run: all when `run` is empty, else those whose name one of
// the patterns matches (anywhere in it, as Go's MatchString).
std::vector<std::string> RunTestFile(const std::string& path,
                                     const std::vector<std::unique_ptr<RE2>>& run,
                                     std::ostream& err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return {absl::StrCat("open ", path, ": no such file or unreadable")};
  }
  std::stringstream ss;
  ss << in.rdbuf();
  TestFile tf;
  try {
    tf = ParseTestFile(ss.str());
  } catch (const ShapeError& e) {
    return {absl::StrCat(path, ":", e.line, ": ", e.msg)};
  } catch (const YAML::Exception& e) {
    return {absl::StrCat(path, ":", e.mark.line + 1, ": yaml: ", e.msg)};
  } catch (const std::exception& e) {
    return {absl::StrCat(path, ": ", e.what())};
  }
  // Rule files are relative to the test file; globs expanded.
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  std::vector<std::string> files;
  for (const std::string& rf : tf.rule_files) {
    std::string p = rf;
    if (!rf.empty() && rf[0] != '/' && !base.empty()) {
      p = (base / rf).lexically_normal().string();
    }
    absl::StatusOr<std::vector<std::string>> m = ExpandRuleFilePatterns({p});
    if (!m.ok()) {
      return {std::string(m.status().message())};
    }
    if (m->empty()) {
      err << "  WARNING: no file match pattern " << p << "\n";
    }
    files.insert(files.end(), m->begin(), m->end());
  }
  tf.rule_files = files;
  std::map<std::string, int> order;
  for (size_t i = 0; i < tf.group_eval_order.size(); ++i) {
    if (!order.emplace(tf.group_eval_order[i], static_cast<int>(i)).second) {
      return {absl::StrCat("group name repeated in evaluation order: ",
                           tf.group_eval_order[i])};
    }
  }
  std::vector<std::string> errors;
  for (const TestGroup& tg : tf.tests) {
    if (!run.empty() &&
        std::none_of(run.begin(), run.end(), [&](const auto& re) {
          return RE2::PartialMatch(tg.name, *re);
        })) {
      continue;
    }
    std::vector<std::string> e = RunTestGroup(tg, tf, order);
    errors.insert(errors.end(), e.begin(), e.end());
  }
  return errors;
}

}  // namespace

std::string GoDurationString(int64_t ms) {
  if (ms == 0) {
    return "0s";
  }
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  if (ms < 1000) {
    return absl::StrCat(out, ms, "ms");
  }
  const int64_t h = ms / 3600000;
  const int64_t m = (ms / 60000) % 60;
  const int64_t s = (ms / 1000) % 60;
  const int64_t frac = ms % 1000;
  if (h > 0) {
    absl::StrAppend(&out, h, "h");
  }
  if (h > 0 || m > 0) {
    absl::StrAppend(&out, m, "m");
  }
  absl::StrAppend(&out, s);
  if (frac > 0) {
    std::string f = absl::StrCat(1000 + frac).substr(1);  // 3 digits
    while (!f.empty() && f.back() == '0') {
      f.pop_back();
    }
    absl::StrAppend(&out, ".", f);
  }
  out += "s";
  return out;
}

std::string FormatFloatE(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  char buf[64];
  auto res =
      std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string s(buf, res.ptr - buf);
  for (char& c : s) {
    if (c == 'e') {
      c = 'E';
    }
  }
  return s;
}

int RunTestRules(const std::vector<std::string>& args, std::ostream& out,
                 std::ostream& err) {
  constexpr char kUsage[] =
      "usage: vigil test rules [--run=REGEX]... [--ignore-unknown-fields] "
      "[--debug] [--diff] FILE...\n";
  std::vector<std::string> files;
  std::vector<std::unique_ptr<RE2>> run;
  ignore_unknown_fields = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      out << kUsage
          << "  --run=REGEX               only the test groups whose name "
             "matches (repeatable)\n"
             "  --ignore-unknown-fields   ignore unknown fields in test files\n"
             "  --debug, --diff           accepted for promtool compatibility; "
             "failures are always shown as exp/got\n";
      return kExitSuccess;
    }
    if (a == "--run" || absl::StartsWith(a, "--run=")) {
      std::string pattern;
      if (a == "--run") {
        if (i + 1 >= args.size()) {
          err << "--run needs a regular expression\n" << kUsage;
          return kExitUsage;
        }
        pattern = args[++i];
      } else {
        pattern = a.substr(6);
      }
      RE2::Options o;
      o.set_log_errors(false);
      auto re = std::make_unique<RE2>(pattern, o);
      if (!re->ok()) {
        err << "--run: invalid regular expression " << storage::QuoteGo(pattern)
            << ": " << re->error() << "\n";
        return kExitUsage;
      }
      run.push_back(std::move(re));
    } else if (a == "--ignore-unknown-fields") {
      ignore_unknown_fields = true;
    } else if (a == "--debug" || a == "--diff" || a == "--no-diff") {
      // Accepted so promtool command lines work unchanged.
    } else if (absl::StartsWith(a, "--")) {
      err << "unknown flag " << a << "\n" << kUsage;
      return kExitUsage;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    err << kUsage;
    return kExitUsage;
  }
  bool failed = false;
  for (const std::string& f : files) {
    out << "Unit Testing:  " << f << "\n";
    out.flush();
    std::vector<std::string> errors = RunTestFile(f, run, err);
    if (errors.empty()) {
      out << "  SUCCESS\n";
    } else {
      failed = true;
      err << "  FAILED:\n";
      for (const std::string& e : errors) {
        err << e << "\n";
        err.flush();
        out << "\n";
      }
    }
    out << "\n";
  }
  out.flush();
  err.flush();
  return failed ? kExitFailure : kExitSuccess;
}

}  // namespace vigil::engine
