#include "bench/loadgen/encoder.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "snappy.h"

namespace vigil::bench {
namespace {

static_assert(std::endian::native == std::endian::little,
              "Encode() copies doubles as little-endian fixed64");

// Protobuf wire-format tags (field number << 3 | wire type).
constexpr char kTagLen1 = 0x0a;     // field 1, length-delimited
constexpr char kTagLen2 = 0x12;     // field 2, length-delimited
constexpr char kTagFixed64_1 = 0x09;  // field 1, 64-bit (Sample.value)
constexpr char kTagVarint2 = 0x10;  // field 2, varint (Sample.timestamp)

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* PutVarint(uint64_t v, char* p) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

void AppendVarint(uint64_t v, std::string* out) {
  char buf[10];
  char* end = PutVarint(v, buf);
  out->append(buf, end - buf);
}

void AppendString(char tag, const std::string& s, std::string* out) {
  out->push_back(tag);
  AppendVarint(s.size(), out);
  out->append(s);
}

}  // namespace

void BatchEncoder::AppendLabels(const LabelPairs& labels, std::string* out) {
  for (const auto& [name, value] : labels) {
    const size_t inner = 1 + VarintSize(name.size()) + name.size() + 1 +
                         VarintSize(value.size()) + value.size();
    out->push_back(kTagLen1);
    AppendVarint(inner, out);
    AppendString(kTagLen1, name, out);
    AppendString(kTagLen2, value, out);
  }
}

BatchEncoder::BatchEncoder(const SeriesSet* series, size_t batch_size)
    : series_(series), batch_size_(std::max<size_t>(batch_size, 1)) {
  const size_t n = series_->size();
  batches_.resize((n + batch_size_ - 1) / batch_size_);
  for (size_t b = 0; b < batches_.size(); ++b) {
    BuildBatch(b);
  }
}

void BatchEncoder::BuildBatch(size_t b) {
  Batch& batch = batches_[b];
  batch.first = b * batch_size_;
  const size_t last = std::min(series_->size(), batch.first + batch_size_);
  batch.labels.clear();
  batch.ends.clear();
  batch.ends.reserve(last - batch.first);
  for (size_t i = batch.first; i < last; ++i) {
    AppendLabels(series_->Labels(i), &batch.labels);
    batch.ends.push_back(static_cast<uint32_t>(batch.labels.size()));
  }
  batch.labels.shrink_to_fit();
}

void BatchEncoder::Refresh(size_t lo, size_t hi) {
  if (lo >= hi) {
    return;
  }
  const size_t last = std::min(num_batches(), (hi - 1) / batch_size_ + 1);
  for (size_t b = lo / batch_size_; b < last; ++b) {
    BuildBatch(b);
  }
}

void BatchEncoder::Encode(size_t b, int64_t round, int64_t timestamp_ms,
                          std::string* out) const {
  const Batch& batch = batches_[b];
  // The Sample message is the same size for every series of the request.
  char ts_bytes[10];
  const size_t ts_len =
      PutVarint(static_cast<uint64_t>(timestamp_ms), ts_bytes) - ts_bytes;
  const size_t sample_len = 1 + 8 + 1 + ts_len;
  const size_t n = batch.ends.size();
  // Upper bound: per series 1 tag + 5 length + 2 sample header + sample.
  out->resize(batch.labels.size() + n * (1 + 5 + 2 + sample_len));
  char* p = out->data();
  uint32_t begin = 0;
  for (size_t j = 0; j < n; ++j) {
    const uint32_t end = batch.ends[j];
    const size_t labels_len = end - begin;
    *p++ = kTagLen1;
    p = PutVarint(labels_len + 2 + sample_len, p);
    std::memcpy(p, batch.labels.data() + begin, labels_len);
    p += labels_len;
    *p++ = kTagLen2;
    *p++ = static_cast<char>(sample_len);
    *p++ = kTagFixed64_1;
    const double v = series_->Value(batch.first + j, round);
    std::memcpy(p, &v, 8);  // Little-endian, as the wire format wants.
    p += 8;
    *p++ = kTagVarint2;
    std::memcpy(p, ts_bytes, ts_len);
    p += ts_len;
    begin = end;
  }
  out->resize(p - out->data());
}

void BatchEncoder::EncodeCompressed(size_t b, int64_t round,
                                    int64_t timestamp_ms, std::string* scratch,
                                    std::string* out) const {
  Encode(b, round, timestamp_ms, scratch);
  snappy::Compress(scratch->data(), scratch->size(), out);
}

}  // namespace vigil::bench
