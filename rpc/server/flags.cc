#include "rpc/server/flags.h"

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/duration.h"

namespace vigil::rpc::server {
namespace {

absl::string_view AV(std::string_view s) { return {s.data(), s.size()}; }

struct FlagDef {
  std::string_view name;
  std::string_view default_text;  // as shown in --help
  std::string_view help;
  bool is_bool;
  std::function<absl::Status(Flags*, std::string_view)> set;
};

absl::Status BadValue(std::string_view flag, std::string_view value,
                      absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value \"", AV(value), "\" for flag --", AV(flag),
                   ": ", why));
}

std::function<absl::Status(Flags*, std::string_view)> DurationSetter(
    std::string_view name, absl::Duration Flags::*field) {
  return [name, field](Flags* f, std::string_view v) -> absl::Status {
    auto d = engine::ParsePromDuration(v);
    if (!d.ok()) return BadValue(name, v, d.status().message());
    if (*d < absl::ZeroDuration()) return BadValue(name, v, "negative");
    f->*field = *d;
    return absl::OkStatus();
  };
}

std::function<absl::Status(Flags*, std::string_view)> IntSetter(
    std::string_view name, int64_t Flags::*field) {
  return [name, field](Flags* f, std::string_view v) -> absl::Status {
    int64_t n;
    if (!absl::SimpleAtoi(AV(v), &n) || n < 0) {
      return BadValue(name, v, "want a non-negative integer");
    }
    f->*field = n;
    return absl::OkStatus();
  };
}

std::function<absl::Status(Flags*, std::string_view)> SizeSetter(
    std::string_view name, int64_t Flags::*field) {
  return [name, field](Flags* f, std::string_view v) -> absl::Status {
    auto n = ParseByteSize(v);
    if (!n.ok()) return BadValue(name, v, n.status().message());
    f->*field = *n;
    return absl::OkStatus();
  };
}

const std::vector<FlagDef>& Defs() {
  static const auto* defs = new std::vector<FlagDef>{
      {"config.file", "testdata/vigil.yml",
       "vigil configuration file path. Without it, testdata/vigil.yml under "
       "the workspace (bazel run) or the built-in default.",
       false,
       [](Flags* f, std::string_view v) {
         f->config_file = std::string(v);
         f->config_file_set = true;
         return absl::OkStatus();
       }},
      {"web.listen-address", kDefaultListenAddress,
       "Address to listen on for the API, remote-write and /metrics.", false,
       [](Flags* f, std::string_view v) {
         f->listen_address = std::string(v);
         return absl::OkStatus();
       }},
      {"web.external-url", "",
       "The URL under which vigil is externally reachable (used in alert "
       "generator URLs).",
       false,
       [](Flags* f, std::string_view v) {
         f->external_url = std::string(v);
         return absl::OkStatus();
       }},
      {"web.max-request-bytes", "32MiB",
       "Largest accepted request body (compressed, for remote-write); larger "
       "ones get 413.",
       false, SizeSetter("web.max-request-bytes", &Flags::max_request_bytes)},
      {"web.threads", "0",
       "HTTP worker threads; 0 means one per CPU (at least 2).", false,
       [](Flags* f, std::string_view v) -> absl::Status {
         int n;
         if (!absl::SimpleAtoi(AV(v), &n) || n < 0 || n > 1024) {
           return BadValue("web.threads", v, "want 0..1024");
         }
         f->web_threads = n;
         return absl::OkStatus();
       }},
      {"storage.retention", "2h",
       "How long samples are kept in memory. Must cover the longest range "
       "any rule reads (plus the lookback delta).",
       false, DurationSetter("storage.retention", &Flags::retention)},
      {"storage.out-of-order-window", "0s",
       "How far behind a series' newest sample an older sample is still "
       "accepted; 0 rejects every out-of-order sample.",
       false,
       DurationSetter("storage.out-of-order-window",
                      &Flags::out_of_order_window)},
      {"storage.max-series", "0",
       "Most series held; a write that would create more is refused with "
       "503. 0 means unlimited.",
       false, IntSetter("storage.max-series", &Flags::max_series)},
      {"storage.max-memory-bytes", "0",
       "Most sample chunk bytes held; a write that would exceed it is "
       "refused with 503. 0 means unlimited.",
       false, SizeSetter("storage.max-memory-bytes", &Flags::max_memory_bytes)},
      {"rules.alert.resend-delay", "1m",
       "Minimum amount of time to wait before resending an alert to "
       "Alertmanager.",
       false, DurationSetter("rules.alert.resend-delay", &Flags::resend_delay)},
      {"rules.alert.for-outage-tolerance", "1h",
       "Max time to tolerate vigil outage for restoring \"for\" state of "
       "alert.",
       false,
       DurationSetter("rules.alert.for-outage-tolerance",
                      &Flags::for_outage_tolerance)},
      {"rules.alert.for-grace-period", "10m",
       "Minimum duration between alert and restored \"for\" state. This is "
       "maintained only for alerts with configured \"for\" time greater than "
       "grace period.",
       false,
       DurationSetter("rules.alert.for-grace-period",
                      &Flags::for_grace_period)},
      {"rules.alert.for-state-file", "",
       "File that keeps the \"for\" state of pending and firing alerts "
       "(their ALERTS_FOR_STATE samples) across restarts; written atomically "
       "every --rules.alert.for-state-write-interval and on shutdown, read at "
       "start. Empty keeps it in memory only, so a restart starts pending "
       "alerts over.",
       false,
       [](Flags* f, std::string_view v) -> absl::Status {
         f->for_state_file = std::string(v);
         return absl::OkStatus();
       }},
      {"rules.alert.for-state-write-interval", "10s",
       "How often --rules.alert.for-state-file is rewritten while running.",
       false,
       DurationSetter("rules.alert.for-state-write-interval",
                      &Flags::for_state_write_interval)},
      {"rules.window-cache-size", "1GiB",
       "Memory for the decoded recent samples of the series rules read, so "
       "that rules reading the same series decode its chunks once per "
       "scrape instead of once each. About 300 bytes per series rules read "
       "(a 5m window of 15s samples); used only as needed. 0 turns it off; "
       "it is always off when --storage.out-of-order-window is set.",
       false,
       SizeSetter("rules.window-cache-size", &Flags::rules_window_cache_bytes)},
      {"grpc.listen-address", "0.0.0.0:9097",
       "Address for the gRPC service (ListRules, ListAlerts, WatchAlerts); "
       "empty turns it off.",
       false,
       [](Flags* f, std::string_view v) -> absl::Status {
         f->grpc_listen_address = std::string(v);
         return absl::OkStatus();
       }},
      {"alertmanager.notification-queue-capacity", "10000",
       "The capacity of the queue for pending Alertmanager notifications.",
       false,
       [](Flags* f, std::string_view v) -> absl::Status {
         int64_t n;
         if (!absl::SimpleAtoi(AV(v), &n) || n <= 0) {
           return BadValue("alertmanager.notification-queue-capacity", v,
                           "want a positive integer");
         }
         f->notification_queue_capacity = n;
         return absl::OkStatus();
       }},
      {"rules.legacy-group-offset-hash", "false",
       "Place group evaluations at the slots Prometheus 2.43 and older "
       "(built without stringlabels, e.g. Debian's 2.42) use, instead of "
       "those of current Prometheus releases.",
       false,
       [](Flags* f, std::string_view v) -> absl::Status {
         if (v != "true" && v != "false") {
           return BadValue("rules.legacy-group-offset-hash", v,
                           "want true or false");
         }
         f->legacy_group_hash = v == "true";
         return absl::OkStatus();
       }},
      {"query.lookback-delta", "5m",
       "The maximum lookback duration for retrieving metrics during "
       "expression evaluations.",
       false, DurationSetter("query.lookback-delta", &Flags::lookback_delta)},
      {"query.max-samples", "50000000",
       "Maximum number of samples a single query can load into memory.",
       false, IntSetter("query.max-samples", &Flags::query_max_samples)},
      {"query.timeout", "2m",
       "Maximum time a query may take before being aborted.", false,
       DurationSetter("query.timeout", &Flags::query_timeout)},
      {"log.level", "info",
       "Only log messages with the given severity or above. One of: [debug, "
       "info, warn, error]",
       false,
       [](Flags* f, std::string_view v) -> absl::Status {
         auto l = ParseLogLevel(v);
         if (!l.ok()) return BadValue("log.level", v, l.status().message());
         f->log_level = *l;
         return absl::OkStatus();
       }},
      {"log.format", "logfmt",
       "Output format of log messages. One of: [logfmt, json]", false,
       [](Flags* f, std::string_view v) -> absl::Status {
         auto l = ParseLogFormat(v);
         if (!l.ok()) return BadValue("log.format", v, l.status().message());
         f->log_format = *l;
         return absl::OkStatus();
       }},
      {"help", "", "Show context-sensitive help (also -h).", true,
       [](Flags* f, std::string_view) {
         f->help = true;
         return absl::OkStatus();
       }},
      {"version", "", "Show application version.", true,
       [](Flags* f, std::string_view) {
         f->version = true;
         return absl::OkStatus();
       }},
  };
  return *defs;
}

const FlagDef* Find(std::string_view name) {
  for (const FlagDef& d : Defs()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<int64_t> ParseByteSize(std::string_view s) {
  struct Unit {
    std::string_view suffix;
    int64_t mult;
  };
  static constexpr Unit kUnits[] = {
      {"KiB", int64_t{1} << 10}, {"MiB", int64_t{1} << 20},
      {"GiB", int64_t{1} << 30}, {"TiB", int64_t{1} << 40},
      {"KB", 1000},              {"MB", 1000000},
      {"GB", 1000000000},        {"TB", 1000000000000},
      {"B", 1},
  };
  int64_t mult = 1;
  std::string_view num = s;
  for (const Unit& u : kUnits) {
    if (s.size() > u.suffix.size() &&
        s.substr(s.size() - u.suffix.size()) == u.suffix) {
      mult = u.mult;
      num = s.substr(0, s.size() - u.suffix.size());
      break;
    }
  }
  int64_t n;
  if (!absl::SimpleAtoi(AV(num), &n) || n < 0 ||
      n > std::numeric_limits<int64_t>::max() / mult) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a byte size: \"", AV(s), "\" (e.g. 1048576, 512KiB, 32MiB, 1GB)"));
  }
  return n * mult;
}

absl::StatusOr<Flags> ParseFlags(const std::vector<std::string>& args) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "-h") arg = "--help";
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", AV(arg),
                       "\"; sub-commands: check config|rules, test rules|promql"));
    }
    arg.remove_prefix(2);
    std::string_view name = arg;
    std::string_view value;
    bool has_value = false;
    size_t eq = arg.find('=');
    if (eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const FlagDef* def = Find(name);
    if (def == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown long flag '--", AV(name), "'"));
    }
    if (def->is_bool) {
      if (has_value && value != "true") {
        if (value == "false") continue;
        return BadValue(name, value, "want true or false");
      }
    } else if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("expected argument for flag '--", AV(name), "'"));
      }
      value = args[++i];
    }
    absl::Status st = def->set(&flags, value);
    if (!st.ok()) return st;
  }
  return flags;
}

std::vector<std::pair<std::string, std::string>> FlagValues(const Flags& f) {
  auto dur = [](absl::Duration d) { return engine::FormatPromDuration(d); };
  std::vector<std::pair<std::string, std::string>> out = {
      {"alertmanager.notification-queue-capacity",
       absl::StrCat(f.notification_queue_capacity)},
      {"config.file", f.config_file},
      {"grpc.listen-address", f.grpc_listen_address},
      {"log.format", f.log_format == LogFormat::kJson ? "json" : "logfmt"},
      {"log.level", std::string(LogLevelName(f.log_level))},
      {"query.lookback-delta", dur(f.lookback_delta)},
      {"query.max-samples", absl::StrCat(f.query_max_samples)},
      {"query.timeout", dur(f.query_timeout)},
      {"rules.alert.for-grace-period", dur(f.for_grace_period)},
      {"rules.alert.for-outage-tolerance", dur(f.for_outage_tolerance)},
      {"rules.alert.for-state-file", f.for_state_file},
      {"rules.alert.for-state-write-interval", dur(f.for_state_write_interval)},
      {"rules.window-cache-size", absl::StrCat(f.rules_window_cache_bytes)},
      {"rules.alert.resend-delay", dur(f.resend_delay)},
      {"rules.legacy-group-offset-hash", f.legacy_group_hash ? "true" : "false"},
      {"storage.max-memory-bytes", absl::StrCat(f.max_memory_bytes)},
      {"storage.max-series", absl::StrCat(f.max_series)},
      {"storage.out-of-order-window", dur(f.out_of_order_window)},
      {"storage.retention", dur(f.retention)},
      {"web.external-url", f.external_url},
      {"web.listen-address", f.listen_address},
      {"web.max-request-bytes", absl::StrCat(f.max_request_bytes)},
      {"web.threads", absl::StrCat(f.web_threads)},
  };
  return out;
}

std::string FlagsHelp(std::string_view program) {
  std::string out = absl::StrCat(
      "usage: ", AV(program), " [<flags>] [<command> [<args> ...]]\n\n",
      "vigil: a Prometheus-compatible alert rule evaluation engine. Receives\n"
      "remote-write, evaluates Prometheus rule files, sends alerts.\n\n"
      "Flags:\n");
  for (const FlagDef& d : Defs()) {
    std::string left = absl::StrCat("  --", AV(d.name));
    if (d.name == "help") left = "  -h, --help";
    if (!d.is_bool) {
      std::string meta(d.name.substr(d.name.rfind('.') + 1));
      absl::StrAppend(&left, "=<", meta, ">");
    }
    if (left.size() < 44) left.resize(44, ' ');
    else left.append("\n" + std::string(44, ' '));
    absl::StrAppend(&out, left, AV(d.help));
    if (!d.default_text.empty() || !d.is_bool) {
      absl::StrAppend(&out, " (default: \"", AV(d.default_text), "\")");
    }
    out.push_back('\n');
  }
  absl::StrAppend(
      &out,
      "\nCommands:\n"
      "  check config FILE        Check that a vigil configuration file is valid.\n"
      "  check rules FILE...      Check that rule files are valid.\n"
      "  test rules FILE...       Run promtool-format rule unit tests.\n"
      "  test promql FILE...      Run promqltest scripts.\n");
  return out;
}

}  // namespace vigil::rpc::server
