// AST -> PromQL text, following Prometheus' printer (String()) conventions.
#include "promql/parser/printer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "promql/parser/functions.h"
#include "promql/parser/lexer.h"
#include "storage/labels.h"

namespace vigil::promql::parser {
namespace {

// Debian's Abseil keeps its own string_view type; bridge std::string_view.
inline absl::string_view AV(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}
inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

bool IsLegacyLabelName(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool IsLegacyMetricName(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = c == '_' || c == ':' || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string LabelName(std::string_view s) {
  return IsLegacyLabelName(s) ? std::string(s) : GoQuote(s);
}

std::string JoinLabels(const std::vector<std::string>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) {
      out += ", ";
    }
    out += LabelName(labels[i]);
  }
  return out;
}

std::string MatcherString(const storage::Matcher& m) {
  std::string_view op = "=";
  switch (m.type()) {
    case storage::MatchType::kEqual:
      op = "=";
      break;
    case storage::MatchType::kNotEqual:
      op = "!=";
      break;
    case storage::MatchType::kRegexMatch:
      op = "=~";
      break;
    case storage::MatchType::kRegexNoMatch:
      op = "!~";
      break;
  }
  return absl::StrCat(LabelName(m.name()), AV(op), GoQuote(m.value()));
}

std::string AtString(const AtSpec& at) {
  switch (at.modifier) {
    case AtModifier::kNone:
      return "";
    case AtModifier::kStart:
      return " @ start()";
    case AtModifier::kEnd:
      return " @ end()";
    case AtModifier::kTimestamp:
      return absl::StrFormat(" @ %.3f",
                             static_cast<double>(at.timestamp_ms) / 1000.0);
  }
  return "";
}

std::string OffsetString(int64_t ms, const ExprPtr& expr) {
  if (expr) {
    return absl::StrCat(" offset ", Format(*expr));
  }
  if (ms > 0) {
    return absl::StrCat(" offset ", FormatDuration(ms));
  }
  if (ms < 0) {
    return absl::StrCat(" offset ", FormatDuration(ms));  // "-5m"
  }
  return "";
}

std::string DurationString(int64_t ms, const ExprPtr& expr) {
  return expr ? Format(*expr) : FormatDuration(ms);
}

// The selector without its offset and @ (used inside matrix selectors).
std::string SelectorBody(const VectorSelector& vs) {
  std::vector<std::string> parts;
  parts.reserve(vs.matchers.size());
  bool name_outside = !vs.name.empty() && IsLegacyMetricName(vs.name);
  for (const auto& m : vs.matchers) {
    if (name_outside && m.name() == storage::kMetricNameLabel &&
        m.type() == storage::MatchType::kEqual && m.value() == vs.name) {
      name_outside = true;
      continue;
    }
    parts.push_back(MatcherString(m));
  }
  std::sort(parts.begin(), parts.end());
  std::string name = name_outside ? vs.name : "";
  if (parts.empty()) {
    // `{}` only reaches here inside info(); keep it parseable.
    return name.empty() ? "{}" : name;
  }
  return absl::StrCat(name, "{", absl::StrJoin(parts, ","), "}");
}

void Print(const Expr& e, std::string* out);

// Print() recurses once per tree level; the string building for each kind
// lives in out-of-line helpers so that the recursive frame stays small.
[[gnu::noinline]] void PrintLeaf(const Expr& e, std::string* out) {
  switch (e.kind) {
    case ExprKind::kNumberLiteral: {
      const auto& n = static_cast<const NumberLiteral&>(e);
      if (n.is_duration && std::isfinite(n.value)) {
        int64_t ms = std::llround(n.value * 1000.0);
        if (ms < 0) {
          absl::StrAppend(out, "-", FormatDuration(-ms));
        } else {
          absl::StrAppend(out, FormatDuration(ms));
        }
      } else {
        absl::StrAppend(out, FormatFloat(n.value));
      }
      return;
    }
    case ExprKind::kStringLiteral:
      absl::StrAppend(out, GoQuote(static_cast<const StringLiteral&>(e).value));
      return;
    case ExprKind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      absl::StrAppend(out, SelectorBody(vs), AtString(vs.at),
                      OffsetString(vs.offset_ms, vs.offset_expr));
      return;
    }
    case ExprKind::kMatrixSelector: {
      const auto& m = static_cast<const MatrixSelector&>(e);
      const VectorSelector& vs = m.selector();
      absl::StrAppend(
          out, SelectorBody(vs), "[", DurationString(m.range_ms, m.range_expr),
          "]", AtString(vs.at), OffsetString(vs.offset_ms, vs.offset_expr));
      return;
    }
    default:
      return;
  }
}

[[gnu::noinline]] void PrintSubquerySuffix(const SubqueryExpr& s,
                                           std::string* out) {
  absl::StrAppend(out, "[", DurationString(s.range_ms, s.range_expr), ":");
  if (s.step_expr || s.step_ms != 0) {
    absl::StrAppend(out, DurationString(s.step_ms, s.step_expr));
  }
  absl::StrAppend(out, "]", AtString(s.at),
                  OffsetString(s.offset_ms, s.offset_expr));
}

// A signed literal before `^` would re-parse as a unary operator over the
// power (`-2 ^ 2` is -(2 ^ 2)); print it so the tree stays the same.
[[gnu::noinline]] void PrintPowLiteral(const Expr& lhs, std::string* out) {
  std::string lit = Format(lhs);
  if (lit[0] == '+') {
    lit.erase(0, 1);
  } else if (lit[0] == '-') {
    lit = absl::StrCat("(", lit, ")");
  }
  out->append(lit);
}

[[gnu::noinline]] void PrintBinaryOp(const BinaryExpr& b, std::string* out) {
  absl::StrAppend(out, " ", AV(BinaryOpName(b.op)));
  if (b.return_bool) {
    absl::StrAppend(out, " bool");
  }
  if (b.matching) {
    const VectorMatching& vm = *b.matching;
    const bool grouped = vm.card == VectorMatchCardinality::kManyToOne ||
                         vm.card == VectorMatchCardinality::kOneToMany;
    if (!vm.matching_labels.empty() || vm.on || grouped) {
      absl::StrAppend(out, vm.on ? " on (" : " ignoring (",
                      JoinLabels(vm.matching_labels), ")");
      if (grouped) {
        absl::StrAppend(out,
                        vm.card == VectorMatchCardinality::kManyToOne
                            ? " group_left ("
                            : " group_right (",
                        JoinLabels(vm.include), ")");
      }
    }
  }
  out->push_back(' ');
}

[[gnu::noinline]] void PrintAggregateHead(const AggregateExpr& a,
                                          std::string* out) {
  absl::StrAppend(out, AV(AggregateOpName(a.op)));
  if (a.without) {
    absl::StrAppend(out, " without (", JoinLabels(a.grouping), ") ");
  } else if (!a.grouping.empty()) {
    absl::StrAppend(out, " by (", JoinLabels(a.grouping), ") ");
  }
  out->push_back('(');
}

void Print(const Expr& e, std::string* out) {
  switch (e.kind) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
    case ExprKind::kVectorSelector:
    case ExprKind::kMatrixSelector:
      PrintLeaf(e, out);
      return;
    case ExprKind::kSubquery: {
      const auto& s = static_cast<const SubqueryExpr&>(e);
      Print(*s.expr, out);
      PrintSubquerySuffix(s, out);
      return;
    }
    case ExprKind::kParen:
      out->push_back('(');
      Print(*static_cast<const ParenExpr&>(e).expr, out);
      out->push_back(')');
      return;
    case ExprKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      out->append(BinaryOpName(u.op));
      Print(*u.expr, out);
      return;
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      if (b.op == BinaryOp::kPow && b.lhs->kind == ExprKind::kNumberLiteral) {
        PrintPowLiteral(*b.lhs, out);
      } else {
        Print(*b.lhs, out);
      }
      PrintBinaryOp(b, out);
      Print(*b.rhs, out);
      return;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      PrintAggregateHead(a, out);
      if (a.param) {
        Print(*a.param, out);
        out->append(", ");
      }
      Print(*a.expr, out);
      out->push_back(')');
      return;
    }
    case ExprKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      out->append(c.func->name);
      out->push_back('(');
      for (size_t i = 0; i < c.args.size(); ++i) {
        if (i > 0) {
          out->append(", ");
        }
        Print(*c.args[i], out);
      }
      out->push_back(')');
      return;
    }
    case ExprKind::kStepInvariant:
      Print(*static_cast<const StepInvariantExpr&>(e).expr, out);
      return;
  }
}

}  // namespace

std::string Format(const Expr& e) {
  std::string out;
  Print(e, &out);
  return out;
}

std::string FormatDuration(int64_t ms) {
  if (ms < 0) {
    if (ms == INT64_MIN) {
      ms = INT64_MIN + 1;
    }
    return absl::StrCat("-", FormatDuration(-ms));
  }
  if (ms == 0) {
    return "0s";
  }
  std::string r;
  auto unit = [&](std::string_view name, int64_t mult, bool exact) {
    if (exact && ms % mult != 0) {
      return;
    }
    int64_t v = ms / mult;
    if (v > 0) {
      absl::StrAppend(&r, v, AV(name));
      ms -= v * mult;
    }
  };
  // Years and weeks only when exact, as "90d" reads better than "12w6d".
  unit("y", 1000LL * 60 * 60 * 24 * 365, true);
  unit("w", 1000LL * 60 * 60 * 24 * 7, true);
  unit("d", 1000LL * 60 * 60 * 24, false);
  unit("h", 1000LL * 60 * 60, false);
  unit("m", 1000LL * 60, false);
  unit("s", 1000LL, false);
  unit("ms", 1, false);
  return r;
}

std::string FormatFloat(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  if (v == 0) {
    return std::signbit(v) ? "-0" : "0";
  }
  // Shortest digits that round-trip.
  char buf[64];
  int prec = 1;
  for (; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
    if (std::strtod(buf, nullptr) == v) {
      break;
    }
  }
  std::string s(buf);
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    s.erase(0, 1);
  }
  size_t epos = s.find('e');
  int exp10 = std::atoi(s.c_str() + epos + 1);
  std::string digits;
  for (size_t i = 0; i < epos; ++i) {
    if (s[i] != '.') {
      digits.push_back(s[i]);
    }
  }
  while (digits.size() > 1 && digits.back() == '0') {
    digits.pop_back();
  }
  std::string out = neg ? "-" : "";
  if (exp10 < -4 || exp10 >= 6) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
      out += ".";
      out += digits.substr(1);
    }
    absl::StrAppendFormat(&out, "e%c%02d", exp10 < 0 ? '-' : '+',
                          std::abs(exp10));
    return out;
  }
  const int dp = exp10 + 1;
  const int nd = static_cast<int>(digits.size());
  if (dp <= 0) {
    out += "0.";
    out.append(-dp, '0');
    out += digits;
  } else if (dp >= nd) {
    out += digits;
    out.append(dp - nd, '0');
  } else {
    out += digits.substr(0, dp);
    out += ".";
    out += digits.substr(dp);
  }
  return out;
}

}  // namespace vigil::promql::parser
