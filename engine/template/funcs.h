// The bodies of Prometheus' template functions (humanize*, stripPort, ...)
// and of Go's escaping builtins, as plain functions over strings and doubles.
// Internal to engine/template.
#ifndef VIGIL_ENGINE_TEMPLATE_FUNCS_H_
#define VIGIL_ENGINE_TEMPLATE_FUNCS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace re2 {
class RE2;
}

namespace vigil::engine::tmpl::internal {

// Metric prefixes, 4 significant digits: 1234567 -> "1.235M", 0.001 -> "1m".
std::string Humanize(double v);
// Binary prefixes: 1048576 -> "1Mi".
std::string Humanize1024(double v);
// Seconds to "1d 2h 3m 4s", "1.5s", "100ms".
std::string HumanizeDuration(double seconds);
// 0.1234 -> "12.34%".
std::string HumanizePercentage(double v);
// Unix seconds to Go's time.Time String() in UTC, millisecond precision.
absl::StatusOr<std::string> HumanizeTimestamp(double unix_seconds);
// Unix seconds to Unix nanoseconds truncated to milliseconds, as Prometheus'
// toTime does; errors for NaN, Inf and int64 overflow.
absl::StatusOr<int64_t> FloatToUnixNanos(double unix_seconds);

// net.SplitHostPort-based helpers.
std::string StripPort(std::string_view host_port);
std::string StripDomain(std::string_view host_port);

// Prometheus' `title` (first letter of each word upper-cased, rest kept),
// toUpper, toLower. ASCII letters only; other bytes pass through.
std::string Title(std::string_view s);
std::string ToUpper(std::string_view s);
std::string ToLower(std::string_view s);

// "/graph?g0.expr=<escaped>&g0.tab=0" (graph) or "...tab=1" (table).
std::string GraphLink(std::string_view expr);
std::string TableLink(std::string_view expr);

// url.QueryEscape, template.HTMLEscapeString, template.JSEscapeString.
std::string QueryEscape(std::string_view s);
std::string HtmlEscape(std::string_view s);
std::string JsEscape(std::string_view s);

// Prometheus duration ("1h30m", "5m", "1y2w", "0") to seconds.
absl::StatusOr<double> ParsePromDuration(std::string_view s);

// Go's Regexp.ReplaceAllString: `$1`, `${1}`, `$name`, `${name}`, `$$` in
// `repl`; empty matches next to a previous match are skipped.
// Fails with ResourceExhausted once the result passes `max_bytes`.
absl::StatusOr<std::string> GoReplaceAll(const re2::RE2& re,
                                         std::string_view text,
                                         std::string_view repl,
                                         size_t max_bytes);

// The path of a URL ("http://host:9090/prom/x?y" -> "/prom/x").
std::string UrlPath(std::string_view url);

}  // namespace vigil::engine::tmpl::internal

#endif  // VIGIL_ENGINE_TEMPLATE_FUNCS_H_
