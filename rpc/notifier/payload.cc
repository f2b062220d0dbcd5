#include "rpc/notifier/payload.h"

#include "storage/base/json_string.h"

#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"

namespace vigil::rpc::notifier {
namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

uint64_t FnvAdd(uint64_t h, const std::string& s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

uint64_t FnvAddByte(uint64_t h, unsigned char b) {
  h ^= b;
  h *= kFnvPrime;
  return h;
}


void AppendLabelsObject(std::string* out, const storage::Labels& labels) {
  out->push_back('{');
  bool first = true;
  for (const storage::Label& l : labels) {
    if (!first) {
      out->push_back(',');
    }
    first = false;
    AppendJsonString(out, l.name);
    out->push_back(':');
    AppendJsonString(out, l.value);
  }
  out->push_back('}');
}

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  ::vigil::AppendJsonString(s, out);
}

std::string FormatRfc3339Millis(absl::Time t) {
  static const absl::Time kYearOne =
      absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  if (t < kYearOne || t == absl::InfiniteFuture()) {
    return "0001-01-01T00:00:00.000Z";
  }
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::CivilSecond cs = absl::ToCivilSecond(t, utc);
  const int64_t ms =
      absl::ToInt64Milliseconds(t - absl::FromCivil(cs, utc));
  if (cs.year() > 9999) {
    return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, utc);
  }
  // Fixed-width fields: faster than FormatTime on the hot path.
  char buf[25];
  auto put = [&](int pos, int64_t v, int width) {
    for (int k = width - 1; k >= 0; --k) {
      buf[pos + k] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
  };
  put(0, cs.year(), 4);
  buf[4] = '-';
  put(5, cs.month(), 2);
  buf[7] = '-';
  put(8, cs.day(), 2);
  buf[10] = 'T';
  put(11, cs.hour(), 2);
  buf[13] = ':';
  put(14, cs.minute(), 2);
  buf[16] = ':';
  put(17, cs.second(), 2);
  buf[19] = '.';
  put(20, ms, 3);
  buf[23] = 'Z';
  return std::string(buf, 24);
}

std::string EncodeAlertsV2(absl::Span<const engine::Alert> alerts) {
  // Written directly rather than through a JSON DOM: this runs for every
  // batch and a DOM costs several allocations per label.
  // One exact-enough reservation: growing a 100 KB string by doubling costs
  // more than the encoding itself.
  size_t estimate = 2;
  for (const engine::Alert& a : alerts) {
    estimate += 128 + a.generator_url.size();
    for (const storage::Label& l : a.labels) {
      estimate += l.name.size() + l.value.size() + 6;
    }
    for (const storage::Label& l : a.annotations) {
      estimate += l.name.size() + l.value.size() + 6;
    }
  }
  std::string out;
  out.reserve(estimate + estimate / 8);
  out.push_back('[');
  for (size_t i = 0; i < alerts.size(); ++i) {
    const engine::Alert& a = alerts[i];
    if (i > 0) {
      out.push_back(',');
    }
    out.append("{\"labels\":");
    AppendLabelsObject(&out, a.labels);
    if (!a.annotations.empty()) {
      out.append(",\"annotations\":");
      AppendLabelsObject(&out, a.annotations);
    }
    out.append(",\"startsAt\":\"");
    out.append(FormatRfc3339Millis(a.starts_at));
    out.append("\",\"endsAt\":\"");
    out.append(FormatRfc3339Millis(a.ends_at));
    out.push_back('"');
    if (!a.generator_url.empty()) {
      out.append(",\"generatorURL\":");
      AppendJsonString(&out, a.generator_url);
    }
    out.push_back('}');
  }
  out.push_back(']');
  return out;
}

uint64_t LabelsFingerprint(const storage::Labels& labels) {
  // storage::Labels is sorted by name already.
  uint64_t h = kFnvOffset;
  for (const storage::Label& l : labels) {
    h = FnvAdd(h, l.name);
    h = FnvAddByte(h, 0xff);
    h = FnvAdd(h, l.value);
    h = FnvAddByte(h, 0xff);
  }
  return h;
}

std::string FingerprintString(uint64_t fp) { return absl::StrFormat("%016x", fp); }

}  // namespace vigil::rpc::notifier
