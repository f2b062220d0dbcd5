#include "rpc/server/for_state_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/labels.h"
#include "storage/matcher.h"
#include "storage/sample.h"

namespace vigil::rpc::server {
namespace {

constexpr char kForStateMetric[] = "ALERTS_FOR_STATE";

absl::Status ErrnoError(const std::string& what, const std::string& path) {
  return absl::InternalError(
      absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Writes all of `data` to a new `path`, fsyncs it and closes it.
absl::Status WriteSynced(const std::string& path, const std::string& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", path);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status st = ErrnoError("cannot write", path);
      ::close(fd);
      return st;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status st = ErrnoError("cannot fsync", path);
    ::close(fd);
    return st;
  }
  if (::close(fd) != 0) return ErrnoError("cannot close", path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<size_t> SaveForState(const storage::Queryable& store,
                                    int64_t now_ms, absl::Duration lookback,
                                    const std::string& path) {
  absl::StatusOr<storage::Matcher> m = storage::Matcher::Create(
      storage::MatchType::kEqual, std::string(storage::kMetricNameLabel),
      kForStateMetric);
  if (!m.ok()) return m.status();
  const int64_t mint = now_ms - absl::ToInt64Milliseconds(lookback);
  absl::StatusOr<std::vector<storage::SeriesHandle>> series =
      store.Select({&*m, 1}, mint, now_ms);
  if (!series.ok()) return series.status();
  std::string out;
  size_t written = 0;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (const storage::SeriesHandle& s : *series) {
    ts.clear();
    vs.clear();
    if (store.ReadSamples(s.ref, mint, now_ms, &ts, &vs) == 0) continue;
    // A stale marker means the alert resolved: nothing to restore.
    if (storage::IsStaleNaN(vs.back())) continue;
    nlohmann::json labels = nlohmann::json::object();
    for (const storage::Label& l : s.labels) labels[l.name] = l.value;
    nlohmann::json line = {{"labels", std::move(labels)}, {"t", ts.back()},
                           {"v", vs.back()}};
    out += line.dump();
    out.push_back('\n');
    ++written;
  }
  const std::string tmp = path + ".tmp";
  absl::Status st = WriteSynced(tmp, out);
  if (!st.ok()) return st;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoError(absl::StrCat("cannot rename ", tmp, " to"), path);
  }
  return written;
}

absl::StatusOr<size_t> LoadForState(const std::string& path,
                                    storage::Appendable* store) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return 0;
    return ErrnoError("cannot open", path);
  }
  std::vector<storage::Labels> labels;
  std::vector<storage::Sample> samples;
  std::string text;
  for (int line_no = 1; std::getline(in, text); ++line_no) {
    if (text.empty()) continue;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": ", why));
    };
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
    if (!j.contains("labels") || !j["labels"].is_object()) return bad("no \"labels\" object");
    if (!j.contains("t") || !j["t"].is_number_integer()) return bad("no integer \"t\"");
    if (!j.contains("v") || !j["v"].is_number()) return bad("no number \"v\"");
    std::vector<storage::Label> ls;
    for (const auto& [k, v] : j["labels"].items()) {
      if (!v.is_string()) return bad(absl::StrCat("label ", k, " is not a string"));
      ls.push_back({k, v.get<std::string>()});
    }
    absl::StatusOr<storage::Labels> parsed = storage::Labels::FromUnsorted(std::move(ls));
    if (!parsed.ok()) return bad(std::string(parsed.status().message()));
    if (parsed->MetricName() != kForStateMetric) {
      return bad(absl::StrCat("series is not ", kForStateMetric));
    }
    labels.push_back(*std::move(parsed));
    samples.push_back(storage::Sample{j["t"].get<int64_t>(), j["v"].get<double>()});
  }
  if (in.bad()) return ErrnoError("cannot read", path);
  std::vector<storage::SeriesSamples> batch;
  batch.reserve(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    batch.push_back(storage::SeriesSamples{
        &labels[i], absl::Span<const storage::Sample>(&samples[i], 1)});
  }
  if (batch.empty()) return 0;
  absl::StatusOr<storage::AppendStats> st = store->Append(batch);
  if (!st.ok()) return st.status();
  return static_cast<size_t>(st->appended);
}

}  // namespace vigil::rpc::server
