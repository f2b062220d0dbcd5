#include "storage/base/logfmt.h"

#include "storage/base/json_string.h"

#include <cstdio>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"

namespace vigil {
namespace {

// Debian's Abseil is built with its own absl::string_view, distinct from
// std::string_view, so StrCat needs this bridge.
absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

std::string_view Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Keys are ours, but keep the line parseable if one ever has odd characters.
void AppendKey(std::string* out, std::string_view k) {
  if (k.empty()) {
    out->append("_");
    return;
  }
  for (char c : k) {
    unsigned char u = static_cast<unsigned char>(c);
    out->push_back(u <= ' ' || c == '=' || c == '"' || u == 0x7f ? '_' : c);
  }
}

void AppendHex(std::string* out, unsigned v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) {
    out->push_back(kHex[(v >> (4 * i)) & 0xf]);
  }
}

// Length of the valid UTF-8 sequence at s[i], or 0 when invalid.

// Escapes for both logfmt's quoted form and JSON; `json` picks \u00XX for
// control bytes (JSON has no \x).
void AppendEscaped(std::string* out, std::string_view v, bool json) {
  out->push_back('"');
  for (size_t i = 0; i < v.size();) {
    char c = v[i];
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      size_t n = Utf8SequenceLength(v, i);
      if (n == 0) {
        if (json) {
          out->append("\\ufffd");
        } else {
          out->append("\\x");
          AppendHex(out, u, 2);
        }
        ++i;
      } else {
        out->append(v.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out->append(json ? "\\u00" : "\\x");
          AppendHex(out, u, 2);
        } else {
          out->push_back(c);
        }
    }
    ++i;
  }
  out->push_back('"');
}

bool NeedsQuoting(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= ' ' || c == '=' || c == '"' || c == '\\' || u == 0x7f ||
        u >= 0x80) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string LogfmtValue(std::string_view v) {
  if (!NeedsQuoting(v)) return std::string(v);
  std::string out;
  out.reserve(v.size() + 2);
  AppendEscaped(&out, v, /*json=*/false);
  return out;
}

std::string JsonString(std::string_view v) {
  std::string out;
  out.reserve(v.size() + 2);
  AppendEscaped(&out, v, /*json=*/true);
  return out;
}

absl::StatusOr<LogLevel> ParseLogLevel(std::string_view s) {
  std::string l = absl::AsciiStrToLower(AV(s));
  if (l == "debug") return LogLevel::kDebug;
  if (l == "info") return LogLevel::kInfo;
  if (l == "warn") return LogLevel::kWarn;
  if (l == "error") return LogLevel::kError;
  return absl::InvalidArgumentError(absl::StrCat(
      "unrecognized log level \"", AV(s), "\" (want debug, info, warn or error)"));
}

absl::StatusOr<LogFormat> ParseLogFormat(std::string_view s) {
  if (s == "logfmt") return LogFormat::kLogfmt;
  if (s == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(absl::StrCat(
      "unrecognized log format \"", AV(s), "\" (want logfmt or json)"));
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "unknown";
}

Logger::Logger()
    : Logger([](std::string_view line) {
        std::fwrite(line.data(), 1, line.size(), stderr);
        std::fflush(stderr);
      }) {}

Logger::Logger(Sink sink) : sink_(std::move(sink)) {}

Logger& Logger::Default() {
  static Logger* logger = new Logger();
  return *logger;
}

void Logger::SetTimeSourceForTest(std::function<absl::Time()> now) {
  absl::MutexLock lock(&mu_);
  now_ = std::move(now);
}

void Logger::Log(LogLevel level, std::string_view msg, LogFields fields,
                 const std::source_location& loc) {
  if (!Enabled(level)) return;
  absl::Time now;
  {
    absl::MutexLock lock(&mu_);
    now = now_ ? now_() : absl::Now();
  }
  std::string ts =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", now, absl::UTCTimeZone());
  std::string caller =
      absl::StrCat(AV(Basename(loc.file_name())), ":", loc.line());
  std::string line;
  line.reserve(128);
  if (format_.load() == LogFormat::kJson) {
    absl::StrAppend(&line, "{\"ts\":\"", ts, "\",\"level\":\"",
                    AV(LogLevelName(level)), "\",\"caller\":");
    line.append(JsonString(caller));
    line.append(",\"msg\":");
    line.append(JsonString(msg));
    for (const LogField& f : fields) {
      line.push_back(',');
      line.append(JsonString(f.key));
      line.push_back(':');
      line.append(JsonString(f.value));
    }
    line.append("}\n");
  } else {
    absl::StrAppend(&line, "ts=", ts, " level=", AV(LogLevelName(level)),
                    " caller=", LogfmtValue(caller), " msg=");
    // Prometheus always quotes msg; do the same so grep patterns carry over.
    AppendEscaped(&line, msg, /*json=*/false);
    for (const LogField& f : fields) {
      line.push_back(' ');
      AppendKey(&line, f.key);
      line.push_back('=');
      line.append(LogfmtValue(f.value));
    }
    line.push_back('\n');
  }
  absl::MutexLock lock(&mu_);
  sink_(line);
}

}  // namespace vigil
