#include "promql/promqltest/script.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace vigil::promql::promqltest {
namespace {

std::string_view Trim(std::string_view s) {
  return absl::StripAsciiWhitespace(s);
}

absl::Status Err(int line, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("line ", line, ": ", what));
}

// Decodes a Go string literal ("...", '...' or `...`).
absl::StatusOr<std::string> UnquoteGo(std::string_view q) {
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
size_t QuotedLen(std::string_view s) {
  char q = s[0];
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] == '\\' && q != '`') {
      ++i;
    } else if (s[i] == q) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

bool IsNameChar(char c) {
  return absl::ascii_isalnum(c) || c == '_' || c == ':';
}

// Go's ParseFloat accepts "Inf", "+Inf", "NaN" in any case; strtod does too.
bool ParseNumber(std::string_view s, double* out) {
  if (s.empty()) return false;
  std::string str(s);
  std::string lower = absl::AsciiStrToLower(str);
  std::string_view l = lower;
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
  if (absl::StartsWith(l, "0x")) {
    long long v = std::strtoll(str.c_str(), &end, 16);
    if (end != str.c_str() + str.size()) return false;
    *out = static_cast<double>(v);
    return true;
  }
  *out = std::strtod(str.c_str(), &end);
  return end == str.c_str() + str.size();
}

// Splits a points description into tokens, keeping `{{...}}` together.
std::vector<std::string_view> TokenizePoints(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && absl::ascii_isspace(s[i])) ++i;
    if (i >= s.size()) break;
    size_t start = i;
    while (i < s.size() && !absl::ascii_isspace(s[i])) {
      if (s.substr(i, 2) == "{{") {
        size_t end = s.find("}}", i);
        i = end == std::string_view::npos ? s.size() : end + 2;
      } else {
        ++i;
      }
    }
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

}  // namespace

absl::StatusOr<int64_t> ParseDurationMs(std::string_view s) {
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
    std::string_view unit = s.substr(us, i - us);
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

absl::StatusOr<storage::Labels> ParseSeriesDesc(std::string_view s) {
  s = Trim(s);
  std::vector<storage::Label> labels;
  size_t i = 0;
  while (i < s.size() && IsNameChar(s[i])) ++i;
  if (i > 0) labels.push_back({"__name__", std::string(s.substr(0, i))});
  if (i < s.size()) {
    if (s[i] != '{' || s.back() != '}') {
      return absl::InvalidArgumentError(absl::StrCat("bad series: ", s));
    }
    std::string_view body = s.substr(i + 1, s.size() - i - 2);
    size_t j = 0;
    auto skip_ws = [&] {
      while (j < body.size() && absl::ascii_isspace(body[j])) ++j;
    };
    auto read_token = [&]() -> absl::StatusOr<std::string> {
      skip_ws();
      if (j >= body.size()) return absl::InvalidArgumentError("unexpected end");
      if (body[j] == '"' || body[j] == '\'' || body[j] == '`') {
        size_t n = QuotedLen(body.substr(j));
        if (n == std::string_view::npos) {
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

absl::StatusOr<std::vector<Point>> ParsePoints(std::string_view s) {
  std::vector<Point> out;
  for (std::string_view tok : TokenizePoints(s)) {
    if (absl::StartsWith(tok, "{{")) {
      // Histograms: count the points, keep no values.
      size_t close = tok.rfind("}}");
      int64_t n = 0;
      if (close + 2 < tok.size()) {
        std::string_view rest = tok.substr(close + 2);
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
        std::string_view rest = tok.substr(1);
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
    if (x == std::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad point: ", tok));
    }
    int64_t n = 0;
    if (!absl::SimpleAtoi(tok.substr(x + 1), &n) || n < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad point: ", tok));
    }
    std::string_view head = tok.substr(0, x);
    size_t op = std::string_view::npos;
    for (size_t k = 1; k < head.size(); ++k) {
      if ((head[k] == '+' || head[k] == '-') && head[k - 1] != 'e' &&
          head[k - 1] != 'E') {
        op = k;
        break;
      }
    }
    double start, inc = 0;
    if (op == std::string_view::npos) {
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
absl::StatusOr<std::pair<std::string_view, std::string_view>> SplitSeriesLine(
    std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (IsNameChar(line[i]) || line[i] == '.')) ++i;
  if (i < line.size() && line[i] == '{') {
    while (i < line.size() && line[i] != '}') {
      if (line[i] == '"' || line[i] == '\'' || line[i] == '`') {
        size_t n = QuotedLen(line.substr(i));
        if (n == std::string_view::npos) {
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

bool IsIndented(std::string_view raw) {
  return !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
}

}  // namespace

absl::StatusOr<std::vector<Command>> ParseScript(std::string_view text) {
  std::vector<std::string_view> lines = absl::StrSplit(text, '\n');
  std::vector<Command> cmds;
  size_t i = 0;
  auto body_line = [&](size_t k) -> bool {
    // Lines belonging to the preceding command: anything that is not blank,
    // not a comment and not a new command.
    std::string_view t = Trim(lines[k]);
    if (t.empty()) return false;
    if (IsIndented(lines[k])) return true;
    return !(absl::StartsWith(t, "eval") || absl::StartsWith(t, "load") ||
             t == "clear");
  };
  while (i < lines.size()) {
    std::string_view raw = lines[i];
    std::string_view t = Trim(raw);
    int lineno = static_cast<int>(i) + 1;
    ++i;
    if (t.empty() || absl::StartsWith(t, "#")) continue;
    Command cmd;
    cmd.line = lineno;
    cmd.text = std::string(t);
    std::vector<std::string_view> words =
        absl::StrSplit(t, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    std::string_view verb = words[0];
    if (verb == "clear") {
      cmd.kind = Command::kClear;
      cmds.push_back(std::move(cmd));
      continue;
    }
    // Gather the body: following non-blank lines, comments skipped.
    std::vector<std::pair<int, std::string_view>> body;
    while (i < lines.size() && body_line(i)) {
      std::string_view b = Trim(lines[i]);
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
    std::string_view rest = Trim(t.substr(verb.size()));
    if (absl::ConsumePrefix(&rest, "instant")) {
      rest = Trim(rest);
      if (!absl::ConsumePrefix(&rest, "at")) return Err(lineno, "expected 'at'");
      rest = Trim(rest);
      size_t sp = rest.find_first_of(" \t");
      if (sp == std::string_view::npos) return Err(lineno, "missing expression");
      auto at = ParseDurationMs(rest.substr(0, sp));
      if (!at.ok()) return Err(lineno, at.status().message());
      ev.start_ms = ev.end_ms = *at;
      ev.expr = std::string(Trim(rest.substr(sp)));
    } else if (absl::ConsumePrefix(&rest, "range")) {
      ev.range = true;
      std::vector<std::string_view> w =
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
        std::string_view e = Trim(b.substr(7));
        Expectation x;
        size_t sp = e.find_first_of(" \t");
        std::string_view type = e.substr(0, sp);
        std::string_view tail =
            sp == std::string_view::npos ? "" : Trim(e.substr(sp));
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
