// Labels: the identity of a series. An immutable, sorted set of name/value
// pairs with unique, non-empty names and non-empty values.
#ifndef VIGIL_STORAGE_LABELS_H_
#define VIGIL_STORAGE_LABELS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace vigil::storage {

inline constexpr std::string_view kMetricNameLabel = "__name__";

struct Label {
  std::string name;
  std::string value;

  friend bool operator==(const Label& a, const Label& b) {
    return a.name == b.name && a.value == b.value;
  }
};

// A sorted label set. Value type with immutable, shared contents: copying
// bumps a reference count instead of copying strings, because the evaluator
// hands the same series' labels from the select cache to every evaluation of
// a rule. The head keeps its own interned form of each series' labels;
// Labels is what crosses package boundaries (query results, append input).
// Immutable after construction, so safe to share and copy across threads.
class Labels {
 public:
  Labels() = default;

  // Validates and normalises untrusted input: drops labels with empty values,
  // sorts by name, rejects empty names and duplicate names (InvalidArgument
  // naming the label). Does not require a metric name.
  static absl::StatusOr<Labels> FromUnsorted(std::vector<Label> labels);
  // REQUIRES: `labels` already sorted by name, names unique and non-empty,
  // values non-empty (checked in debug builds only).
  static Labels FromSorted(std::vector<Label> labels);

  // The value for `name`, or "" when absent. The view lives as long as this.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  std::string_view MetricName() const { return Get(kMetricNameLabel); }

  size_t size() const { return rep_ ? rep_->labels.size() : 0; }
  bool empty() const { return size() == 0; }
  const Label& operator[](size_t i) const { return rep_->labels[i]; }
  std::vector<Label>::const_iterator begin() const { return vec().begin(); }
  std::vector<Label>::const_iterator end() const { return vec().end(); }
  absl::Span<const Label> span() const { return vec(); }

  // A stable 64-bit hash of all names and values (same input, same hash,
  // across processes). Computed once per shared contents.
  uint64_t Hash() const;
  // Hash of only the labels whose names are in (include=true) or not in
  // (include=false) `names`. `names` need not be sorted.
  uint64_t HashFor(absl::Span<const std::string> names, bool include) const;

  // Prometheus' text form: `name{a="b", c="d"}` (or `{...}` with no name);
  // values escaped as Go's %q does.
  std::string ToString() const;

  // True when both share one copy of their contents (so are equal); lets a
  // cache tell in O(1) that a series still carries the labels it was
  // resolved with.
  bool SharesContentsWith(const Labels& other) const {
    return rep_ == other.rep_;
  }
  // Identifies the shared contents (null for the empty set): a key for
  // memos of what is derived from a label set, valid while a copy of it is
  // kept alive alongside.
  const void* ContentsId() const { return rep_.get(); }

  // Lexicographic order over (name, value) pairs, as Prometheus sorts series.
  friend bool operator<(const Labels& a, const Labels& b);
  friend bool operator==(const Labels& a, const Labels& b) {
    return a.rep_ == b.rep_ || a.vec() == b.vec();
  }
  friend bool operator!=(const Labels& a, const Labels& b) { return !(a == b); }

 private:
  // The shared contents, and their hash once someone asked for it: the
  // same label sets are hashed over and over (a rule's output series by the
  // group and the store every evaluation), so the hash is kept with them.
  struct Rep {
    explicit Rep(std::vector<Label> l) : labels(std::move(l)) {}
    const std::vector<Label> labels;
    // 0 until computed (a set that truly hashes to 0 is just recomputed).
    mutable std::atomic<uint64_t> hash{0};
  };
  explicit Labels(std::vector<Label> labels);
  const std::vector<Label>& vec() const {
    return rep_ ? rep_->labels : Empty();
  }
  static const std::vector<Label>& Empty();
  // Null for the empty set, so default construction allocates nothing.
  std::shared_ptr<const Rep> rep_;
};

// Hashes a label set given pair by pair in name order: the same value as
// Labels::Hash of those labels, without building them.
class LabelSetHasher {
 public:
  void Add(std::string_view name, std::string_view value);
  uint64_t Finish() const;

 private:
  uint64_t state_ = 0x9e3779b97f4a7c15ULL;
};

// Builds a Labels by editing a base set: Set/Del then Build(). Cheap to reuse
// (call Reset). Not thread-safe.
class LabelsBuilder {
 public:
  LabelsBuilder() = default;
  explicit LabelsBuilder(const Labels& base) { Reset(base); }

  void Reset(const Labels& base);
  // Setting an empty value deletes the label.
  LabelsBuilder& Set(std::string_view name, std::string_view value);
  LabelsBuilder& Del(std::string_view name);
  // Keeps only the named labels.
  LabelsBuilder& Keep(absl::Span<const std::string> names);
  Labels Build() const;

 private:
  std::vector<Label> labels_;  // kept sorted by name
};

// True when `name` is a valid legacy metric name ([a-zA-Z_:][a-zA-Z0-9_:]*).
bool IsValidLegacyMetricName(std::string_view name);
// True when `name` is a valid legacy label name ([a-zA-Z_][a-zA-Z0-9_]*).
bool IsValidLegacyLabelName(std::string_view name);

// `s` in double quotes, escaped as Go's strconv.Quote (%q) does, which is how
// Prometheus prints label values and PromQL strings.
std::string QuoteGo(std::string_view s);

}  // namespace vigil::storage

#endif  // VIGIL_STORAGE_LABELS_H_
