// UTF-8 validation and JSON string quoting shared by every JSON and log
// writer in vigil, byte for byte as Go's encoding/json writes strings (the
// HTTP API, Alertmanager payloads and logs must read like Prometheus').
#ifndef VIGIL_STORAGE_BASE_JSON_STRING_H_
#define VIGIL_STORAGE_BASE_JSON_STRING_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace vigil {

// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no
// overlong forms, no surrogates, at most U+10FFFF): 1 for ASCII, 2-4 for a
// multi-byte sequence, 0 when ill-formed. REQUIRES: i < s.size().
size_t Utf8SequenceLength(std::string_view s, size_t i);

// Appends `s` as a JSON string literal, quotes included, as Go's
// encoding/json does: \" \\ \n \r \t \b \f short escapes, other control
// bytes and <, >, & as \u00XX, U+2028/U+2029 escaped, and each byte of an
// ill-formed UTF-8 sequence replaced by U+FFFD.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace vigil

#endif  // VIGIL_STORAGE_BASE_JSON_STRING_H_
