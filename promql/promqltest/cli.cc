#include "promql/promqltest/cli.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "promql/promqltest/script.h"

namespace vigil::promql::promqltest {
namespace {

struct Counts {
  int float_passed = 0, float_total = 0;
  int hist_passed = 0, hist_total = 0;
  void Add(const CaseResult& r) {
    if (r.histogram) {
      ++hist_total;
      hist_passed += r.passed;
    } else {
      ++float_total;
      float_passed += r.passed;
    }
  }
};

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

int RunTestPromql(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err) {
  std::string json_path, known_path;
  bool verbose = false;
  std::vector<std::string> inputs;
  for (const std::string& a : args) {
    absl::string_view v = a;
    if (absl::ConsumePrefix(&v, "--json=")) {
      json_path = std::string(v);
    } else if (absl::ConsumePrefix(&v, "--known-failures=")) {
      known_path = std::string(v);
    } else if (a == "--verbose") {
      verbose = true;
    } else if (absl::StartsWith(a, "--")) {
      err << "unknown flag " << a << "\n"
          << "usage: test promql [--json=FILE] [--known-failures=FILE] "
             "FILE_OR_DIR...\n";
      return 2;
    } else {
      inputs.push_back(a);
    }
  }
  if (inputs.empty()) {
    err << "usage: test promql [--json=FILE] [--known-failures=FILE] "
           "FILE_OR_DIR...\n";
    return 2;
  }
  std::vector<std::string> files;
  for (const std::string& in : inputs) {
    std::error_code ec;
    if (std::filesystem::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (const auto& e : std::filesystem::directory_iterator(in, ec)) {
        if (e.path().extension() == ".test") found.push_back(e.path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else {
      files.push_back(in);
    }
  }
  std::set<std::string> known;
  if (!known_path.empty()) {
    std::string text;
    if (!ReadFile(known_path, &text)) {
      err << "cannot read " << known_path << "\n";
      return 2;
    }
    std::istringstream ls(text);
    std::string line;
    while (std::getline(ls, line)) {
      absl::string_view l = absl::StripAsciiWhitespace(line);
      size_t hash = l.find('#');
      if (hash != absl::string_view::npos) l = absl::StripAsciiWhitespace(l.substr(0, hash));
      if (!l.empty()) known.insert(std::string(l));
    }
  }
  Counts total;
  std::map<std::string, Counts> per_file;
  int regressions = 0, fixed = 0;
  std::set<std::string> seen_keys;
  for (const std::string& f : files) {
    std::string text;
    if (!ReadFile(f, &text)) {
      err << "cannot read " << f << "\n";
      return 2;
    }
    std::string base = std::filesystem::path(f).filename().string();
    absl::StatusOr<std::vector<Command>> cmds = ParseScript(text);
    if (!cmds.ok()) {
      err << f << ": " << cmds.status().message() << "\n";
      return 2;
    }
    Counts& c = per_file[base];
    for (const CaseResult& r : RunScript(*cmds, base)) {
      c.Add(r);
      total.Add(r);
      std::string key = absl::StrCat(base, ":", r.line);
      seen_keys.insert(key);
      bool listed = known.count(key) > 0;
      if (!r.passed) {
        if (!listed) ++regressions;
        if (!listed || verbose) {
          out << (listed ? "KNOWN FAIL " : "FAIL ") << key << " ["
              << (r.histogram ? "histogram" : "float") << "] " << r.command
              << "\n  " << r.message << "\n";
        }
      } else if (listed) {
        ++fixed;
        out << "PASS (listed as known failure, remove it from the list) "
            << key << " " << r.command << "\n";
      }
    }
  }
  out << "\n";
  for (const auto& [name, c] : per_file) {
    out << name << ": float " << c.float_passed << "/" << c.float_total
        << ", native histogram " << c.hist_passed << "/" << c.hist_total
        << "\n";
  }
  out << "TOTAL: float " << total.float_passed << "/" << total.float_total
      << ", native histogram " << total.hist_passed << "/" << total.hist_total
      << "\n";
  if (!json_path.empty()) {
    nlohmann::json j;
    j["float_passed"] = total.float_passed;
    j["float_total"] = total.float_total;
    j["histogram_passed"] = total.hist_passed;
    j["histogram_total"] = total.hist_total;
    for (const auto& [name, c] : per_file) {
      j["files"][name] = {{"float_passed", c.float_passed},
                          {"float_total", c.float_total},
                          {"histogram_passed", c.hist_passed},
                          {"histogram_total", c.hist_total}};
    }
    std::ofstream jo(json_path);
    jo << j.dump(2) << "\n";
  }
  if (!known_path.empty()) {
    if (regressions > 0 || fixed > 0) {
      out << regressions << " unexpected failure(s), " << fixed
          << " listed case(s) now pass\n";
      return 1;
    }
    return 0;
  }
  return (total.float_passed == total.float_total &&
          total.hist_passed == total.hist_total)
             ? 0
             : 1;
}

}  // namespace vigil::promql::promqltest
