// Wire formats: the Alertmanager API v2 alert list, RFC 3339 times with
// milliseconds, and Alertmanager's label-set fingerprint.
#ifndef VIGIL_RPC_NOTIFIER_PAYLOAD_H_
#define VIGIL_RPC_NOTIFIER_PAYLOAD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "engine/alert_sink.h"
#include "storage/labels.h"

namespace vigil::rpc::notifier {

// "2026-11-23T18:00:00.123Z" (UTC). Infinite or pre-year-1 times print as Go's
// zero time, "0001-01-01T00:00:00.000Z", which Alertmanager reads as unset.
std::string FormatRfc3339Millis(absl::Time t);

// The body of POST /api/v2/alerts: a JSON array of
// {"labels","annotations"(when any),"startsAt","endsAt","generatorURL"(when
// set)}. Invalid UTF-8 in labels is replaced (U+FFFD), never an error.
std::string EncodeAlertsV2(absl::Span<const engine::Alert> alerts);

// Appends `s` as a JSON string literal: quotes, escapes, and each byte of
// ill-formed UTF-8 replaced by U+FFFD (never an error).
void AppendJsonString(std::string* out, std::string_view s);

// Alertmanager's model.LabelSet.Fingerprint: FNV-1a 64 over the labels
// sorted by name, each name and value followed by the byte 0xff.
uint64_t LabelsFingerprint(const storage::Labels& labels);
// The 16-digit lower-case hex form used in webhook payloads.
std::string FingerprintString(uint64_t fp);

}  // namespace vigil::rpc::notifier

#endif  // VIGIL_RPC_NOTIFIER_PAYLOAD_H_
