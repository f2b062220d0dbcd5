#include "rpc/remote_write/decode.h"

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace vigil::rpc::remote_write {
namespace {

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

// A cursor over one message's bytes; `base` is the absolute offset of data[0]
// so that errors name the byte within the whole request.
class Reader {
 public:
  Reader(std::string_view data, size_t base) : data_(data), base_(base) {}
  bool done() const { return pos_ >= data_.size(); }
  size_t offset() const { return base_ + pos_; }

  bool Varint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos_ >= data_.size()) return false;
      uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      if (shift == 63 && b > 1) return false;  // overflows 64 bits
      result |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool Fixed64(uint64_t* v) {
    if (data_.size() - pos_ < 8) return false;
    uint64_t r;
    std::memcpy(&r, data_.data() + pos_, 8);  // little-endian host (x86/arm)
    pos_ += 8;
    *v = r;
    return true;
  }
  bool Bytes(std::string_view* v, size_t* start) {
    uint64_t len;
    if (!Varint(&len)) return false;
    if (len > data_.size() - pos_) return false;
    *start = base_ + pos_;
    *v = data_.substr(pos_, len);
    pos_ += len;
    return true;
  }
  bool Skip(uint32_t wire_type) {
    uint64_t ignored;
    std::string_view sv;
    size_t start;
    switch (wire_type) {
      case kVarint:
        return Varint(&ignored);
      case kFixed64:
        return Fixed64(&ignored);
      case kLengthDelimited:
        return Bytes(&sv, &start);
      case kFixed32:
        if (data_.size() - pos_ < 4) return false;
        pos_ += 4;
        return true;
      default:
        return false;  // groups are not used by remote-write
    }
  }

 private:
  std::string_view data_;
  size_t base_;
  size_t pos_ = 0;
};

absl::Status Error(std::string_view where, std::string_view what,
                   size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrCat("protobuf: ", absl::string_view(where.data(), where.size()),
                   ": ", absl::string_view(what.data(), what.size()),
                   " at byte ", offset));
}

// Reads a tag; an error for a malformed one (field 0, groups, bad type).
absl::Status ReadTag(Reader& r, std::string_view where, uint32_t* field,
                     uint32_t* wire_type) {
  size_t at = r.offset();
  uint64_t tag;
  if (!r.Varint(&tag)) return Error(where, "truncated field tag", at);
  *field = static_cast<uint32_t>(tag >> 3);
  *wire_type = static_cast<uint32_t>(tag & 7);
  if (*field == 0 || (tag >> 3) > 0x1fffffff) {
    return Error(where, "invalid field number 0", at);
  }
  if (*wire_type == kStartGroup || *wire_type == kEndGroup ||
      *wire_type > kFixed32) {
    return Error(where, absl::StrCat("unsupported wire type ", *wire_type), at);
  }
  return absl::OkStatus();
}

absl::Status SkipField(Reader& r, std::string_view where, uint32_t wire_type) {
  size_t at = r.offset();
  if (!r.Skip(wire_type)) return Error(where, "truncated field", at);
  return absl::OkStatus();
}

absl::Status DecodeLabel(std::string_view data, size_t base,
                         const std::string& where, storage::Label* label) {
  Reader r(data, base);
  while (!r.done()) {
    uint32_t field, wt;
    absl::Status st = ReadTag(r, where, &field, &wt);
    if (!st.ok()) return st;
    if ((field == 1 || field == 2) && wt == kLengthDelimited) {
      std::string_view v;
      size_t start;
      size_t at = r.offset();
      if (!r.Bytes(&v, &start)) {
        return Error(where, "truncated string", at);
      }
      if (!IsValidUtf8(v)) {
        return Error(where,
                     field == 1 ? "label name is not valid UTF-8"
                                : "label value is not valid UTF-8",
                     start);
      }
      (field == 1 ? label->name : label->value).assign(v);
    } else if (field == 1 || field == 2) {
      return Error(where, "wrong wire type for string field", r.offset());
    } else {
      st = SkipField(r, where, wt);
      if (!st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeSample(std::string_view data, size_t base,
                          const std::string& where, storage::Sample* s) {
  Reader r(data, base);
  s->t = 0;
  s->v = 0;
  while (!r.done()) {
    uint32_t field, wt;
    absl::Status st = ReadTag(r, where, &field, &wt);
    if (!st.ok()) return st;
    size_t at = r.offset();
    if (field == 1 && wt == kFixed64) {
      uint64_t bits;
      if (!r.Fixed64(&bits)) return Error(where, "truncated value", at);
      std::memcpy(&s->v, &bits, 8);
    } else if (field == 2 && wt == kVarint) {
      uint64_t t;
      if (!r.Varint(&t)) return Error(where, "truncated timestamp", at);
      s->t = static_cast<int64_t>(t);
    } else if (field == 1 || field == 2) {
      return Error(where, "wrong wire type for sample field", at);
    } else {
      st = SkipField(r, where, wt);
      if (!st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

// The remote-write fast path below builds "where" strings only on error.
std::string SeriesWhere(size_t index) {
  return absl::StrCat("timeseries[", index, "]");
}

// A Sample message as Prometheus writes it (value, then timestamp, nothing
// else) without the general field loop; false when it is laid out any other
// way, and the general decoder takes over.
bool DecodeSampleFast(std::string_view m, storage::Sample* s) {
  if (m.size() < 11 || m[0] != 0x09 || m[9] != 0x10) return false;
  uint64_t t = 0;
  size_t i = 10;
  for (int shift = 0; shift < 64 && i < m.size(); shift += 7) {
    const uint8_t b = static_cast<uint8_t>(m[i++]);
    if (shift == 63 && b > 1) return false;  // overflow: the slow path says so
    t |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      if (i != m.size()) return false;
      std::memcpy(&s->v, m.data() + 1, 8);
      s->t = static_cast<int64_t>(t);
      return true;
    }
  }
  return false;
}

absl::Status DecodeSeriesView(std::string_view data, size_t base,
                              size_t index, RequestView* out,
                              DecodeStats* stats) {
  RequestView::Series sv{};
  sv.message_offset = static_cast<uint32_t>(base);
  sv.message_size = static_cast<uint32_t>(data.size());
  sv.first_sample = static_cast<uint32_t>(out->samples.size());
  size_t key_begin = 0, key_end = 0;
  bool any_label = false, contiguous = true;
  Reader r(data, base);
  while (!r.done()) {
    const size_t field_start = r.offset();
    uint64_t tag;
    if (!r.Varint(&tag)) {
      return Error(SeriesWhere(index), "truncated field tag", field_start);
    }
    const uint32_t field = static_cast<uint32_t>(tag >> 3);
    const uint32_t wt = static_cast<uint32_t>(tag & 7);
    if (field == 0 || (tag >> 3) > 0x1fffffff) {
      return Error(SeriesWhere(index), "invalid field number 0", field_start);
    }
    if (wt == kStartGroup || wt == kEndGroup || wt > kFixed32) {
      return Error(SeriesWhere(index), absl::StrCat("unsupported wire type ", wt),
                   field_start);
    }
    if (field == 1 || field == 2) {
      if (wt != kLengthDelimited) {
        return Error(SeriesWhere(index), "wrong wire type for message field",
                     r.offset());
      }
      std::string_view sub;
      size_t start;
      const size_t at = r.offset();
      if (!r.Bytes(&sub, &start)) {
        return Error(SeriesWhere(index), "truncated length-delimited field",
                     at);
      }
      if (field == 1) {
        if (!any_label) {
          key_begin = field_start;
          key_end = r.offset();
          any_label = true;
        } else if (contiguous && field_start == key_end) {
          key_end = r.offset();
        } else {
          contiguous = false;
        }
      } else {
        storage::Sample smp;
        if (!DecodeSampleFast(sub, &smp)) {
          const std::string w = absl::StrCat(SeriesWhere(index), ".samples[",
                                             sv.num_samples, "]");
          absl::Status st = DecodeSample(sub, start, w, &smp);
          if (!st.ok()) return st;
        }
        out->samples.push_back(smp);
        ++sv.num_samples;
      }
    } else {
      ++stats->ignored_fields;
      const size_t at = r.offset();
      if (!r.Skip(wt)) return Error(SeriesWhere(index), "truncated field", at);
    }
  }
  if (contiguous) {
    sv.key_offset = static_cast<uint32_t>(key_begin);
    sv.key_size = static_cast<uint32_t>(key_end - key_begin);
  } else {
    // Labels interleaved with other fields: the key is their concatenation,
    // which is still a sequence of whole label fields in order, so equal
    // keys mean equal label lists. Already validated: no errors here.
    sv.key_in_keys = true;
    sv.key_offset = static_cast<uint32_t>(out->keys.size());
    Reader again(data, base);
    while (!again.done()) {
      const size_t field_start = again.offset();
      uint64_t tag;
      again.Varint(&tag);
      again.Skip(static_cast<uint32_t>(tag & 7));
      if ((tag >> 3) == 1) {
        out->keys.append(data.substr(field_start - base,
                                     again.offset() - field_start));
      }
    }
    sv.key_size = static_cast<uint32_t>(out->keys.size() - sv.key_offset);
  }
  stats->samples += sv.num_samples;
  out->series.push_back(sv);
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeRequestView(std::string_view data, RequestView* out,
                               DecodeStats* stats) {
  out->Clear();
  out->request = data;
  Reader r(data, 0);
  const std::string_view where = "WriteRequest";
  while (!r.done()) {
    uint32_t field, wt;
    absl::Status st = ReadTag(r, where, &field, &wt);
    if (!st.ok()) return st;
    if (field == 1) {
      if (wt != kLengthDelimited) {
        return Error(where, "wrong wire type for timeseries", r.offset());
      }
      std::string_view sub;
      size_t start;
      const size_t at = r.offset();
      if (!r.Bytes(&sub, &start)) {
        return Error(SeriesWhere(out->series.size()),
                     "truncated length-delimited field", at);
      }
      st = DecodeSeriesView(sub, start, out->series.size(), out, stats);
      if (!st.ok()) return st;
    } else {
      ++stats->ignored_fields;
      st = SkipField(r, where, wt);
      if (!st.ok()) return st;
    }
  }
  return absl::OkStatus();
}

absl::Status DecodeLabels(const RequestView& view, size_t index,
                          std::vector<storage::Label>* labels) {
  const RequestView::Series& sv = view.series[index];
  Reader r(view.request.substr(sv.message_offset, sv.message_size),
           sv.message_offset);
  size_t k = 0;
  while (!r.done()) {
    uint64_t tag;
    r.Varint(&tag);  // the structure was validated by DecodeRequestView
    if ((tag >> 3) != 1) {
      r.Skip(static_cast<uint32_t>(tag & 7));
      continue;
    }
    std::string_view sub;
    size_t start;
    r.Bytes(&sub, &start);
    labels->emplace_back();
    absl::Status st =
        DecodeLabel(sub, start,
                    absl::StrCat(SeriesWhere(index), ".labels[", k++, "]"),
                    &labels->back());
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t j = 1; j < len; ++j) {
      unsigned char cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += len;
  }
  return true;
}

absl::Status DecodeWriteRequest(std::string_view data,
                                std::vector<DecodedSeries>* out,
                                DecodeStats* stats) {
  // The receiver's decoder, with every series' labels decoded: one decoder
  // of the wire format, not two.
  RequestView view;
  absl::Status st = DecodeRequestView(data, &view, stats);
  if (!st.ok()) return st;
  out->reserve(out->size() + view.series.size());
  for (size_t i = 0; i < view.series.size(); ++i) {
    DecodedSeries series;
    st = DecodeLabels(view, i, &series.labels);
    if (!st.ok()) return st;
    absl::Span<const storage::Sample> samples = view.SamplesOf(view.series[i]);
    series.samples.assign(samples.begin(), samples.end());
    out->push_back(std::move(series));
  }
  return absl::OkStatus();
}

}  // namespace vigil::rpc::remote_write
