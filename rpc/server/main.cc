// The vigil binary: the server (default) or a promtool-style sub-command.
#include <malloc.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "rpc/server/config.h"
#include "rpc/server/flags.h"
#include "rpc/server/self_metrics.h"
#include "rpc/server/server.h"
#include "rpc/server/subcommands.h"
#include "storage/base/clock.h"
#include "storage/base/logfmt.h"

namespace vigil::rpc::server {
namespace {

bool FileExists(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return false;
  std::fclose(f);
  return true;
}

// --config.file when given; else testdata/vigil.yml in the workspace (under
// `bazel run`) or the current directory; else the built-in default ("").
std::string ResolveConfigPath(const Flags& flags) {
  if (flags.config_file_set) return flags.config_file;
  if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY")) {
    std::string p = absl::StrCat(ws, "/testdata/vigil.yml");
    if (FileExists(p)) return p;
  }
  if (FileExists("testdata/vigil.yml")) return "testdata/vigil.yml";
  return "";
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (auto code = RunSubcommand(args, std::cout, std::cerr)) return *code;

  auto flags = ParseFlags(args);
  if (!flags.ok()) {
    std::cerr << "vigil: error: " << flags.status().message()
              << ", try --help\n";
    return 2;
  }
  if (flags->help) {
    std::cout << FlagsHelp("vigil");
    return 0;
  }
  if (flags->version) {
    std::cout << VersionText();
    return 0;
  }
  Logger::Default().SetLevel(flags->log_level);
  Logger::Default().SetFormat(flags->log_format);

  // Block the stop signals in every thread (threads inherit the mask); one
  // thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);  // reload, handled in the same loop
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  log::Info("Starting vigil", {{"version", VersionText().substr(0, VersionText().find('\n'))}});
  std::string path = ResolveConfigPath(*flags);
  absl::StatusOr<Config> config =
      path.empty() ? ParseConfig(DefaultConfigText(), "") : LoadConfigFile(path);
  if (!config.ok()) {
    log::Error("Error loading config", {{"file", path}, {"err", config.status()}});
    return 1;
  }
  log::Info("Loaded configuration file",
            {{"filename", path.empty() ? "(built-in default)" : path}});
  for (const std::string& s : config->ignored_sections) {
    log::Warn("Ignoring configuration section vigil has no use for",
              {{"section", s}});
  }

  auto server = Server::Start(*flags, *std::move(config), Clock::Real());
  if (!server.ok()) {
    log::Error("Unable to start vigil", {{"err", server.status()}});
    return 1;
  }
  log::Info("Server is ready to receive web requests.",
            {{"address", flags->listen_address}, {"port", (*server)->port()}});

  int sig = 0;
  for (;;) {
    sigwait(&stop_signals, &sig);
    if (sig != SIGHUP) break;
    // A failed reload is logged and leaves the running rules untouched.
    (void)(*server)->Reload();
  }
  log::Warn("Received signal, exiting gracefully...",
            {{"signal", sig == SIGINT ? "interrupt" : "terminated"}});
  (*server)->Stop();
  log::Info("See you next time!");
  return 0;
}

}  // namespace
}  // namespace vigil::rpc::server

int main(int argc, char** argv) {
  // Debian's Abseil is built with its debug-mode default of checking every
  // Mutex acquisition for lock-order cycles (a global graph lookup per lock,
  // ~3% of a rule cycle in perf). The checks belong in tests, not in the
  // server's hot paths.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // glibc's defaults hand freed memory back to the kernel as soon as the
  // top of a heap is 128 KB free and serve blocks over a dynamic threshold
  // with fresh mmaps, so a query or rule evaluation that builds and frees a
  // few MB of series every time pays for page faults and zeroing on every
  // run (8% of a 1,300-series query's CPU in perf). Keeping up to 64 MB of
  // freed heap costs little next to the store and makes those runs reuse
  // warm memory.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_TOP_PAD, 4 << 20);
  return vigil::rpc::server::Main(argc, argv);
}
