// A tiny structured logger shared by every layer: one line per event on
// stderr, in logfmt (`ts=... level=info caller=file.cc:12 msg="..." k=v`) or
// JSON, filtered by level, as Prometheus' --log.level/--log.format do.
#ifndef VIGIL_STORAGE_BASE_LOGFMT_H_
#define VIGIL_STORAGE_BASE_LOGFMT_H_

#include <atomic>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <source_location>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vigil {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kLogfmt, kJson };

// "debug" | "info" | "warn" | "error" -> level; InvalidArgument otherwise.
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view s);
// "logfmt" | "json" -> format; InvalidArgument otherwise.
absl::StatusOr<LogFormat> ParseLogFormat(std::string_view s);
std::string_view LogLevelName(LogLevel level);

// One key=value pair. Strings, numbers, bool ("true"/"false"), absl::Status
// (its ToString()) and absl::Duration convert implicitly.
struct LogField {
  template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
  LogField(std::string_view k, T v) : key(k) {
    if constexpr (std::is_same_v<T, bool>) {
      value = v ? "true" : "false";
    } else {
      value = absl::StrCat(v);
    }
  }
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, absl::string_view v)
      : key(k), value(v.data(), v.size()) {}
  LogField(std::string_view k, const absl::Status& s)
      : key(k), value(s.ToString()) {}
  LogField(std::string_view k, absl::Duration d)
      : key(k), value(absl::FormatDuration(d)) {}

  std::string_view key;
  std::string value;
};

using LogFields = std::initializer_list<LogField>;

// Thread-safe: a line is formatted outside the lock and written whole, so lines
// from concurrent threads never interleave. The process-wide instance is
// Logger::Default(); tests may build their own with a capturing sink.
class Logger {
 public:
  // Receives one complete line, newline included.
  using Sink = std::function<void(std::string_view line)>;

  // Writes to stderr.
  Logger();
  explicit Logger(Sink sink);

  // Never null, never deleted.
  static Logger& Default();

  void SetLevel(LogLevel level) { level_.store(level); }
  LogLevel level() const { return level_.load(); }
  void SetFormat(LogFormat format) { format_.store(format); }
  // Replaces the clock used for `ts` (tests); null restores the real clock.
  void SetTimeSourceForTest(std::function<absl::Time()> now);

  bool Enabled(LogLevel level) const { return level >= level_.load(); }

  void Log(LogLevel level, std::string_view msg, LogFields fields,
           const std::source_location& loc);

  void Debug(std::string_view msg, LogFields fields = {},
             const std::source_location& loc = std::source_location::current()) {
    Log(LogLevel::kDebug, msg, fields, loc);
  }
  void Info(std::string_view msg, LogFields fields = {},
            const std::source_location& loc = std::source_location::current()) {
    Log(LogLevel::kInfo, msg, fields, loc);
  }
  void Warn(std::string_view msg, LogFields fields = {},
            const std::source_location& loc = std::source_location::current()) {
    Log(LogLevel::kWarn, msg, fields, loc);
  }
  void Error(std::string_view msg, LogFields fields = {},
             const std::source_location& loc = std::source_location::current()) {
    Log(LogLevel::kError, msg, fields, loc);
  }

 private:
  std::atomic<LogLevel> level_{LogLevel::kInfo};
  std::atomic<LogFormat> format_{LogFormat::kLogfmt};
  absl::Mutex mu_;
  Sink sink_ ABSL_GUARDED_BY(mu_);
  std::function<absl::Time()> now_ ABSL_GUARDED_BY(mu_);
};

// Shorthands for the default logger.
namespace log {
inline void Debug(std::string_view msg, LogFields fields = {},
                  const std::source_location& loc =
                      std::source_location::current()) {
  Logger::Default().Log(LogLevel::kDebug, msg, fields, loc);
}
inline void Info(std::string_view msg, LogFields fields = {},
                 const std::source_location& loc =
                     std::source_location::current()) {
  Logger::Default().Log(LogLevel::kInfo, msg, fields, loc);
}
inline void Warn(std::string_view msg, LogFields fields = {},
                 const std::source_location& loc =
                     std::source_location::current()) {
  Logger::Default().Log(LogLevel::kWarn, msg, fields, loc);
}
inline void Error(std::string_view msg, LogFields fields = {},
                  const std::source_location& loc =
                      std::source_location::current()) {
  Logger::Default().Log(LogLevel::kError, msg, fields, loc);
}
}  // namespace log

// Exposed for tests: logfmt value quoting (bare when safe, else Go-style
// quoted) and JSON string escaping (with the quotes).
std::string LogfmtValue(std::string_view v);
std::string JsonString(std::string_view v);

}  // namespace vigil

#endif  // VIGIL_STORAGE_BASE_LOGFMT_H_
