// Recursive-descent (precedence-climbing) PromQL parser with Prometheus 3.5's
// grammar, error texts and type checks. The input is tokenized up front;
// the first error, syntactic or semantic, ends the parse.
#include "promql/parser/parser.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

// Largest |duration| in seconds that fits Go's time.Duration (ns in int64).
constexpr double kMaxDurationSeconds = 9223372036.854775807;

std::optional<BinaryOp> BinOpFor(Tok t) {
  switch (t) {
    case Tok::kAdd:
      return BinaryOp::kAdd;
    case Tok::kSub:
      return BinaryOp::kSub;
    case Tok::kMul:
      return BinaryOp::kMul;
    case Tok::kDiv:
      return BinaryOp::kDiv;
    case Tok::kMod:
      return BinaryOp::kMod;
    case Tok::kPow:
      return BinaryOp::kPow;
    case Tok::kAtan2:
      return BinaryOp::kAtan2;
    case Tok::kEqlc:
      return BinaryOp::kEql;
    case Tok::kNeq:
      return BinaryOp::kNeq;
    case Tok::kGtr:
      return BinaryOp::kGtr;
    case Tok::kLss:
      return BinaryOp::kLss;
    case Tok::kGte:
      return BinaryOp::kGte;
    case Tok::kLte:
      return BinaryOp::kLte;
    case Tok::kLand:
      return BinaryOp::kAnd;
    case Tok::kLor:
      return BinaryOp::kOr;
    case Tok::kLunless:
      return BinaryOp::kUnless;
    default:
      return std::nullopt;
  }
}

std::optional<AggregateOp> AggOpFor(Tok t) {
  switch (t) {
    case Tok::kSum:
      return AggregateOp::kSum;
    case Tok::kAvg:
      return AggregateOp::kAvg;
    case Tok::kCount:
      return AggregateOp::kCount;
    case Tok::kMin:
      return AggregateOp::kMin;
    case Tok::kMax:
      return AggregateOp::kMax;
    case Tok::kGroup:
      return AggregateOp::kGroup;
    case Tok::kStddev:
      return AggregateOp::kStddev;
    case Tok::kStdvar:
      return AggregateOp::kStdvar;
    case Tok::kTopk:
      return AggregateOp::kTopk;
    case Tok::kBottomk:
      return AggregateOp::kBottomk;
    case Tok::kCountValues:
      return AggregateOp::kCountValues;
    case Tok::kQuantile:
      return AggregateOp::kQuantile;
    case Tok::kLimitk:
      return AggregateOp::kLimitk;
    case Tok::kLimitRatio:
      return AggregateOp::kLimitRatio;
    default:
      return std::nullopt;
  }
}

// Tokens that may name a metric outside braces (Prometheus'
// metric_identifier rule).
bool IsMetricNameTok(Tok t) {
  switch (t) {
    case Tok::kIdentifier:
    case Tok::kMetricIdentifier:
    case Tok::kBy:
    case Tok::kWithout:
    case Tok::kOffset:
    case Tok::kLand:
    case Tok::kLor:
    case Tok::kLunless:
    case Tok::kStart:
    case Tok::kEnd:
      return true;
    default:
      return IsAggregatorTok(t);
  }
}

// Tokens accepted as label names in by(...), on(...), group_left(...)
// (Prometheus' maybe_label rule).
bool IsGroupingLabelTok(Tok t) {
  switch (t) {
    case Tok::kIdentifier:
    case Tok::kMetricIdentifier:
    case Tok::kLand:
    case Tok::kLor:
    case Tok::kLunless:
    case Tok::kAtan2:
      return true;
    default:
      return IsAggregatorTok(t) || IsKeywordTok(t);
  }
}

bool IsDurationStart(Tok t) {
  return t == Tok::kNumber || t == Tok::kDuration || t == Tok::kAdd ||
         t == Tok::kSub || t == Tok::kLeftParen;
}

// Go's ValueType strings ("matrix", "vector", ...), used by one message.
std::string_view RawTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNone:
      return "none";
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "vector";
    case ValueType::kMatrix:
      return "matrix";
    case ValueType::kString:
      return "string";
  }
  return "none";
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    int w;
    int r = DecodeRuneAt(s, i, &w);
    if (r == 0xFFFD && w == 1) {
      return false;
    }
    i += w;
  }
  return true;
}

// Go strconv.ParseInt(s, 0, 64) for the forms the lexer produces, then
// strconv.ParseFloat. Returns nullopt when neither accepts s; *out_of_range
// tells a too-large value from bad syntax.
std::optional<double> ParseNumberText(std::string_view s, bool* out_of_range) {
  *out_of_range = false;
  std::string lower = Lower(s);
  if (lower == "inf") {
    return std::numeric_limits<double>::infinity();
  }
  if (lower == "nan") {
    return std::numeric_limits<double>::quiet_NaN();
  }
  // Integer forms. Underscores must sit between digits (or after a 0x).
  {
    std::string_view body = s;
    int base = 10;
    if (body.size() > 2 && body[0] == '0' &&
        (body[1] == 'x' || body[1] == 'X')) {
      base = 16;
      body.remove_prefix(2);
      if (!body.empty() && body[0] == '_') {
        body.remove_prefix(1);
      }
    } else if (body.size() > 1 && body[0] == '0') {
      base = 8;
      body.remove_prefix(1);
    }
    bool ok = !body.empty() || base == 8;
    uint64_t v = 0;
    bool overflow = false;
    char prev = 0;
    for (size_t i = 0; ok && i < body.size(); ++i) {
      char c = body[i];
      if (c == '_') {
        if (prev == '_' || prev == 0 || i + 1 == body.size()) {
          ok = false;
        }
        prev = c;
        continue;
      }
      int d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        ok = false;
        break;
      }
      if (d >= base) {
        ok = false;
        break;
      }
      if (v > (static_cast<uint64_t>(INT64_MAX) - d) / base) {
        overflow = true;
      }
      v = v * base + d;
      prev = c;
    }
    if (ok && !overflow) {
      return static_cast<double>(v);
    }
  }
  // Decimal floats (Go allows no underscores here without a base prefix).
  if (s.find('_') != s.npos) {
    return std::nullopt;
  }
  std::string buf(s);
  char* end = nullptr;
  errno = 0;
  double d = std::strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size()) {
    return std::nullopt;
  }
  // Go's ParseFloat reports overflow as an error (value +-Inf).
  if (errno == ERANGE && std::isinf(d)) {
    *out_of_range = true;
    return std::nullopt;
  }
  return d;
}

// Unescapes a lexed string token (quotes included). The lexer has already
// validated every escape.
std::string Unquote(std::string_view raw) {
  if (raw.size() < 2) {
    return std::string();
  }
  const char q = raw[0];
  std::string_view body = raw.substr(1, raw.size() - 2);
  if (q == '`') {
    return std::string(body);
  }
  std::string out;
  out.reserve(body.size());
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out.push_back(c);
      continue;
    }
    char e = body[++i];
    auto hex_val = [](char h) -> int {
      if (h >= '0' && h <= '9') return h - '0';
      if (h >= 'a' && h <= 'f') return h - 'a' + 10;
      if (h >= 'A' && h <= 'F') return h - 'A' + 10;
      return 0;
    };
    switch (e) {
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x': {
        int v = 0;
        for (int k = 0; k < 2 && i + 1 < body.size(); ++k) {
          v = v * 16 + hex_val(body[++i]);
        }
        out.push_back(static_cast<char>(v));
        break;
      }
      case 'u':
      case 'U': {
        int n = e == 'u' ? 4 : 8;
        int v = 0;
        for (int k = 0; k < n && i + 1 < body.size(); ++k) {
          v = v * 16 + hex_val(body[++i]);
        }
        out += EncodeUtf8(v);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          for (int k = 0; k < 2 && i + 1 < body.size(); ++k) {
            v = v * 8 + (body[++i] - '0');
          }
          out.push_back(static_cast<char>(v));
        } else {
          out.push_back(e);  // \\ \' \"
        }
        break;
    }
  }
  return out;
}

// Folds a duration expression (number literals in seconds, + - * / % ^,
// unary minus, parentheses) into seconds.
double EvalDuration(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kNumberLiteral:
      return static_cast<const NumberLiteral&>(e).value;
    case ExprKind::kParen:
      return EvalDuration(*static_cast<const ParenExpr&>(e).expr);
    case ExprKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      double v = EvalDuration(*u.expr);
      return u.op == BinaryOp::kSub ? -v : v;
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      double l = EvalDuration(*b.lhs);
      double r = EvalDuration(*b.rhs);
      switch (b.op) {
        case BinaryOp::kAdd:
          return l + r;
        case BinaryOp::kSub:
          return l - r;
        case BinaryOp::kMul:
          return l * r;
        case BinaryOp::kDiv:
          return l / r;
        case BinaryOp::kMod:
          return std::fmod(l, r);
        case BinaryOp::kPow:
          return std::pow(l, r);
        default:
          return 0;
      }
    }
    default:
      return 0;
  }
}

class Parser {
 public:
  Parser(std::string_view input, const ParseOptions& opts)
      : in_(input), opts_(opts), toks_(Lex(input)) {}

  absl::StatusOr<std::unique_ptr<Expr>> ParseTop() {
    if (toks_.size() == 1 && toks_[0].type == Tok::kEof) {
      Fail(0, "no expression found in input");
      return Error();
    }
    ExprPtr e = ParseExpr(0);
    if (!failed() && Peek().type != Tok::kEof) {
      Unexpected(Peek(), "", "");
    }
    if (!failed()) {
      Check(e.get());
    }
    if (failed()) {
      return Error();
    }
    return e;
  }

  absl::StatusOr<std::vector<storage::Matcher>> ParseSelectorOnly() {
    ExprPtr e;
    const Token& t = Peek();
    if (t.type == Tok::kLeftBrace) {
      e = ParseSelector(nullptr);
    } else if (IsMetricNameTok(t.type)) {
      const Token& name = Next();
      e = ParseSelector(&name);
    } else if (t.type == Tok::kEof && idx_ == 0) {
      Fail(0, "unexpected end of input");
    } else {
      Unexpected(t, "", "");
    }
    if (!failed() && Peek().type != Tok::kEof) {
      Unexpected(Peek(), "", "");
    }
    if (failed()) {
      return Error();
    }
    return std::move(static_cast<VectorSelector&>(*e).matchers);
  }

 private:
  // ---- token stream ----
  const Token& Peek(size_t k = 0) const {
    return toks_[std::min(idx_ + k, toks_.size() - 1)];
  }
  const Token& Next() {
    const Token& t = toks_[idx_];
    if (idx_ + 1 < toks_.size()) {
      ++idx_;
    }
    last_end_ = t.pos + static_cast<int>(t.val.size());
    return t;
  }

  // ---- errors ----
  bool failed() const { return err_pos_ >= 0; }
  std::nullptr_t Fail(int pos, std::string msg) {
    if (!failed()) {
      err_pos_ = std::max(pos, 0);
      err_ = std::move(msg);
    }
    return nullptr;
  }
  [[gnu::noinline]] std::nullptr_t Unexpected(const Token& t,
                                              std::string_view context,
                                              std::string_view expected) {
    if (t.type == Tok::kError) {
      return Fail(t.pos, t.error);
    }
    std::string msg = absl::StrCat("unexpected ", TokenDesc(t));
    if (!context.empty()) {
      absl::StrAppend(&msg, " in ", AV(context));
    }
    if (!expected.empty()) {
      absl::StrAppend(&msg, ", expected ", AV(expected));
    }
    return Fail(t.pos, std::move(msg));
  }
  absl::Status Error() const {
    int line = 1;
    int last_nl = -1;
    const int pos = std::min<int>(err_pos_, static_cast<int>(in_.size()));
    for (int i = 0; i < pos; ++i) {
      if (in_[i] == '\n') {
        ++line;
        last_nl = i;
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat(line, ":", pos - last_nl, ": parse error: ", err_));
  }
  // Error helpers stay out of line so the recursive parse functions keep
  // small stack frames (deep nesting must fit in a thread's stack).
  [[gnu::noinline]] std::nullptr_t FailTooDeep(int pos) {
    return Fail(pos, absl::StrCat("expression nests deeper than ",
                                  opts_.max_depth, " levels"));
  }
  bool CheckHeight(Expr& e) {
    if (e.height > opts_.max_depth) {
      FailTooDeep(e.pos.start);
      return false;
    }
    return true;
  }

  // RAII guard bounding parser recursion.
  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p_(p) { ++p_->depth_; }
    ~DepthGuard() { --p_->depth_; }
    bool ok() const { return p_->depth_ <= p_->opts_.max_depth; }
    Parser* p_;
  };

  // ---- expressions ----
  ExprPtr ParseExpr(int min_prec) {
    DepthGuard guard(this);
    if (!guard.ok()) {
      return FailTooDeep(Peek().pos);
    }
    ExprPtr lhs = ParseUnary();
    if (!lhs) {
      return nullptr;
    }
    while (true) {
      const Token& t = Peek();
      std::optional<BinaryOp> op = BinOpFor(t.type);
      if (!op) {
        break;
      }
      const int prec = BinaryOpPrecedence(*op);
      if (prec < min_prec) {
        break;
      }
      Next();
      auto b = std::make_unique<BinaryExpr>();
      b->op = *op;
      b->op_pos = {t.pos, t.pos + static_cast<int>(t.val.size())};
      if (!ParseBinaryModifiers(b.get())) {
        return nullptr;
      }
      ExprPtr rhs = ParseExpr(*op == BinaryOp::kPow ? prec : prec + 1);
      if (!rhs) {
        return nullptr;
      }
      b->pos = {lhs->pos.start, rhs->pos.end};
      b->height = std::max(lhs->height, rhs->height) + 1;
      b->lhs = std::move(lhs);
      b->rhs = std::move(rhs);
      if (!CheckHeight(*b)) {
        return nullptr;
      }
      lhs = std::move(b);
    }
    return lhs;
  }

  // `bool`, `on(...)`/`ignoring(...)`, `group_left(...)`/`group_right(...)`
  // after a binary operator. Sets b->matching (checks may clear it later).
  [[gnu::noinline]] bool ParseBinaryModifiers(BinaryExpr* b) {
    VectorMatching vm;
    if (Peek().type == Tok::kBool) {
      Next();
      b->return_bool = true;
    }
    if (Peek().type == Tok::kOn || Peek().type == Tok::kIgnoring) {
      vm.on = Next().type == Tok::kOn;
      if (!ParseGroupingLabels(&vm.matching_labels)) {
        return false;
      }
      if (Peek().type == Tok::kGroupLeft || Peek().type == Tok::kGroupRight) {
        vm.card = Next().type == Tok::kGroupLeft
                      ? VectorMatchCardinality::kManyToOne
                      : VectorMatchCardinality::kOneToMany;
        if (Peek().type == Tok::kLeftParen &&
            !ParseGroupingLabels(&vm.include)) {
          return false;
        }
      }
    }
    b->matching = std::move(vm);
    return true;
  }

  [[gnu::noinline]] ExprPtr ParseUnary() {
    const Token& t = Peek();
    if (t.type == Tok::kAdd || t.type == Tok::kSub) {
      Next();
      // Unary operators bind like `*`: looser than `^`, so -2^2 == -(2^2).
      ExprPtr operand = ParseExpr(BinaryOpPrecedence(BinaryOp::kPow));
      if (!operand) {
        return nullptr;
      }
      if (operand->kind == ExprKind::kNumberLiteral) {
        auto& n = static_cast<NumberLiteral&>(*operand);
        if (t.type == Tok::kSub) {
          n.value = -n.value;
        }
        n.pos.start = t.pos;
        return operand;
      }
      auto u = std::make_unique<UnaryExpr>();
      u->op = t.type == Tok::kSub ? BinaryOp::kSub : BinaryOp::kAdd;
      u->pos = {t.pos, operand->pos.end};
      u->height = operand->height + 1;
      u->expr = std::move(operand);
      if (!CheckHeight(*u)) {
        return nullptr;
      }
      return u;
    }
    ExprPtr prim = ParsePrimary();
    if (!prim) {
      return nullptr;
    }
    return ParsePostfix(std::move(prim));
  }

  [[gnu::noinline]] ExprPtr ParseNumberToken(const Token& t) {
    auto n = std::make_unique<NumberLiteral>();
    n->pos = {t.pos, t.pos + static_cast<int>(t.val.size())};
    if (t.type == Tok::kDuration) {
      absl::StatusOr<int64_t> ms = ParseDuration(t.val);
      if (!ms.ok()) {
        return Fail(t.pos, std::string(ms.status().message()));
      }
      n->value = static_cast<double>(*ms) / 1000.0;
      n->is_duration = true;
      return n;
    }
    bool out_of_range = false;
    std::optional<double> v = ParseNumberText(t.val, &out_of_range);
    if (!v) {
      return Fail(
          t.pos,
          absl::StrCat(
              "error parsing number: strconv.ParseFloat: parsing ",
              GoQuote(t.val),
              out_of_range ? ": value out of range" : ": invalid syntax"));
    }
    n->value = *v;
    return n;
  }

  [[gnu::noinline]] ExprPtr ParseString() {
    const Token& t = Next();
    auto s = std::make_unique<StringLiteral>();
    s->value = Unquote(t.val);
    s->pos = {t.pos, t.pos + static_cast<int>(t.val.size())};
    return s;
  }

  ExprPtr ParseParen() {
    const Token& lp = Next();
    ExprPtr inner = ParseExpr(0);
    if (!inner) {
      return nullptr;
    }
    if (Peek().type != Tok::kRightParen) {
      return Unexpected(Peek(), "", "");
    }
    const Token& rp = Next();
    auto p = std::make_unique<ParenExpr>();
    p->pos = {lp.pos, rp.pos + 1};
    p->height = inner->height + 1;
    p->expr = std::move(inner);
    if (!CheckHeight(*p)) {
      return nullptr;
    }
    return p;
  }

  [[gnu::noinline]] ExprPtr ParsePrimary() {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kNumber:
      case Tok::kDuration:
        return ParseNumberToken(Next());
      case Tok::kString:
        return ParseString();
      case Tok::kLeftParen:
        return ParseParen();
      case Tok::kLeftBrace:
        return ParseSelector(nullptr);
      case Tok::kIdentifier:
        if (Peek(1).type == Tok::kLeftParen) {
          return ParseCall();
        }
        break;
      case Tok::kEof:
        return Unexpected(t, "", "");
      default:
        break;
    }
    if (IsAggregatorTok(t.type)) {
      Tok n = Peek(1).type;
      if (n == Tok::kLeftParen || n == Tok::kBy || n == Tok::kWithout) {
        return ParseAggregate();
      }
    }
    if (IsMetricNameTok(t.type)) {
      const Token& name = Next();
      return ParseSelector(&name);
    }
    return Unexpected(t, "", "");
  }

  // `name{...}`, `name` or `{...}`; `name` already consumed when non-null.
  [[gnu::noinline]] ExprPtr ParseSelector(const Token* name) {
    auto vs = std::make_unique<VectorSelector>();
    if (name != nullptr) {
      vs->name = std::string(name->val);
      vs->pos = {name->pos, name->pos + static_cast<int>(name->val.size())};
    }
    if (Peek().type == Tok::kLeftBrace) {
      const Token& lb = Next();
      if (name == nullptr) {
        vs->pos.start = lb.pos;
      }
      while (true) {
        const Token& t = Peek();
        if (t.type == Tok::kRightBrace) {
          Next();
          break;
        }
        if (t.type != Tok::kIdentifier && t.type != Tok::kString) {
          return Unexpected(t, "label matching", "identifier or \"}\"");
        }
        Next();
        std::string label =
            t.type == Tok::kString ? Unquote(t.val) : std::string(t.val);
        const Token& op = Peek();
        storage::MatchType mt;
        bool metric_name_only = false;
        switch (op.type) {
          case Tok::kEql:
            mt = storage::MatchType::kEqual;
            break;
          case Tok::kNeq:
            mt = storage::MatchType::kNotEqual;
            break;
          case Tok::kEqlRegex:
            mt = storage::MatchType::kRegexMatch;
            break;
          case Tok::kNeqRegex:
            mt = storage::MatchType::kRegexNoMatch;
            break;
          default:
            if (t.type == Tok::kString) {
              metric_name_only = true;
              mt = storage::MatchType::kEqual;
              break;
            }
            return Unexpected(op, "label matching", "label matching operator");
        }
        std::string value;
        if (metric_name_only) {
          value = std::move(label);
          label = std::string(storage::kMetricNameLabel);
        } else {
          Next();
          const Token& v = Peek();
          if (v.type != Tok::kString) {
            return Unexpected(v, "label matching", "string");
          }
          Next();
          value = Unquote(v.val);
        }
        absl::StatusOr<storage::Matcher> m =
            storage::Matcher::Create(mt, std::move(label), std::move(value));
        if (!m.ok()) {
          return Fail(t.pos, std::string(m.status().message()));
        }
        vs->matchers.push_back(*std::move(m));
        const Token& sep = Peek();
        if (sep.type == Tok::kComma) {
          Next();
          continue;
        }
        if (sep.type != Tok::kRightBrace) {
          return Unexpected(sep, "label matching", "\",\" or \"}\"");
        }
      }
      vs->pos.end = last_end_;
    }
    if (name != nullptr) {
      absl::StatusOr<storage::Matcher> m = storage::Matcher::Create(
          storage::MatchType::kEqual, std::string(storage::kMetricNameLabel),
          vs->name);
      if (!m.ok()) {
        return Fail(name->pos, std::string(m.status().message()));
      }
      vs->matchers.push_back(*std::move(m));
    }
    return vs;
  }

  // '(' args ')' ; returns false on error.
  bool ParseArgs(std::vector<ExprPtr>* args) {
    Next();  // '('
    if (Peek().type == Tok::kRightParen) {
      Next();
      return true;
    }
    while (true) {
      ExprPtr e = ParseExpr(0);
      if (!e) {
        return false;
      }
      args->push_back(std::move(e));
      const Token& t = Peek();
      if (t.type == Tok::kComma) {
        Next();
        if (Peek().type == Tok::kRightParen) {
          Fail(t.pos, "trailing commas not allowed in function call args");
          return false;
        }
        continue;
      }
      if (t.type == Tok::kRightParen) {
        Next();
        return true;
      }
      Unexpected(t, "", "");
      return false;
    }
  }

  int MaxHeight(const std::vector<ExprPtr>& v) {
    int h = 0;
    for (const auto& e : v) {
      h = std::max(h, e->height);
    }
    return h;
  }

  ExprPtr ParseCall() {
    const Token& name = Next();
    auto call = std::make_unique<Call>();
    call->pos.start = name.pos;
    if (!ParseArgs(&call->args)) {
      return nullptr;
    }
    call->pos.end = last_end_;
    call->height = MaxHeight(call->args) + 1;
    if (!ResolveFunction(name, call.get()) || !CheckHeight(*call)) {
      return nullptr;
    }
    return call;
  }

  [[gnu::noinline]] bool ResolveFunction(const Token& name, Call* call) {
    call->func = LookupFunction(name.val);
    if (call->func == nullptr) {
      Fail(name.pos,
           absl::StrCat("unknown function with name ", GoQuote(name.val)));
      return false;
    }
    if (call->func->experimental && !opts_.enable_experimental_functions) {
      Fail(name.pos,
           absl::StrCat("function ", GoQuote(name.val), " is not enabled"));
      return false;
    }
    return true;
  }

  // Validates the argument count of an aggregation; returns how many
  // arguments it takes (1 or 2), or 0 after recording an error.
  [[gnu::noinline]] size_t AggregateArgsOk(const Token& op,
                                           const AggregateExpr& agg,
                                           size_t nargs) {
    if (nargs == 0) {
      Fail(op.pos, "no arguments for aggregate expression provided");
      return 0;
    }
    size_t desired = 1;
    if (AggregateOpHasParam(agg.op)) {
      if ((agg.op == AggregateOp::kLimitk ||
           agg.op == AggregateOp::kLimitRatio) &&
          !opts_.enable_experimental_functions) {
        Fail(op.pos,
             absl::StrCat(AV(AggregateOpName(agg.op)),
                          "() is experimental and must be enabled with "
                          "--enable-feature=promql-experimental-functions"));
        return 0;
      }
      desired = 2;
    }
    if (nargs != desired) {
      Fail(op.pos, absl::StrFormat("wrong number of arguments for aggregate "
                                   "expression provided, expected %d, got %d",
                                   desired, nargs));
      return 0;
    }
    return desired;
  }

  ExprPtr ParseAggregate() {
    const Token& op = Next();
    auto agg = std::make_unique<AggregateExpr>();
    agg->op = *AggOpFor(op.type);
    agg->pos.start = op.pos;
    std::vector<ExprPtr> args;
    if (Peek().type == Tok::kBy || Peek().type == Tok::kWithout) {
      agg->without = Next().type == Tok::kWithout;
      if (!ParseGroupingLabels(&agg->grouping)) {
        return nullptr;
      }
      if (Peek().type != Tok::kLeftParen) {
        return Unexpected(Peek(), "aggregation", "");
      }
      if (!ParseArgs(&args)) {
        return nullptr;
      }
      agg->pos.end = last_end_;
    } else {
      if (!ParseArgs(&args)) {
        return nullptr;
      }
      agg->pos.end = last_end_;
      if (Peek().type == Tok::kBy || Peek().type == Tok::kWithout) {
        agg->without = Next().type == Tok::kWithout;
        if (!ParseGroupingLabels(&agg->grouping)) {
          return nullptr;
        }
      }
    }
    const size_t desired = AggregateArgsOk(op, *agg, args.size());
    if (desired == 0) {
      return nullptr;
    }
    agg->height = MaxHeight(args) + 1;
    if (desired == 2) {
      agg->param = std::move(args[0]);
    }
    agg->expr = std::move(args[desired - 1]);
    if (!CheckHeight(*agg)) {
      return nullptr;
    }
    return agg;
  }

  bool ParseGroupingLabels(std::vector<std::string>* out) {
    if (Peek().type != Tok::kLeftParen) {
      Unexpected(Peek(), "grouping opts", "\"(\"");
      return false;
    }
    Next();
    if (Peek().type == Tok::kRightParen) {
      Next();
      return true;
    }
    while (true) {
      const Token& t = Peek();
      if (t.type == Tok::kString) {
        std::string label = Unquote(t.val);
        if (label.empty() || !ValidUtf8(label)) {
          Fail(t.pos, absl::StrCat("invalid label name for grouping: ",
                                   GoQuote(label)));
          return false;
        }
        out->push_back(std::move(label));
      } else if (IsGroupingLabelTok(t.type)) {
        out->emplace_back(t.val);
      } else {
        Unexpected(t, "grouping opts", "label");
        return false;
      }
      Next();
      const Token& sep = Peek();
      if (sep.type == Tok::kComma) {
        Next();
        if (Peek().type == Tok::kRightParen) {
          Next();
          return true;
        }
        continue;
      }
      if (sep.type == Tok::kRightParen) {
        Next();
        return true;
      }
      Unexpected(sep, "grouping opts", "\",\" or \")\"");
      return false;
    }
  }

  // ---- postfix modifiers: [range], [range:step], offset, @ ----
  [[gnu::noinline]] ExprPtr ParsePostfix(ExprPtr e) {
    while (e) {
      switch (Peek().type) {
        case Tok::kLeftBracket:
          e = ParseRangeOrSubquery(std::move(e));
          break;
        case Tok::kOffset:
          e = ParseOffset(std::move(e));
          break;
        case Tok::kAt:
          e = ParseAt(std::move(e));
          break;
        default:
          return e;
      }
    }
    return e;
  }

  // A duration expression folded to milliseconds. `expr` is kept only when
  // it is more than a single literal.
  struct Duration {
    int64_t ms = 0;
    ExprPtr expr;
  };

  ExprPtr ParseDurExpr(int min_prec) {
    DepthGuard guard(this);
    if (!guard.ok()) {
      return FailTooDeep(Peek().pos);
    }
    ExprPtr lhs;
    const Token& t = Peek();
    if (t.type == Tok::kAdd || t.type == Tok::kSub) {
      Next();
      ExprPtr operand = ParseDurExpr(BinaryOpPrecedence(BinaryOp::kPow));
      if (!operand) {
        return nullptr;
      }
      if (operand->kind == ExprKind::kNumberLiteral) {
        auto& n = static_cast<NumberLiteral&>(*operand);
        if (t.type == Tok::kSub) {
          n.value = -n.value;
        }
        n.pos.start = t.pos;
        lhs = std::move(operand);
      } else {
        auto u = std::make_unique<UnaryExpr>();
        u->op = t.type == Tok::kSub ? BinaryOp::kSub : BinaryOp::kAdd;
        u->pos = {t.pos, operand->pos.end};
        u->height = operand->height + 1;
        u->expr = std::move(operand);
        lhs = std::move(u);
      }
    } else if (t.type == Tok::kNumber || t.type == Tok::kDuration) {
      lhs = ParseNumberToken(Next());
      if (!lhs) {
        return nullptr;
      }
      if (std::fabs(static_cast<NumberLiteral&>(*lhs).value) >
          kMaxDurationSeconds) {
        return Fail(t.pos, "duration out of range");
      }
    } else if (t.type == Tok::kLeftParen) {
      Next();
      ExprPtr inner = ParseDurExpr(0);
      if (!inner) {
        return nullptr;
      }
      if (Peek().type != Tok::kRightParen) {
        return Unexpected(Peek(), "", "");
      }
      const Token& rp = Next();
      auto p = std::make_unique<ParenExpr>();
      p->pos = {t.pos, rp.pos + 1};
      p->height = inner->height + 1;
      p->expr = std::move(inner);
      lhs = std::move(p);
    } else {
      return Unexpected(t, "", "");
    }
    while (true) {
      const Token& ot = Peek();
      std::optional<BinaryOp> op = BinOpFor(ot.type);
      if (!op || *op > BinaryOp::kPow) {
        break;
      }
      const int prec = BinaryOpPrecedence(*op);
      if (prec < min_prec) {
        break;
      }
      Next();
      ExprPtr rhs = ParseDurExpr(*op == BinaryOp::kPow ? prec : prec + 1);
      if (!rhs) {
        return nullptr;
      }
      if ((*op == BinaryOp::kDiv || *op == BinaryOp::kMod) &&
          rhs->kind == ExprKind::kNumberLiteral &&
          static_cast<NumberLiteral&>(*rhs).value == 0) {
        return Fail(ot.pos, *op == BinaryOp::kDiv ? "division by zero"
                                                  : "modulo by zero");
      }
      auto b = std::make_unique<BinaryExpr>();
      b->op = *op;
      b->op_pos = {ot.pos, ot.pos + 1};
      b->pos = {lhs->pos.start, rhs->pos.end};
      b->height = std::max(lhs->height, rhs->height) + 1;
      b->lhs = std::move(lhs);
      b->rhs = std::move(rhs);
      lhs = std::move(b);
    }
    if (!CheckHeight(*lhs)) {
      return nullptr;
    }
    return lhs;
  }

  // Turns a parsed duration expression into a Duration; `positive` demands
  // a value > 0 (ranges and subquery steps).
  bool FinishDuration(ExprPtr e, bool positive, Duration* out) {
    const bool literal = e->kind == ExprKind::kNumberLiteral;
    if (!literal && !opts_.enable_experimental_duration_expr) {
      Fail(e->pos.start, "experimental duration expression is not enabled");
      return false;
    }
    double secs = EvalDuration(*e);
    if (positive && secs <= 0) {
      Fail(e->pos.start, "duration must be greater than 0");
      return false;
    }
    if (!(std::fabs(secs) <= kMaxDurationSeconds)) {
      Fail(e->pos.start, "duration out of range");
      return false;
    }
    out->ms = std::llround(secs * 1000.0);
    if (!literal) {
      out->expr = std::move(e);
    }
    return true;
  }

  ExprPtr ParseRangeOrSubquery(ExprPtr e) {
    const Token& lb = Next();  // '['
    if (!IsDurationStart(Peek().type)) {
      return Unexpected(Peek(), "subquery selector", "number or duration");
    }
    Duration range;
    {
      ExprPtr r = ParseDurExpr(0);
      if (!r || !FinishDuration(std::move(r), true, &range)) {
        return nullptr;
      }
    }
    if (Peek().type == Tok::kColon) {
      Next();
      Duration step;
      if (Peek().type != Tok::kRightBracket) {
        if (!IsDurationStart(Peek().type)) {
          return Unexpected(Peek(), "subquery selector",
                            "number or duration or \"]\"");
        }
        ExprPtr s = ParseDurExpr(0);
        if (!s || !FinishDuration(std::move(s), true, &step)) {
          return nullptr;
        }
        if (Peek().type != Tok::kRightBracket) {
          return Unexpected(Peek(), "subquery selector", "\"]\"");
        }
      }
      const Token& rb = Next();
      auto sq = std::make_unique<SubqueryExpr>();
      sq->pos = {e->pos.start, rb.pos + 1};
      sq->height = e->height + 1;
      sq->expr = std::move(e);
      sq->range_ms = range.ms;
      sq->range_expr = std::move(range.expr);
      sq->step_ms = step.ms;
      sq->step_expr = std::move(step.expr);
      if (!CheckHeight(*sq)) {
        return nullptr;
      }
      return sq;
    }
    if (Peek().type != Tok::kRightBracket) {
      return Unexpected(Peek(), "subquery or range", "\":\" or \"]\"");
    }
    const Token& rb = Next();
    if (e->kind != ExprKind::kVectorSelector) {
      return Fail(lb.pos, "ranges only allowed for vector selectors");
    }
    const auto& vs = static_cast<const VectorSelector&>(*e);
    if (vs.offset_ms != 0 || vs.offset_expr) {
      return Fail(lb.pos, "no offset modifiers allowed before range");
    }
    if (vs.at.modifier != AtModifier::kNone) {
      return Fail(lb.pos, "no @ modifiers allowed before range");
    }
    auto ms = std::make_unique<MatrixSelector>();
    ms->pos = {e->pos.start, rb.pos + 1};
    ms->height = e->height + 1;
    ms->vector_selector = std::move(e);
    ms->range_ms = range.ms;
    ms->range_expr = std::move(range.expr);
    return ms;
  }

  // Where an offset/@ modifier lands: the selector or subquery, or null.
  struct ModifierTarget {
    int64_t* offset_ms = nullptr;
    ExprPtr* offset_expr = nullptr;
    AtSpec* at = nullptr;
  };
  ModifierTarget TargetOf(Expr& e) {
    switch (e.kind) {
      case ExprKind::kVectorSelector: {
        auto& vs = static_cast<VectorSelector&>(e);
        return {&vs.offset_ms, &vs.offset_expr, &vs.at};
      }
      case ExprKind::kMatrixSelector: {
        auto& vs = static_cast<VectorSelector&>(
            *static_cast<MatrixSelector&>(e).vector_selector);
        return {&vs.offset_ms, &vs.offset_expr, &vs.at};
      }
      case ExprKind::kSubquery: {
        auto& sq = static_cast<SubqueryExpr&>(e);
        return {&sq.offset_ms, &sq.offset_expr, &sq.at};
      }
      default:
        return {};
    }
  }

  ExprPtr ParseOffset(ExprPtr e) {
    Next();  // offset
    const Token& first = Peek();
    bool negative = false;
    size_t sign_idx = idx_;
    if (first.type == Tok::kAdd || first.type == Tok::kSub) {
      negative = first.type == Tok::kSub;
      Next();
    }
    const Token& t = Peek();
    Duration d;
    if (t.type == Tok::kNumber || t.type == Tok::kDuration) {
      ExprPtr lit = ParseNumberToken(Next());
      if (!lit) {
        return nullptr;
      }
      auto& n = static_cast<NumberLiteral&>(*lit);
      if (negative) {
        n.value = -n.value;
      }
      if (!(std::fabs(n.value) <= kMaxDurationSeconds)) {  // also NaN
        return Fail(first.pos, "duration out of range");
      }
      d.ms = std::llround(n.value * 1000.0);
    } else if (t.type == Tok::kLeftParen) {
      // `offset (expr)` / `offset -(expr)`: a parenthesised duration
      // expression. Without parentheses only a literal binds to offset, so
      // `foo offset 1m + 1` is `(foo offset 1m) + 1`.
      Next();
      ExprPtr inner = ParseDurExpr(0);
      if (!inner) {
        return nullptr;
      }
      if (Peek().type != Tok::kRightParen) {
        return Unexpected(Peek(), "", "");
      }
      const Token& rp = Next();
      auto p = std::make_unique<ParenExpr>();
      p->pos = {t.pos, rp.pos + 1};
      p->height = inner->height + 1;
      p->expr = std::move(inner);
      ExprPtr de = std::move(p);
      if (negative) {
        auto u = std::make_unique<UnaryExpr>();
        u->op = BinaryOp::kSub;
        u->pos = {toks_[sign_idx].pos, de->pos.end};
        u->height = de->height + 1;
        u->expr = std::move(de);
        de = std::move(u);
      }
      if (!opts_.enable_experimental_duration_expr) {
        return Fail(de->pos.start,
                    "experimental duration expression is not enabled");
      }
      double secs = EvalDuration(*de);
      if (!(std::fabs(secs) <= kMaxDurationSeconds)) {
        return Fail(de->pos.start, "duration out of range");
      }
      d.ms = std::llround(secs * 1000.0);
      d.expr = std::move(de);
    } else {
      return Unexpected(t, "offset", "number or duration");
    }
    ModifierTarget target = TargetOf(*e);
    if (target.offset_ms == nullptr) {
      return Fail(e->pos.start,
                  "offset modifier must be preceded by an instant vector "
                  "selector or range vector selector or a subquery");
    }
    if (*target.offset_ms != 0 || *target.offset_expr) {
      return Fail(e->pos.start, "offset may not be set multiple times");
    }
    *target.offset_ms = d.ms;
    *target.offset_expr = std::move(d.expr);
    e->pos.end = last_end_;
    return e;
  }

  ExprPtr ParseAt(ExprPtr e) {
    Next();  // @
    const Token& t = Peek();
    AtSpec spec;
    if (t.type == Tok::kStart || t.type == Tok::kEnd) {
      Next();
      if (Peek().type != Tok::kLeftParen) {
        return Unexpected(Peek(), "@", "timestamp");
      }
      Next();
      if (Peek().type != Tok::kRightParen) {
        return Unexpected(Peek(), "@", "timestamp");
      }
      Next();
      spec.modifier =
          t.type == Tok::kStart ? AtModifier::kStart : AtModifier::kEnd;
    } else {
      bool negative = false;
      if (t.type == Tok::kAdd || t.type == Tok::kSub) {
        negative = t.type == Tok::kSub;
        Next();
      }
      const Token& n = Peek();
      if (n.type != Tok::kNumber && n.type != Tok::kDuration) {
        return Unexpected(n, "@", "timestamp");
      }
      ExprPtr lit = ParseNumberToken(Next());
      if (!lit) {
        return nullptr;
      }
      double v = static_cast<NumberLiteral&>(*lit).value;
      if (negative) {
        v = -v;
      }
      if (std::isinf(v) || std::isnan(v) ||
          v * 1000.0 >= 9.223372036854775807e18 ||
          v * 1000.0 <= -9.223372036854775807e18) {
        return Fail(e->pos.start,
                    absl::StrFormat(
                        "timestamp out of bounds for @ modifier: %s",
                        std::isnan(v)   ? std::string("NaN")
                        : std::isinf(v) ? std::string(v > 0 ? "+Inf" : "-Inf")
                                        : absl::StrFormat("%f", v)));
      }
      spec.modifier = AtModifier::kTimestamp;
      spec.timestamp_ms = std::llround(v * 1000.0);
    }
    ModifierTarget target = TargetOf(*e);
    if (target.at == nullptr) {
      return Fail(e->pos.start,
                  "@ modifier must be preceded by an instant vector selector "
                  "or range vector selector or a subquery");
    }
    if (target.at->modifier != AtModifier::kNone) {
      return Fail(e->pos.start, "@ <timestamp> may not be set multiple times");
    }
    *target.at = spec;
    e->pos.end = last_end_;
    return e;
  }

  // ---- type checks (Prometheus' checkAST), after a clean parse ----
  // Check() recurses once per tree level, so it and the per-kind helpers
  // keep their frames small; messages are built in out-of-line helpers.

  // Fail() with the concatenation of up to six parts.
  [[gnu::noinline]] void FailCat(int pos, absl::string_view a,
                                 absl::string_view b = {},
                                 absl::string_view c = {},
                                 absl::string_view d = {},
                                 absl::string_view e = {},
                                 absl::string_view f = {}) {
    Fail(pos, absl::StrCat(a, b, c, d, e, f));
  }
  [[gnu::noinline]] void FailTypeMismatch(int pos, ValueType want,
                                          std::string_view context,
                                          ValueType got) {
    FailCat(pos, "expected type ", AV(ValueTypeName(want)), " in ", AV(context),
            ", got ", AV(ValueTypeName(got)));
  }
  [[gnu::noinline]] void FailArgCount(int pos, std::string_view kind,
                                      size_t want, std::string_view fname,
                                      size_t got) {
    Fail(pos, absl::StrFormat("expected %s%d argument(s) in call to %s, got %d",
                              AV(kind), want, GoQuote(fname), got));
  }

  void ExpectType(Expr* e, ValueType want, std::string_view context) {
    ValueType t = Check(e);
    if (t != want) {
      FailTypeMismatch(e->pos.start, want, context, t);
    }
  }

  ValueType Check(Expr* node) {
    if (failed() || node == nullptr) {
      return ValueType::kNone;
    }
    switch (node->kind) {
      case ExprKind::kAggregate:
        CheckAggregate(static_cast<AggregateExpr&>(*node));
        break;
      case ExprKind::kBinary:
        CheckBinary(static_cast<BinaryExpr&>(*node));
        break;
      case ExprKind::kCall:
        CheckCall(static_cast<Call&>(*node));
        break;
      case ExprKind::kParen:
        Check(static_cast<ParenExpr&>(*node).expr.get());
        break;
      case ExprKind::kStepInvariant:
        Check(static_cast<StepInvariantExpr&>(*node).expr.get());
        break;
      case ExprKind::kUnary:
        CheckUnary(static_cast<UnaryExpr&>(*node));
        break;
      case ExprKind::kSubquery:
        CheckSubquery(static_cast<SubqueryExpr&>(*node));
        break;
      case ExprKind::kMatrixSelector:
        Check(static_cast<MatrixSelector&>(*node).vector_selector.get());
        break;
      case ExprKind::kVectorSelector:
        CheckSelector(static_cast<VectorSelector&>(*node));
        break;
      case ExprKind::kNumberLiteral:
      case ExprKind::kStringLiteral:
        break;
    }
    return node->type();
  }

  [[gnu::noinline]] void CheckAggregate(AggregateExpr& n) {
    ExpectType(n.expr.get(), ValueType::kVector, "aggregation expression");
    switch (n.op) {
      case AggregateOp::kTopk:
      case AggregateOp::kBottomk:
      case AggregateOp::kQuantile:
      case AggregateOp::kLimitk:
      case AggregateOp::kLimitRatio:
        ExpectType(n.param.get(), ValueType::kScalar, "aggregation parameter");
        break;
      case AggregateOp::kCountValues:
        ExpectType(n.param.get(), ValueType::kString, "aggregation parameter");
        break;
      default:
        break;
    }
  }

  [[gnu::noinline]] void CheckBinary(BinaryExpr& n) {
    const ValueType lt = Check(n.lhs.get());
    const ValueType rt = Check(n.rhs.get());
    if (failed()) {
      return;
    }
    CheckBinaryTypes(n, lt, rt);
  }

  [[gnu::noinline]] void CheckBinaryTypes(BinaryExpr& n, ValueType lt,
                                          ValueType rt) {
    const std::string op_name = GoQuote(BinaryOpName(n.op));
    if (n.return_bool && !IsComparisonOp(n.op)) {
      Fail(n.op_pos.start,
           "bool modifier can only be used on comparison operators");
    }
    if (IsComparisonOp(n.op) && !n.return_bool &&
        n.lhs->type() == ValueType::kScalar &&
        n.rhs->type() == ValueType::kScalar) {
      Fail(n.op_pos.start,
           "comparisons between scalars must use BOOL modifier");
    }
    if (n.matching && IsSetOp(n.op) &&
        n.matching->card == VectorMatchCardinality::kOneToOne) {
      n.matching->card = VectorMatchCardinality::kManyToMany;
    }
    if (n.matching && n.matching->on) {
      for (const auto& l1 : n.matching->matching_labels) {
        for (const auto& l2 : n.matching->include) {
          if (l1 == l2) {
            FailCat(n.op_pos.start, "label ", GoQuote(l1),
                    " must not occur in ON and GROUP clause at once");
          }
        }
      }
    }
    if (lt != ValueType::kScalar && lt != ValueType::kVector) {
      Fail(n.lhs->pos.start,
           "binary expression must contain only scalar and instant vector "
           "types");
    }
    if (rt != ValueType::kScalar && rt != ValueType::kVector) {
      Fail(n.rhs->pos.start,
           "binary expression must contain only scalar and instant vector "
           "types");
    }
    if ((lt != ValueType::kVector || rt != ValueType::kVector) && n.matching) {
      if (!n.matching->matching_labels.empty()) {
        Fail(n.pos.start,
             "vector matching only allowed between instant vectors");
      }
      n.matching.reset();
    } else if (IsSetOp(n.op) && n.matching) {
      if (n.matching->card == VectorMatchCardinality::kOneToMany ||
          n.matching->card == VectorMatchCardinality::kManyToOne) {
        FailCat(n.pos.start, "no grouping allowed for ", op_name, " operation");
      }
    }
    if ((lt == ValueType::kScalar || rt == ValueType::kScalar) &&
        IsSetOp(n.op)) {
      FailCat(n.pos.start, "set operator ", op_name,
              " not allowed in binary scalar expression");
    }
  }

  [[gnu::noinline]] void CheckCallArity(Call& n) {
    const FunctionSignature& f = *n.func;
    const size_t nargs = f.arg_types.size();
    if (f.variadic == 0) {
      if (nargs != n.args.size()) {
        FailArgCount(n.pos.start, "", nargs, f.name, n.args.size());
      }
    } else {
      const size_t na = nargs - 1;
      if (na > n.args.size()) {
        FailArgCount(n.pos.start, "at least ", na, f.name, n.args.size());
      } else if (f.variadic > 0 && na + f.variadic < n.args.size()) {
        FailArgCount(n.pos.start, "at most ", na + f.variadic, f.name,
                     n.args.size());
      }
    }
    if (f.name == "info" && n.args.size() > 1) {
      Expr* a1 = n.args[1].get();
      if (a1->type() != ValueType::kVector) {
        FailCat(n.pos.start,
                "expected type instant vector in call to function \"info\", "
                "got ",
                AV(ValueTypeName(a1->type())));
      }
      if (a1->kind == ExprKind::kVectorSelector) {
        if (!static_cast<VectorSelector*>(a1)->name.empty()) {
          Fail(a1->pos.start,
               "expected label selectors only, got vector selector instead");
        } else {
          bypass_ = a1;
        }
      } else {
        Fail(a1->pos.start, "expected label selectors only");
      }
    }
  }

  [[gnu::noinline]] void FailArgType(const Expr& arg, ValueType want,
                                     std::string_view fname, ValueType got) {
    FailCat(arg.pos.start, "expected type ", AV(ValueTypeName(want)),
            " in call to function ", GoQuote(fname), ", got ",
            AV(ValueTypeName(got)));
  }

  [[gnu::noinline]] void CheckCall(Call& n) {
    const Expr* saved_bypass = bypass_;
    CheckCallArity(n);
    const FunctionSignature& f = *n.func;
    const size_t nargs = f.arg_types.size();
    for (size_t i = 0; i < n.args.size(); ++i) {
      size_t ti = i;
      if (i >= nargs) {
        if (f.variadic == 0) {
          break;
        }
        ti = nargs - 1;
      }
      ValueType t = Check(n.args[i].get());
      if (t != f.arg_types[ti]) {
        FailArgType(*n.args[i], f.arg_types[ti], f.name, t);
      }
    }
    bypass_ = saved_bypass;
  }

  [[gnu::noinline]] void CheckUnary(UnaryExpr& n) {
    ValueType t = Check(n.expr.get());
    if (t != ValueType::kScalar && t != ValueType::kVector) {
      FailCat(n.pos.start,
              "unary expression only allowed on expressions of type scalar "
              "or instant vector, got ",
              GoQuote(ValueTypeName(t)));
    }
  }

  [[gnu::noinline]] void CheckSubquery(SubqueryExpr& n) {
    ValueType t = Check(n.expr.get());
    if (t != ValueType::kVector) {
      FailCat(n.pos.start, "subquery is only allowed on instant vector, got ",
              AV(RawTypeName(t)), " instead");
    }
  }

  [[gnu::noinline]] void CheckSelector(VectorSelector& n) {
    if (!n.name.empty()) {
      for (size_t i = 0; i + 1 < n.matchers.size(); ++i) {
        if (n.matchers[i].name() == storage::kMetricNameLabel) {
          FailCat(n.pos.start,
                  "metric name must not be set twice: ", GoQuote(n.name),
                  " or ", GoQuote(n.matchers[i].value()));
        }
      }
      return;
    }
    if (bypass_ == &n) {
      return;
    }
    for (const auto& m : n.matchers) {
      if (!m.Matches("")) {
        return;
      }
    }
    Fail(n.pos.start,
         "vector selector must contain at least one non-empty matcher");
  }

  std::string_view in_;
  const ParseOptions& opts_;
  std::vector<Token> toks_;
  size_t idx_ = 0;
  int last_end_ = 0;
  int depth_ = 0;
  int err_pos_ = -1;
  std::string err_;
  const Expr* bypass_ = nullptr;  // info()'s label selector argument
};

}  // namespace

absl::StatusOr<std::unique_ptr<Expr>> ParseExpr(std::string_view input,
                                                const ParseOptions& opts) {
  if (input.size() > opts.max_length) {
    return absl::InvalidArgumentError(
        absl::StrCat("1:1: parse error: query is ", input.size(),
                     " bytes long, more than the limit of ", opts.max_length));
  }
  Parser p(input, opts);
  return p.ParseTop();
}

absl::StatusOr<std::vector<storage::Matcher>> ParseMetricSelector(
    std::string_view input) {
  ParseOptions opts;
  if (input.size() > opts.max_length) {
    return absl::InvalidArgumentError(
        absl::StrCat("1:1: parse error: selector is ", input.size(),
                     " bytes long, more than the limit of ", opts.max_length));
  }
  Parser p(input, opts);
  return p.ParseSelectorOnly();
}

absl::StatusOr<int64_t> ParseDuration(std::string_view s) {
  const std::string orig = GoQuote(s);
  if (s == "0") {
    return 0;
  }
  if (s.empty()) {
    return absl::InvalidArgumentError("empty duration string");
  }
  struct Unit {
    std::string_view name;
    int pos;
    uint64_t ms;
  };
  static constexpr Unit kUnits[] = {
      {"y", 1, 365ULL * 24 * 3600 * 1000},
      {"w", 2, 7ULL * 24 * 3600 * 1000},
      {"d", 3, 24ULL * 3600 * 1000},
      {"h", 4, 3600ULL * 1000},
      {"m", 5, 60ULL * 1000},
      {"s", 6, 1000},
      {"ms", 7, 1},
  };
  // Go's time.Duration holds at most 2^63-1 ns.
  constexpr uint64_t kMaxNs = static_cast<uint64_t>(INT64_MAX);
  uint64_t total_ns = 0;
  int last_pos = 0;
  size_t i = 0;
  auto invalid = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid duration string: ", orig));
  };
  while (i < s.size()) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(s[i]))) {
      return invalid();
    }
    size_t j = i;
    uint64_t v = 0;
    bool big = false;
    while (j < s.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(s[j]))) {
      if (v > (UINT64_MAX - 9) / 10) {
        big = true;
      } else {
        v = v * 10 + (s[j] - '0');
      }
      ++j;
    }
    if (big) {
      return invalid();
    }
    size_t k = j;
    while (k < s.size() &&
           !absl::ascii_isdigit(static_cast<unsigned char>(s[k]))) {
      ++k;
    }
    if (k == j) {
      return invalid();
    }
    std::string_view u = s.substr(j, k - j);
    const Unit* unit = nullptr;
    for (const auto& cand : kUnits) {
      if (cand.name == u) {
        unit = &cand;
      }
    }
    if (unit == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown unit ", GoQuote(u), " in duration ", orig));
    }
    if (unit->pos <= last_pos) {
      return invalid();
    }
    last_pos = unit->pos;
    const uint64_t unit_ns = unit->ms * 1000000ULL;
    if (v > (1ULL << 63) / unit_ns) {
      return absl::InvalidArgumentError("duration out of range");
    }
    total_ns += v * unit_ns;
    if (total_ns > kMaxNs) {
      return absl::InvalidArgumentError("duration out of range");
    }
    i = k;
  }
  return static_cast<int64_t>(total_ns / 1000000ULL);
}

}  // namespace vigil::promql::parser
