#include "engine/alerting_rule.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/rule_template.h"
#include "engine/str_util.h"
#include "storage/matcher.h"
#include "storage/sample.h"

namespace vigil::engine {
namespace {

absl::Time MsToTime(int64_t ms) { return absl::FromUnixMillis(ms); }

int64_t DurationMs(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

}  // namespace

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

AlertingRule::AlertingRule(RuleSpec spec, InstantQueryFunc query,
                           AlertingRuleOptions options)
    : Rule(std::move(spec)),
      query_(std::move(query)),
      options_(std::move(options)),
      generator_url_(absl::StrCat(options_.external_url, "/graph?g0.expr=",
                                  QueryEscape(spec_.expr), "&g0.tab=1")),
      restored_(options_.restored) {
  bool alertname_added = false;
  for (size_t i = 0; i < spec_.labels.size(); ++i) {
    const storage::Label& l = spec_.labels[i];
    if (!alertname_added && l.name >= kAlertNameLabel) {
      overrides_.push_back({std::string(kAlertNameLabel), -1});
      alertname_added = true;
    }
    if (l.name == kAlertNameLabel) {
      continue;  // alertname always wins over a rule label of that name
    }
    overrides_.push_back({l.name, static_cast<int>(label_templates_.size())});
    label_templates_.emplace_back(spec_.name, l.value);
  }
  if (!alertname_added) {
    overrides_.push_back({std::string(kAlertNameLabel), -1});
  }
  for (const storage::Label& a : spec_.annotations) {
    annotation_templates_.emplace_back(spec_.name, a.value);
  }
  for (const RuleTemplate& t : label_templates_) {
    has_label_templates_ |= !t.literal();
  }
  bool may_query = false;
  for (const RuleTemplate& t : annotation_templates_) {
    has_annotation_templates_ |= !t.literal();
    // Conservative: any mention of the word keeps expansion eager.
    may_query |= !t.literal() && absl::StrContains(t.text(), "query");
  }
  lazy_annotations_ = has_annotation_templates_ && !may_query;
  if (!has_label_templates_) {
    for (const LabelOverride& o : overrides_) {
      static_override_values_.push_back(
          o.template_index < 0 ? spec_.name
                               : label_templates_[o.template_index].text());
    }
  }
}

template <typename F>
void AlertingRule::MergeOverrides(
    const storage::Labels& sample,
    const std::vector<std::string>& override_values, F emit) const {
  size_t oi = 0;
  for (const storage::Label& l : sample) {
    while (oi < overrides_.size() && overrides_[oi].name < l.name) {
      if (!override_values[oi].empty()) {
        emit(overrides_[oi].name, override_values[oi]);
      }
      ++oi;
    }
    if (oi < overrides_.size() && overrides_[oi].name == l.name) {
      if (!override_values[oi].empty()) {
        emit(overrides_[oi].name, override_values[oi]);
      }
      ++oi;
      continue;
    }
    if (l.name != storage::kMetricNameLabel) {
      emit(l.name, l.value);
    }
  }
  for (; oi < overrides_.size(); ++oi) {
    if (!override_values[oi].empty()) {
      emit(overrides_[oi].name, override_values[oi]);
    }
  }
}

storage::Labels AlertingRule::ExpandAnnotations(
    const storage::Labels& sample_labels, double value, int64_t ts_ms) const {
  if (annotation_templates_.empty()) return storage::Labels();
  std::optional<tmpl::Data> data;
  tmpl::Env env;
  if (has_annotation_templates_) {
    RuleTemplateContext ctx;
    ctx.labels = &sample_labels;
    ctx.external_labels = &options_.external_labels;
    ctx.external_url = options_.external_url;
    ctx.value = value;
    ctx.eval_time_ms = ts_ms;
    ctx.query = options_.template_query ? &options_.template_query : nullptr;
    data = MakeTemplateData(ctx);
    env = MakeTemplateEnv(ctx);
  }
  static const tmpl::Data kNoData;
  const tmpl::Data& d = data.has_value() ? *data : kNoData;
  std::vector<storage::Label> annotations;
  for (size_t i = 0; i < annotation_templates_.size(); ++i) {
    // An annotation that expands to "" is kept, with an empty value, as
    // Prometheus keeps it (unlike a label, which goes).
    annotations.push_back(
        {spec_.annotations[i].name, annotation_templates_[i].Expand(d, env)});
  }
  return storage::Labels::FromSorted(std::move(annotations));
}

void AlertingRule::EnsureAnnotations(const Entry& e) const {
  if (e.annotations_current) return;
  e.annotations = ExpandAnnotations(e.sample_labels, e.value, e.evaluated_at);
  e.annotations_current = true;
}

std::string AlertingRule::GeneratorURL() const { return generator_url_; }

absl::StatusOr<std::vector<EvalSample>> AlertingRule::Eval(
    int64_t ts_ms, int64_t query_offset_ms, int64_t limit) {
  const int64_t query_ts = ts_ms - query_offset_ms;
  absl::StatusOr<std::vector<EvalSample>> res = query_(query_ts);
  if (!res.ok()) {
    return res.status();
  }

  // Steps 1-3 of the spec: labels from the sample (minus __name__), rule
  // labels expanded as templates on top, then alertname. Everything is
  // computed before any state changes, so a duplicate label set leaves the
  // rule as it was. Alerts are keyed by the hash of their labels; when the
  // rule labels are fixed, that hash is computed without building the
  // labels, which only a new alert needs.
  const size_t count = res->size();
  std::vector<uint64_t> hashes(count);
  // Only with label templates: the labels of each sample's alert.
  std::vector<storage::Labels> built;
  absl::flat_hash_set<uint64_t> seen;
  seen.reserve(count);
  std::vector<storage::Label> merged;
  if (has_label_templates_) {
    built.resize(count);
    std::vector<std::string> override_values(overrides_.size());
    for (size_t k = 0; k < count; ++k) {
      const EvalSample& s = (*res)[k];
      RuleTemplateContext ctx;
      ctx.labels = &s.labels;
      ctx.external_labels = &options_.external_labels;
      ctx.external_url = options_.external_url;
      ctx.value = s.value;
      ctx.eval_time_ms = ts_ms;
      ctx.query = options_.template_query ? &options_.template_query : nullptr;
      const tmpl::Data data = MakeTemplateData(ctx);
      const tmpl::Env env = MakeTemplateEnv(ctx);
      for (size_t i = 0; i < overrides_.size(); ++i) {
        const int ti = overrides_[i].template_index;
        override_values[i] =
            ti < 0 ? spec_.name : label_templates_[ti].Expand(data, env);
      }
      merged.clear();
      merged.reserve(s.labels.size() + overrides_.size());
      MergeOverrides(s.labels, override_values,
                     [&](std::string_view name, std::string_view value) {
                       merged.push_back(
                           {std::string(name), std::string(value)});
                     });
      built[k] = storage::Labels::FromSorted(merged);
      hashes[k] = built[k].Hash();
    }
  } else {
    absl::MutexLock memo_lock(&memo_mu_);
    const uint64_t gen = ++memo_generation_;
    for (size_t k = 0; k < count; ++k) {
      const storage::Labels& l = (*res)[k].labels;
      auto [it, inserted] = hash_memo_.try_emplace(l.ContentsId());
      AlertHashMemo& m = it->second;
      if (inserted) {
        storage::LabelSetHasher h;
        MergeOverrides(l, static_override_values_,
                       [&](std::string_view name, std::string_view value) {
                         h.Add(name, value);
                       });
        m.pinned = l;
        m.hash = h.Finish();
      }
      m.generation = gen;
      hashes[k] = m.hash;
    }
    if (hash_memo_.size() > 2 * count + 64) {
      absl::erase_if(hash_memo_, [gen](const auto& kv) {
        return kv.second.generation != gen;
      });
    }
  }
  for (size_t k = 0; k < count; ++k) {
    if (!seen.insert(hashes[k]).second) {
      return absl::InvalidArgumentError(
          "vector contains metrics with the same labelset after applying "
          "alert labels");
    }
  }
  // Eager annotations are expanded before any state changes too.
  std::vector<storage::Labels> annotations;
  if (!lazy_annotations_ && !annotation_templates_.empty()) {
    annotations.resize(count);
    for (size_t k = 0; k < count; ++k) {
      annotations[k] =
          ExpandAnnotations((*res)[k].labels, (*res)[k].value, ts_ms);
    }
  }

  absl::MutexLock lock(&mu_);
  const auto set_annotations = [&](Entry& e, size_t k) {
    if (lazy_annotations_) {
      e.sample_labels = (*res)[k].labels;
      e.evaluated_at = ts_ms;
      e.annotations_current = false;
    } else if (!annotations.empty()) {
      e.annotations = std::move(annotations[k]);
    }
  };
  for (size_t k = 0; k < count; ++k) {
    const EvalSample& s = (*res)[k];
    auto it = active_.find(hashes[k]);
    if (it != active_.end() && it->second.state != AlertState::kInactive) {
      it->second.value = s.value;
      set_annotations(it->second, k);
      continue;
    }
    Entry e;
    if (has_label_templates_) {
      e.labels = std::move(built[k]);
    } else {
      merged.clear();
      merged.reserve(s.labels.size() + overrides_.size());
      MergeOverrides(s.labels, static_override_values_,
                     [&](std::string_view name, std::string_view value) {
                       merged.push_back({std::string(name), std::string(value)});
                     });
      e.labels = storage::Labels::FromSorted(merged);
    }
    e.state = AlertState::kPending;
    e.active_at = ts_ms;
    e.value = s.value;
    set_annotations(e, k);
    if (spec_.for_duration > absl::ZeroDuration()) {
      changes_.push_back(
          {AlertTransition::kPending, ToAlert(e), MsToTime(ts_ms)});
    }
    active_[hashes[k]] = std::move(e);
  }

  const int64_t hold_ms = DurationMs(spec_.for_duration);
  const int64_t keep_ms = DurationMs(spec_.keep_firing_for);
  const int64_t retention_ms = DurationMs(kResolvedRetention);
  std::vector<EvalSample> out;
  int64_t num_active = 0;
  for (auto it = active_.begin(); it != active_.end();) {
    Entry& a = it->second;
    bool erase = false;
    if (!seen.contains(it->first)) {
      // Not returned by this evaluation: keep firing for keep_firing_for,
      // else pending alerts vanish and firing ones resolve.
      bool keep_firing = false;
      if (a.state == AlertState::kFiring && keep_ms > 0) {
        if (a.keep_firing_since == kNoTime) {
          a.keep_firing_since = ts_ms;
        }
        keep_firing = ts_ms - a.keep_firing_since < keep_ms;
      }
      if (a.state == AlertState::kPending ||
          (a.resolved_at != kNoTime && ts_ms - a.resolved_at > retention_ms)) {
        erase = true;
      }
      if (a.state != AlertState::kInactive && !keep_firing) {
        bool was_firing = a.state == AlertState::kFiring;
        a.state = AlertState::kInactive;
        a.resolved_at = ts_ms;
        if (was_firing) {
          changes_.push_back(
              {AlertTransition::kResolved, ToAlert(a), MsToTime(ts_ms)});
        }
      }
      if (!keep_firing) {
        if (erase) {
          active_.erase(it++);
        } else {
          ++it;
        }
        continue;
      }
    } else {
      a.keep_firing_since = kNoTime;
    }
    ++num_active;
    if (a.state == AlertState::kPending && ts_ms - a.active_at >= hold_ms) {
      a.state = AlertState::kFiring;
      a.fired_at = ts_ms;
      changes_.push_back(
          {AlertTransition::kFiring, ToAlert(a), MsToTime(ts_ms)});
    }
    if (restored_) {
      out.push_back(AlertSample(a, query_ts));
      out.push_back(ForStateSample(a, query_ts));
    }
    ++it;
  }
  if (limit > 0 && num_active > limit) {
    active_.clear();
    return absl::ResourceExhaustedError(absl::StrCat(
        "exceeded limit of ", limit, " with ", num_active, " alerts"));
  }
  return out;
}

EvalSample AlertingRule::AlertSample(Entry& e, int64_t t) const {
  if (e.series_labels.empty() || e.series_state != e.state) {
    storage::LabelsBuilder lb(e.labels);
    lb.Set(storage::kMetricNameLabel, kAlertMetricName);
    lb.Set(kAlertStateLabel, AlertStateName(e.state));
    e.series_labels = lb.Build();
    e.series_state = e.state;
  }
  return EvalSample{e.series_labels, t, 1.0};
}

EvalSample AlertingRule::ForStateSample(Entry& e, int64_t t) const {
  if (e.for_state_labels.empty()) {
    storage::LabelsBuilder lb(e.labels);
    lb.Set(storage::kMetricNameLabel, kAlertForStateMetricName);
    e.for_state_labels = lb.Build();
  }
  // Whole seconds, as Prometheus stores ActiveAt.Unix().
  double active_s = std::floor(static_cast<double>(e.active_at) / 1000.0);
  return EvalSample{e.for_state_labels, t, active_s};
}

Alert AlertingRule::ToAlert(const Entry& e) const {
  EnsureAnnotations(e);
  Alert a;
  a.labels = e.labels;
  a.annotations = e.annotations;
  a.state = e.state;
  a.value = e.value;
  a.active_at = e.active_at == kNoTime ? absl::InfinitePast()
                                       : MsToTime(e.active_at);
  a.fired_at =
      e.fired_at == kNoTime ? absl::InfinitePast() : MsToTime(e.fired_at);
  a.resolved_at = e.resolved_at == kNoTime ? absl::InfinitePast()
                                           : MsToTime(e.resolved_at);
  a.starts_at = a.fired_at;
  if (e.resolved_at != kNoTime) {
    a.ends_at = a.resolved_at;
  } else if (e.valid_until != kNoTime) {
    a.ends_at = MsToTime(e.valid_until);
  }
  a.generator_url = generator_url_;
  a.group_name = options_.group_name;
  a.rule_name = spec_.name;
  return a;
}

std::vector<Alert> AlertingRule::AlertsToSend(int64_t ts_ms,
                                              absl::Duration resend_delay,
                                              absl::Duration interval) {
  const int64_t resend_ms = DurationMs(resend_delay);
  const int64_t delta_ms = DurationMs(std::max(resend_delay, interval));
  std::vector<Alert> out;
  absl::MutexLock lock(&mu_);
  for (auto& [h, a] : active_) {
    if (a.state == AlertState::kPending) {
      continue;
    }
    bool due = (a.resolved_at != kNoTime &&
                (a.last_sent_at == kNoTime || a.resolved_at > a.last_sent_at)) ||
               a.last_sent_at == kNoTime ||
               a.last_sent_at + resend_ms < ts_ms;
    if (!due) {
      continue;
    }
    a.last_sent_at = ts_ms;
    a.valid_until = ts_ms + 4 * delta_ms;
    out.push_back(ToAlert(a));
  }
  std::sort(out.begin(), out.end(), [](const Alert& x, const Alert& y) {
    return x.labels < y.labels;
  });
  return out;
}

std::vector<Alert> AlertingRule::ActiveAlerts() const {
  std::vector<Alert> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [h, a] : active_) {
    if (a.state != AlertState::kInactive) {
      out.push_back(ToAlert(a));
    }
  }
  std::sort(out.begin(), out.end(), [](const Alert& x, const Alert& y) {
    return x.labels < y.labels;
  });
  return out;
}

std::vector<Alert> AlertingRule::AllAlerts() const {
  std::vector<Alert> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [h, a] : active_) {
    out.push_back(ToAlert(a));
  }
  std::sort(out.begin(), out.end(), [](const Alert& x, const Alert& y) {
    return x.labels < y.labels;
  });
  return out;
}

AlertState AlertingRule::State() const {
  AlertState s = AlertState::kInactive;
  absl::MutexLock lock(&mu_);
  for (const auto& [h, a] : active_) {
    if (a.state == AlertState::kFiring) {
      return AlertState::kFiring;
    }
    if (a.state == AlertState::kPending) {
      s = AlertState::kPending;
    }
  }
  return s;
}

std::vector<AlertStateChange> AlertingRule::TakeStateChanges() {
  absl::MutexLock lock(&mu_);
  std::vector<AlertStateChange> out;
  out.swap(changes_);
  return out;
}

bool AlertingRule::restored() const {
  absl::MutexLock lock(&mu_);
  return restored_;
}

void AlertingRule::SetRestored(bool restored) {
  absl::MutexLock lock(&mu_);
  restored_ = restored;
}

void AlertingRule::CopyStateFrom(const AlertingRule& other) {
  if (&other == this) {
    return;
  }
  absl::flat_hash_map<uint64_t, Entry> copy;
  {
    absl::MutexLock lock(&other.mu_);
    // As the other rule's templates would have expanded them.
    for (const auto& [h, e] : other.active_) other.EnsureAnnotations(e);
    copy = other.active_;
  }
  absl::MutexLock lock(&mu_);
  for (auto& [h, e] : copy) {
    active_[h] = std::move(e);
  }
}

void AlertingRule::RestoreForState(const storage::Queryable& queryable,
                                   int64_t ts_ms,
                                   absl::Duration outage_tolerance,
                                   absl::Duration grace_period) {
  const absl::Duration hold = spec_.for_duration;
  if (hold < grace_period) {
    // Waiting for+grace would be longer than just waiting for `for`.
    SetRestored(true);
    return;
  }
  std::vector<storage::Matcher> matchers;
  auto add = [&](std::string_view name, std::string_view value) {
    absl::StatusOr<storage::Matcher> m = storage::Matcher::Create(
        storage::MatchType::kEqual, std::string(name), std::string(value));
    if (m.ok()) {
      matchers.push_back(*std::move(m));
    }
  };
  add(storage::kMetricNameLabel, kAlertForStateMetricName);
  add(kAlertNameLabel, spec_.name);
  for (const storage::Label& l : spec_.labels) {
    add(l.name, l.value);
  }
  const int64_t mint = ts_ms - DurationMs(outage_tolerance);
  absl::StatusOr<std::vector<storage::SeriesHandle>> series =
      queryable.Select(matchers, mint, ts_ms);
  if (!series.ok() || series->empty()) {
    // Nothing to restore from; Prometheus leaves the rule unrestored only on
    // query errors, which would stall ALERTS forever, so mark it restored.
    SetRestored(true);
    return;
  }
  // Last sample of each ALERTS_FOR_STATE series, keyed by its labels
  // without __name__ (the alert's labels).
  absl::flat_hash_map<uint64_t, storage::Sample> last;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (const storage::SeriesHandle& s : *series) {
    ts.clear();
    vs.clear();
    if (queryable.ReadSamples(s.ref, mint, ts_ms, &ts, &vs) == 0) {
      continue;
    }
    storage::LabelsBuilder lb(s.labels);
    lb.Del(storage::kMetricNameLabel);
    last[lb.Build().Hash()] = storage::Sample{ts.back(), vs.back()};
  }
  const int64_t hold_ms = DurationMs(hold);
  const int64_t grace_ms = DurationMs(grace_period);
  absl::MutexLock lock(&mu_);
  for (auto& [h, a] : active_) {
    auto it = last.find(a.labels.Hash());
    if (it == last.end() || storage::IsStaleNaN(it->second.v)) {
      continue;
    }
    // Prometheus works in whole seconds here.
    const int64_t down_at = it->second.t / 1000 * 1000;
    int64_t restored_active_at =
        static_cast<int64_t>(it->second.v) * 1000;
    const int64_t spent_pending = down_at - restored_active_at;
    const int64_t remaining = hold_ms - spent_pending;
    if (remaining <= 0) {
      // Was firing when we went down; the next Eval fires it again if the
      // condition still holds.
    } else if (remaining < grace_ms) {
      restored_active_at = ts_ms + grace_ms - hold_ms;
    } else {
      restored_active_at += ts_ms - down_at;
    }
    a.active_at = restored_active_at;
  }
  restored_ = true;
}

}  // namespace vigil::engine
