#include "promql/eval/evaluator.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "promql/functions/functions.h"
#include "promql/parser/functions.h"
#include "re2/re2.h"
#include "storage/base/status_macros.h"
#include "storage/sample.h"

namespace vigil::promql::eval {
namespace {

std::vector<storage::SeriesRef> RefsOf(
    const std::vector<storage::SeriesHandle>& series) {
  std::vector<storage::SeriesRef> refs;
  refs.reserve(series.size());
  for (const storage::SeriesHandle& h : series) refs.push_back(h.ref);
  return refs;
}

bool IsCounterName(std::string_view name) {
  for (std::string_view suf : {"_total", "_sum", "_count", "_bucket"}) {
    if (name.size() >= suf.size() &&
        name.substr(name.size() - suf.size()) == suf) {
      return true;
    }
  }
  return false;
}

}  // namespace

Selection::Selection(std::vector<storage::SeriesHandle> series)
    : series_(std::move(series)), refs_(RefsOf(series_)) {
  non_counter_.reserve(series_.size());
  for (const storage::SeriesHandle& h : series_) {
    const std::string_view name = h.labels.MetricName();
    non_counter_.push_back(!name.empty() && !IsCounterName(name));
  }
}

std::shared_ptr<const Selection::Grouping> Selection::GroupingFor(
    const std::vector<std::string>& names, bool without) const {
  std::string key(without ? "w" : "b");
  for (const std::string& n : names) absl::StrAppend(&key, n.size(), ":", n);
  {
    absl::MutexLock lock(&mu_);
    auto it = groupings_.find(key);
    if (it != groupings_.end()) return it->second;
  }
  // Computed outside the lock: two threads may both compute the same
  // grouping, and the second one's copy is dropped.
  std::vector<std::string> key_names = names;
  if (without) key_names.push_back(std::string(storage::kMetricNameLabel));
  auto g = std::make_shared<Grouping>();
  g->group_of.resize(series_.size());
  absl::flat_hash_map<uint64_t, uint32_t> index;
  for (size_t k = 0; k < series_.size(); ++k) {
    const storage::Labels& l = series_[k].labels;
    auto [it, inserted] = index.try_emplace(
        l.HashFor(key_names, !without), static_cast<uint32_t>(g->labels.size()));
    if (inserted) {
      storage::LabelsBuilder b(l);
      if (without) {
        for (const std::string& n : key_names) b.Del(n);
      } else {
        b.Keep(names);
      }
      g->labels.push_back(b.Build());
    }
    g->group_of[k] = it->second;
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = groupings_.try_emplace(key, std::move(g));
  return it->second;
}

namespace {
storage::Labels DropName(const storage::Labels& l);
}  // namespace

void Selection::Nameless(absl::Span<const uint32_t> src,
                         absl::Span<storage::Labels> out) const {
  absl::MutexLock lock(&mu_);
  if (nameless_.empty()) {
    nameless_.resize(series_.size());
    nameless_built_.assign(series_.size(), 0);
  }
  for (size_t k = 0; k < src.size(); ++k) {
    const uint32_t i = src[k];
    if (!nameless_built_[i]) {
      nameless_[i] = DropName(series_[i].labels);
      nameless_built_[i] = 1;
    }
    out[k] = nameless_[i];
  }
}

namespace {

using parser::BinaryOp;
using PT = parser::ValueType;
using storage::Labels;
using storage::LabelsBuilder;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const std::string kName(storage::kMetricNameLabel);

// The evaluation times of one node: start, start+step, ... (n of them).
struct Steps {
  int64_t start = 0;
  int64_t step = 1;
  int n = 1;
  int64_t T(int i) const { return start + step * static_cast<int64_t>(i); }
};

// One series of an instant vector over all steps.
constexpr uint32_t kNoSource = std::numeric_limits<uint32_t>::max();

struct VSeries {
  Labels labels;
  // Inline storage: an instant query (one step) allocates nothing here.
  absl::InlinedVector<double, 1> v;
  absl::InlinedVector<uint8_t, 8> has;
  // Delayed __name__ removal: the name goes when the query ends.
  bool drop_name = false;
  // Index of the series in its Val's origin Selection, kNoSource when it
  // did not come straight from one.
  uint32_t src = kNoSource;

  bool Empty() const {
    for (uint8_t h : has) {
      if (h) return false;
    }
    return true;
  }
};

// One series of a range vector: its samples over the whole query, as
// [off, off+n) of the range vector's shared sample buffers.
struct RSeries {
  Labels labels;
  size_t off = 0;
  size_t n = 0;
  bool drop_name = false;
  uint32_t src = kNoSource;  // as VSeries::src
};

// Sample buffers kept per thread between evaluations: a rule evaluating
// every interval reuses the same warm memory instead of mapping fresh pages
// for every fetch. Bounded in count and in the size of what is kept.
template <typename T>
class BufferPool {
 public:
  static std::vector<T> Take() {
    auto& free = Free();
    if (free.empty()) return {};
    std::vector<T> v = std::move(free.back());
    free.pop_back();
    return v;
  }
  static void Give(std::vector<T>&& v) {
    // At most 2 x 8 MB per element type and thread: the server runs a
    // thread per rule group, and batched reads rarely need more.
    constexpr size_t kMaxKept = 2, kMaxElements = size_t{1} << 20;
    auto& free = Free();
    if (v.capacity() < 1024 || v.capacity() > kMaxElements ||
        free.size() >= kMaxKept) {
      return;
    }
    v.clear();
    free.push_back(std::move(v));
  }

 private:
  static std::vector<std::vector<T>>& Free() {
    thread_local std::vector<std::vector<T>> free;
    return free;
  }
};

// A range vector over all steps: step i's window is
// (eval_ts[i] - range_ms, eval_ts[i]]. All series' samples live in two flat
// buffers so that fetching N series costs a few allocations, not N.
struct RangeVec {
  RangeVec() : ts(BufferPool<int64_t>::Take()), vs(BufferPool<double>::Take()) {}
  RangeVec(RangeVec&&) = default;
  RangeVec& operator=(RangeVec&&) = default;
  ~RangeVec() {
    BufferPool<int64_t>::Give(std::move(ts));
    BufferPool<double>::Give(std::move(vs));
  }

  std::vector<RSeries> series;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  int64_t range_ms = 0;
  std::vector<int64_t> eval_ts;

  const int64_t* T(const RSeries& r) const { return ts.data() + r.off; }
  const double* V(const RSeries& r) const { return vs.data() + r.off; }
};

struct Val {
  PT type = PT::kNone;
  std::vector<double> scalar;  // kScalar: one per step
  std::string str;             // kString
  std::vector<VSeries> vec;    // kVector
  RangeVec range;              // kMatrix
  // The selection the series (vec or range) were read from, so that work
  // derived from a selection (an aggregation's grouping) is done once per
  // selection, not once per evaluation. A series counts as coming from it
  // only while its src is set and its labels still share the selection's
  // contents (see SharesContentsWith), so operators that rebuild labels
  // need not clear this.
  std::shared_ptr<const Selection> origin;
};

VSeries NewSeries(Labels l, int n) {
  VSeries s;
  s.labels = std::move(l);
  s.v.assign(n, 0);
  s.has.assign(n, 0);
  return s;
}

// Removes the metric name and, with it, the type and unit metadata labels
// (Prometheus' DropReserved).
Labels DropName(const Labels& l) {
  if (!l.Has(kName) && !l.Has("__type__") && !l.Has("__unit__")) return l;
  return LabelsBuilder(l).Del(kName).Del("__type__").Del("__unit__").Build();
}

// Go's strconv.FormatFloat(v, 'f', -1, 64) (how count_values names values).
std::string FormatFloatGo(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Go's FormatFloat(v, 'f', -1, 64): the shortest digits that round-trip,
  // placed in fixed notation and padded with zeros (1e23 is
  // "100000000000000000000000", not the binary value's exact digits).
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v,
                         std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));
  std::string out;
  if (sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exp = 0;
  std::from_chars(sci.data() + e + (sci[e + 1] == '+' ? 2 : 1),
                  sci.data() + sci.size(), exp);
  const int point = exp + 1;  // digits before the decimal point
  const int n = static_cast<int>(digits.size());
  if (point <= 0) {
    out.append("0.").append(static_cast<size_t>(-point), '0').append(digits);
  } else if (point >= n) {
    out.append(digits).append(static_cast<size_t>(point - n), '0');
  } else {
    out.append(digits, 0, static_cast<size_t>(point))
        .append(".")
        .append(digits, static_cast<size_t>(point), std::string::npos);
  }
  return out;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

bool ValidLabelName(std::string_view s) { return !s.empty() && ValidUtf8(s); }

// Compares strings with runs of digits compared as numbers.
bool NaturalLess(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    bool da = std::isdigit(static_cast<unsigned char>(a[i]));
    bool db = std::isdigit(static_cast<unsigned char>(b[j]));
    if (da && db) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      std::string_view na = a.substr(i, i2 - i), nb = b.substr(j, j2 - j);
      // Strip leading zeros for the numeric comparison.
      size_t za = na.find_first_not_of('0'), zb = nb.find_first_not_of('0');
      std::string_view ta = za == std::string_view::npos ? "" : na.substr(za);
      std::string_view tb = zb == std::string_view::npos ? "" : nb.substr(zb);
      if (ta.size() != tb.size()) return ta.size() < tb.size();
      if (ta != tb) return ta < tb;
      if (na.size() != nb.size()) return na.size() < nb.size();
      i = i2;
      j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

// xxHash64 (seed 0) of Prometheus' label encoding (name 0xff value 0xff
// ...), which is what Prometheus' limit_ratio uses to pick series; using the
// same hash keeps the selected subset identical.
uint64_t PrometheusLabelsHash(const Labels& l) {
  std::string b;
  for (const storage::Label& x : l) {
    b.append(x.name);
    b.push_back('\xff');
    b.append(x.value);
    b.push_back('\xff');
  }
  constexpr uint64_t P1 = 11400714785074694791ULL, P2 = 14029467366897019727ULL,
                     P3 = 1609587929392839161ULL, P4 = 9650029242287828579ULL,
                     P5 = 2870177450012600261ULL;
  auto rotl = [](uint64_t x, int r) { return (x << r) | (x >> (64 - r)); };
  auto round = [&](uint64_t acc, uint64_t in) {
    acc += in * P2;
    acc = rotl(acc, 31);
    return acc * P1;
  };
  auto read64 = [](const char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  const char* p = b.data();
  size_t n = b.size();
  const char* end = p + n;
  uint64_t h;
  if (n >= 32) {
    uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = 0 - P1;
    while (end - p >= 32) {
      v1 = round(v1, read64(p));
      v2 = round(v2, read64(p + 8));
      v3 = round(v3, read64(p + 16));
      v4 = round(v4, read64(p + 24));
      p += 32;
    }
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    for (uint64_t v : {v1, v2, v3, v4}) {
      h ^= round(0, v);
      h = h * P1 + P4;
    }
  } else {
    h = P5;
  }
  h += n;
  while (end - p >= 8) {
    h ^= round(0, read64(p));
    h = rotl(h, 27) * P1 + P4;
    p += 8;
  }
  if (end - p >= 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    h ^= static_cast<uint64_t>(v) * P1;
    h = rotl(h, 23) * P2 + P3;
    p += 4;
  }
  while (p < end) {
    h ^= static_cast<uint64_t>(static_cast<unsigned char>(*p)) * P5;
    h = rotl(h, 11) * P1;
    ++p;
  }
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

class Annotations {
 public:
  void Warn(std::string s) { Add(&warnings_, std::move(s)); }
  void Info(std::string s) { Add(&infos_, std::move(s)); }
  std::vector<std::string> TakeWarnings() { return std::move(warnings_); }
  std::vector<std::string> TakeInfos() { return std::move(infos_); }

 private:
  void Add(std::vector<std::string>* to, std::string s) {
    if (seen_.insert(s).second) to->push_back(std::move(s));
  }
  absl::flat_hash_set<std::string> seen_;
  std::vector<std::string> warnings_, infos_;
};

absl::Status DuplicateLabelsetError() {
  return absl::InvalidArgumentError(
      "vector cannot contain metrics with the same labelset");
}

// Fails when two series present at the same step have the same labels.
absl::Status CheckNoDuplicates(const std::vector<VSeries>& vec, int n) {
  absl::flat_hash_map<uint64_t, std::vector<size_t>> by_hash;
  for (size_t i = 0; i < vec.size(); ++i) {
    by_hash[vec[i].labels.Hash()].push_back(i);
  }
  for (auto& [h, idx] : by_hash) {
    if (idx.size() < 2) continue;
    for (size_t a = 0; a < idx.size(); ++a) {
      for (size_t b = a + 1; b < idx.size(); ++b) {
        const VSeries& x = vec[idx[a]];
        const VSeries& y = vec[idx[b]];
        if (x.labels != y.labels) continue;
        for (int i = 0; i < n; ++i) {
          if (x.has[i] && y.has[i]) return DuplicateLabelsetError();
        }
      }
    }
  }
  return absl::OkStatus();
}

class Evaluator {
 public:
  Evaluator(const storage::Queryable& q, const EvalOptions& o, int64_t qstart,
            int64_t qend)
      : q_(q), opts_(o), query_start_(qstart), query_end_(qend) {}

  absl::StatusOr<Val> Eval(const parser::Expr& e, const Steps& s);

  Annotations annos;
  int64_t samples_loaded = 0;

 private:
  absl::Status CheckLimits() {
    if (samples_loaded > opts_.max_samples) {
      return absl::ResourceExhaustedError(
          "query processing would load too many samples into memory in query "
          "execution");
    }
    if (opts_.deadline != absl::InfiniteFuture() && absl::Now() > opts_.deadline) {
      return absl::DeadlineExceededError("query timed out in query execution");
    }
    return absl::OkStatus();
  }

  // The time a selector with `at` and `offset` reads at step i.
  std::vector<int64_t> EvalTimes(const parser::AtSpec& at, int64_t offset_ms,
                                 const Steps& s) const {
    std::vector<int64_t> te(s.n);
    for (int i = 0; i < s.n; ++i) {
      int64_t t = s.T(i);
      switch (at.modifier) {
        case parser::AtModifier::kTimestamp:
          t = at.timestamp_ms;
          break;
        case parser::AtModifier::kStart:
          t = query_start_;
          break;
        case parser::AtModifier::kEnd:
          t = query_end_;
          break;
        default:
          break;
      }
      te[i] = t - offset_ms;
    }
    return te;
  }

  // Reads the series `vs` selects, each one's samples in [mint, maxt] (its
  // newest only when `latest_only`), into `out`, a batch of series at a
  // time, and the selection they came from into *origin. After each batch
  // calls on_batch(*out); when that returns true it has consumed the batch
  // and `out` is emptied for the next one (bounded memory), else batches
  // accumulate.
  // The series `vs` selects (from the query's selection cache when it has
  // one).
  absl::StatusOr<std::shared_ptr<const Selection>> SelectionFor(
      const parser::VectorSelector& vs, int64_t mint, int64_t maxt);
  template <typename OnBatch>
  absl::Status FetchBatches(const parser::VectorSelector& vs, int64_t mint,
                            int64_t maxt, bool latest_only, RangeVec* out,
                            std::shared_ptr<const Selection>* origin,
                            OnBatch on_batch);
  absl::StatusOr<Val> EvalVectorSelector(const parser::VectorSelector& vs,
                                         const Steps& s, bool timestamps);
  absl::StatusOr<Val> EvalMatrixSelector(const parser::MatrixSelector& ms,
                                         const Steps& s);
  absl::StatusOr<Val> EvalSubquery(const parser::SubqueryExpr& sq,
                                   const Steps& s);
  absl::StatusOr<Val> EvalCall(const parser::Call& c, const Steps& s);
  // Receives f(selector[range])'s values at one instant, a batch of the
  // selection at a time: series first+i has value[i] when has[i].
  using InstantBatchSink =
      absl::FunctionRef<void(const Selection& sel, size_t first, size_t len,
                             const double* value, const uint8_t* has)>;
  // Whether c is f(selector[range]) evaluated at a single instant, which
  // EvalRangeFunction runs on the store's (or the window cache's) windows in
  // place, and can hand to an InstantBatchSink instead of building series.
  static bool IsInstantRangeOverSelector(const parser::Call& c,
                                         const Steps& s);
  // With `sink` (only where IsInstantRangeOverSelector holds), the values go
  // to it and the result is an empty vector whose origin is the selection.
  absl::StatusOr<Val> EvalRangeFunction(const parser::Call& c,
                                        std::string_view name, const Steps& s,
                                        const InstantBatchSink* sink = nullptr);
  absl::StatusOr<Val> EvalHistogramQuantile(const parser::Call& c,
                                            const Steps& s);
  absl::StatusOr<Val> EvalLabelReplace(const parser::Call& c, const Steps& s);
  absl::StatusOr<Val> EvalLabelJoin(const parser::Call& c, const Steps& s);
  absl::StatusOr<Val> EvalAggregate(const parser::AggregateExpr& a,
                                    const Steps& s);
  // EvalAggregate of an Accumulators aggregation over f(selector[range]) at
  // one instant (IsInstantRangeOverSelector): each value goes straight into
  // its group's accumulator, no series built for it.
  absl::StatusOr<Val> AggregateInstantRange(const parser::AggregateExpr& a,
                                            const parser::Call& c,
                                            const Steps& s);
  absl::StatusOr<Val> EvalBinary(const parser::BinaryExpr& b, const Steps& s);
  absl::StatusOr<Val> VectorBinary(const parser::BinaryExpr& b, Val lhs,
                                   Val rhs, const Steps& s);

  absl::StatusOr<std::vector<double>> EvalScalarArg(const parser::Expr& e,
                                                    const Steps& s) {
    ASSIGN_OR_RETURN(Val v, Eval(e, s));
    if (v.type != PT::kScalar) {
      return absl::InvalidArgumentError("expected scalar argument");
    }
    return std::move(v.scalar);
  }

  const storage::Queryable& q_;
  const EvalOptions& opts_;
  const int64_t query_start_, query_end_;
};

absl::StatusOr<std::shared_ptr<const Selection>> Evaluator::SelectionFor(
    const parser::VectorSelector& vs, int64_t mint, int64_t maxt) {
  if (opts_.select_cache != nullptr) return opts_.select_cache->Select(vs, q_);
  ASSIGN_OR_RETURN(std::vector<storage::SeriesHandle> owned,
                   q_.Select(vs.matchers, mint, maxt));
  return std::make_shared<const Selection>(std::move(owned));
}

template <typename OnBatch>
absl::Status Evaluator::FetchBatches(const parser::VectorSelector& vs,
                                     int64_t mint, int64_t maxt,
                                     bool latest_only, RangeVec* out,
                                     std::shared_ptr<const Selection>* origin,
                                     OnBatch on_batch) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Selection> sel,
                   SelectionFor(vs, mint, maxt));
  *origin = sel;
  const std::vector<storage::SeriesHandle>& handles = sel->series();
  const absl::Span<const storage::SeriesRef> refs = sel->refs();
  // Read in batches, checking the limits between them, so that a query
  // over too many samples stops early instead of loading them all first.
  constexpr size_t kBatch = 4096;
  size_t off[kBatch], cnt[kBatch];
  for (size_t first = 0; first < refs.size(); first += kBatch) {
    const size_t len = std::min(kBatch, refs.size() - first);
    q_.ReadWindows(refs.subspan(first, len), mint, maxt, latest_only,
                   &out->ts, &out->vs, off, cnt);
    for (size_t i = 0; i < len; ++i) {
      if (cnt[i] == 0) continue;
      samples_loaded += static_cast<int64_t>(cnt[i]);
      RSeries& r = out->series.emplace_back();
      r.labels = handles[first + i].labels;
      r.off = off[i];
      r.n = cnt[i];
      r.src = static_cast<uint32_t>(first + i);
    }
    RETURN_IF_ERROR(CheckLimits());
    if (on_batch(*out)) {
      // Consumed: the next batch reuses the buffers.
      out->series.clear();
      out->ts.clear();
      out->vs.clear();
    } else if (first == 0 && len < refs.size()) {
      // Series of one selector tend to have the same density: size the
      // shared buffers once instead of growing them batch by batch.
      const size_t want = out->ts.size() / len * refs.size() * 9 / 8 + 16;
      out->ts.reserve(want);
      out->vs.reserve(want);
      out->series.reserve(refs.size());
    }
  }
  return CheckLimits();
}

// Range vectors never contain staleness markers: compacts them away, each
// series within its own samples (series need not be adjacent in the
// buffers), and drops series left empty.
void DropStaleMarkers(RangeVec* rv) {
  bool emptied = false;
  for (RSeries& r : rv->series) {
    int64_t* t = rv->ts.data() + r.off;
    double* v = rv->vs.data() + r.off;
    size_t k = 0;
    while (k < r.n && !storage::IsStaleNaN(v[k])) ++k;
    if (k == r.n) continue;
    size_t w = k;
    for (++k; k < r.n; ++k) {
      if (storage::IsStaleNaN(v[k])) continue;
      t[w] = t[k];
      v[w] = v[k];
      ++w;
    }
    r.n = w;
    emptied = emptied || w == 0;
  }
  if (emptied) {
    rv->series.erase(
        std::remove_if(rv->series.begin(), rv->series.end(),
                       [](const RSeries& r) { return r.n == 0; }),
        rv->series.end());
  }
}

absl::StatusOr<Val> Evaluator::EvalVectorSelector(
    const parser::VectorSelector& vs, const Steps& s, bool timestamps) {
  std::vector<int64_t> te = EvalTimes(vs.at, vs.offset_ms, s);
  auto [mn, mx] = std::minmax_element(te.begin(), te.end());
  int64_t mint = *mn - opts_.lookback_delta_ms + 1, maxt = *mx;
  RangeVec raw;
  Val out;
  // One step needs only each series' newest sample in the lookback window.
  RETURN_IF_ERROR(FetchBatches(vs, mint, maxt, /*latest_only=*/s.n == 1,
                               &raw, &out.origin,
                               [](RangeVec&) { return false; }));
  out.type = PT::kVector;
  out.vec.reserve(raw.series.size());
  for (RSeries& r : raw.series) {
    VSeries vsr = NewSeries(std::move(r.labels), s.n);
    vsr.src = r.src;
    const int64_t* ts = raw.T(r);
    const double* vals = raw.V(r);
    size_t j = 0;
    bool any = false;
    for (int i = 0; i < s.n; ++i) {
      while (j < r.n && ts[j] <= te[i]) ++j;
      if (j == 0) continue;
      size_t k = j - 1;
      if (ts[k] <= te[i] - opts_.lookback_delta_ms) continue;
      if (storage::IsStaleNaN(vals[k])) continue;
      vsr.v[i] = timestamps ? static_cast<double>(ts[k]) / 1000.0 : vals[k];
      vsr.has[i] = 1;
      any = true;
    }
    if (any) {
      samples_loaded += s.n;
      out.vec.push_back(std::move(vsr));
    }
  }
  RETURN_IF_ERROR(CheckLimits());
  return out;
}

absl::StatusOr<Val> Evaluator::EvalMatrixSelector(
    const parser::MatrixSelector& ms, const Steps& s) {
  const parser::VectorSelector& vs = ms.selector();
  Val out;
  out.type = PT::kMatrix;
  out.range.range_ms = ms.range_ms;
  out.range.eval_ts = EvalTimes(vs.at, vs.offset_ms, s);
  auto [mn, mx] = std::minmax_element(out.range.eval_ts.begin(),
                                      out.range.eval_ts.end());
  RangeVec& rv = out.range;
  RETURN_IF_ERROR(FetchBatches(vs, *mn - ms.range_ms + 1, *mx,
                               /*latest_only=*/false, &rv, &out.origin,
                               [](RangeVec&) { return false; }));
  DropStaleMarkers(&rv);
  return out;
}

absl::StatusOr<Val> Evaluator::EvalSubquery(const parser::SubqueryExpr& sq,
                                            const Steps& s) {
  Val out;
  out.type = PT::kMatrix;
  out.range.range_ms = sq.range_ms;
  out.range.eval_ts = EvalTimes(sq.at, sq.offset_ms, s);
  auto [mn, mx] = std::minmax_element(out.range.eval_ts.begin(),
                                      out.range.eval_ts.end());
  int64_t step = sq.step_ms > 0 ? sq.step_ms : opts_.default_step_ms;
  int64_t lo = *mn - sq.range_ms;
  int64_t start = step * (lo / step);
  if (start <= lo) start += step;
  if (start > *mx) return out;
  Steps inner;
  inner.start = start;
  inner.step = step;
  int64_t inner_n = (*mx - start) / step + 1;
  if (inner_n > opts_.max_samples || inner_n > std::numeric_limits<int>::max()) {
    return absl::ResourceExhaustedError(
        "query processing would load too many samples into memory in query "
        "execution");
  }
  inner.n = static_cast<int>(inner_n);
  ASSIGN_OR_RETURN(Val v, Eval(*sq.expr, inner));
  if (v.type != PT::kVector) {
    return absl::InvalidArgumentError("subquery is only allowed on instant vector");
  }
  RangeVec& rv = out.range;
  for (VSeries& vs : v.vec) {
    RSeries r;
    r.labels = std::move(vs.labels);
    r.drop_name = vs.drop_name;
    r.off = rv.ts.size();
    for (int i = 0; i < inner.n; ++i) {
      if (!vs.has[i]) continue;
      rv.ts.push_back(inner.T(i));
      rv.vs.push_back(vs.v[i]);
    }
    r.n = rv.ts.size() - r.off;
    samples_loaded += static_cast<int64_t>(r.n);
    if (r.n > 0) rv.series.push_back(std::move(r));
  }
  RETURN_IF_ERROR(CheckLimits());
  return out;
}

absl::StatusOr<Val> Evaluator::Eval(const parser::Expr& e, const Steps& s) {
  RETURN_IF_ERROR(CheckLimits());
  switch (e.kind) {
    case parser::ExprKind::kNumberLiteral: {
      Val v;
      v.type = PT::kScalar;
      v.scalar.assign(s.n, static_cast<const parser::NumberLiteral&>(e).value);
      return v;
    }
    case parser::ExprKind::kStringLiteral: {
      Val v;
      v.type = PT::kString;
      v.str = static_cast<const parser::StringLiteral&>(e).value;
      return v;
    }
    case parser::ExprKind::kParen:
      return Eval(*static_cast<const parser::ParenExpr&>(e).expr, s);
    case parser::ExprKind::kStepInvariant:
      return Eval(*static_cast<const parser::StepInvariantExpr&>(e).expr, s);
    case parser::ExprKind::kVectorSelector:
      return EvalVectorSelector(static_cast<const parser::VectorSelector&>(e),
                                s, false);
    case parser::ExprKind::kMatrixSelector:
      return EvalMatrixSelector(static_cast<const parser::MatrixSelector&>(e),
                                s);
    case parser::ExprKind::kSubquery:
      return EvalSubquery(static_cast<const parser::SubqueryExpr&>(e), s);
    case parser::ExprKind::kUnary: {
      const auto& u = static_cast<const parser::UnaryExpr&>(e);
      ASSIGN_OR_RETURN(Val v, Eval(*u.expr, s));
      if (u.op != BinaryOp::kSub) return v;
      if (v.type == PT::kScalar) {
        for (double& x : v.scalar) x = -x;
      } else if (v.type == PT::kVector) {
        for (VSeries& vs : v.vec) {
          for (double& x : vs.v) x = -x;
          vs.drop_name = true;
        }
      }
      return v;
    }
    case parser::ExprKind::kBinary:
      return EvalBinary(static_cast<const parser::BinaryExpr&>(e), s);
    case parser::ExprKind::kAggregate:
      return EvalAggregate(static_cast<const parser::AggregateExpr&>(e), s);
    case parser::ExprKind::kCall:
      return EvalCall(static_cast<const parser::Call&>(e), s);
  }
  return absl::InternalError("unknown expression kind");
}

// ---------------------------------------------------------------- functions


// Whether a range function's output keeps the metric name.
bool RangeFunctionKeepsName(std::string_view name) {
  return name == "last_over_time";
}

// The position of a range function's range-vector argument.
size_t MatrixArgOf(std::string_view name) {
  return name == "quantile_over_time" ? 1 : 0;
}

bool Evaluator::IsInstantRangeOverSelector(const parser::Call& c,
                                           const Steps& s) {
  if (s.n != 1 || functions::LookupRange(c.func->name) == nullptr) {
    return false;
  }
  const size_t matrix_arg = MatrixArgOf(c.func->name);
  return matrix_arg < c.args.size() &&
         parser::Unwrap(*c.args[matrix_arg]).kind ==
             parser::ExprKind::kMatrixSelector;
}

absl::StatusOr<Val> Evaluator::EvalRangeFunction(const parser::Call& c,
                                                 std::string_view name,
                                                 const Steps& s,
                                                 const InstantBatchSink* sink) {
  functions::RangeFn fn = functions::LookupRange(name);
  // The range argument's position and the scalar arguments.
  const size_t matrix_arg = MatrixArgOf(name);
  std::vector<std::vector<double>> scalars;
  for (size_t k = 0; k < c.args.size(); ++k) {
    if (k == matrix_arg) continue;
    ASSIGN_OR_RETURN(std::vector<double> sv, EvalScalarArg(*c.args[k], s));
    scalars.push_back(std::move(sv));
  }
  if (name == "double_exponential_smoothing") {
    for (int i = 0; i < s.n; ++i) {
      double sf = scalars[0][i], tf = scalars[1][i];
      if (!(sf > 0 && sf < 1)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: %g", sf));
      }
      if (!(tf > 0 && tf < 1)) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "invalid trend factor. Expected: 0 < tf < 1, got: %g", tf));
      }
    }
  }
  if (name == "quantile_over_time") {
    for (int i = 0; i < s.n; ++i) {
      double q = scalars[0][i];
      if (!(q >= 0 && q <= 1)) {
        annos.Warn(absl::StrCat(
            "PromQL warning: quantile value should be between 0 and 1, got ",
            FormatFloatGo(q)));
      }
    }
  }
  const bool keep_name = RangeFunctionKeepsName(name);
  bool counter_check = name == "rate" || name == "increase";
  Val out;
  out.type = PT::kVector;
  std::vector<double> args(scalars.size());
  // Adds a series with a value to the output, noting when a counter
  // function reads what is named like a non-counter.
  const auto finish = [&](VSeries&& vs) {
    if (counter_check) {
      // Series straight from a selection were checked when it was made.
      std::string_view mname;
      if (out.origin != nullptr && vs.src < out.origin->series().size() &&
          vs.labels.SharesContentsWith(out.origin->series()[vs.src].labels)) {
        if (out.origin->NamedLikeNonCounter(vs.src)) {
          mname = vs.labels.MetricName();
        }
      } else if (!IsCounterName(vs.labels.MetricName())) {
        mname = vs.labels.MetricName();
      }
      if (!mname.empty()) {
        annos.Info(absl::StrCat(
            "PromQL info: metric might not be a counter, name does not end in "
            "_total/_sum/_count/_bucket: ",
            storage::QuoteGo(mname)));
      }
    }
    out.vec.push_back(std::move(vs));
  };
  // Applies the function to every series of a range vector.
  const auto apply = [&](RangeVec& rv) {
    for (RSeries& r : rv.series) {
      VSeries vs = NewSeries(std::move(r.labels), s.n);
      vs.src = r.src;
      vs.drop_name = keep_name ? r.drop_name : true;
      const int64_t* ts = rv.T(r);
      const double* vals = rv.V(r);
      size_t lo = 0, hi = 0, n = r.n;
      bool any = false;
      for (int i = 0; i < s.n; ++i) {
        int64_t end = rv.eval_ts[i], start = end - rv.range_ms;
        if (i > 0 && rv.eval_ts[i] < rv.eval_ts[i - 1]) lo = hi = 0;
        while (hi < n && ts[hi] <= end) ++hi;
        while (lo < hi && ts[lo] <= start) ++lo;
        // As Prometheus, no function gives a value over an empty window;
        // in a range query over sparse data most steps are.
        if (lo == hi) continue;
        functions::Window w{ts + lo, vals + lo, hi - lo, start,
                            end, s.T(i)};
        for (size_t k = 0; k < scalars.size(); ++k) args[k] = scalars[k][i];
        double v;
        if (fn(w, args.data(), &v)) {
          vs.v[i] = v;
          vs.has[i] = 1;
          any = true;
        }
      }
      if (!any) continue;
      finish(std::move(vs));
    }
  };
  const parser::Expr& arg = parser::Unwrap(*c.args[matrix_arg]);
  if (IsInstantRangeOverSelector(c, s)) {
    // An instant evaluation of f(selector[range]), what rules run most: the
    // function runs on each window where the store (or the rules' window
    // cache) holds it, a batch of series at a time, with nothing copied.
    const auto& ms = static_cast<const parser::MatrixSelector&>(arg);
    const int64_t end =
        EvalTimes(ms.selector().at, ms.selector().offset_ms, s)[0];
    const int64_t start = end - ms.range_ms;
    ASSIGN_OR_RETURN(std::shared_ptr<const Selection> sel,
                     SelectionFor(ms.selector(), start + 1, end));
    out.origin = sel;
    const std::vector<storage::SeriesHandle>& handles = sel->series();
    const absl::Span<const storage::SeriesRef> refs = sel->refs();
    for (size_t k = 0; k < scalars.size(); ++k) args[k] = scalars[k][0];
    constexpr size_t kBatch = 4096;
    // Per batch: the function's value per series (has: whether it gave
    // one), so that output keeps the selection's order whatever order the
    // windows come in.
    std::vector<double> value(std::min(kBatch, refs.size()));
    std::vector<uint8_t> has(value.size());
    // A window with staleness markers, without them (range vectors never
    // contain any).
    std::vector<int64_t> clean_t;
    std::vector<double> clean_v;
    for (size_t first = 0; first < refs.size(); first += kBatch) {
      const size_t len = std::min(kBatch, refs.size() - first);
      std::fill(has.begin(), has.begin() + len, 0);
      q_.VisitWindows(
          refs.subspan(first, len), start + 1, end,
          [&](size_t i, const int64_t* t, const double* v, size_t n) {
            samples_loaded += static_cast<int64_t>(n);
            size_t k = 0;
            while (k < n && !storage::IsStaleNaN(v[k])) ++k;
            if (k < n) {
              clean_t.clear();
              clean_v.clear();
              for (size_t j = 0; j < n; ++j) {
                if (storage::IsStaleNaN(v[j])) continue;
                clean_t.push_back(t[j]);
                clean_v.push_back(v[j]);
              }
              if (clean_t.empty()) return;
              t = clean_t.data();
              v = clean_v.data();
              n = clean_t.size();
            }
            const functions::Window w{t, v, n, start, end, s.T(0)};
            has[i] = fn(w, args.data(), &value[i]) ? 1 : 0;
          });
      RETURN_IF_ERROR(CheckLimits());
      if (counter_check) {
        // Series straight from a selection were checked when it was made.
        for (size_t i = 0; i < len; ++i) {
          if (has[i] && sel->NamedLikeNonCounter(first + i)) {
            annos.Info(absl::StrCat(
                "PromQL info: metric might not be a counter, name does not "
                "end in _total/_sum/_count/_bucket: ",
                storage::QuoteGo(handles[first + i].labels.MetricName())));
          }
        }
      }
      if (sink != nullptr) {
        (*sink)(*sel, first, len, value.data(), has.data());
        continue;
      }
      for (size_t i = 0; i < len; ++i) {
        if (!has[i]) continue;
        VSeries& vs = out.vec.emplace_back();
        vs.labels = handles[first + i].labels;
        vs.v.assign(1, value[i]);
        vs.has.assign(1, 1);
        vs.src = static_cast<uint32_t>(first + i);
        vs.drop_name = !keep_name;
      }
    }
    return out;
  }
  ASSIGN_OR_RETURN(Val m, Eval(*c.args[matrix_arg], s));
  if (m.type != PT::kMatrix) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected range vector argument to ", std::string(name)));
  }
  out.origin = std::move(m.origin);
  out.vec.reserve(m.range.series.size());
  apply(m.range);
  return out;
}

// Labels for absent()/absent_over_time(): the selector's equality matchers.
Labels AbsentLabels(const parser::Expr& arg) {
  const parser::Expr& e = parser::Unwrap(arg);
  const parser::VectorSelector* vs = nullptr;
  if (e.kind == parser::ExprKind::kVectorSelector) {
    vs = static_cast<const parser::VectorSelector*>(&e);
  } else if (e.kind == parser::ExprKind::kMatrixSelector) {
    vs = &static_cast<const parser::MatrixSelector&>(e).selector();
  }
  if (vs == nullptr) return Labels();
  LabelsBuilder b;
  absl::flat_hash_set<std::string> seen;
  for (const storage::Matcher& m : vs->matchers) {
    if (m.name() == kName) continue;
    if (m.type() == storage::MatchType::kEqual && seen.insert(m.name()).second) {
      b.Set(m.name(), m.value());
    } else {
      b.Del(m.name());
    }
  }
  return b.Build();
}

absl::StatusOr<Val> Evaluator::EvalLabelReplace(const parser::Call& c,
                                                const Steps& s) {
  ASSIGN_OR_RETURN(Val v, Eval(*c.args[0], s));
  std::string strs[4];
  for (int k = 0; k < 4; ++k) {
    ASSIGN_OR_RETURN(Val a, Eval(*c.args[k + 1], s));
    strs[k] = a.str;
  }
  const std::string& dst = strs[0];
  const std::string& repl = strs[1];
  const std::string& src = strs[2];
  RE2::Options ro;
  ro.set_log_errors(false);
  RE2 re(absl::StrCat("^(?s:", strs[3], ")$"), ro);
  if (!re.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid regular expression in label_replace(): ", strs[3]));
  }
  if (!ValidLabelName(dst)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid destination label name in label_replace(): ", dst));
  }
  int ngroups = re.NumberOfCapturingGroups();
  const auto& named = re.NamedCapturingGroups();
  std::vector<re2::StringPiece> groups(ngroups + 1);
  for (VSeries& vs : v.vec) {
    std::string_view sv = vs.labels.Get(src);
    if (!re.Match(sv, 0, sv.size(), RE2::UNANCHORED, groups.data(),
                  ngroups + 1)) {
      continue;
    }
    // Go's Regexp.Expand: $1, ${1}, $name, ${name}, $$.
    std::string res;
    for (size_t i = 0; i < repl.size(); ++i) {
      if (repl[i] != '$' || i + 1 >= repl.size()) {
        res.push_back(repl[i]);
        continue;
      }
      if (repl[i + 1] == '$') {
        res.push_back('$');
        ++i;
        continue;
      }
      std::string ref;
      size_t j = i + 1;
      if (repl[j] == '{') {
        size_t close = repl.find('}', j);
        if (close == std::string::npos) {
          res.push_back('$');
          continue;
        }
        ref = repl.substr(j + 1, close - j - 1);
        i = close;
      } else {
        while (j < repl.size() && (std::isalnum(static_cast<unsigned char>(repl[j])) ||
                                   repl[j] == '_')) {
          ++j;
        }
        if (j == i + 1) {
          res.push_back('$');
          continue;
        }
        ref = repl.substr(i + 1, j - i - 1);
        i = j - 1;
      }
      int idx = -1;
      if (!ref.empty() && std::all_of(ref.begin(), ref.end(), [](char ch) {
            return std::isdigit(static_cast<unsigned char>(ch));
          })) {
        idx = ref.size() < 9 ? std::stoi(ref) : -1;
      } else {
        auto it = named.find(ref);
        if (it != named.end()) idx = it->second;
      }
      if (idx >= 0 && idx <= ngroups && groups[idx].data() != nullptr) {
        res.append(groups[idx].data(), groups[idx].size());
      }
    }
    LabelsBuilder b(vs.labels);
    b.Set(dst, res);
    vs.labels = b.Build();
    if (dst == kName) vs.drop_name = false;
  }
  RETURN_IF_ERROR(CheckNoDuplicates(v.vec, s.n));
  return v;
}

absl::StatusOr<Val> Evaluator::EvalLabelJoin(const parser::Call& c,
                                             const Steps& s) {
  ASSIGN_OR_RETURN(Val v, Eval(*c.args[0], s));
  std::vector<std::string> strs;
  for (size_t k = 1; k < c.args.size(); ++k) {
    ASSIGN_OR_RETURN(Val a, Eval(*c.args[k], s));
    strs.push_back(a.str);
  }
  const std::string& dst = strs[0];
  const std::string& sep = strs[1];
  if (!ValidLabelName(dst)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid destination label name in label_join(): ", dst));
  }
  for (size_t k = 2; k < strs.size(); ++k) {
    if (!ValidLabelName(strs[k])) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid source label name in label_join(): ", strs[k]));
    }
  }
  for (VSeries& vs : v.vec) {
    std::string res;
    for (size_t k = 2; k < strs.size(); ++k) {
      if (k > 2) res += sep;
      res += vs.labels.Get(strs[k]);
    }
    LabelsBuilder b(vs.labels);
    b.Set(dst, res);
    vs.labels = b.Build();
    if (dst == kName) vs.drop_name = false;
  }
  RETURN_IF_ERROR(CheckNoDuplicates(v.vec, s.n));
  return v;
}

struct Bucket {
  double upper;
  double count;
};

// Prometheus' classic-bucket quantile. `buckets` is reordered. Sets
// *fixed when counts had to be made monotonic.
double BucketQuantile(double q, std::vector<Bucket>& buckets, bool* fixed,
                      bool* nan_obs) {
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -INFINITY;
  if (q > 1) return INFINITY;
  std::sort(buckets.begin(), buckets.end(),
            [](const Bucket& a, const Bucket& b) { return a.upper < b.upper; });
  if (buckets.empty() || !std::isinf(buckets.back().upper) ||
      buckets.back().upper < 0) {
    return kNaN;
  }
  // Merge buckets with the same upper bound.
  size_t w = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (w > 0 && buckets[w - 1].upper == buckets[i].upper) {
      buckets[w - 1].count += buckets[i].count;
    } else {
      buckets[w++] = buckets[i];
    }
  }
  buckets.resize(w);
  for (const Bucket& b : buckets) {
    if (std::isnan(b.count)) *nan_obs = true;
  }
  if (*nan_obs) return kNaN;
  // Force monotonicity; tiny differences from float error are ignored.
  double max = buckets[0].count;
  for (size_t i = 1; i < buckets.size(); ++i) {
    double cur = buckets[i].count;
    if (cur < max) {
      double tol = 1e-12 * std::max(std::fabs(cur), std::fabs(max));
      if (max - cur > tol) *fixed = true;
      buckets[i].count = max;
    } else {
      max = cur;
    }
  }
  if (buckets.size() < 2) return kNaN;
  double obs = buckets.back().count;
  if (obs == 0) return kNaN;
  double rank = q * obs;
  size_t b = 0;
  while (b < buckets.size() - 1 && buckets[b].count < rank) ++b;
  if (b == buckets.size() - 1) return buckets[buckets.size() - 2].upper;
  if (b == 0 && buckets[0].upper <= 0) return buckets[0].upper;
  double bstart = 0, bend = buckets[b].upper, count = buckets[b].count;
  if (b > 0) {
    bstart = buckets[b - 1].upper;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return bstart + (bend - bstart) * (rank / count);
}

bool ParseLe(std::string_view s, double* out) {
  if (s.empty()) return false;
  std::string str(s);
  char* end = nullptr;
  std::string lower;
  for (char ch : str) lower.push_back(static_cast<char>(std::tolower(ch)));
  if (lower == "+inf" || lower == "inf") {
    *out = INFINITY;
    return true;
  }
  if (lower == "-inf") {
    *out = -INFINITY;
    return true;
  }
  if (lower == "nan") {
    *out = kNaN;
    return true;
  }
  *out = std::strtod(str.c_str(), &end);
  return end == str.c_str() + str.size();
}

// The share of observations between lower and upper in classic buckets,
// interpolating linearly inside a bucket.
double BucketFraction(double lower, double upper, std::vector<Bucket>& buckets) {
  std::sort(buckets.begin(), buckets.end(),
            [](const Bucket& a, const Bucket& b) { return a.upper < b.upper; });
  if (buckets.empty() || !std::isinf(buckets.back().upper) ||
      buckets.back().upper < 0) {
    return kNaN;
  }
  size_t w = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (w > 0 && buckets[w - 1].upper == buckets[i].upper) {
      buckets[w - 1].count += buckets[i].count;
    } else {
      buckets[w++] = buckets[i];
    }
  }
  buckets.resize(w);
  double count = buckets.back().count;
  if (count == 0 || std::isnan(lower) || std::isnan(upper)) return kNaN;
  if (lower >= upper) return 0;
  double rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const Bucket& b = buckets[i];
    double lb = i > 0 ? buckets[i - 1].upper : (b.upper > 0 ? 0 : -INFINITY);
    double ub = b.upper;
    auto interpolate = [&](double v) {
      if (std::isinf(lb) || std::isinf(ub)) return rank;
      return rank + (b.count - rank) * (v - lb) / (ub - lb);
    };
    if (!lower_set && lb >= lower) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && lb >= upper) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    if (!lower_set && lb < lower && ub > lower) {
      lower_rank = interpolate(lower);
      lower_set = true;
    }
    if (!upper_set && lb < upper && ub > upper) {
      upper_rank = interpolate(upper);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank = b.count;
  }
  if (!lower_set || lower_rank > count) lower_rank = count;
  if (!upper_set || upper_rank > count) upper_rank = count;
  return (upper_rank - lower_rank) / count;
}

absl::StatusOr<Val> Evaluator::EvalHistogramQuantile(const parser::Call& c,
                                                     const Steps& s) {
  bool fraction = c.func->name == "histogram_fraction";
  ASSIGN_OR_RETURN(std::vector<double> q, EvalScalarArg(*c.args[0], s));
  std::vector<double> upper_arg;
  if (fraction) {
    ASSIGN_OR_RETURN(upper_arg, EvalScalarArg(*c.args[1], s));
  }
  ASSIGN_OR_RETURN(Val v, Eval(*c.args[fraction ? 2 : 1], s));
  for (int i = 0; i < s.n && !fraction; ++i) {
    if (!(q[i] >= 0 && q[i] <= 1)) {
      annos.Warn(absl::StrCat(
          "PromQL warning: quantile value should be between 0 and 1, got ",
          FormatFloatGo(q[i])));
    }
  }
  // Group by all labels but `le`; the name stays in the key (delayed
  // removal) and is dropped at the end.
  struct Group {
    Labels labels;
    std::vector<std::pair<double, const VSeries*>> buckets;
  };
  std::vector<Group> groups;
  absl::flat_hash_map<uint64_t, size_t> index;
  static const std::vector<std::string> kLe = {"le"};
  for (const VSeries& vs : v.vec) {
    double le;
    if (!ParseLe(vs.labels.Get("le"), &le)) {
      annos.Warn(absl::StrCat(
          "PromQL warning: bucket label \"le\" is missing or has a malformed "
          "value of \"",
          std::string(vs.labels.Get("le")), "\" for metric name ",
          storage::QuoteGo(vs.labels.MetricName())));
      continue;
    }
    uint64_t h = vs.labels.HashFor(kLe, false);
    auto [it, inserted] = index.try_emplace(h, groups.size());
    if (inserted) {
      groups.push_back({LabelsBuilder(vs.labels).Del("le").Build(), {}});
    }
    groups[it->second].buckets.push_back({le, &vs});
  }
  Val out;
  out.type = PT::kVector;
  std::vector<Bucket> buckets;
  for (Group& g : groups) {
    VSeries o = NewSeries(g.labels, s.n);
    o.drop_name = true;
    bool any = false;
    for (int i = 0; i < s.n; ++i) {
      buckets.clear();
      for (auto& [le, vs] : g.buckets) {
        if (vs->has[i]) buckets.push_back({le, vs->v[i]});
      }
      if (buckets.empty()) continue;
      bool fixed = false, nan_obs = false;
      o.v[i] = fraction ? BucketFraction(q[i], upper_arg[i], buckets)
                        : BucketQuantile(q[i], buckets, &fixed, &nan_obs);
      o.has[i] = 1;
      any = true;
      if (fixed) {
        annos.Info(absl::StrCat(
            "PromQL info: input to histogram_quantile needed to be fixed for "
            "monotonicity (see "
            "https://prometheus.io/docs/prometheus/latest/querying/functions/"
            "#histogram_quantile) for metric name ",
            storage::QuoteGo(g.labels.MetricName())));
      }
    }
    if (any) out.vec.push_back(std::move(o));
  }
  return out;
}

absl::StatusOr<Val> Evaluator::EvalCall(const parser::Call& c, const Steps& s) {
  std::string_view name = c.func->name;
  if (functions::LookupRange(name) != nullptr) {
    return EvalRangeFunction(c, name, s);
  }
  if (functions::UnaryFn fn = functions::LookupUnary(name)) {
    ASSIGN_OR_RETURN(Val v, Eval(*c.args[0], s));
    for (VSeries& vs : v.vec) {
      for (int i = 0; i < s.n; ++i) vs.v[i] = fn(vs.v[i]);
      vs.drop_name = true;
    }
    return v;
  }
  if (functions::DateFn fn = functions::LookupDate(name)) {
    Val v;
    if (c.args.empty()) {
      v.type = PT::kVector;
      VSeries vs = NewSeries(Labels(), s.n);
      for (int i = 0; i < s.n; ++i) {
        vs.v[i] = fn(static_cast<double>(s.T(i)) / 1000.0);
        vs.has[i] = 1;
      }
      v.vec.push_back(std::move(vs));
      return v;
    }
    ASSIGN_OR_RETURN(v, Eval(*c.args[0], s));
    for (VSeries& vs : v.vec) {
      for (int i = 0; i < s.n; ++i) vs.v[i] = fn(vs.v[i]);
      vs.drop_name = true;
    }
    return v;
  }
  if (name == "time" || name == "pi") {
    Val v;
    v.type = PT::kScalar;
    v.scalar.resize(s.n);
    for (int i = 0; i < s.n; ++i) {
      v.scalar[i] = name == "pi" ? M_PI : static_cast<double>(s.T(i)) / 1000.0;
    }
    return v;
  }
  if (name == "round") {
    ASSIGN_OR_RETURN(Val v, Eval(*c.args[0], s));
    std::vector<double> to(s.n, 1.0);
    if (c.args.size() > 1) {
      ASSIGN_OR_RETURN(to, EvalScalarArg(*c.args[1], s));
    }
    for (VSeries& vs : v.vec) {
      for (int i = 0; i < s.n; ++i) {
        double inv = 1.0 / to[i];
        vs.v[i] = std::floor(vs.v[i] * inv + 0.5) / inv;
      }
      vs.drop_name = true;
    }
    return v;
  }
  if (name == "clamp" || name == "clamp_min" || name == "clamp_max") {
    ASSIGN_OR_RETURN(Val v, Eval(*c.args[0], s));
    std::vector<double> lo(s.n, -INFINITY), hi(s.n, INFINITY);
    if (name == "clamp") {
      ASSIGN_OR_RETURN(lo, EvalScalarArg(*c.args[1], s));
      ASSIGN_OR_RETURN(hi, EvalScalarArg(*c.args[2], s));
    } else if (name == "clamp_min") {
      ASSIGN_OR_RETURN(lo, EvalScalarArg(*c.args[1], s));
    } else {
      ASSIGN_OR_RETURN(hi, EvalScalarArg(*c.args[1], s));
    }
    for (VSeries& vs : v.vec) {
      for (int i = 0; i < s.n; ++i) {
        if (hi[i] < lo[i]) {
          vs.has[i] = 0;
          continue;
        }
        double x = vs.v[i];
        // Go's math.Max/Min propagate NaN.
        if (std::isnan(x) || std::isnan(lo[i]) || std::isnan(hi[i])) {
          x = kNaN;
        } else {
          x = std::min(std::max(x, lo[i]), hi[i]);
        }
        vs.v[i] = x;
      }
      vs.drop_name = true;
    }
    return v;
  }
  if (name == "scalar") {
    ASSIGN_OR_RETURN(Val v, Eval(*c.args[0], s));
    Val out;
    out.type = PT::kScalar;
    out.scalar.assign(s.n, kNaN);
    for (int i = 0; i < s.n; ++i) {
      int cnt = 0;
      double x = kNaN;
      for (const VSeries& vs : v.vec) {
        if (vs.has[i]) {
          ++cnt;
          x = vs.v[i];
        }
      }
      if (cnt == 1) out.scalar[i] = x;
    }
    return out;
  }
  if (name == "vector") {
    ASSIGN_OR_RETURN(std::vector<double> x, EvalScalarArg(*c.args[0], s));
    Val out;
    out.type = PT::kVector;
    VSeries vs = NewSeries(Labels(), s.n);
    vs.v.assign(x.begin(), x.end());
    vs.has.assign(s.n, 1);
    out.vec.push_back(std::move(vs));
    return out;
  }
  if (name == "timestamp") {
    const parser::Expr& arg = parser::Unwrap(*c.args[0]);
    Val v;
    if (arg.kind == parser::ExprKind::kVectorSelector) {
      ASSIGN_OR_RETURN(v, EvalVectorSelector(
                              static_cast<const parser::VectorSelector&>(arg),
                              s, true));
    } else {
      ASSIGN_OR_RETURN(v, Eval(*c.args[0], s));
      for (VSeries& vs : v.vec) {
        for (int i = 0; i < s.n; ++i) vs.v[i] = static_cast<double>(s.T(i)) / 1000.0;
      }
    }
    for (VSeries& vs : v.vec) vs.drop_name = true;
    return v;
  }
  if (name == "absent" || name == "absent_over_time") {
    ASSIGN_OR_RETURN(Val v, Eval(*c.args[0], s));
    Val out;
    out.type = PT::kVector;
    VSeries o = NewSeries(AbsentLabels(*c.args[0]), s.n);
    bool any = false;
    if (v.type == PT::kVector) {
      for (int i = 0; i < s.n; ++i) {
        bool present = false;
        for (const VSeries& vs : v.vec) present = present || vs.has[i];
        if (!present) {
          o.v[i] = 1;
          o.has[i] = 1;
          any = true;
        }
      }
    } else {
      const RangeVec& rv = v.range;
      for (int i = 0; i < s.n; ++i) {
        int64_t end = rv.eval_ts[i], start = end - rv.range_ms;
        bool present = false;
        for (const RSeries& r : rv.series) {
          const int64_t* b = rv.T(r);
          const int64_t* e = b + r.n;
          const int64_t* it = std::upper_bound(b, e, start);
          if (it != e && *it <= end) {
            present = true;
            break;
          }
        }
        if (!present) {
          o.v[i] = 1;
          o.has[i] = 1;
          any = true;
        }
      }
    }
    if (any) out.vec.push_back(std::move(o));
    return out;
  }
  if (name == "label_replace") return EvalLabelReplace(c, s);
  if (name == "label_join") return EvalLabelJoin(c, s);
  if (name == "sort" || name == "sort_desc") {
    ASSIGN_OR_RETURN(Val v, Eval(*c.args[0], s));
    if (s.n == 1) {
      bool desc = name == "sort_desc";
      std::stable_sort(v.vec.begin(), v.vec.end(),
                       [desc](const VSeries& a, const VSeries& b) {
                         double x = a.v[0], y = b.v[0];
                         if (std::isnan(x)) return false;
                         if (std::isnan(y)) return true;
                         return desc ? x > y : x < y;
                       });
    }
    return v;
  }
  if (name == "sort_by_label" || name == "sort_by_label_desc") {
    ASSIGN_OR_RETURN(Val v, Eval(*c.args[0], s));
    std::vector<std::string> names;
    for (size_t k = 1; k < c.args.size(); ++k) {
      ASSIGN_OR_RETURN(Val a, Eval(*c.args[k], s));
      names.push_back(a.str);
    }
    bool desc = name == "sort_by_label_desc";
    std::stable_sort(v.vec.begin(), v.vec.end(),
                     [&](const VSeries& a, const VSeries& b) {
                       for (const std::string& n : names) {
                         std::string_view x = a.labels.Get(n), y = b.labels.Get(n);
                         if (x == y) continue;
                         return desc ? NaturalLess(y, x) : NaturalLess(x, y);
                       }
                       return desc ? b.labels < a.labels : a.labels < b.labels;
                     });
    return v;
  }
  if (name == "histogram_quantile" || name == "histogram_fraction") {
    return EvalHistogramQuantile(c, s);
  }
  if (name == "info") {
    return Eval(*c.args[0], s);
  }
  if (name == "histogram_count" || name == "histogram_sum" ||
      name == "histogram_avg" || name == "histogram_stddev" ||
      name == "histogram_stdvar") {
    // Float samples carry no histogram: these yield nothing for them.
    for (const auto& a : c.args) {
      ASSIGN_OR_RETURN(Val ignored, Eval(*a, s));
      (void)ignored;
    }
    Val out;
    out.type = PT::kVector;
    return out;
  }
  return absl::UnimplementedError(
      absl::StrCat("function ", std::string(name), " is not supported"));
}

// ------------------------------------------------------------- aggregation

// Per group (and step) accumulators of sum, avg, count, group, min, max,
// stddev and stdvar, as Prometheus aggregates floats: Add takes one slot's
// samples in series order, Result gives the slot's aggregate (only where
// Has).
class Accumulators {
 public:
  Accumulators(parser::AggregateOp op, size_t slots)
      : op_(op), acc_(slots, 0), comp_(slots, 0), mean_(slots, 0),
        cnt_(slots, 0) {
    if (op == parser::AggregateOp::kAvg) incremental_.assign(slots, 0);
  }

  // Whether the float aggregation `op` is one of these.
  static bool Handles(parser::AggregateOp op) {
    using parser::AggregateOp;
    switch (op) {
      case AggregateOp::kSum:
      case AggregateOp::kAvg:
      case AggregateOp::kCount:
      case AggregateOp::kGroup:
      case AggregateOp::kMin:
      case AggregateOp::kMax:
      case AggregateOp::kStddev:
      case AggregateOp::kStdvar:
        return true;
      default:
        return false;
    }
  }

  bool Has(size_t j) const { return cnt_[j] != 0; }

  void Add(size_t j, double x) {
    using parser::AggregateOp;
    double& c = cnt_[j];
    c += 1;
    switch (op_) {
      case AggregateOp::kSum:
        functions::KahanAdd(x, &acc_[j], &comp_[j]);
        break;
      case AggregateOp::kAvg: {
        if (!incremental_[j]) {
          double s2 = acc_[j], c2 = comp_[j];
          functions::KahanAdd(x, &s2, &c2);
          if (c == 1 || !std::isinf(s2)) {
            acc_[j] = s2;
            comp_[j] = c2;
            break;
          }
          incremental_[j] = 1;
          mean_[j] = acc_[j] / (c - 1);
          comp_[j] /= (c - 1);
        }
        if (std::isinf(mean_[j])) {
          if (std::isinf(x) && (mean_[j] > 0) == (x > 0)) break;
          if (!std::isinf(x) && !std::isnan(x)) break;
        }
        double cur = mean_[j] + comp_[j];
        functions::KahanAdd(x / c - cur / c, &mean_[j], &comp_[j]);
        break;
      }
      case AggregateOp::kCount:
      case AggregateOp::kGroup:
        break;
      case AggregateOp::kMin:
        if (c == 1 || acc_[j] > x || std::isnan(acc_[j])) acc_[j] = x;
        break;
      case AggregateOp::kMax:
        if (c == 1 || acc_[j] < x || std::isnan(acc_[j])) acc_[j] = x;
        break;
      case AggregateOp::kStddev:
      case AggregateOp::kStdvar: {
        if (c == 1) {
          mean_[j] = x;
          acc_[j] = std::isfinite(x) ? 0 : kNaN;
        } else {
          double delta = x - mean_[j];
          mean_[j] += delta / c;
          acc_[j] += delta * (x - mean_[j]);
        }
        break;
      }
      default:
        break;
    }
  }

  double Result(size_t j) const {
    using parser::AggregateOp;
    switch (op_) {
      case AggregateOp::kSum:
        return std::isinf(acc_[j]) ? acc_[j] : acc_[j] + comp_[j];
      case AggregateOp::kAvg:
        return incremental_[j] ? mean_[j] + comp_[j]
                               : acc_[j] / cnt_[j] + comp_[j] / cnt_[j];
      case AggregateOp::kCount:
        return cnt_[j];
      case AggregateOp::kGroup:
        return 1;
      case AggregateOp::kMin:
      case AggregateOp::kMax:
        return acc_[j];
      case AggregateOp::kStdvar:
        return acc_[j] / cnt_[j];
      case AggregateOp::kStddev:
        return std::sqrt(acc_[j] / cnt_[j]);
      default:
        return 0;
    }
  }

 private:
  const parser::AggregateOp op_;
  std::vector<double> acc_, comp_, mean_, cnt_;
  std::vector<uint8_t> incremental_;
};

absl::StatusOr<Val> Evaluator::EvalAggregate(const parser::AggregateExpr& a,
                                             const Steps& s) {
  using parser::AggregateOp;
  std::vector<double> param;
  std::string str_param;
  if (a.param != nullptr) {
    ASSIGN_OR_RETURN(Val p, Eval(*a.param, s));
    if (p.type == PT::kString) {
      str_param = p.str;
    } else {
      param = std::move(p.scalar);
    }
  }
  if (Accumulators::Handles(a.op)) {
    const parser::Expr& inner = parser::Unwrap(*a.expr);
    if (inner.kind == parser::ExprKind::kCall &&
        IsInstantRangeOverSelector(static_cast<const parser::Call&>(inner),
                                   s)) {
      return AggregateInstantRange(
          a, static_cast<const parser::Call&>(inner), s);
    }
  }
  ASSIGN_OR_RETURN(Val in, Eval(*a.expr, s));
  std::vector<VSeries>& vec = in.vec;

  if (a.op == AggregateOp::kCountValues && !ValidLabelName(str_param)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid label name ", storage::QuoteGo(str_param)));
  }
  if (a.op == AggregateOp::kQuantile) {
    for (int i = 0; i < s.n; ++i) {
      if (!(param[i] >= 0 && param[i] <= 1)) {
        annos.Warn(absl::StrCat(
            "PromQL warning: quantile value should be between 0 and 1, got ",
            FormatFloatGo(param[i])));
      }
    }
  }
  if (a.op == AggregateOp::kLimitRatio) {
    for (int i = 0; i < s.n; ++i) {
      double r = param[i];
      if (r < -1 || r > 1) {
        double capped = r < -1 ? -1 : 1;
        annos.Warn(absl::StrCat(
            "PromQL warning: ratio value should be between -1 and 1, got ",
            FormatFloatGo(r), ", capping to ", FormatFloatGo(capped)));
        param[i] = capped;
      }
    }
  }

  // Group ids, once per series.
  std::vector<size_t> gid(vec.size());
  std::vector<Labels> group_labels;
  std::vector<bool> group_drop;
  std::vector<std::vector<size_t>> members;
  // Series straight from one selection (labels untouched): its grouping is
  // computed once per selection, and here each series only looks its group
  // up. Groups are renumbered in order of first appearance, as below.
  bool from_selection = in.origin != nullptr;
  for (size_t k = 0; from_selection && k < vec.size(); ++k) {
    const uint32_t src = vec[k].src;
    from_selection = src < in.origin->series().size() &&
                     vec[k].labels.SharesContentsWith(
                         in.origin->series()[src].labels);
  }
  if (from_selection) {
    std::shared_ptr<const Selection::Grouping> g =
        in.origin->GroupingFor(a.grouping, a.without);
    std::vector<uint32_t> local(g->labels.size(), kNoSource);
    for (size_t k = 0; k < vec.size(); ++k) {
      const uint32_t whole = g->group_of[vec[k].src];
      if (local[whole] == kNoSource) {
        local[whole] = static_cast<uint32_t>(group_labels.size());
        group_labels.push_back(g->labels[whole]);
        group_drop.push_back(vec[k].drop_name &&
                             group_labels.back().Has(kName));
        members.emplace_back();
      }
      gid[k] = local[whole];
      members[gid[k]].push_back(k);
    }
  } else {
    std::vector<std::string> key_names = a.grouping;
    if (a.without) key_names.push_back(kName);
    absl::flat_hash_map<uint64_t, size_t> index;
    for (size_t k = 0; k < vec.size(); ++k) {
      uint64_t h = vec[k].labels.HashFor(key_names, !a.without);
      auto [it, inserted] = index.try_emplace(h, group_labels.size());
      if (inserted) {
        LabelsBuilder b(vec[k].labels);
        if (a.without) {
          for (const auto& n : key_names) b.Del(n);
        } else {
          b.Keep(a.grouping);
        }
        group_labels.push_back(b.Build());
        group_drop.push_back(vec[k].drop_name && group_labels.back().Has(kName));
        members.emplace_back();
      }
      gid[k] = it->second;
      members[it->second].push_back(k);
    }
  }
  size_t ng = group_labels.size();
  Val out;
  out.type = PT::kVector;

  // topk/bottomk/limitk/limit_ratio keep the input series.
  if (a.op == AggregateOp::kTopk || a.op == AggregateOp::kBottomk ||
      a.op == AggregateOp::kLimitk || a.op == AggregateOp::kLimitRatio) {
    std::vector<std::vector<uint8_t>> keep(vec.size(),
                                           std::vector<uint8_t>(s.n, 0));
    // Rank of each kept series at the first step (output order).
    std::vector<int64_t> first_rank(vec.size(), -1);
    std::vector<size_t> cand;
    for (int i = 0; i < s.n; ++i) {
      if (a.op == AggregateOp::kLimitRatio) {
        double r = param[i];
        for (size_t k = 0; k < vec.size(); ++k) {
          if (!vec[k].has[i]) continue;
          double off = static_cast<double>(PrometheusLabelsHash(vec[k].labels)) /
                       static_cast<double>(std::numeric_limits<uint64_t>::max());
          bool sel = (r >= 0 && off < r) || (r < 0 && off >= 1.0 + r);
          if (sel) keep[k][i] = 1;
        }
        continue;
      }
      double kf = param[i];
      if (std::isnan(kf)) {
        return absl::InvalidArgumentError(
            "Parameter value is NaN for topk/bottomk/limitk");
      }
      if (kf > 9.2e18 || kf < -9.2e18) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Scalar value ", FormatFloatGo(kf), " overflows int64"));
      }
      int64_t k = static_cast<int64_t>(kf);
      if (k < 1) continue;
      for (size_t g = 0; g < ng; ++g) {
        cand.clear();
        for (size_t m : members[g]) {
          if (vec[m].has[i]) cand.push_back(m);
        }
        if (a.op == AggregateOp::kTopk || a.op == AggregateOp::kBottomk) {
          bool top = a.op == AggregateOp::kTopk;
          std::stable_sort(cand.begin(), cand.end(), [&](size_t x, size_t y) {
            double vx = vec[x].v[i], vy = vec[y].v[i];
            if (std::isnan(vx)) return false;
            if (std::isnan(vy)) return true;
            return top ? vx > vy : vx < vy;
          });
        }
        size_t take = std::min<size_t>(cand.size(), static_cast<size_t>(k));
        for (size_t r = 0; r < take; ++r) {
          keep[cand[r]][i] = 1;
          if (i == 0) first_rank[cand[r]] = static_cast<int64_t>(r);
        }
      }
    }
    std::vector<size_t> order;
    for (size_t k = 0; k < vec.size(); ++k) order.push_back(k);
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
      if (gid[x] != gid[y]) return gid[x] < gid[y];
      return first_rank[x] < first_rank[y];
    });
    for (size_t k : order) {
      VSeries& vs = vec[k];
      bool any = false;
      for (int i = 0; i < s.n; ++i) {
        vs.has[i] = vs.has[i] && keep[k][i];
        any = any || vs.has[i];
      }
      if (any) out.vec.push_back(std::move(vs));
    }
    return out;
  }

  if (a.op == AggregateOp::kCountValues) {
    absl::flat_hash_map<std::string, size_t> index;
    for (size_t k = 0; k < vec.size(); ++k) {
      for (int i = 0; i < s.n; ++i) {
        if (!vec[k].has[i]) continue;
        LabelsBuilder b(group_labels[gid[k]]);
        b.Set(str_param, FormatFloatGo(vec[k].v[i]));
        Labels l = b.Build();
        std::string key = l.ToString();
        auto [it, inserted] = index.try_emplace(key, out.vec.size());
        if (inserted) out.vec.push_back(NewSeries(std::move(l), s.n));
        VSeries& o = out.vec[it->second];
        o.v[i] += 1;
        o.has[i] = 1;
      }
    }
    return out;
  }

  std::vector<VSeries> res;
  res.reserve(ng);
  for (size_t g = 0; g < ng; ++g) {
    res.push_back(NewSeries(group_labels[g], s.n));
    res.back().drop_name = group_drop[g];
  }
  if (a.op == AggregateOp::kQuantile) {
    std::vector<double> vals;
    for (size_t g = 0; g < ng; ++g) {
      for (int i = 0; i < s.n; ++i) {
        vals.clear();
        for (size_t m : members[g]) {
          if (vec[m].has[i]) vals.push_back(vec[m].v[i]);
        }
        if (vals.empty()) continue;
        res[g].v[i] = functions::Quantile(param[i], vals.data(), vals.size());
        res[g].has[i] = 1;
      }
    }
  } else {
    // Per group and step accumulators.
    Accumulators acc(a.op, ng * s.n);
    for (size_t k = 0; k < vec.size(); ++k) {
      const VSeries& vs = vec[k];
      size_t base = gid[k] * s.n;
      for (int i = 0; i < s.n; ++i) {
        if (vs.has[i]) acc.Add(base + i, vs.v[i]);
      }
    }
    for (size_t g = 0; g < ng; ++g) {
      for (int i = 0; i < s.n; ++i) {
        size_t j = g * s.n + i;
        if (!acc.Has(j)) continue;
        res[g].v[i] = acc.Result(j);
        res[g].has[i] = 1;
      }
    }
  }
  for (VSeries& r : res) {
    if (!r.Empty()) out.vec.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<Val> Evaluator::AggregateInstantRange(
    const parser::AggregateExpr& a, const parser::Call& c, const Steps& s) {
  // Groups are numbered by the selection's grouping and reported in order
  // of their first series with a value, as EvalAggregate orders them; each
  // group's values arrive in selection order, so the sums are the same to
  // the bit.
  std::shared_ptr<const Selection::Grouping> grouping;
  std::vector<uint32_t> order;
  std::vector<uint8_t> seen;
  std::optional<Accumulators> acc;
  const auto sink = [&](const Selection& sel, size_t first, size_t len,
                        const double* value, const uint8_t* has) {
    if (grouping == nullptr) {
      grouping = sel.GroupingFor(a.grouping, a.without);
      seen.assign(grouping->labels.size(), 0);
      acc.emplace(a.op, grouping->labels.size());
    }
    const uint32_t* group_of = grouping->group_of.data() + first;
    for (size_t i = 0; i < len; ++i) {
      if (!has[i]) continue;
      const uint32_t g = group_of[i];
      if (!seen[g]) {
        seen[g] = 1;
        order.push_back(g);
      }
      acc->Add(g, value[i]);
    }
  };
  const InstantBatchSink sink_ref(sink);
  ASSIGN_OR_RETURN(Val ignored,
                   EvalRangeFunction(c, c.func->name, s, &sink_ref));
  (void)ignored;
  Val out;
  out.type = PT::kVector;
  out.vec.reserve(order.size());
  const bool drop_name = !RangeFunctionKeepsName(c.func->name);
  for (const uint32_t g : order) {
    VSeries& vs = out.vec.emplace_back(NewSeries(grouping->labels[g], 1));
    vs.drop_name = drop_name && vs.labels.Has(kName);
    vs.v[0] = acc->Result(g);
    vs.has[0] = 1;
  }
  return out;
}

// --------------------------------------------------------- binary operators

// Applies a binary operator. For comparisons, *keep says whether the
// element survives (value is the left operand).
inline double ApplyOp(BinaryOp op, double l, double r, bool* keep) {
  *keep = true;
  switch (op) {
    case BinaryOp::kAdd:
      return l + r;
    case BinaryOp::kSub:
      return l - r;
    case BinaryOp::kMul:
      return l * r;
    case BinaryOp::kDiv:
      return l / r;
    case BinaryOp::kMod:
      return std::fmod(l, r);
    case BinaryOp::kPow:
      return std::pow(l, r);
    case BinaryOp::kAtan2:
      return std::atan2(l, r);
    case BinaryOp::kEql:
      *keep = l == r;
      return l;
    case BinaryOp::kNeq:
      *keep = l != r;
      return l;
    case BinaryOp::kGtr:
      *keep = l > r;
      return l;
    case BinaryOp::kLss:
      *keep = l < r;
      return l;
    case BinaryOp::kGte:
      *keep = l >= r;
      return l;
    case BinaryOp::kLte:
      *keep = l <= r;
      return l;
    default:
      return kNaN;
  }
}

absl::StatusOr<Val> Evaluator::EvalBinary(const parser::BinaryExpr& b,
                                          const Steps& s) {
  ASSIGN_OR_RETURN(Val lhs, Eval(*b.lhs, s));
  ASSIGN_OR_RETURN(Val rhs, Eval(*b.rhs, s));
  bool cmp = parser::IsComparisonOp(b.op);
  if (lhs.type == PT::kScalar && rhs.type == PT::kScalar) {
    for (int i = 0; i < s.n; ++i) {
      bool keep;
      double v = ApplyOp(b.op, lhs.scalar[i], rhs.scalar[i], &keep);
      if (cmp) v = keep ? 1 : 0;
      lhs.scalar[i] = v;
    }
    return lhs;
  }
  if (lhs.type == PT::kVector && rhs.type == PT::kVector) {
    return VectorBinary(b, std::move(lhs), std::move(rhs), s);
  }
  // Vector and scalar.
  bool swap = lhs.type == PT::kScalar;
  Val& vec = swap ? rhs : lhs;
  const std::vector<double>& sc = swap ? lhs.scalar : rhs.scalar;
  for (VSeries& vs : vec.vec) {
    for (int i = 0; i < s.n; ++i) {
      if (!vs.has[i]) continue;
      double l = vs.v[i], r = sc[i];
      if (swap) std::swap(l, r);
      bool keep;
      double v = ApplyOp(b.op, l, r, &keep);
      if (cmp) {
        if (swap) v = r;  // the vector's value survives a comparison
        if (b.return_bool) {
          v = keep ? 1 : 0;
        } else if (!keep) {
          vs.has[i] = 0;
          continue;
        }
      }
      vs.v[i] = v;
    }
    if (!cmp || b.return_bool) vs.drop_name = true;
  }
  if (cmp && !b.return_bool) {
    std::vector<VSeries> kept;
    for (VSeries& vs : vec.vec) {
      if (!vs.Empty()) kept.push_back(std::move(vs));
    }
    vec.vec = std::move(kept);
  }
  return std::move(vec);
}

uint64_t MatchSig(const Labels& l, const parser::VectorMatching& m) {
  if (m.on) return l.HashFor(m.matching_labels, true);
  std::vector<std::string> names = m.matching_labels;
  names.push_back(kName);
  return l.HashFor(names, false);
}

absl::StatusOr<Val> Evaluator::VectorBinary(const parser::BinaryExpr& b,
                                            Val lhs, Val rhs, const Steps& s) {
  parser::VectorMatching m;
  if (b.matching.has_value()) m = *b.matching;
  if (parser::IsSetOp(b.op)) {
    m.card = parser::VectorMatchCardinality::kManyToMany;
  }
  Val out;
  out.type = PT::kVector;
  const int n = s.n;
  std::vector<uint64_t> lsig(lhs.vec.size()), rsig(rhs.vec.size());
  for (size_t k = 0; k < lhs.vec.size(); ++k) lsig[k] = MatchSig(lhs.vec[k].labels, m);
  for (size_t k = 0; k < rhs.vec.size(); ++k) rsig[k] = MatchSig(rhs.vec[k].labels, m);

  if (b.op == BinaryOp::kAnd || b.op == BinaryOp::kUnless) {
    // Per signature, the steps at which the right side has a sample.
    absl::flat_hash_map<uint64_t, std::vector<uint8_t>> present;
    for (size_t k = 0; k < rhs.vec.size(); ++k) {
      auto& p = present[rsig[k]];
      if (p.empty()) p.assign(n, 0);
      for (int i = 0; i < n; ++i) p[i] |= rhs.vec[k].has[i];
    }
    bool is_and = b.op == BinaryOp::kAnd;
    for (size_t k = 0; k < lhs.vec.size(); ++k) {
      VSeries& vs = lhs.vec[k];
      auto it = present.find(lsig[k]);
      for (int i = 0; i < n; ++i) {
        bool in_rhs = it != present.end() && it->second[i];
        if (is_and != in_rhs) vs.has[i] = 0;
      }
      if (!vs.Empty()) out.vec.push_back(std::move(vs));
    }
    return out;
  }
  if (b.op == BinaryOp::kOr) {
    absl::flat_hash_map<uint64_t, std::vector<uint8_t>> present;
    for (size_t k = 0; k < lhs.vec.size(); ++k) {
      auto& p = present[lsig[k]];
      if (p.empty()) p.assign(n, 0);
      for (int i = 0; i < n; ++i) p[i] |= lhs.vec[k].has[i];
    }
    for (VSeries& vs : lhs.vec) out.vec.push_back(std::move(vs));
    for (size_t k = 0; k < rhs.vec.size(); ++k) {
      VSeries& vs = rhs.vec[k];
      auto it = present.find(rsig[k]);
      if (it != present.end()) {
        for (int i = 0; i < n; ++i) {
          if (it->second[i]) vs.has[i] = 0;
        }
      }
      if (!vs.Empty()) out.vec.push_back(std::move(vs));
    }
    return out;
  }

  // Arithmetic and comparison. The "one" side is indexed by signature.
  bool right_many = m.card == parser::VectorMatchCardinality::kOneToMany;
  std::vector<VSeries>& many = right_many ? rhs.vec : lhs.vec;
  std::vector<VSeries>& one = right_many ? lhs.vec : rhs.vec;
  std::vector<uint64_t>& many_sig = right_many ? rsig : lsig;
  std::vector<uint64_t>& one_sig = right_many ? lsig : rsig;
  absl::flat_hash_map<uint64_t, std::vector<size_t>> one_index;
  for (size_t k = 0; k < one.size(); ++k) one_index[one_sig[k]].push_back(k);
  // Duplicates on the "one" side are only an error when present together.
  for (auto& [sig, idx] : one_index) {
    if (idx.size() < 2) continue;
    for (int i = 0; i < n; ++i) {
      int c = 0;
      for (size_t k : idx) c += one[k].has[i];
      if (c > 1) {
        const VSeries& x = one[idx[0]];
        std::string side = right_many ? "left" : "right";
        LabelsBuilder lb(x.labels);
        if (m.on) {
          lb.Keep(m.matching_labels);
        } else {
          for (const auto& nm : m.matching_labels) lb.Del(nm);
          lb.Del(kName);
        }
        return absl::InvalidArgumentError(absl::StrCat(
            "found duplicate series for the match group ",
            lb.Build().ToString(), " on the ", side,
            " hand-side of the operation: [",
            absl::StrJoin(idx, ", ",
                          [&](std::string* o, size_t k) {
                            absl::StrAppend(o, one[k].labels.ToString());
                          }),
            "];many-to-many matching not allowed: matching labels must be "
            "unique on one side"));
      }
    }
  }
  bool cmp = parser::IsComparisonOp(b.op);
  bool drop = !cmp || b.return_bool;
  bool one_to_one = m.card == parser::VectorMatchCardinality::kOneToOne;
  // Output series keyed by their labels, to find collisions.
  absl::flat_hash_map<uint64_t, std::vector<size_t>> out_index;
  for (size_t k = 0; k < many.size(); ++k) {
    auto it = one_index.find(many_sig[k]);
    if (it == one_index.end()) continue;
    for (size_t ok : it->second) {
      VSeries& ms = many[k];
      const VSeries& os = one[ok];
      Labels labels;
      if (one_to_one) {
        LabelsBuilder lb(ms.labels);
        if (m.on) {
          lb.Keep(m.matching_labels);
        } else {
          for (const auto& nm : m.matching_labels) lb.Del(nm);
        }
        labels = lb.Build();
      } else {
        LabelsBuilder lb(ms.labels);
        for (const auto& nm : m.include) {
          std::string_view v = os.labels.Get(nm);
          if (!v.empty()) {
            lb.Set(nm, v);
          } else {
            lb.Del(nm);
          }
        }
        labels = lb.Build();
      }
      VSeries res = NewSeries(std::move(labels), n);
      res.drop_name = drop || ms.drop_name;
      if (drop && !opts_.enable_delayed_name_removal) {
        res.labels = DropName(res.labels);
      }
      bool any = false;
      for (int i = 0; i < n; ++i) {
        if (!ms.has[i] || !os.has[i]) continue;
        double l = ms.v[i], r = os.v[i];
        if (right_many) std::swap(l, r);
        bool keep;
        double v = ApplyOp(b.op, l, r, &keep);
        if (cmp) {
          if (b.return_bool) {
            v = keep ? 1 : 0;
          } else if (!keep) {
            continue;
          }
        }
        res.v[i] = v;
        res.has[i] = 1;
        any = true;
      }
      if (!any) continue;
      uint64_t h = res.labels.Hash();
      auto& same = out_index[h];
      for (size_t prev : same) {
        VSeries& p = out.vec[prev];
        if (p.labels != res.labels) continue;
        for (int i = 0; i < n; ++i) {
          if (p.has[i] && res.has[i]) {
            if (one_to_one) {
              return absl::InvalidArgumentError(
                  "multiple matches for labels: many-to-one matching must be "
                  "explicit (group_left/group_right)");
            }
            return absl::InvalidArgumentError(
                "multiple matches for labels: grouping labels must ensure "
                "unique matches");
          }
        }
      }
      same.push_back(out.vec.size());
      out.vec.push_back(std::move(res));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<Result> Evaluate(const parser::Expr& expr,
                                const storage::Queryable& q, int64_t start_ms,
                                int64_t end_ms, int64_t step_ms, bool instant,
                                const EvalOptions& options) {
  Evaluator ev(q, options, start_ms, end_ms);
  Steps steps;
  steps.start = start_ms;
  steps.step = step_ms > 0 ? step_ms : 1;
  if (!instant && (end_ms < start_ms || step_ms <= 0)) {
    return absl::InvalidArgumentError(
        "invalid range query: end before start or step <= 0");
  }
  int64_t n = instant ? 1 : (end_ms - start_ms) / steps.step + 1;
  if (n > options.max_samples || n > std::numeric_limits<int>::max()) {
    return absl::ResourceExhaustedError(
        "query processing would load too many samples into memory in query "
        "execution");
  }
  steps.n = static_cast<int>(n);
  if (!instant && expr.type() != PT::kScalar && expr.type() != PT::kVector) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid expression type \"",
        std::string(parser::ValueTypeName(expr.type())),
        "\" for range query, must be Scalar or instant Vector"));
  }
  ASSIGN_OR_RETURN(Val v, ev.Eval(expr, steps));
  Result res;
  switch (v.type) {
    case PT::kScalar:
      if (instant) {
        res.value = Scalar{start_ms, v.scalar[0]};
      } else {
        Series ser;
        for (int i = 0; i < steps.n; ++i) {
          ser.ts.push_back(steps.T(i));
          ser.vs.push_back(v.scalar[i]);
        }
        res.value = Matrix{std::move(ser)};
      }
      break;
    case PT::kString:
      res.value = String{start_ms, v.str};
      break;
    case PT::kVector: {
      // Series straight from the selection take its kept nameless sets,
      // all in one call; the others are rebuilt here.
      std::vector<uint32_t> from_origin_src;
      std::vector<VSeries*> from_origin;
      for (VSeries& vs : v.vec) {
        if (!vs.drop_name) continue;
        if (v.origin != nullptr && vs.src < v.origin->series().size() &&
            vs.labels.SharesContentsWith(v.origin->series()[vs.src].labels)) {
          from_origin_src.push_back(vs.src);
          from_origin.push_back(&vs);
        } else {
          vs.labels = DropName(vs.labels);
        }
      }
      if (!from_origin.empty()) {
        std::vector<Labels> nameless(from_origin.size());
        v.origin->Nameless(from_origin_src, absl::MakeSpan(nameless));
        for (size_t k = 0; k < from_origin.size(); ++k) {
          from_origin[k]->labels = std::move(nameless[k]);
        }
      }
      if (instant) {
        Vector out;
        out.reserve(v.vec.size());
        for (VSeries& vs : v.vec) {
          if (!vs.has[0]) continue;
          out.push_back(Sample{std::move(vs.labels), start_ms, vs.v[0]});
        }
        // Same labels twice (after delayed name removal) is an error.
        absl::flat_hash_map<uint64_t, size_t> by_hash;
        by_hash.reserve(out.size());
        for (size_t k = 0; k < out.size(); ++k) {
          auto [it, inserted] = by_hash.try_emplace(out[k].metric.Hash(), k);
          if (!inserted) {
            for (size_t j = 0; j < k; ++j) {
              if (out[j].metric == out[k].metric) return DuplicateLabelsetError();
            }
          }
        }
        res.value = std::move(out);
      } else {
        Matrix out;
        for (VSeries& vs : v.vec) {
          Series ser;
          ser.metric = std::move(vs.labels);
          for (int i = 0; i < steps.n; ++i) {
            if (!vs.has[i]) continue;
            ser.ts.push_back(steps.T(i));
            ser.vs.push_back(vs.v[i]);
          }
          if (!ser.ts.empty()) out.push_back(std::move(ser));
        }
        std::sort(out.begin(), out.end(), [](const Series& a, const Series& b) {
          return a.metric < b.metric;
        });
        for (size_t k = 1; k < out.size(); ++k) {
          if (out[k].metric == out[k - 1].metric) return DuplicateLabelsetError();
        }
        res.value = std::move(out);
      }
      break;
    }
    case PT::kMatrix: {
      Matrix out;
      const RangeVec& rv = v.range;
      int64_t end = rv.eval_ts[0], start = end - rv.range_ms;
      for (const RSeries& r : rv.series) {
        Series ser;
        ser.metric = r.drop_name ? DropName(r.labels) : r.labels;
        const int64_t* ts = rv.T(r);
        const double* vals = rv.V(r);
        for (size_t k = 0; k < r.n; ++k) {
          if (ts[k] > start && ts[k] <= end) {
            ser.ts.push_back(ts[k]);
            ser.vs.push_back(vals[k]);
          }
        }
        if (!ser.ts.empty()) out.push_back(std::move(ser));
      }
      res.value = std::move(out);
      break;
    }
    default:
      return absl::InternalError("expression has no type");
  }
  res.warnings = ev.annos.TakeWarnings();
  res.infos = ev.annos.TakeInfos();
  return res;
}

}  // namespace vigil::promql::eval
