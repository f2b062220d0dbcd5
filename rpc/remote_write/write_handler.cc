#include "rpc/remote_write/write_handler.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <snappy.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "rpc/remote_write/decode.h"
#include "storage/base/logfmt.h"

namespace vigil::rpc::remote_write {
namespace {

absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

constexpr std::string_view kProtoV1 = "prometheus.WriteRequest";
constexpr std::string_view kProtoV2 = "io.prometheus.write.v2.Request";

std::string Trim(std::string_view s) {
  return std::string(absl::StripAsciiWhitespace(AV(s)));
}

// Empty when acceptable, else the 415 message.
std::string CheckContentType(std::string_view content_type) {
  if (Trim(content_type).empty()) return "";  // old senders: assume 1.0
  std::vector<std::string> parts =
      absl::StrSplit(AV(content_type), ';', absl::SkipWhitespace());
  if (parts.empty() || absl::AsciiStrToLower(Trim(parts[0])) !=
                           "application/x-protobuf") {
    return absl::StrCat("expected application/x-protobuf as the media type, got ",
                        AV(content_type));
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string p = Trim(parts[i]);
    size_t eq = p.find('=');
    if (eq == std::string::npos) {
      return absl::StrCat("malformed content-type parameter \"", p, "\" in ",
                          AV(content_type));
    }
    std::string key = absl::AsciiStrToLower(Trim(p.substr(0, eq)));
    std::string value = Trim(p.substr(eq + 1));
    if (key != "proto") continue;
    if (value == kProtoV1) return "";
    if (value == kProtoV2) {
      return absl::StrCat(
          "remote-write 2.0 (", AV(kProtoV2),
          ") is not supported yet; configure the sender for remote-write 1.0 "
          "(protobuf_message: ", AV(kProtoV1), ")");
    }
    return absl::StrCat("unknown protobuf message \"", value,
                        "\"; accepted: ", AV(kProtoV1));
  }
  return "";
}

uint32_t SweepPeriodMinutes(const WriteHandlerOptions& o) {
  return static_cast<uint32_t>(
      std::max<int64_t>(1, absl::ToInt64Minutes(o.series_cache_max_idle) / 8));
}

// Per-thread buffers of one request, reused: a steady stream of requests
// allocates nothing per series. Only ever touched by its thread.
struct RequestScratch {
  RequestView view;
  std::vector<std::string_view> keys;
  std::vector<uint64_t> hashes;
  std::vector<storage::SeriesRef> cached;  // per series: ref or 0
  std::vector<storage::Labels> labels;     // of the misses
  std::vector<uint32_t> labels_of;         // per series: index or kNone
  std::vector<storage::SeriesSamples> batch;
  std::vector<storage::SeriesRef> refs;    // per batch entry
  std::vector<uint32_t> series_of;         // per batch entry
  std::vector<size_t> stale;
  std::vector<SeriesRefCache::Insertion> inserts;
  std::vector<storage::Label> decoded;
};

constexpr uint32_t kNone = ~uint32_t{0};

void AddStats(const storage::AppendStats& b, storage::AppendStats* a) {
  a->appended += b.appended;
  a->duplicates_ignored += b.duplicates_ignored;
  a->rejected_duplicate_timestamp += b.rejected_duplicate_timestamp;
  a->rejected_out_of_order += b.rejected_out_of_order;
  a->rejected_too_old += b.rejected_too_old;
  if (a->first_rejection.empty()) a->first_rejection = b.first_rejection;
}

}  // namespace

struct WriteHandler::Metrics {
  explicit Metrics(prometheus::Registry* registry)
      : requests(prometheus::BuildCounter()
                     .Name("vigil_remote_write_requests_total")
                     .Help("Remote-write requests received, by HTTP status "
                           "code of the answer.")
                     .Register(*registry)),
        received(prometheus::BuildCounter()
                     .Name("vigil_remote_write_samples_received_total")
                     .Help("Samples decoded from remote-write requests.")
                     .Register(*registry)
                     .Add({})),
        appended(prometheus::BuildCounter()
                     .Name("vigil_remote_write_samples_appended_total")
                     .Help("Samples from remote-write requests stored.")
                     .Register(*registry)
                     .Add({})),
        rejected_family(
            prometheus::BuildCounter()
                .Name("vigil_remote_write_samples_rejected_total")
                .Help("Samples from remote-write requests not stored, by "
                      "reason.")
                .Register(*registry)),
        out_of_order(rejected_family.Add({{"reason", "out_of_order"}})),
        duplicate(rejected_family.Add({{"reason", "duplicate_timestamp"}})),
        too_old(rejected_family.Add({{"reason", "too_old"}})),
        invalid_labels(rejected_family.Add({{"reason", "invalid_labels"}})),
        overload(rejected_family.Add({{"reason", "overload"}})),
        cache_lookups(prometheus::BuildCounter()
                          .Name("vigil_remote_write_series_cache_lookups_total")
                          .Help("Series of remote-write requests looked up by "
                                "their raw label bytes, by result (hit: no "
                                "label work; miss: decoded and validated; "
                                "stale: the store had dropped the series).")
                          .Register(*registry)),
        cache_hits(cache_lookups.Add({{"result", "hit"}})),
        cache_misses(cache_lookups.Add({{"result", "miss"}})),
        cache_stale(cache_lookups.Add({{"result", "stale"}})),
        cache_entries(prometheus::BuildGauge()
                          .Name("vigil_remote_write_series_cache_entries")
                          .Help("Series the remote-write receiver knows by "
                                "their raw label bytes.")
                          .Register(*registry)
                          .Add({})),
        cache_bytes(prometheus::BuildGauge()
                        .Name("vigil_remote_write_series_cache_bytes")
                        .Help("Approximate memory of the remote-write series "
                              "cache.")
                        .Register(*registry)
                        .Add({})),
        duration(prometheus::BuildHistogram()
                     .Name("vigil_remote_write_request_duration_seconds")
                     .Help("Time to handle one remote-write request, from the "
                           "body being read to the answer.")
                     .Register(*registry)
                     .Add({}, prometheus::Histogram::BucketBoundaries{
                                  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {
    for (int code : {204, 400, 413, 415, 500, 503}) {
      Code(code);  // export the common codes at 0 from the start
    }
  }

  prometheus::Counter& Code(int code) {
    return requests.Add({{"code", std::to_string(code)}});
  }

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Counter& received;
  prometheus::Counter& appended;
  prometheus::Family<prometheus::Counter>& rejected_family;
  prometheus::Counter& out_of_order;
  prometheus::Counter& duplicate;
  prometheus::Counter& too_old;
  prometheus::Counter& invalid_labels;
  prometheus::Counter& overload;
  prometheus::Family<prometheus::Counter>& cache_lookups;
  prometheus::Counter& cache_hits;
  prometheus::Counter& cache_misses;
  prometheus::Counter& cache_stale;
  prometheus::Gauge& cache_entries;
  prometheus::Gauge& cache_bytes;
  prometheus::Histogram& duration;
};

WriteHandler::WriteHandler(storage::Appendable* store,
                           prometheus::Registry* registry,
                           WriteHandlerOptions options)
    : store_(store),
      options_(options),
      metrics_(std::make_unique<Metrics>(registry)),
      cache_(options.series_cache),
      start_(absl::Now()),
      next_sweep_epoch_(SweepPeriodMinutes(options)) {}

WriteHandler::~WriteHandler() = default;

void WriteHandler::Register(http::Router* router) {
  router->Handle("POST", "/api/v1/write",
                 [this](const http::Request& r) { return Handle(r); },
                 http::RouteOptions{.max_body_bytes = options_.max_body_bytes});
}

http::Response WriteHandler::Handle(const http::Request& request) {
  absl::Time start = absl::Now();
  int64_t samples = 0;
  http::Response response = HandleInner(request, &samples);
  metrics_->Code(response.status).Increment();
  metrics_->duration.Observe(absl::ToDoubleSeconds(absl::Now() - start));
  if (response.status >= 400) {
    // One line per second at most: a misbehaving sender retries a lot.
    int64_t now_ms = absl::ToUnixMillis(start);
    int64_t last = last_warn_ms_.load();
    if (now_ms - last >= 1000 &&
        last_warn_ms_.compare_exchange_strong(last, now_ms)) {
      std::string_view msg = response.body;
      if (!msg.empty() && msg.back() == '\n') msg.remove_suffix(1);
      log::Warn("Remote-write request refused",
                {{"code", response.status},
                 {"remote", request.remote_address},
                 {"err", msg}});
    }
  }
  return response;
}

void WriteHandler::UpdateCacheGauges() {
  metrics_->cache_entries.Set(static_cast<double>(cache_.size()));
  metrics_->cache_bytes.Set(static_cast<double>(cache_.MemoryBytes()));
}

http::Response WriteHandler::Overloaded(std::string message) {
  http::Response r = http::Response::Text(503, std::move(message) + "\n");
  r.headers.emplace_back(
      "Retry-After",
      std::to_string(std::max<int64_t>(
          1, absl::ToInt64Seconds(options_.retry_after))));
  return r;
}

http::Response WriteHandler::HandleInner(const http::Request& request,
                                         int64_t* samples_out) {
  using http::Response;
  std::string_view encoding = request.headers.Get("Content-Encoding");
  if (absl::AsciiStrToLower(Trim(encoding)) != "snappy") {
    return Response::Text(
        415, encoding.empty()
                 ? "missing Content-Encoding: snappy header\n"
                 : absl::StrCat(AV(encoding),
                                " encoding (compression) is not accepted; only "
                                "snappy is\n"));
  }
  std::string type_error = CheckContentType(request.headers.Get("Content-Type"));
  if (!type_error.empty()) return Response::Text(415, type_error + "\n");
  if (request.body.size() > options_.max_body_bytes) {
    return Response::Text(413, absl::StrCat("request body of ", request.body.size(),
                                            " bytes exceeds the limit of ",
                                            options_.max_body_bytes, " bytes\n"));
  }

  size_t decoded_len = 0;
  if (!snappy::GetUncompressedLength(request.body.data(), request.body.size(),
                                     &decoded_len)) {
    return Response::Text(400, "snappy: corrupt input (bad length header)\n");
  }
  if (decoded_len > options_.max_decoded_bytes) {
    return Response::Text(
        413, absl::StrCat("snappy: decoded length ", decoded_len,
                          " exceeds the limit of ", options_.max_decoded_bytes,
                          " bytes\n"));
  }

  // In-flight limiter: reserve before allocating the decoded buffer.
  struct Reservation {
    WriteHandler* h;
    size_t bytes;
    ~Reservation() {
      h->inflight_requests_.fetch_sub(1);
      h->inflight_bytes_.fetch_sub(bytes);
    }
  };
  int reqs = inflight_requests_.fetch_add(1) + 1;
  size_t bytes = inflight_bytes_.fetch_add(decoded_len) + decoded_len;
  Reservation reservation{this, decoded_len};
  if (reqs > options_.max_inflight_requests ||
      (bytes > options_.max_inflight_bytes && reqs > 1)) {
    return Overloaded(absl::StrCat(
        "too many remote-write requests in flight (", reqs, " requests, ",
        bytes, " decoded bytes); retry later"));
  }

  // A 10-byte body may claim a huge length: check the whole stream (cheap, no
  // output) before allocating for it.
  if (!snappy::IsValidCompressedBuffer(request.body.data(),
                                       request.body.size())) {
    return Response::Text(400, "snappy: corrupt input\n");
  }
  std::string decoded;
  decoded.resize(decoded_len);
  if (!snappy::RawUncompress(request.body.data(), request.body.size(),
                             decoded.data())) {
    return Response::Text(400, "snappy: corrupt input\n");
  }

  thread_local RequestScratch scratch;
  RequestScratch& x = scratch;
  DecodeStats dstats;
  absl::Status st = DecodeRequestView(decoded, &x.view, &dstats);
  if (!st.ok()) {
    return Response::Text(400, absl::StrCat(st.message(), "\n"));
  }
  const int64_t total = dstats.samples;
  *samples_out = total;
  metrics_->received.Increment(static_cast<double>(total));

  // Series seen before with the same label bytes are known by ref; only the
  // others have their labels decoded and validated.
  const size_t n = x.view.series.size();
  const uint32_t epoch = static_cast<uint32_t>(
      absl::ToInt64Minutes(absl::Now() - start_));
  x.keys.resize(n);
  x.hashes.resize(n);
  x.cached.resize(n);
  for (size_t i = 0; i < n; ++i) {
    x.keys[i] = x.view.Key(x.view.series[i]);
    x.hashes[i] = cache_.Hash(x.keys[i]);
  }
  cache_.Lookup(x.keys, x.hashes, absl::MakeSpan(x.cached), epoch);

  // Validate everything before storing anything.
  x.labels.clear();
  x.labels_of.assign(n, kNone);
  int64_t misses = 0;
  auto decode_labels = [&](size_t i) -> std::optional<Response> {
    x.decoded.clear();
    absl::Status lst = DecodeLabels(x.view, i, &x.decoded);
    if (!lst.ok()) return Response::Text(400, absl::StrCat(lst.message(), "\n"));
    auto fail = [&](absl::string_view reason) {
      metrics_->invalid_labels.Increment(static_cast<double>(total));
      std::string shown;
      for (const storage::Label& l : x.decoded) {
        if (shown.size() > 200) {
          shown += ", ...";
          break;
        }
        absl::StrAppend(&shown, shown.empty() ? "" : ", ", l.name, "=",
                        storage::QuoteGo(l.value));
      }
      return Response::Text(
          400, absl::StrCat("invalid labels in timeseries[", i, "] {", shown,
                            "}: ", reason, "; nothing was stored\n"));
    };
    auto parsed = storage::Labels::FromUnsorted(x.decoded);
    if (!parsed.ok()) return fail(parsed.status().message());
    if (!parsed->Has(storage::kMetricNameLabel)) {
      return fail("missing metric name (__name__ label)");
    }
    x.labels_of[i] = static_cast<uint32_t>(x.labels.size());
    x.labels.push_back(*std::move(parsed));
    return std::nullopt;
  };
  for (size_t i = 0; i < n; ++i) {
    if (x.cached[i] != 0) continue;
    ++misses;
    if (auto bad = decode_labels(i)) return *std::move(bad);
  }
  metrics_->cache_hits.Increment(static_cast<double>(n - misses));
  metrics_->cache_misses.Increment(static_cast<double>(misses));

  // One entry per time-ordered run of a series' samples: the store wants
  // each entry in time order; a sender that breaks that gets its older
  // samples judged (and rejected) as out of order.
  auto build_batch = [&](auto include) {
    x.batch.clear();
    x.refs.clear();
    x.series_of.clear();
    for (size_t i = 0; i < n; ++i) {
      if (!include(i)) continue;
      const RequestView::Series& sv = x.view.series[i];
      absl::Span<const storage::Sample> s = x.view.SamplesOf(sv);
      const storage::Labels* labels =
          x.labels_of[i] == kNone ? nullptr : &x.labels[x.labels_of[i]];
      size_t run_start = 0;
      for (size_t j = 1; j <= s.size(); ++j) {
        if (j == s.size() || s[j].t < s[j - 1].t) {
          if (j > run_start) {
            x.batch.push_back(storage::SeriesSamples{
                labels, s.subspan(run_start, j - run_start)});
            x.refs.push_back(x.cached[i]);
            x.series_of.push_back(static_cast<uint32_t>(i));
          }
          run_start = j;
        }
      }
    }
  };
  build_batch([](size_t) { return true; });
  if (x.batch.empty()) return Response::NoContent();

  auto refused = [&](const absl::Status& status) {
    if (status.code() == absl::StatusCode::kResourceExhausted ||
        status.code() == absl::StatusCode::kUnavailable) {
      metrics_->overload.Increment(static_cast<double>(total));
      return Overloaded(absl::StrCat("store refused the batch: ",
                                     status.message(), "; retry later"));
    }
    return Response::Text(
        500, absl::StrCat("store error: ", status.ToString(), "\n"));
  };
  auto remember = [&]() {
    x.inserts.clear();
    for (size_t j = 0; j < x.batch.size(); ++j) {
      const uint32_t i = x.series_of[j];
      if (x.refs[j] == 0 || x.refs[j] == x.cached[i]) continue;
      x.cached[i] = x.refs[j];  // later runs of the series: nothing new
      x.inserts.push_back({x.keys[i], x.hashes[i], x.refs[j]});
    }
    if (cache_.Insert(x.inserts, epoch) > 0) UpdateCacheGauges();
  };

  x.stale.clear();
  absl::StatusOr<storage::AppendStats> result =
      store_->AppendWithRefs(x.batch, absl::MakeSpan(x.refs), &x.stale);
  if (!result.ok()) return refused(result.status());
  remember();
  if (!x.stale.empty()) {
    // The store dropped some cached series (retention) since they were
    // cached: append those again by labels, which re-creates them. Their
    // labels were valid with these bytes; decoding cannot fail differently.
    metrics_->cache_stale.Increment(static_cast<double>(x.stale.size()));
    std::vector<bool> again(n, false);
    for (size_t j : x.stale) {
      const uint32_t i = x.series_of[j];
      if (again[i]) continue;
      again[i] = true;
      x.cached[i] = 0;
      if (x.labels_of[i] == kNone) {
        if (auto bad = decode_labels(i)) return *std::move(bad);
      }
    }
    build_batch([&](size_t i) { return again[i]; });
    x.stale.clear();
    absl::StatusOr<storage::AppendStats> more =
        store_->AppendWithRefs(x.batch, absl::MakeSpan(x.refs), &x.stale);
    // Not atomic with the first append: a limit hit here is answered 503
    // and the sender's retry finds the samples already stored as
    // duplicates (ignored), so nothing is lost or doubled.
    if (!more.ok()) return refused(more.status());
    remember();
    AddStats(*more, &*result);
  }

  if (cache_.size() > 0) {
    uint32_t next = next_sweep_epoch_.load(std::memory_order_relaxed);
    if (epoch >= next &&
        next_sweep_epoch_.compare_exchange_strong(
            next, epoch + SweepPeriodMinutes(options_))) {
      const uint32_t idle = static_cast<uint32_t>(
          std::max<int64_t>(1, absl::ToInt64Minutes(options_.series_cache_max_idle)));
      if (epoch >= idle && cache_.EvictUnusedSince(epoch - idle) > 0) {
        UpdateCacheGauges();
      }
    }
  }

  const storage::AppendStats& stats = *result;
  metrics_->appended.Increment(static_cast<double>(stats.appended));
  metrics_->out_of_order.Increment(
      static_cast<double>(stats.rejected_out_of_order));
  metrics_->duplicate.Increment(
      static_cast<double>(stats.rejected_duplicate_timestamp));
  metrics_->too_old.Increment(static_cast<double>(stats.rejected_too_old));
  if (stats.rejected() == 0) return Response::NoContent();

  std::string detail;
  auto add = [&detail](int64_t n, std::string_view what) {
    if (n == 0) return;
    absl::StrAppend(&detail, detail.empty() ? "" : ", ", n, " ", AV(what));
  };
  add(stats.rejected_out_of_order, "out of order");
  add(stats.rejected_duplicate_timestamp,
      "duplicate timestamp with different value");
  add(stats.rejected_too_old, "too old");
  return Response::Text(
      400, absl::StrCat(stats.rejected(), " of ", total,
                        " samples rejected: ", detail, "; first: ",
                        stats.first_rejection, "\n"));
}

}  // namespace vigil::rpc::remote_write
