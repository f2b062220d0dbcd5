#include "storage/labels.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vigil::storage {
namespace {

// A small multiply-mix hash (in the spirit of wyhash). Stable across
// processes and builds on little-endian machines, unlike absl::Hash, which is
// seeded per process; callers persist and compare these values.
constexpr uint64_t kP0 = 0xa0761d6478bd642fULL;
constexpr uint64_t kP1 = 0xe7037ed1a0b428dbULL;
constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ULL;

inline uint64_t Mix(uint64_t a, uint64_t b) {
  unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

class Hasher {
 public:
  Hasher() = default;
  explicit Hasher(uint64_t state) : h_(state) {}
  uint64_t state() const { return h_; }
  void Add(std::string_view s) {
    const char* p = s.data();
    size_t n = s.size();
    // The length goes in first so that ("ab","c") and ("a","bc") differ.
    h_ = Mix(h_ ^ kP0, n ^ kP1);
    while (n >= 8) {
      h_ = Mix(h_ ^ Load64(p), kP2);
      p += 8;
      n -= 8;
    }
    if (n > 0) {
      uint64_t tail = 0;
      std::memcpy(&tail, p, n);
      h_ = Mix(h_ ^ tail, kP1);
    }
  }
  uint64_t Finish() const { return Mix(h_ ^ kP2, kP0); }

 private:
  uint64_t h_ = 0x9e3779b97f4a7c15ULL;
};

// Empty values are allowed: annotations keep them, as Prometheus does.
bool IsSortedUnique(const std::vector<Label>& labels) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].name.empty()) return false;
    if (i > 0 && !(labels[i - 1].name < labels[i].name)) return false;
  }
  return true;
}

// Decodes one UTF-8 rune at s[i]; returns its length, or 0 when invalid.
int DecodeRune(std::string_view s, size_t i, uint32_t* rune) {
  const auto c0 = static_cast<unsigned char>(s[i]);
  if (c0 < 0x80) {
    *rune = c0;
    return 1;
  }
  int len;
  uint32_t r;
  if ((c0 & 0xe0) == 0xc0) {
    len = 2;
    r = c0 & 0x1f;
  } else if ((c0 & 0xf0) == 0xe0) {
    len = 3;
    r = c0 & 0x0f;
  } else if ((c0 & 0xf8) == 0xf0) {
    len = 4;
    r = c0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (int k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xc0) != 0x80) return 0;
    r = (r << 6) | (c & 0x3f);
  }
  // Reject overlong forms, surrogates and values beyond Unicode.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (r < kMin[len] || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff)) return 0;
  *rune = r;
  return len;
}

// Appends `s` quoted the way Go's strconv.Quote (%q) does. Printability of
// non-ASCII runes is approximated: C1 controls and a few invisible format
// characters are escaped, everything else valid is kept.
void AppendQuoted(std::string* out, std::string_view s) {
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    uint32_t r;
    const int n = DecodeRune(s, i, &r);
    if (n == 0) {
      absl::StrAppendFormat(out, "\\x%02x", static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    if (n == 1) {
      switch (r) {
        case '"': out->append("\\\""); break;
        case '\\': out->append("\\\\"); break;
        case '\a': out->append("\\a"); break;
        case '\b': out->append("\\b"); break;
        case '\f': out->append("\\f"); break;
        case '\n': out->append("\\n"); break;
        case '\r': out->append("\\r"); break;
        case '\t': out->append("\\t"); break;
        case '\v': out->append("\\v"); break;
        default:
          if (r < 0x20 || r == 0x7f) {
            absl::StrAppendFormat(out, "\\x%02x", r);
          } else {
            out->push_back(static_cast<char>(r));
          }
      }
    } else if ((r >= 0x80 && r <= 0x9f) || r == 0xad || r == 0xfeff ||
               (r >= 0x200b && r <= 0x200f) || (r >= 0x2028 && r <= 0x202e)) {
      absl::StrAppendFormat(out, "\\u%04x", r);
    } else {
      out->append(s.substr(i, n));
    }
    i += n;
  }
  out->push_back('"');
}

void AppendName(std::string* out, std::string_view name) {
  if (IsValidLegacyLabelName(name)) {
    out->append(name);
  } else {
    AppendQuoted(out, name);
  }
}

}  // namespace

absl::StatusOr<Labels> Labels::FromUnsorted(std::vector<Label> labels) {
  labels.erase(std::remove_if(labels.begin(), labels.end(),
                              [](const Label& l) { return l.value.empty(); }),
               labels.end());
  for (const Label& l : labels) {
    if (l.name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("label with empty name (value \"", l.value, "\")"));
    }
  }
  std::sort(labels.begin(), labels.end(),
            [](const Label& a, const Label& b) { return a.name < b.name; });
  for (size_t i = 1; i < labels.size(); ++i) {
    if (labels[i - 1].name == labels[i].name) {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate label name \"", labels[i].name, "\""));
    }
  }
  return Labels(std::move(labels));
}

Labels::Labels(std::vector<Label> labels)
    : rep_(labels.empty() ? nullptr
                          : std::make_shared<const Rep>(std::move(labels))) {}

const std::vector<Label>& Labels::Empty() {
  static const std::vector<Label>* const kEmpty = new std::vector<Label>();
  return *kEmpty;
}

Labels Labels::FromSorted(std::vector<Label> labels) {
  assert(IsSortedUnique(labels));
  (void)IsSortedUnique;
  return Labels(std::move(labels));
}

std::string_view Labels::Get(std::string_view name) const {
  // Label sets are small; a linear scan beats binary search below ~16 pairs
  // and the set is sorted, so we can stop early.
  for (const Label& l : vec()) {
    const int c = std::string_view(l.name).compare(name);
    if (c == 0) return l.value;
    if (c > 0) break;
  }
  return {};
}

bool Labels::Has(std::string_view name) const {
  for (const Label& l : vec()) {
    const int c = std::string_view(l.name).compare(name);
    if (c == 0) return true;
    if (c > 0) break;
  }
  return false;
}

void LabelSetHasher::Add(std::string_view name, std::string_view value) {
  Hasher h(state_);
  h.Add(name);
  h.Add(value);
  state_ = h.state();
}

uint64_t LabelSetHasher::Finish() const { return Hasher(state_).Finish(); }

uint64_t Labels::Hash() const {
  if (rep_ != nullptr) {
    const uint64_t cached = rep_->hash.load(std::memory_order_relaxed);
    if (cached != 0) return cached;
  }
  Hasher h;
  for (const Label& l : vec()) {
    h.Add(l.name);
    h.Add(l.value);
  }
  const uint64_t hash = h.Finish();
  // Racing threads compute the same value; either store is right.
  if (rep_ != nullptr) rep_->hash.store(hash, std::memory_order_relaxed);
  return hash;
}

uint64_t Labels::HashFor(absl::Span<const std::string> names,
                         bool include) const {
  Hasher h;
  for (const Label& l : vec()) {
    const bool listed =
        std::find(names.begin(), names.end(), l.name) != names.end();
    if (listed == include) {
      h.Add(l.name);
      h.Add(l.value);
    }
  }
  return h.Finish();
}

std::string Labels::ToString() const {
  std::string out;
  const std::string_view metric = MetricName();
  const bool name_prefix = !metric.empty() && IsValidLegacyMetricName(metric);
  if (name_prefix) out.append(metric);
  out.push_back('{');
  bool first = true;
  for (const Label& l : vec()) {
    if (name_prefix && l.name == kMetricNameLabel) continue;
    if (!first) out.append(", ");
    first = false;
    AppendName(&out, l.name);
    out.push_back('=');
    AppendQuoted(&out, l.value);
  }
  out.push_back('}');
  return out;
}

bool operator<(const Labels& a, const Labels& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const int c = a[i].name.compare(b[i].name);
    if (c != 0) return c < 0;
    const int d = a[i].value.compare(b[i].value);
    if (d != 0) return d < 0;
  }
  return a.size() < b.size();
}

void LabelsBuilder::Reset(const Labels& base) {
  labels_.assign(base.begin(), base.end());
}

LabelsBuilder& LabelsBuilder::Set(std::string_view name,
                                  std::string_view value) {
  if (value.empty()) return Del(name);
  auto it = std::lower_bound(
      labels_.begin(), labels_.end(), name,
      [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != labels_.end() && it->name == name) {
    it->value.assign(value);
  } else {
    labels_.insert(it, Label{std::string(name), std::string(value)});
  }
  return *this;
}

LabelsBuilder& LabelsBuilder::Del(std::string_view name) {
  auto it = std::lower_bound(
      labels_.begin(), labels_.end(), name,
      [](const Label& l, std::string_view n) { return l.name < n; });
  if (it != labels_.end() && it->name == name) labels_.erase(it);
  return *this;
}

LabelsBuilder& LabelsBuilder::Keep(absl::Span<const std::string> names) {
  labels_.erase(std::remove_if(labels_.begin(), labels_.end(),
                               [&](const Label& l) {
                                 return std::find(names.begin(), names.end(),
                                                  l.name) == names.end();
                               }),
                labels_.end());
  return *this;
}

Labels LabelsBuilder::Build() const { return Labels::FromSorted(labels_); }

std::string QuoteGo(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  AppendQuoted(&out, s);
  return out;
}

bool IsValidLegacyMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsValidLegacyLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace vigil::storage
