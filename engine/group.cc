#include "engine/group.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/recording_rule.h"
#include "engine/str_util.h"
#include "engine/thread_cpu.h"
#include "engine/xxhash.h"
#include "storage/sample.h"

namespace vigil::engine {
namespace {

bool SameRule(const RuleSpec& a, const RuleSpec& b) {
  return a.kind == b.kind && a.name == b.name && a.expr == b.expr &&
         a.for_duration == b.for_duration &&
         a.keep_firing_for == b.keep_firing_for && a.labels == b.labels &&
         a.annotations == b.annotations;
}

}  // namespace

Group::Group(GroupSpec spec, std::vector<std::unique_ptr<Rule>> rules,
             GroupOptions options)
    : spec_(std::move(spec)),
      rules_(std::move(rules)),
      options_(std::move(options)),
      interval_(spec_.interval > absl::ZeroDuration()
                    ? spec_.interval
                    : options_.default_interval),
      query_offset_(spec_.query_offset.value_or(options_.default_query_offset)),
      series_in_previous_eval_(rules_.size()) {}

namespace {

void AppendUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

}  // namespace

uint64_t Group::Hash() const {
  // Prometheus hashes the label set {file=..., name=...}. Its release
  // binaries (built with the `stringlabels` tag since 2.44) hash the packed
  // form: each name and value preceded by its length as a uvarint.
  std::string buf;
  buf.reserve(spec_.file.size() + spec_.name.size() + 16);
  if (options_.legacy_label_hash) {
    // Older layout: every name and value followed by a 0xff separator.
    for (std::string_view part : {std::string_view("file"),
                                  std::string_view(spec_.file),
                                  std::string_view("name"),
                                  std::string_view(spec_.name)}) {
      buf.append(part);
      buf.push_back('\xff');
    }
    return XxHash64(buf);
  }
  for (const auto& [n, v] :
       {std::pair<std::string_view, std::string_view>{"file", spec_.file},
        std::pair<std::string_view, std::string_view>{"name", spec_.name}}) {
    AppendUvarint(&buf, n.size());
    buf.append(n);
    AppendUvarint(&buf, v.size());
    buf.append(v);
  }
  return XxHash64(buf);
}

int64_t Group::EvalTimestamp(int64_t now_ms) const {
  const int64_t interval_ns = absl::ToInt64Nanoseconds(interval_);
  if (interval_ns <= 0) {
    return now_ms;
  }
  const int64_t offset =
      static_cast<int64_t>(Hash() % static_cast<uint64_t>(interval_ns));
  const int64_t now_ns = now_ms * 1000000;
  const int64_t adj = now_ns - offset;
  // Go's % truncates toward zero; timestamps here are positive.
  const int64_t base = adj - (adj % interval_ns);
  const int64_t next_ns = base + offset;
  // Prometheus converts to milliseconds by truncation.
  return next_ns / 1000000;
}

absl::Time Group::Now() const {
  return options_.clock ? options_.clock->Now() : absl::UnixEpoch();
}

absl::Status Group::Append(const std::vector<EvalSample>& samples,
                           uint64_t eval, SeriesSet* written) {
  if (samples.empty()) {
    return absl::OkStatus();
  }
  if (options_.appendable == nullptr) {
    for (const EvalSample& s : samples) {
      (*written)[SeriesKey{s.labels, s.labels.Hash()}] = Written{0, eval};
    }
    return absl::OkStatus();
  }
  std::vector<storage::Sample> values;
  values.reserve(samples.size());
  std::vector<storage::SeriesSamples> batch;
  batch.reserve(samples.size());
  std::vector<storage::SeriesRef> refs(samples.size(), 0);
  std::vector<uint64_t> hashes(samples.size());
  // Where each sample's series sits in `written` (null: not there yet).
  // Stable until the inserts at the end.
  std::vector<Written*> slots(samples.size(), nullptr);
  for (const EvalSample& s : samples) {
    values.push_back({s.t, s.value});
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    batch.push_back({&samples[i].labels, absl::MakeConstSpan(&values[i], 1)});
    hashes[i] = samples[i].labels.Hash();
    auto it = written->find(SeriesKey{samples[i].labels, hashes[i]});
    if (it != written->end()) {
      slots[i] = &it->second;
      refs[i] = it->second.ref;
    }
  }
  std::vector<size_t> stale;
  absl::StatusOr<storage::AppendStats> stats =
      options_.appendable->AppendWithRefs(batch, absl::MakeSpan(refs), &stale);
  if (stats.ok() && !stale.empty()) {
    // Series the store no longer holds under the old ref: by labels.
    std::vector<storage::SeriesSamples> again;
    std::vector<storage::SeriesRef> again_refs(stale.size(), 0);
    again.reserve(stale.size());
    for (size_t i : stale) again.push_back(batch[i]);
    std::vector<size_t> none;
    absl::StatusOr<storage::AppendStats> more = options_.appendable->AppendWithRefs(
        again, absl::MakeSpan(again_refs), &none);
    if (!more.ok()) {
      stats = more.status();
    } else {
      for (size_t k = 0; k < stale.size(); ++k) refs[stale[k]] = again_refs[k];
      if (stats->first_rejection.empty()) {
        stats->first_rejection = more->first_rejection;
      }
      stats->appended += more->appended;
      stats->duplicates_ignored += more->duplicates_ignored;
      stats->rejected_duplicate_timestamp += more->rejected_duplicate_timestamp;
      stats->rejected_out_of_order += more->rejected_out_of_order;
      stats->rejected_too_old += more->rejected_too_old;
    }
  }
  if (!stats.ok()) {
    return stats.status();
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    if (slots[i] != nullptr) *slots[i] = Written{refs[i], eval};
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    if (slots[i] == nullptr) {
      (*written)[SeriesKey{samples[i].labels, hashes[i]}] =
          Written{refs[i], eval};
    }
  }
  if (stats->rejected() > 0) {
    return absl::InvalidArgumentError(
        stats->first_rejection.empty()
            ? absl::StrCat(stats->rejected(), " samples rejected by storage")
            : stats->first_rejection);
  }
  return absl::OkStatus();
}

void Group::AppendStale(const std::vector<storage::Labels>& series,
                        int64_t t) {
  if (series.empty() || options_.appendable == nullptr) {
    return;
  }
  const storage::Sample stale{t, storage::StaleNaN()};
  std::vector<storage::SeriesSamples> batch;
  batch.reserve(series.size());
  for (const storage::Labels& l : series) {
    batch.push_back({&l, absl::MakeConstSpan(&stale, 1)});
  }
  // Rejections are expected when another rule now writes the series.
  (void)options_.appendable->Append(batch);
}

void Group::Eval(int64_t ts_ms) {
  absl::MutexLock eval_lock(&eval_mu_);
  const absl::Time group_start = Now();
  const absl::Duration cpu_start = ThreadCpuTime();
  const absl::Duration query_cpu_start = ThreadQueryCpuTime();
  const int64_t offset_ms = absl::ToInt64Milliseconds(query_offset_);
  int64_t failures = 0;
  for (size_t i = 0; i < rules_.size(); ++i) {
    Rule& rule = *rules_[i];
    const absl::Time start = Now();
    absl::StatusOr<std::vector<EvalSample>> out =
        rule.Eval(ts_ms, offset_ms, spec_.limit);
    if (!out.ok()) {
      rule.RecordEval(out.status(), start, Now() - start);
      ++failures;
      continue;
    }
    if (rule.is_alerting()) {
      auto& ar = static_cast<AlertingRule&>(rule);
      std::vector<Alert> due =
          ar.AlertsToSend(ts_ms, options_.resend_delay, interval_);
      std::vector<AlertStateChange> changes = ar.TakeStateChanges();
      if (options_.sink != nullptr) {
        if (!changes.empty()) {
          options_.sink->OnStateChanges(changes);
        }
        if (!due.empty()) {
          options_.sink->Send(std::move(due));
        }
      }
    }
    const uint64_t eval = ++evals_;
    SeriesSet& written = series_in_previous_eval_[i];
    absl::Status append_status = Append(*out, eval, &written);
    // Series written last time but not now get a staleness marker.
    std::vector<storage::Labels> gone;
    for (auto it = written.begin(); it != written.end();) {
      if (it->second.eval != eval) {
        gone.push_back(it->first.labels);
        written.erase(it++);
      } else {
        ++it;
      }
    }
    AppendStale(gone, ts_ms - offset_ms);
    if (!append_status.ok()) ++failures;
    rule.RecordEval(append_status, start, Now() - start);
  }
  if (!stale_series_.empty()) {
    AppendStale(stale_series_, ts_ms - offset_ms);
    stale_series_.clear();
  }
  absl::MutexLock lock(&status_mu_);
  status_.last_evaluation = group_start;
  status_.last_eval_timestamp_ms = ts_ms;
  status_.evaluation_time = Now() - group_start;
  ++status_.iterations;
  status_.rule_evaluations += static_cast<int64_t>(rules_.size());
  status_.rule_evaluation_failures += failures;
  status_.cpu_time += ThreadCpuTime() - cpu_start;
  status_.query_cpu_time += ThreadQueryCpuTime() - query_cpu_start;
}

void Group::CopyStateFrom(Group& old) {
  if (&old == this) {
    return;
  }
  absl::MutexLock old_lock(&old.eval_mu_);
  absl::MutexLock lock(&eval_mu_);
  {
    GroupEvalStatus s = old.status();
    absl::MutexLock status_lock(&status_mu_);
    status_.last_evaluation = s.last_evaluation;
    status_.last_eval_timestamp_ms = s.last_eval_timestamp_ms;
    status_.evaluation_time = s.evaluation_time;
  }
  // Old rules by identity, duplicates in order.
  absl::flat_hash_map<std::string, std::vector<size_t>> by_key;
  for (size_t fi = 0; fi < old.rules_.size(); ++fi) {
    by_key[old.rules_[fi]->IdentityKey()].push_back(fi);
  }
  absl::flat_hash_map<std::string, size_t> used;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const std::string key = rules_[i]->IdentityKey();
    auto it = by_key.find(key);
    if (it == by_key.end() || used[key] >= it->second.size()) {
      continue;
    }
    const size_t fi = it->second[used[key]++];
    series_in_previous_eval_[i] = old.series_in_previous_eval_[fi];
    // The copied marks must stay older than this group's next evaluation.
    evals_ = std::max(evals_, old.evals_);
    if (rules_[i]->is_alerting() && old.rules_[fi]->is_alerting()) {
      static_cast<AlertingRule&>(*rules_[i])
          .CopyStateFrom(static_cast<const AlertingRule&>(*old.rules_[fi]));
    }
  }
  stale_series_ = old.stale_series_;
  for (size_t fi = 0; fi < old.rules_.size(); ++fi) {
    const std::string key = old.rules_[fi]->IdentityKey();
    auto it = by_key.find(key);
    // Old rules beyond those matched lost their new counterpart.
    size_t matched = used.contains(key) ? used[key] : 0;
    size_t pos = std::find(it->second.begin(), it->second.end(), fi) -
                 it->second.begin();
    if (pos >= matched) {
      for (const auto& [key, ref] : old.series_in_previous_eval_[fi]) {
        stale_series_.push_back(key.labels);
      }
    }
  }
}

void Group::RestoreForState(int64_t ts_ms) {
  absl::MutexLock eval_lock(&eval_mu_);
  for (const std::unique_ptr<Rule>& r : rules_) {
    if (!r->is_alerting()) {
      continue;
    }
    auto& ar = static_cast<AlertingRule&>(*r);
    if (options_.queryable == nullptr) {
      ar.SetRestored(true);
      continue;
    }
    ar.RestoreForState(*options_.queryable, ts_ms, options_.outage_tolerance,
                       options_.for_grace_period);
  }
}

void Group::MarkAllStale(int64_t ts_ms) {
  absl::MutexLock eval_lock(&eval_mu_);
  std::vector<storage::Labels> all = stale_series_;
  for (const SeriesSet& s : series_in_previous_eval_) {
    for (const auto& [key, ref] : s) all.push_back(key.labels);
  }
  AppendStale(all, ts_ms - absl::ToInt64Milliseconds(query_offset_));
  for (SeriesSet& s : series_in_previous_eval_) {
    s.clear();
  }
  stale_series_.clear();
}

void Group::AddMissedIterations(int64_t n) {
  absl::MutexLock lock(&status_mu_);
  status_.missed_iterations += n;
}

GroupEvalStatus Group::status() const {
  absl::MutexLock lock(&status_mu_);
  return status_;
}

std::vector<Alert> Group::ActiveAlerts() const {
  std::vector<Alert> out;
  for (const std::unique_ptr<Rule>& r : rules_) {
    if (r->is_alerting()) {
      std::vector<Alert> a = static_cast<const AlertingRule&>(*r).ActiveAlerts();
      out.insert(out.end(), std::make_move_iterator(a.begin()),
                 std::make_move_iterator(a.end()));
    }
  }
  return out;
}

bool Group::SameDefinition(const GroupSpec& other) const {
  if (spec_.file != other.file || spec_.name != other.name ||
      spec_.interval != other.interval ||
      spec_.query_offset != other.query_offset ||
      spec_.limit != other.limit || spec_.labels != other.labels ||
      spec_.rules.size() != other.rules.size()) {
    return false;
  }
  for (size_t i = 0; i < spec_.rules.size(); ++i) {
    if (!SameRule(spec_.rules[i], other.rules[i])) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<std::unique_ptr<Group>> BuildGroup(
    const GroupSpec& spec,
    const std::function<absl::StatusOr<InstantQueryFunc>(std::string_view)>&
        prepare,
    const AlertingRuleOptions& alert_options, GroupOptions options) {
  std::vector<std::unique_ptr<Rule>> rules;
  rules.reserve(spec.rules.size());
  for (size_t i = 0; i < spec.rules.size(); ++i) {
    const RuleSpec& rs = spec.rules[i];
    absl::StatusOr<InstantQueryFunc> q = prepare(rs.expr);
    if (!q.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          spec.file, ":", rs.line, ": group \"", spec.name, "\", rule ", i + 1,
          " (\"", rs.name, "\"): could not parse expression: ",
          q.status().message()));
    }
    if (rs.is_alerting()) {
      AlertingRuleOptions ao = alert_options;
      ao.group_name = spec.name;
      rules.push_back(
          std::make_unique<AlertingRule>(rs, *std::move(q), std::move(ao)));
    } else {
      rules.push_back(std::make_unique<RecordingRule>(rs, *std::move(q)));
    }
  }
  return std::make_unique<Group>(spec, std::move(rules), std::move(options));
}

}  // namespace vigil::engine
