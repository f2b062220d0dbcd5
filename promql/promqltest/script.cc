#include "promql/promqltest/script.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <variant>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "promql/engine.h"
#include "re2/re2.h"
#include "storage/base/clock.h"
#include "storage/head.h"
#include "storage/sample.h"

namespace vigil::promql::promqltest {
namespace {

absl::string_view Trim(absl::string_view s) {
  return absl::StripAsciiWhitespace(s);
}

absl::Status Err(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", what));
}

// Decodes a Go string literal ("...", '...' or `...`).
absl::StatusOr<std::string> UnquoteGo(absl::string_view q) {
  if (q.size() < 2 || q.front() != q.back() ||
      (q.front() != '"' && q.front() != '\'' && q.front() != '`')) {
    return absl::InvalidArgumentError(absl::StrCat("bad string: ", q));
  }
  char quote = q.front();
  q = q.substr(1, q.size() - 2);
  if (quote == '`') return std::string(q);
  std::string out;
  for (size_t i = 0; i < q.size(); ++i) {
    char c = q[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= q.size()) return absl::InvalidArgumentError("bad escape");
    char e = q[i];
    auto hex = [&](size_t n) -> absl::StatusOr<uint32_t> {
      if (i + n >= q.size() + 1) return absl::InvalidArgumentError("bad escape");
      uint32_t v = 0;
      for (size_t k = 1; k <= n; ++k) {
        char h = q[i + k];
        int d = absl::ascii_isdigit(h)   ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (d < 0) return absl::InvalidArgumentError("bad escape");
        v = v * 16 + d;
      }
      i += n;
      return v;
    };
    auto utf8 = [&](uint32_t cp) {
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    };
    switch (e) {
      case 'a': out.push_back('\a'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'v': out.push_back('\v'); break;
      case '\\': out.push_back('\\'); break;
      case '"': out.push_back('"'); break;
      case '\'': out.push_back('\''); break;
      case 'x': {
        auto v = hex(2);
        if (!v.ok()) return v.status();
        out.push_back(static_cast<char>(*v));
        break;
      }
      case 'u':
      case 'U': {
        auto v = hex(e == 'u' ? 4 : 8);
        if (!v.ok()) return v.status();
        utf8(*v);
        break;
      }
      default:
        if (e >= '0' && e <= '7' && i + 2 < q.size()) {
          int v = (e - '0') * 64 + (q[i + 1] - '0') * 8 + (q[i + 2] - '0');
          i += 2;
          out.push_back(static_cast<char>(v));
        } else {
          return absl::InvalidArgumentError(absl::StrCat("bad escape \\", std::string(1, e)));
        }
    }
  }
  return out;
}

// Length of the quoted string starting at s[0] (a quote), or npos.
size_t QuotedLen(absl::string_view s) {
  char q = s[0];
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\' && q != '`') {
      ++i;
    } else if (s[i] == q) {
      return i + 1;
    }
  }
  return absl::string_view::npos;
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(c) || c == '_' || c == ':';
}

// Go's ParseFloat accepts "Inf", "+Inf", "NaN" in any case; strtod does too.
bool ParseNumber(absl::string_view s, double* out) {
  if (s.empty()) return false;
  std::string str(s);
  std::string lower = absl::AsciiStrToLower(str);
  absl::string_view l = lower;
  bool neg = false;
  if (!l.empty() && (l[0] == '+' || l[0] == '-')) {
    neg = l[0] == '-';
    l.remove_prefix(1);
  }
  if (l == "inf" || l == "infinity") {
    *out = neg ? -INFINITY : INFINITY;
    return true;
  }
  if (l == "nan") {
    *out = NAN;
    return true;
  }
  char* end = nullptr;
  // No hex: in points, `0x5` means "0 repeated".
  if (l.find('x') != absl::string_view::npos) return false;
  *out = std::strtod(str.c_str(), &end);
  return end == str.c_str() + str.size();
}

// Splits a points description into tokens, keeping `{{...}}` together.
std::vector<absl::string_view> TokenizePoints(absl::string_view s) {
  std::vector<absl::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && absl::ascii_isspace(s[i])) ++i;
    if (i >= s.size()) break;
    size_t start = i;
    while (i < s.size() && !absl::ascii_isspace(s[i])) {
      if (s.substr(i, 2) == "{{") {
        size_t end = s.find("}}", i);
        i = end == absl::string_view::npos ? s.size() : end + 2;
      } else {
        ++i;
      }
    }
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace

absl::StatusOr<int64_t> ParseDurationMs(absl::string_view s) {
  s = Trim(s);
  bool neg = false;
  if (absl::ConsumePrefix(&s, "-")) neg = true;
  if (s.empty()) return absl::InvalidArgumentError("empty duration");
  double secs;
  if (ParseNumber(s, &secs) && std::isfinite(secs)) {
    int64_t ms = static_cast<int64_t>(std::llround(secs * 1000));
    return neg ? -ms : ms;
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t st = i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i;
    if (st == i) return absl::InvalidArgumentError(absl::StrCat("bad duration ", s));
    int64_t n = 0;
    if (!absl::SimpleAtoi(s.substr(st, i - st), &n)) {
      return absl::InvalidArgumentError(absl::StrCat("bad duration ", s));
    }
    size_t us = i;
    while (i < s.size() && absl::ascii_isalpha(s[i])) ++i;
    absl::string_view unit = s.substr(us, i - us);
    int64_t mult;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60'000;
    else if (unit == "h") mult = 3'600'000;
    else if (unit == "d") mult = 86'400'000;
    else if (unit == "w") mult = 7 * 86'400'000LL;
    else if (unit == "y") mult = 365 * 86'400'000LL;
    else return absl::InvalidArgumentError(absl::StrCat("bad duration ", s));
    total += n * mult;
  }
  return neg ? -total : total;
}

absl::StatusOr<storage::Labels> ParseSeriesDesc(absl::string_view s) {
  s = Trim(s);
  std::vector<storage::Label> labels;
  size_t i = 0;
  while (i < s.size() && IsNameChar(s[i])) ++i;
  if (i > 0) labels.push_back({"__name__", std::string(s.substr(0, i))});
  if (i < s.size()) {
    if (s[i] != '{' || s.back() != '}') {
      return absl::InvalidArgumentError(absl::StrCat("bad series: ", s));
    }
    absl::string_view body = s.substr(i + 1, s.size() - i - 2);
    size_t j = 0;
    auto skip_ws = [&] {
      while (j < body.size() && absl::ascii_isspace(body[j])) ++j;
    };
    auto read_token = [&]() -> absl::StatusOr<std::string> {
      skip_ws();
      if (j >= body.size()) return absl::InvalidArgumentError("unexpected end");
      if (body[j] == '"' || body[j] == '\'' || body[j] == '`') {
        size_t n = QuotedLen(body.substr(j));
        if (n == absl::string_view::npos) {
          return absl::InvalidArgumentError("unterminated string");
        }
        auto v = UnquoteGo(body.substr(j, n));
        j += n;
        return v;
      }
      size_t st = j;
      while (j < body.size() && (IsNameChar(body[j]) || body[j] == '.')) ++j;
      if (st == j) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad label set: ", s));
      }
      return std::string(body.substr(st, j - st));
    };
    while (true) {
      skip_ws();
      if (j >= body.size()) break;
      auto name = read_token();
      if (!name.ok()) return name.status();
      skip_ws();
      if (j < body.size() && body[j] == '=') {
        ++j;
        skip_ws();
        auto value = read_token();
        if (!value.ok()) return value.status();
        labels.push_back({*name, *value});
      } else {
        labels.push_back({"__name__", *name});
      }
      skip_ws();
      if (j < body.size() && body[j] == ',') ++j;
    }
  }
  return storage::Labels::FromUnsorted(std::move(labels));
}

absl::StatusOr<std::vector<Point>> ParsePoints(absl::string_view s) {
  std::vector<Point> out;
  for (absl::string_view tok : TokenizePoints(s)) {
    if (absl::StartsWith(tok, "{{")) {
      // Histograms: count the points, keep no values.
      size_t close = tok.rfind("}}");
      int64_t n = 0;
      if (close + 2 < tok.size()) {
        absl::string_view rest = tok.substr(close + 2);
        if (!absl::ConsumePrefix(&rest, "x") || !absl::SimpleAtoi(rest, &n)) {
          return absl::InvalidArgumentError(absl::StrCat("bad histogram: ", tok));
        }
      }
      for (int64_t k = 0; k <= n; ++k) out.push_back({Point::kHistogram, 0});
      continue;
    }
    if (tok == "stale") {
      out.push_back({Point::kStale, 0});
      continue;
    }
    if (absl::StartsWith(tok, "_")) {
      int64_t n = 1;
      if (tok.size() > 1) {
        absl::string_view rest = tok.substr(1);
        if (!absl::ConsumePrefix(&rest, "x") || !absl::SimpleAtoi(rest, &n)) {
          return absl::InvalidArgumentError(absl::StrCat("bad point: ", tok));
        }
      }
      for (int64_t k = 0; k < n; ++k) out.push_back({Point::kMissing, 0});
      continue;
    }
    double v;
    if (ParseNumber(tok, &v)) {
      out.push_back({Point::kFloat, v});
      continue;
    }
    // a[+-]bxn or axn. The increment's sign starts after the first
    // character (which may be the start value's own sign) and not right
    // after an exponent 'e'.
    size_t x = tok.rfind('x');
    if (x == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad point: ", tok));
    }
    int64_t n = 0;
    if (!absl::SimpleAtoi(tok.substr(x + 1), &n) || n < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad point: ", tok));
    }
    absl::string_view head = tok.substr(0, x);
    size_t op = absl::string_view::npos;
    for (size_t k = 1; k < head.size(); ++k) {
      if ((head[k] == '+' || head[k] == '-') && head[k - 1] != 'e' &&
          head[k - 1] != 'E') {
        op = k;
        break;
      }
    }
    double start, inc = 0;
    if (op == absl::string_view::npos) {
      if (!ParseNumber(head, &start)) {
        return absl::InvalidArgumentError(absl::StrCat("bad point: ", tok));
      }
    } else {
      if (!ParseNumber(head.substr(0, op), &start) ||
          !ParseNumber(head.substr(op + 1), &inc)) {
        return absl::InvalidArgumentError(absl::StrCat("bad point: ", tok));
      }
      if (head[op] == '-') inc = -inc;
    }
    double v2 = start;
    for (int64_t k = 0; k <= n; ++k) {
      out.push_back({Point::kFloat, v2});
      v2 += inc;
    }
  }
  return out;
}

namespace {

// Splits "series points" where the series may contain quoted strings with
// spaces or braces.
absl::StatusOr<std::pair<absl::string_view, absl::string_view>> SplitSeriesLine(
    absl::string_view line) {
  size_t i = 0;
  while (i < line.size() && (IsNameChar(line[i]) || line[i] == '.')) ++i;
  if (i < line.size() && line[i] == '{') {
    while (i < line.size() && line[i] != '}') {
      if (line[i] == '"' || line[i] == '\'' || line[i] == '`') {
        size_t n = QuotedLen(line.substr(i));
        if (n == absl::string_view::npos) {
          return absl::InvalidArgumentError("unterminated string");
        }
        i += n;
      } else {
        ++i;
      }
    }
    if (i >= line.size()) return absl::InvalidArgumentError("missing }");
    ++i;
  }
  return std::make_pair(line.substr(0, i), Trim(line.substr(i)));
}

bool IsIndented(absl::string_view raw) {
  return !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
}

}  // namespace

absl::StatusOr<std::vector<Command>> ParseScript(absl::string_view text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  std::vector<Command> cmds;
  size_t i = 0;
  auto body_line = [&](size_t k) -> bool {
    // Lines belonging to the preceding command: anything that is not blank,
    // not a comment and not a new command.
    absl::string_view t = Trim(lines[k]);
    if (t.empty()) return false;
    if (IsIndented(lines[k])) return true;
    return !(absl::StartsWith(t, "eval") || absl::StartsWith(t, "load") ||
             t == "clear");
  };
  while (i < lines.size()) {
    absl::string_view raw = lines[i];
    absl::string_view t = Trim(raw);
    int lineno = static_cast<int>(i) + 1;
    ++i;
    if (t.empty() || absl::StartsWith(t, "#")) continue;
    Command cmd;
    cmd.line = lineno;
    cmd.text = std::string(t);
    std::vector<absl::string_view> words =
        absl::StrSplit(t, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    absl::string_view verb = words[0];
    if (verb == "clear") {
      cmd.kind = Command::kClear;
      cmds.push_back(std::move(cmd));
      continue;
    }
    // Gather the body: following non-blank lines, comments skipped.
    std::vector<std::pair<int, absl::string_view>> body;
    while (i < lines.size() && body_line(i)) {
      absl::string_view b = Trim(lines[i]);
      if (!absl::StartsWith(b, "#")) body.push_back({static_cast<int>(i) + 1, b});
      ++i;
    }
    if (verb == "load" || verb == "load_with_nhcb") {
      cmd.kind = Command::kLoad;
      cmd.load.with_nhcb = verb == "load_with_nhcb";
      if (words.size() != 2) return Err(lineno, "load needs an interval");
      auto iv = ParseDurationMs(words[1]);
      if (!iv.ok()) return Err(lineno, iv.status().message());
      cmd.load.interval_ms = *iv;
      for (auto& [bl, b] : body) {
        auto sp = SplitSeriesLine(b);
        if (!sp.ok()) return Err(bl, sp.status().message());
        auto labels = ParseSeriesDesc(sp->first);
        if (!labels.ok()) return Err(bl, labels.status().message());
        auto pts = ParsePoints(sp->second);
        if (!pts.ok()) return Err(bl, pts.status().message());
        SeriesSpec spec{*std::move(labels), *std::move(pts), false};
        for (const Point& p : spec.points) {
          if (p.kind == Point::kHistogram) spec.has_histogram = true;
        }
        cmd.load.series.push_back(std::move(spec));
      }
      cmds.push_back(std::move(cmd));
      continue;
    }
    if (!absl::StartsWith(verb, "eval")) {
      return Err(lineno, absl::StrCat("unknown command ", verb));
    }
    cmd.kind = Command::kEval;
    EvalCmd& ev = cmd.eval;
    if (verb == "eval_fail") ev.fail = true;
    else if (verb == "eval_warn") ev.warn = true;
    else if (verb == "eval_info") ev.info = true;
    else if (verb == "eval_ordered") ev.ordered = true;
    else if (verb != "eval") return Err(lineno, absl::StrCat("unknown command ", verb));
    absl::string_view rest = Trim(t.substr(verb.size()));
    if (absl::ConsumePrefix(&rest, "instant")) {
      rest = Trim(rest);
      if (!absl::ConsumePrefix(&rest, "at")) return Err(lineno, "expected 'at'");
      rest = Trim(rest);
      size_t sp = rest.find_first_of(" \t");
      if (sp == absl::string_view::npos) return Err(lineno, "missing expression");
      auto at = ParseDurationMs(rest.substr(0, sp));
      if (!at.ok()) return Err(lineno, at.status().message());
      ev.start_ms = ev.end_ms = *at;
      ev.expr = std::string(Trim(rest.substr(sp)));
    } else if (absl::ConsumePrefix(&rest, "range")) {
      ev.range = true;
      std::vector<absl::string_view> w =
          absl::StrSplit(Trim(rest), absl::ByAnyChar(" \t"), absl::SkipEmpty());
      if (w.size() < 7 || w[0] != "from" || w[2] != "to" || w[4] != "step") {
        return Err(lineno, "expected 'range from <t> to <t> step <d> <expr>'");
      }
      auto s = ParseDurationMs(w[1]);
      auto e = ParseDurationMs(w[3]);
      auto st = ParseDurationMs(w[5]);
      if (!s.ok() || !e.ok() || !st.ok()) return Err(lineno, "bad range times");
      ev.start_ms = *s;
      ev.end_ms = *e;
      ev.step_ms = *st;
      // The expression is what follows the step word.
      size_t pos = static_cast<size_t>(w[5].data() - rest.data()) + w[5].size();
      ev.expr = std::string(Trim(rest.substr(pos)));
    } else {
      return Err(lineno, "expected 'instant' or 'range'");
    }
    for (auto& [bl, b] : body) {
      if (absl::StartsWith(b, "expected_fail_message")) {
        ev.fail_message = std::string(Trim(b.substr(21)));
        continue;
      }
      if (absl::StartsWith(b, "expected_fail_regexp")) {
        ev.fail_regexp = std::string(Trim(b.substr(20)));
        continue;
      }
      if (absl::StartsWith(b, "expect ")) {
        absl::string_view e = Trim(b.substr(7));
        Expectation x;
        size_t sp = e.find_first_of(" \t");
        absl::string_view type = e.substr(0, sp);
        absl::string_view tail =
            sp == absl::string_view::npos ? "" : Trim(e.substr(sp));
        if (type == "fail") x.type = Expectation::kFail;
        else if (type == "warn") x.type = Expectation::kWarn;
        else if (type == "info") x.type = Expectation::kInfo;
        else if (type == "no_warn") x.type = Expectation::kNoWarn;
        else if (type == "no_info") x.type = Expectation::kNoInfo;
        else if (type == "ordered") x.type = Expectation::kOrdered;
        else return Err(bl, absl::StrCat("unknown expectation ", type));
        if (absl::ConsumePrefix(&tail, "msg:")) {
          x.match = Expectation::kMsg;
          x.text = std::string(Trim(tail));
        } else if (absl::ConsumePrefix(&tail, "regex:")) {
          x.match = Expectation::kRegex;
          x.text = std::string(Trim(tail));
        }
        if (x.text.size() >= 2 && x.text.front() == '"' && x.text.back() == '"') {
          x.text = x.text.substr(1, x.text.size() - 2);
        }
        if (x.type == Expectation::kOrdered) ev.ordered = true;
        if (x.type == Expectation::kFail) ev.fail = true;
        ev.expects.push_back(std::move(x));
        continue;
      }
      double v;
      if (ParseNumber(b, &v)) {
        ev.scalar = v;
        continue;
      }
      if (b[0] == '"' || b[0] == '\'' || b[0] == '`') {
        auto s = UnquoteGo(b);
        if (!s.ok()) return Err(bl, s.status().message());
        ev.string_value = *s;
        continue;
      }
      auto sp = SplitSeriesLine(b);
      if (!sp.ok()) return Err(bl, sp.status().message());
      auto labels = ParseSeriesDesc(sp->first);
      if (!labels.ok()) return Err(bl, labels.status().message());
      auto pts = ParsePoints(sp->second);
      if (!pts.ok()) return Err(bl, pts.status().message());
      SeriesSpec spec{*std::move(labels), *std::move(pts), false};
      for (const Point& p : spec.points) {
        if (p.kind == Point::kHistogram) spec.has_histogram = true;
      }
      if (spec.has_histogram) ev.expects_histogram = true;
      ev.series.push_back(std::move(spec));
    }
    cmds.push_back(std::move(cmd));
  }
  return cmds;
}

}  // namespace vigil::promql::promqltest

// ------------------------------------------------------------------ runner

namespace vigil::promql::promqltest {
namespace {

// A series that has native-histogram samples, and their times.
struct HistogramSeries {
  storage::Labels labels;
  std::vector<int64_t> ts;
};

// Forwards to the store and notes whether a selection covered a native
// histogram sample (the store holds floats only, so histogram series are
// kept aside as label sets with their sample times).
class TrackingQueryable final : public storage::ForwardingQueryable {
 public:
  TrackingQueryable(const storage::Queryable& base,
                    const std::vector<HistogramSeries>& histogram_series)
      : storage::ForwardingQueryable(&base),
        histogram_series_(histogram_series) {}

  bool touched_histogram() const { return touched_; }
  void Reset() { touched_ = false; }

  absl::StatusOr<std::vector<storage::SeriesHandle>> Select(
      absl::Span<const storage::Matcher> matchers, int64_t mint,
      int64_t maxt) const override {
    for (const HistogramSeries& h : histogram_series_) {
      bool all = true;
      for (const storage::Matcher& m : matchers) {
        if (!m.Matches(h.labels.Get(m.name()))) {
          all = false;
          break;
        }
      }
      if (!all) continue;
      auto it = std::lower_bound(h.ts.begin(), h.ts.end(), mint);
      if (it != h.ts.end() && *it <= maxt) touched_ = true;
    }
    return base().Select(matchers, mint, maxt);
  }

 private:
  const std::vector<HistogramSeries>& histogram_series_;
  mutable bool touched_ = false;
};

bool AlmostEqual(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  constexpr double kEps = 1e-6;
  constexpr double kMinNormal = 2.2250738585072014e-308;
  double abs_sum = std::fabs(a) + std::fabs(b);
  double diff = std::fabs(a - b);
  if (a == 0 || b == 0 || abs_sum < kMinNormal) return diff < kEps * kMinNormal;
  return diff / std::min(abs_sum, std::numeric_limits<double>::max()) < kEps;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return absl::StrFormat("%.17g", v);
}

std::string DescribeExpected(const EvalCmd& ev) {
  if (ev.scalar.has_value()) return "scalar " + FormatValue(*ev.scalar);
  if (ev.string_value.has_value()) return "string " + storage::QuoteGo(*ev.string_value);
  if (ev.series.empty()) return "(empty)";
  std::string out;
  for (const SeriesSpec& s : ev.series) {
    absl::StrAppend(&out, "\n    ", s.labels.ToString(), " ");
    for (const Point& p : s.points) {
      switch (p.kind) {
        case Point::kFloat:
          absl::StrAppend(&out, FormatValue(p.v), " ");
          break;
        case Point::kMissing:
          absl::StrAppend(&out, "_ ");
          break;
        case Point::kStale:
          absl::StrAppend(&out, "stale ");
          break;
        case Point::kHistogram:
          absl::StrAppend(&out, "{{...}} ");
          break;
      }
    }
  }
  return out;
}

std::string DescribeValue(const Value& v) {
  std::string out;
  if (const auto* s = std::get_if<Scalar>(&v)) return "scalar " + FormatValue(s->v);
  if (const auto* s = std::get_if<String>(&v)) return "string " + storage::QuoteGo(s->s);
  if (const auto* vec = std::get_if<Vector>(&v)) {
    if (vec->empty()) return "(empty vector)";
    for (const Sample& s : *vec) {
      absl::StrAppend(&out, "\n    ", s.metric.ToString(), " ", FormatValue(s.v));
    }
    return out;
  }
  const Matrix& m = std::get<Matrix>(v);
  if (m.empty()) return "(empty matrix)";
  for (const Series& s : m) {
    absl::StrAppend(&out, "\n    ", s.metric.ToString(), " ");
    for (size_t k = 0; k < s.ts.size(); ++k) {
      absl::StrAppend(&out, FormatValue(s.vs[k]), "@", s.ts[k], " ");
    }
  }
  return out;
}

// Compares a result with the expectation; "" when it matches.
std::string Compare(const EvalCmd& ev, const Value& got, bool range,
                    int64_t start, int64_t step) {
  if (ev.scalar.has_value()) {
    const auto* s = std::get_if<Scalar>(&got);
    if (s == nullptr) return "expected a scalar";
    if (!AlmostEqual(s->v, *ev.scalar)) return "scalar value differs";
    return "";
  }
  if (ev.string_value.has_value()) {
    const auto* s = std::get_if<String>(&got);
    if (s == nullptr) return "expected a string";
    return s->s == *ev.string_value ? "" : "string differs";
  }
  if (std::holds_alternative<Scalar>(got)) {
    return "got a scalar, expected series";
  }
  if (std::holds_alternative<String>(got)) return "got a string";
  if (const auto* vec = std::get_if<Vector>(&got)) {
    if (range) return "range query returned a vector";
    if (vec->size() != ev.series.size()) {
      return absl::StrCat("expected ", ev.series.size(), " samples, got ",
                          vec->size());
    }
    for (size_t k = 0; k < vec->size(); ++k) {
      const Sample& s = (*vec)[k];
      size_t found = ev.series.size();
      for (size_t e = 0; e < ev.series.size(); ++e) {
        if (ev.series[e].labels == s.metric) {
          found = e;
          break;
        }
      }
      if (found == ev.series.size()) {
        return absl::StrCat("unexpected series ", s.metric.ToString());
      }
      if (ev.ordered && found != k) {
        return absl::StrCat("series ", s.metric.ToString(), " at position ", k,
                            ", expected at ", found);
      }
      const SeriesSpec& spec = ev.series[found];
      if (spec.points.size() != 1 || spec.points[0].kind != Point::kFloat) {
        return absl::StrCat("expected a non-float for ", s.metric.ToString());
      }
      if (!AlmostEqual(spec.points[0].v, s.v)) {
        return absl::StrCat("value differs for ", s.metric.ToString());
      }
    }
    return "";
  }
  const Matrix& m = std::get<Matrix>(got);
  if (m.size() != ev.series.size()) {
    return absl::StrCat("expected ", ev.series.size(), " series, got ",
                        m.size());
  }
  for (const Series& s : m) {
    const SeriesSpec* spec = nullptr;
    for (const SeriesSpec& e : ev.series) {
      if (e.labels == s.metric) spec = &e;
    }
    if (spec == nullptr) {
      return absl::StrCat("unexpected series ", s.metric.ToString());
    }
    // Expected points, with their times for a range query.
    std::vector<std::pair<int64_t, double>> want;
    for (size_t k = 0; k < spec->points.size(); ++k) {
      const Point& p = spec->points[k];
      if (p.kind == Point::kMissing) continue;
      if (p.kind != Point::kFloat) {
        return absl::StrCat("expected a non-float for ", s.metric.ToString());
      }
      want.push_back({start + static_cast<int64_t>(k) * step, p.v});
    }
    if (want.size() != s.ts.size()) {
      return absl::StrCat("expected ", want.size(), " points for ",
                          s.metric.ToString(), ", got ", s.ts.size());
    }
    for (size_t k = 0; k < want.size(); ++k) {
      if (range && want[k].first != s.ts[k]) {
        return absl::StrCat("point time differs for ", s.metric.ToString());
      }
      if (!AlmostEqual(want[k].second, s.vs[k])) {
        return absl::StrCat("value differs for ", s.metric.ToString());
      }
    }
  }
  return "";
}

bool MatchesText(const Expectation& x, const std::string& s) {
  if (x.match == Expectation::kAny) return true;
  if (x.match == Expectation::kMsg) return s == x.text;
  RE2 re(x.text);
  return re.ok() && RE2::PartialMatch(s, re);
}

// Checks annotations against the eval's expectations; "" when fine.
std::string CheckAnnotations(const EvalCmd& ev, const Result& r) {
  bool new_style = false;
  for (const Expectation& x : ev.expects) {
    if (x.type != Expectation::kFail && x.type != Expectation::kOrdered) {
      new_style = true;
    }
  }
  if (!new_style) {
    if (ev.ordered && ev.expects.empty()) return "";
    if (!ev.warn && !r.warnings.empty()) {
      return "unexpected warnings: " + absl::StrJoin(r.warnings, "; ");
    }
    if (ev.warn && r.warnings.empty()) return "expected warnings, got none";
    if (!ev.info && !r.infos.empty()) {
      return "unexpected info annotations: " + absl::StrJoin(r.infos, "; ");
    }
    if (ev.info && r.infos.empty()) return "expected info annotations, got none";
    return "";
  }
  bool has_warn = false, has_info = false;
  for (const Expectation& x : ev.expects) {
    const std::vector<std::string>* list = nullptr;
    switch (x.type) {
      case Expectation::kWarn:
        list = &r.warnings;
        has_warn = true;
        break;
      case Expectation::kInfo:
        list = &r.infos;
        has_info = true;
        break;
      case Expectation::kNoWarn:
        if (!r.warnings.empty()) {
          return "unexpected warnings: " + absl::StrJoin(r.warnings, "; ");
        }
        continue;
      case Expectation::kNoInfo:
        if (!r.infos.empty()) {
          return "unexpected info annotations: " + absl::StrJoin(r.infos, "; ");
        }
        continue;
      default:
        continue;
    }
    bool any = false;
    for (const std::string& s : *list) any = any || MatchesText(x, s);
    if (!any) {
      return absl::StrCat("no annotation matches 'expect ",
                          x.type == Expectation::kWarn ? "warn" : "info", " ",
                          x.text, "'; got warnings [",
                          absl::StrJoin(r.warnings, "; "), "] infos [",
                          absl::StrJoin(r.infos, "; "), "]");
    }
  }
  auto all_covered = [&](const std::vector<std::string>& list,
                         Expectation::Type t) -> std::string {
    for (const std::string& s : list) {
      bool ok = false;
      for (const Expectation& x : ev.expects) {
        if (x.type == t && MatchesText(x, s)) ok = true;
      }
      if (!ok) return "unexpected annotation: " + s;
    }
    return "";
  };
  if (has_warn) {
    std::string e = all_covered(r.warnings, Expectation::kWarn);
    if (!e.empty()) return e;
  }
  if (has_info) {
    std::string e = all_covered(r.infos, Expectation::kInfo);
    if (!e.empty()) return e;
  }
  return "";
}

// Checks an error against fail expectations; "" when it was expected.
std::string CheckFailure(const EvalCmd& ev, const absl::Status& st) {
  if (!ev.fail) return absl::StrCat("unexpected error: ", st.message());
  std::string msg(st.message());
  if (ev.fail_message.has_value() && *ev.fail_message != msg &&
      msg.find(*ev.fail_message) == std::string::npos) {
    return absl::StrCat("error message differs: got \"", msg, "\"");
  }
  if (ev.fail_regexp.has_value() && !RE2::PartialMatch(msg, RE2(*ev.fail_regexp))) {
    return absl::StrCat("error does not match regexp: got \"", msg, "\"");
  }
  for (const Expectation& x : ev.expects) {
    if (x.type == Expectation::kFail && !MatchesText(x, msg) &&
        !(x.match == Expectation::kMsg && msg.find(x.text) != std::string::npos)) {
      return absl::StrCat("error message differs: got \"", msg, "\"");
    }
  }
  return "";
}

std::string RunEval(const EvalCmd& ev, const Engine& engine,
                    TrackingQueryable& q) {
  absl::StatusOr<std::unique_ptr<PreparedQuery>> pq = engine.Prepare(ev.expr);
  if (!pq.ok()) return CheckFailure(ev, pq.status());
  absl::StatusOr<Result> res =
      ev.range ? (*pq)->EvalRange(q, ev.start_ms, ev.end_ms, ev.step_ms)
               : (*pq)->EvalInstant(q, ev.start_ms);
  if (!res.ok()) return CheckFailure(ev, res.status());
  if (ev.fail) return "expected an error, got a result";
  std::string why = Compare(ev, res->value, ev.range, ev.start_ms, ev.step_ms);
  if (!why.empty()) {
    return absl::StrCat(why, "\n  expected: ", DescribeExpected(ev),
                        "\n  got: ", DescribeValue(res->value));
  }
  why = CheckAnnotations(ev, *res);
  if (!why.empty()) return why;
  // Like Prometheus, check that an instant query gives the same answer in
  // range mode (the middle step of [t-1m, t+1m]).
  if (!ev.range && !ev.ordered &&
      (std::holds_alternative<Vector>(res->value) ||
       std::holds_alternative<Scalar>(res->value))) {
    absl::StatusOr<Result> rr =
        (*pq)->EvalRange(q, ev.start_ms - 60000, ev.start_ms + 60000, 60000);
    if (!rr.ok()) {
      return absl::StrCat("range-mode evaluation failed: ", rr.status().message());
    }
    const Matrix& m = std::get<Matrix>(rr->value);
    Vector vec;
    for (const Series& s : m) {
      for (size_t k = 0; k < s.ts.size(); ++k) {
        if (s.ts[k] == ev.start_ms) vec.push_back(Sample{s.metric, s.ts[k], s.vs[k]});
      }
    }
    Value v;
    if (std::holds_alternative<Scalar>(res->value)) {
      v = Scalar{ev.start_ms, vec.empty() ? 0 : vec[0].v};
    } else {
      v = std::move(vec);
    }
    why = Compare(ev, v, false, ev.start_ms, 0);
    if (!why.empty()) {
      return absl::StrCat("range-mode result differs: ", why,
                          "\n  expected: ", DescribeExpected(ev),
                          "\n  got: ", DescribeValue(v));
    }
  }
  return "";
}

}  // namespace

std::vector<CaseResult> RunScript(const std::vector<Command>& commands,
                                  const std::string& file) {
  std::vector<CaseResult> results;
  EngineOptions eo;
  eo.lookback_delta_ms = 300000;
  eo.enable_delayed_name_removal = true;
  eo.enable_experimental_functions = true;
  // Each query runs once here, and the histogram accounting needs to see
  // every selection with its time range.
  eo.cache_selected_series = false;
  Engine engine(eo);
  auto head = std::make_unique<storage::Head>(storage::HeadOptions{},
                                              Clock::Real());
  std::vector<HistogramSeries> histogram_series;
  for (const Command& cmd : commands) {
    switch (cmd.kind) {
      case Command::kClear:
        head = std::make_unique<storage::Head>(storage::HeadOptions{},
                                               Clock::Real());
        histogram_series.clear();
        break;
      case Command::kLoad: {
        // A series listed twice in one load: the later points win, as when
        // Prometheus commits them together.
        std::vector<SeriesSpec> merged;
        for (const SeriesSpec& s : cmd.load.series) {
          SeriesSpec* prev = nullptr;
          for (SeriesSpec& m : merged) {
            if (m.labels == s.labels) prev = &m;
          }
          if (prev == nullptr) {
            merged.push_back(s);
            continue;
          }
          for (size_t k = 0; k < s.points.size(); ++k) {
            if (k >= prev->points.size()) {
              prev->points.push_back(s.points[k]);
            } else if (s.points[k].kind != Point::kMissing) {
              prev->points[k] = s.points[k];
            }
          }
          prev->has_histogram = prev->has_histogram || s.has_histogram;
        }
        for (const SeriesSpec& s : merged) {
          if (s.has_histogram) {
            HistogramSeries h{s.labels, {}};
            for (size_t k = 0; k < s.points.size(); ++k) {
              if (s.points[k].kind == Point::kHistogram) {
                h.ts.push_back(static_cast<int64_t>(k) * cmd.load.interval_ms);
              }
            }
            histogram_series.push_back(std::move(h));
          }
          std::string mname(s.labels.MetricName());
          if (cmd.load.with_nhcb && absl::EndsWith(mname, "_bucket") &&
              s.labels.Has("le")) {
            // load_with_nhcb also creates a custom-bucket histogram series
            // named without the _bucket suffix.
            storage::LabelsBuilder b(s.labels);
            b.Del("le");
            b.Set("__name__", mname.substr(0, mname.size() - 7));
            HistogramSeries h{b.Build(), {}};
            for (size_t k = 0; k < s.points.size(); ++k) {
              if (s.points[k].kind == Point::kFloat) {
                h.ts.push_back(static_cast<int64_t>(k) * cmd.load.interval_ms);
              }
            }
            histogram_series.push_back(std::move(h));
          }
          std::vector<storage::Sample> samples;
          for (size_t k = 0; k < s.points.size(); ++k) {
            const Point& p = s.points[k];
            int64_t t = static_cast<int64_t>(k) * cmd.load.interval_ms;
            if (p.kind == Point::kFloat) {
              samples.push_back({t, p.v});
            } else if (p.kind == Point::kStale) {
              samples.push_back({t, storage::StaleNaN()});
            }
          }
          storage::SeriesSamples batch{&s.labels, samples};
          absl::StatusOr<storage::AppendStats> st =
              head->Append(absl::MakeConstSpan(&batch, 1));
          (void)st;
        }
        break;
      }
      case Command::kEval: {
        TrackingQueryable q(*head, histogram_series);
        CaseResult r;
        r.file = file;
        r.line = cmd.line;
        r.command = cmd.text;
        r.message = RunEval(cmd.eval, engine, q);
        r.passed = r.message.empty();
        r.histogram = cmd.eval.expects_histogram || q.touched_histogram();
        results.push_back(std::move(r));
        break;
      }
    }
  }
  return results;
}

}  // namespace vigil::promql::promqltest
