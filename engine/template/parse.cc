// Go text/template lexing and parsing. The token set, trim markers, comment
// rules and error texts follow Go's documented behaviour; the lexer runs to
// completion first and the parser walks the token vector.
#include "engine/template/parse.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "engine/template/value.h"

namespace vigil::engine::tmpl::internal {
namespace {

struct FuncName {
  const char* name;
  Func func;
};
constexpr FuncName kFuncs[] = {
    {"and", Func::kAnd},
    {"or", Func::kOr},
    {"not", Func::kNot},
    {"len", Func::kLen},
    {"index", Func::kIndex},
    {"slice", Func::kSlice},
    {"print", Func::kPrint},
    {"printf", Func::kPrintf},
    {"println", Func::kPrintln},
    {"eq", Func::kEq},
    {"ne", Func::kNe},
    {"lt", Func::kLt},
    {"le", Func::kLe},
    {"gt", Func::kGt},
    {"ge", Func::kGe},
    {"html", Func::kHtml},
    {"js", Func::kJs},
    {"urlquery", Func::kUrlquery},
    {"call", Func::kCall},
    {"query", Func::kQuery},
    {"first", Func::kFirst},
    {"label", Func::kLabel},
    {"value", Func::kValue},
    {"strvalue", Func::kStrvalue},
    {"args", Func::kArgs},
    {"reReplaceAll", Func::kReReplaceAll},
    {"safeHtml", Func::kSafeHtml},
    {"match", Func::kMatch},
    {"title", Func::kTitle},
    {"toUpper", Func::kToUpper},
    {"toLower", Func::kToLower},
    {"graphLink", Func::kGraphLink},
    {"tableLink", Func::kTableLink},
    {"sortByLabel", Func::kSortByLabel},
    {"stripPort", Func::kStripPort},
    {"stripDomain", Func::kStripDomain},
    {"humanize", Func::kHumanize},
    {"humanize1024", Func::kHumanize1024},
    {"humanizeDuration", Func::kHumanizeDuration},
    {"humanizePercentage", Func::kHumanizePercentage},
    {"humanizeTimestamp", Func::kHumanizeTimestamp},
    {"toTime", Func::kToTime},
    {"toDuration", Func::kToDuration},
    {"now", Func::kNow},
    {"pathPrefix", Func::kPathPrefix},
    {"externalURL", Func::kExternalURL},
    {"parseDuration", Func::kParseDuration},
};

// Nesting of parentheses and control blocks; keeps recursion off the stack
// limit for hostile input.
constexpr int kMaxNesting = 200;

enum class Item {
  kError, kBool, kChar, kCharConstant, kComplex, kAssign, kDeclare, kEOF,
  kField, kIdentifier, kLeftDelim, kLeftParen, kNumber, kPipe, kRawString,
  kRightDelim, kRightParen, kSpace, kString, kText, kVariable,
  // keywords
  kKeyword, kBlock, kBreak, kContinue, kDot, kDefine, kElse, kEnd, kIf, kNil,
  kRange, kTemplate, kWith,
};

struct Token {
  Item type;
  int pos;
  std::string val;  // error text for kError
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsAlnum(unsigned char c) {
  return c == '_' || absl::ascii_isalnum(c) || c >= 0x80;
}

std::string FormatU(uint32_t r) {  // Go's %#U
  char buf[32];
  std::snprintf(buf, sizeof(buf), "U+%04X", r);
  std::string s = buf;
  if (IsPrintRune(r)) {
    s += " '";
    AppendRune(r, &s);
    s += "'";
  }
  return s;
}

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> Run() {
    while (true) {
      if (!LexText()) break;
    }
    return std::move(tokens_);
  }

 private:
  bool HasLeftTrim(size_t p) const {
    return p + 1 < in_.size() && in_[p] == '-' && IsSpace(in_[p + 1]);
  }
  bool HasRightTrim(size_t p) const {
    return p + 1 < in_.size() && IsSpace(in_[p]) && in_[p + 1] == '-';
  }
  bool StartsWith(size_t p, std::string_view s) const {
    return in_.substr(std::min(p, in_.size())).substr(0, s.size()) == s;
  }
  // At "}}" or " -}}"; sets *trim for the latter.
  bool AtRightDelim(size_t p, bool* trim) const {
    if (StartsWith(p, "}}")) {
      *trim = false;
      return true;
    }
    if (HasRightTrim(p) && StartsWith(p + 2, "}}")) {
      *trim = true;
      return true;
    }
    return false;
  }
  void Emit(Item t, size_t start, size_t end) {
    tokens_.push_back(
        {t, static_cast<int>(start), std::string(in_.substr(start, end - start))});
  }
  void Error(std::string msg, size_t start) {
    tokens_.push_back({Item::kError, static_cast<int>(start), std::move(msg)});
  }
  void SkipSpaces() {
    while (pos_ < in_.size() && IsSpace(in_[pos_])) ++pos_;
  }

  // Returns false once the input is done (EOF or error emitted).
  bool LexText() {
    const size_t x = in_.find("{{", pos_);
    if (x == std::string_view::npos) {
      if (pos_ < in_.size()) Emit(Item::kText, pos_, in_.size());
      tokens_.push_back({Item::kEOF, static_cast<int>(in_.size()), ""});
      return false;
    }
    size_t text_end = x;
    if (HasLeftTrim(x + 2)) {
      while (text_end > pos_ && IsSpace(in_[text_end - 1])) --text_end;
    }
    if (text_end > pos_) Emit(Item::kText, pos_, text_end);
    return LexLeftDelim(x);
  }

  bool LexLeftDelim(size_t x) {
    pos_ = x + 2;
    const bool trim = HasLeftTrim(pos_);
    const size_t after = pos_ + (trim ? 2 : 0);
    if (StartsWith(after, "/*")) {
      pos_ = after;
      return LexComment(x);
    }
    Emit(Item::kLeftDelim, x, x + 2);
    pos_ = after;
    paren_depth_ = 0;
    return LexInsideAction();
  }

  bool LexComment(size_t start) {
    const size_t end = in_.find("*/", pos_ + 2);
    if (end == std::string_view::npos) {
      Error("unclosed comment", start);
      return false;
    }
    pos_ = end + 2;
    bool trim;
    if (!AtRightDelim(pos_, &trim)) {
      Error("comment ends before closing delimiter", start);
      return false;
    }
    pos_ += (trim ? 2 : 0) + 2;
    if (trim) SkipSpaces();
    return true;
  }

  bool LexRightDelim() {
    const bool trim = HasRightTrim(pos_);
    if (trim) pos_ += 2;
    Emit(Item::kRightDelim, pos_, pos_ + 2);
    pos_ += 2;
    if (trim) SkipSpaces();
    return true;
  }

  bool AtTerminator(size_t p) const {
    if (p >= in_.size()) return true;
    const char c = in_[p];
    if (IsSpace(c)) return true;
    switch (c) {
      case '.': case ',': case '|': case ':': case ')': case '(':
        return true;
      default:
        return StartsWith(p, "}}");
    }
  }

  uint32_t RuneAt(size_t p) const {
    uint32_t r;
    DecodeRune(in_, p, &r);
    return r;
  }

  bool LexInsideAction() {
    while (true) {
      bool trim;
      if (AtRightDelim(pos_, &trim)) {
        if (paren_depth_ == 0) return LexRightDelim();
        Error("unclosed left paren", pos_);
        return false;
      }
      if (pos_ >= in_.size()) {
        Error("unclosed action", pos_);
        return false;
      }
      const size_t start = pos_;
      const char c = in_[pos_];
      if (IsSpace(c)) {
        size_t p = pos_;
        while (p < in_.size() && IsSpace(in_[p])) ++p;
        // A " -}}" closes the action: leave its space for the delimiter.
        if (HasRightTrim(p - 1) && StartsWith(p + 1, "}}")) {
          if (p - 1 > pos_) Emit(Item::kSpace, pos_, p - 1);
          pos_ = p - 1;
          continue;
        }
        Emit(Item::kSpace, pos_, p);
        pos_ = p;
        continue;
      }
      ++pos_;
      switch (c) {
        case '=':
          Emit(Item::kAssign, start, pos_);
          continue;
        case ':':
          if (pos_ >= in_.size() || in_[pos_] != '=') {
            Error("expected :=", start);
            return false;
          }
          ++pos_;
          Emit(Item::kDeclare, start, pos_);
          continue;
        case '|':
          Emit(Item::kPipe, start, pos_);
          continue;
        case '"':
          if (!LexQuote(start, '"', "unterminated quoted string", Item::kString))
            return false;
          continue;
        case '\'':
          if (!LexQuote(start, '\'', "unterminated character constant",
                        Item::kCharConstant))
            return false;
          continue;
        case '`': {
          const size_t end = in_.find('`', pos_);
          if (end == std::string_view::npos) {
            Error("unterminated raw quoted string", start);
            return false;
          }
          pos_ = end + 1;
          Emit(Item::kRawString, start, pos_);
          continue;
        }
        case '$':
          if (!LexFieldOrVariable(start, Item::kVariable)) return false;
          continue;
        case '(':
          ++paren_depth_;
          Emit(Item::kLeftParen, start, pos_);
          continue;
        case ')':
          // Emitted before the check, so the parser usually reports the
          // stray paren itself, as Go's does.
          Emit(Item::kRightParen, start, pos_);
          --paren_depth_;
          if (paren_depth_ < 0) {
            Error("unexpected right paren " + FormatU(')'), start);
            return false;
          }
          continue;
        default:
          break;
      }
      if (c == '.') {
        if (pos_ >= in_.size() || !absl::ascii_isdigit(in_[pos_])) {
          if (!LexFieldOrVariable(start, Item::kField)) return false;
          continue;
        }
      }
      if (c == '.' || c == '+' || c == '-' || absl::ascii_isdigit(c)) {
        pos_ = start;
        if (!LexNumber()) return false;
        continue;
      }
      if (IsAlnum(static_cast<unsigned char>(c))) {
        pos_ = start;
        if (!LexIdentifier()) return false;
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x80 && absl::ascii_isprint(c)) {
        Emit(Item::kChar, start, pos_);
        continue;
      }
      Error("unrecognized character in action: " + FormatU(RuneAt(start)),
            start);
      return false;
    }
  }

  bool LexQuote(size_t start, char q, const char* err, Item type) {
    while (true) {
      if (pos_ >= in_.size() || in_[pos_] == '\n') {
        Error(err, start);
        return false;
      }
      const char c = in_[pos_++];
      if (c == '\\') {
        if (pos_ >= in_.size() || in_[pos_] == '\n') {
          Error(err, start);
          return false;
        }
        ++pos_;
      } else if (c == q) {
        break;
      }
    }
    Emit(type, start, pos_);
    return true;
  }

  bool LexFieldOrVariable(size_t start, Item type) {
    if (AtTerminator(pos_)) {
      Emit(type == Item::kVariable ? Item::kVariable : Item::kDot, start, pos_);
      return true;
    }
    while (pos_ < in_.size() && IsAlnum(static_cast<unsigned char>(in_[pos_]))) {
      ++pos_;
    }
    if (!AtTerminator(pos_)) {
      Error("bad character " + FormatU(RuneAt(pos_)), start);
      return false;
    }
    Emit(type, start, pos_);
    return true;
  }

  bool Accept(std::string_view valid) {
    if (pos_ < in_.size() && valid.find(in_[pos_]) != std::string_view::npos) {
      ++pos_;
      return true;
    }
    return false;
  }
  void AcceptRun(std::string_view valid) {
    while (Accept(valid)) {
    }
  }

  bool ScanNumber() {
    Accept("+-");
    std::string_view digits = "0123456789_";
    if (Accept("0")) {
      if (Accept("xX")) {
        digits = "0123456789abcdefABCDEF_";
      } else if (Accept("oO")) {
        digits = "01234567_";
      } else if (Accept("bB")) {
        digits = "01_";
      }
    }
    AcceptRun(digits);
    if (Accept(".")) AcceptRun(digits);
    if (digits.size() == 11 && Accept("eE")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    if (digits.size() == 23 && Accept("pP")) {
      Accept("+-");
      AcceptRun("0123456789_");
    }
    Accept("i");
    if (pos_ < in_.size() && IsAlnum(static_cast<unsigned char>(in_[pos_]))) {
      ++pos_;
      return false;
    }
    return true;
  }

  bool LexNumber() {
    const size_t start = pos_;
    if (!ScanNumber()) {
      Error("bad number syntax: " + GoQuote(in_.substr(start, pos_ - start)),
            start);
      return false;
    }
    if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) {
      if (!ScanNumber() || in_[pos_ - 1] != 'i') {
        Error("bad number syntax: " + GoQuote(in_.substr(start, pos_ - start)),
              start);
        return false;
      }
      Emit(Item::kComplex, start, pos_);
      return true;
    }
    Emit(Item::kNumber, start, pos_);
    return true;
  }

  bool LexIdentifier() {
    const size_t start = pos_;
    while (pos_ < in_.size() && IsAlnum(static_cast<unsigned char>(in_[pos_]))) {
      ++pos_;
    }
    if (!AtTerminator(pos_)) {
      Error("bad character " + FormatU(RuneAt(pos_)), start);
      return false;
    }
    const std::string_view word = in_.substr(start, pos_ - start);
    static const std::map<std::string_view, Item> kKeywords = {
        {"block", Item::kBlock},       {"break", Item::kBreak},
        {"continue", Item::kContinue}, {"define", Item::kDefine},
        {"else", Item::kElse},         {"end", Item::kEnd},
        {"if", Item::kIf},             {"range", Item::kRange},
        {"nil", Item::kNil},           {"template", Item::kTemplate},
        {"with", Item::kWith},
    };
    auto it = kKeywords.find(word);
    if (it != kKeywords.end()) {
      Emit(it->second, start, pos_);
    } else if (word == "true" || word == "false") {
      Emit(Item::kBool, start, pos_);
    } else {
      Emit(Item::kIdentifier, start, pos_);
    }
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  int paren_depth_ = 0;
  std::vector<Token> tokens_;
};

// ---------------------------------------------------------------- literals

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// strconv.UnquoteChar: decodes one (possibly escaped) character of a quoted
// literal whose quote is `q`. Returns false on bad syntax.
bool UnquoteChar(std::string_view s, size_t* i, char q, std::string* out,
                 uint32_t* rune_out) {
  if (*i >= s.size()) return false;
  const char c = s[*i];
  if (c == q && (q == '\'' || q == '"')) return false;
  if (c != '\\') {
    uint32_t r;
    const int w = DecodeRune(s, *i, &r);
    out->append(s.substr(*i, w));
    *rune_out = r;
    *i += w;
    return true;
  }
  if (*i + 1 >= s.size()) return false;
  const char e = s[*i + 1];
  *i += 2;
  uint32_t r = 0;
  switch (e) {
    case 'a': r = '\a'; break;
    case 'b': r = '\b'; break;
    case 'f': r = '\f'; break;
    case 'n': r = '\n'; break;
    case 'r': r = '\r'; break;
    case 't': r = '\t'; break;
    case 'v': r = '\v'; break;
    case '\\': r = '\\'; break;
    case '\'':
    case '"':
      if (e != q) return false;
      r = e;
      break;
    case 'x':
    case 'u':
    case 'U': {
      const int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
      if (*i + n > s.size()) return false;
      for (int k = 0; k < n; ++k) {
        const int h = HexVal(s[*i + k]);
        if (h < 0) return false;
        r = r * 16 + h;
      }
      *i += n;
      if (e == 'x') {
        out->push_back(static_cast<char>(r));  // a byte, not a rune
        *rune_out = r;
        return true;
      }
      if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return false;
      break;
    }
    case '0': case '1': case '2': case '3': case '4': case '5': case '6':
    case '7': {
      r = e - '0';
      if (*i + 2 > s.size()) return false;
      for (int k = 0; k < 2; ++k) {
        const char d = s[*i + k];
        if (d < '0' || d > '7') return false;
        r = r * 8 + (d - '0');
      }
      *i += 2;
      if (r > 255) return false;
      out->push_back(static_cast<char>(r));
      *rune_out = r;
      return true;
    }
    default:
      return false;
  }
  AppendRune(r, out);
  *rune_out = r;
  return true;
}

// strconv.Unquote for "..." and `...`.
bool UnquoteString(std::string_view lit, std::string* out) {
  out->clear();
  if (lit.size() < 2) return false;
  if (lit.front() == '`') {
    if (lit.back() != '`') return false;
    for (char c : lit.substr(1, lit.size() - 2)) {
      if (c != '\r') out->push_back(c);
    }
    return true;
  }
  if (lit.front() != '"' || lit.back() != '"') return false;
  std::string_view body = lit.substr(1, lit.size() - 2);
  size_t i = 0;
  while (i < body.size()) {
    if (body[i] == '\n') return false;
    uint32_t r;
    if (!UnquoteChar(body, &i, '"', out, &r)) return false;
  }
  return true;
}

// strconv.ParseInt(s, 0, 64) (with underscores) into *v.
bool ParseGoInt(std::string_view s, int64_t* v) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  bool prefixed = false;
  if (s.size() >= 2 && s[0] == '0') {
    const char p = absl::ascii_tolower(s[1]);
    if (p == 'x') base = 16;
    if (p == 'o') base = 8;
    if (p == 'b') base = 2;
    if (base != 10) {
      s.remove_prefix(2);
      prefixed = true;
    } else {
      base = 8;
      s.remove_prefix(1);
      prefixed = true;
    }
  }
  if (s.empty() && !prefixed) return false;
  if (s.empty() && base != 8) return false;
  unsigned __int128 acc = 0;
  // Underscores only between digits; a base prefix counts as a digit.
  bool prev_digit = prefixed, prev_underscore = false;
  for (char c : s) {
    if (c == '_') {
      if (!prev_digit) return false;
      prev_digit = false;
      prev_underscore = true;
      continue;
    }
    const int d = HexVal(c);
    if (d < 0 || d >= base) return false;
    acc = acc * base + d;
    if (acc > (static_cast<unsigned __int128>(1) << 64)) return false;
    prev_digit = true;
    prev_underscore = false;
  }
  if (prev_underscore) return false;
  const unsigned __int128 limit =
      neg ? (static_cast<unsigned __int128>(1) << 63)
          : (static_cast<unsigned __int128>(1) << 63) - 1;
  if (acc > limit) return false;
  *v = neg ? static_cast<int64_t>(-acc) : static_cast<int64_t>(acc);
  return true;
}

// ---------------------------------------------------------------- parser

struct ParseError {
  int pos;
  std::string msg;
};

class Parser {
 public:
  Parser(Program* prog, std::vector<Token> tokens)
      : prog_(prog), toks_(std::move(tokens)) {}

  // Parses the whole input; on failure returns false with err_ set.
  bool Parse() {
    vars_ = {"$"};
    Node* root = NewNode(NodeType::kList, 0);
    while (Peek().type != Item::kEOF) {
      if (failed_) return false;
      if (Peek().type == Item::kLeftDelim) {
        const size_t save = idx_;
        Next();
        if (NextNonSpace().type == Item::kDefine) {
          if (!ParseDefinition()) return false;
          continue;
        }
        idx_ = save;
      }
      Node* n = TextOrAction();
      if (n == nullptr) return false;
      if (n->type == NodeType::kEnd || n->type == NodeType::kElse) {
        return Errorf(absl::StrCat("unexpected ", NodeString(n)));
      }
      if (n->type != NodeType::kComment) root->nodes.push_back(n);
    }
    if (failed_) return false;
    return Add(prog_->name, root);
  }

  ParseError err_;

 private:
  Node* NewNode(NodeType t, int pos) {
    prog_->arena.push_back(std::make_unique<Node>());
    Node* n = prog_->arena.back().get();
    n->type = t;
    n->pos = pos;
    return n;
  }

  const Token& Peek() {
    if (idx_ >= toks_.size()) return toks_.back();
    return toks_[idx_];
  }
  const Token& Next() {
    const Token& t = Peek();
    last_pos_ = t.pos;
    if (idx_ < toks_.size()) ++idx_;
    if (t.type == Item::kError && !failed_) Errorf(t.val);
    return t;
  }
  const Token& NextNonSpace() {
    while (Peek().type == Item::kSpace) Next();
    return Next();
  }
  const Token& PeekNonSpace() {
    while (Peek().type == Item::kSpace) Next();
    return Peek();
  }
  void Backup() {
    if (idx_ > 0) --idx_;
  }

  // Records the first error; always returns false/nullptr to callers.
  bool Errorf(std::string msg) {
    if (!failed_) {
      failed_ = true;
      err_ = {last_pos_, std::move(msg)};
    }
    return false;
  }
  std::nullptr_t Fail(std::string msg) {
    Errorf(std::move(msg));
    return nullptr;
  }
  static std::string TokenString(const Token& t) {
    if (t.type == Item::kEOF) return "EOF";
    if (t.type == Item::kError) return t.val;
    if (t.type > Item::kKeyword) return "<" + t.val + ">";
    if (t.val.size() > 10) {
      // Go's %.10q: the first ten characters, quoted, then "...".
      return GoQuote(t.val.substr(0, 10)) + "...";
    }
    return GoQuote(t.val);
  }
  std::nullptr_t Unexpected(const Token& t, std::string_view context) {
    if (t.type == Item::kError) {
      return Fail(t.val);
    }
    return Fail(absl::StrCat("unexpected ", TokenString(t), " in ", Av(context)));
  }

  static bool IsEmptyTree(const Node* n) {
    if (n == nullptr) return true;
    switch (n->type) {
      case NodeType::kList:
        for (const Node* c : n->nodes) {
          if (!IsEmptyTree(c)) return false;
        }
        return true;
      case NodeType::kText:
        for (char c : n->text) {
          if (!IsSpace(c)) return false;
        }
        return true;
      case NodeType::kComment:
        return true;
      default:
        return false;
    }
  }

  bool Add(const std::string& name, Node* root) {
    auto it = prog_->templates.find(name);
    if (it == prog_->templates.end() || IsEmptyTree(it->second)) {
      prog_->templates[name] = root;
      return true;
    }
    if (!IsEmptyTree(root)) {
      return Errorf(absl::StrCat("template: multiple definition of template ",
                                 GoQuote(name)));
    }
    return true;
  }

  bool ParseTemplateName(const Token& t, std::string_view context,
                         std::string* name) {
    if (t.type == Item::kString || t.type == Item::kRawString) {
      if (!UnquoteString(t.val, name)) return Errorf("invalid syntax");
      return true;
    }
    Unexpected(t, context);
    return false;
  }

  bool ParseDefinition() {
    const Token& t = NextNonSpace();
    std::string name;
    if (failed_ || !ParseTemplateName(t, "define clause", &name)) return false;
    const Token& r = NextNonSpace();
    if (r.type != Item::kRightDelim) {
      Unexpected(r, "define clause");
      return false;
    }
    std::vector<std::string> saved = std::move(vars_);
    vars_ = {"$"};
    Node* end = nullptr;
    Node* list = ItemList(&end);
    vars_ = std::move(saved);
    if (list == nullptr) return false;
    if (end->type != NodeType::kEnd) {
      return Errorf(
          absl::StrCat("unexpected ", NodeString(end), " in define clause"));
    }
    return Add(name, list);
  }

  // Parses nodes up to {{end}} or {{else}}, returned through *end.
  Node* ItemList(Node** end) {
    if (++depth_ > kMaxNesting) return Fail("max expression depth exceeded");
    Node* list = NewNode(NodeType::kList, Peek().pos);
    while (PeekNonSpace().type != Item::kEOF) {
      if (failed_) return nullptr;
      Node* n = TextOrAction();
      if (n == nullptr) return nullptr;
      if (n->type == NodeType::kEnd || n->type == NodeType::kElse) {
        *end = n;
        --depth_;
        return list;
      }
      if (n->type != NodeType::kComment) list->nodes.push_back(n);
    }
    if (failed_) return nullptr;
    return Fail("unexpected EOF");
  }

  Node* TextOrAction() {
    const Token& t = NextNonSpace();
    if (failed_) return nullptr;
    switch (t.type) {
      case Item::kText: {
        Node* n = NewNode(NodeType::kText, t.pos);
        n->text = t.val;
        return n;
      }
      case Item::kLeftDelim:
        return Action();
      default:
        return Unexpected(t, "input");
    }
  }

  Node* Action() {
    const Token& t = NextNonSpace();
    if (failed_) return nullptr;
    switch (t.type) {
      case Item::kBlock:
        return BlockControl();
      case Item::kBreak:
      case Item::kContinue: {
        const bool brk = t.type == Item::kBreak;
        const int pos = t.pos;
        const Token& r = NextNonSpace();
        if (r.type != Item::kRightDelim) {
          return Unexpected(r, brk ? "{{break}}" : "{{continue}}");
        }
        if (range_depth_ == 0) {
          return Fail(brk ? "{{break}} outside {{range}}"
                          : "{{continue}} outside {{range}}");
        }
        return NewNode(brk ? NodeType::kBreak : NodeType::kContinue, pos);
      }
      case Item::kElse: {
        const Token& p = PeekNonSpace();
        if (p.type == Item::kIf || p.type == Item::kWith) {
          return NewNode(NodeType::kElse, p.pos);
        }
        const Token& r = NextNonSpace();
        if (r.type != Item::kRightDelim) return Unexpected(r, "else");
        return NewNode(NodeType::kElse, r.pos);
      }
      case Item::kEnd: {
        const Token& r = NextNonSpace();
        if (r.type != Item::kRightDelim) return Unexpected(r, "end");
        return NewNode(NodeType::kEnd, r.pos);
      }
      case Item::kIf:
        return Control(NodeType::kIf, "if");
      case Item::kRange:
        return Control(NodeType::kRange, "range");
      case Item::kWith:
        return Control(NodeType::kWith, "with");
      case Item::kTemplate:
        return TemplateControl();
      default:
        break;
    }
    Backup();
    const int pos = Peek().pos;
    Node* pipe = Pipeline("command", Item::kRightDelim);
    if (pipe == nullptr) return nullptr;
    Node* n = NewNode(NodeType::kAction, pos);
    n->pipe = pipe;
    return n;
  }

  Node* Control(NodeType type, std::string_view context) {
    const size_t nvars = vars_.size();
    Node* pipe = Pipeline(context, Item::kRightDelim);
    if (pipe == nullptr) return nullptr;
    if (type == NodeType::kRange) ++range_depth_;
    Node* next = nullptr;
    Node* list = ItemList(&next);
    if (type == NodeType::kRange) --range_depth_;
    if (list == nullptr) return nullptr;
    Node* else_list = nullptr;
    if (next->type == NodeType::kElse) {
      if (type == NodeType::kIf && Peek().type == Item::kIf) {
        Next();
        else_list = NewNode(NodeType::kList, next->pos);
        Node* inner = Control(NodeType::kIf, "if");
        if (inner == nullptr) return nullptr;
        else_list->nodes.push_back(inner);
      } else if (type == NodeType::kWith && Peek().type == Item::kWith) {
        Next();
        else_list = NewNode(NodeType::kList, next->pos);
        Node* inner = Control(NodeType::kWith, "with");
        if (inner == nullptr) return nullptr;
        else_list->nodes.push_back(inner);
      } else {
        Node* end = nullptr;
        else_list = ItemList(&end);
        if (else_list == nullptr) return nullptr;
        if (end->type != NodeType::kEnd) {
          return Fail(absl::StrCat("expected end; found ", NodeString(end)));
        }
      }
    }
    vars_.resize(nvars);
    Node* n = NewNode(type, pipe->pos);
    n->pipe = pipe;
    n->list = list;
    n->else_list = else_list;
    return n;
  }

  Node* TemplateControl() {
    const Token& t = NextNonSpace();
    if (failed_) return nullptr;
    const int pos = t.pos;
    std::string name;
    if (!ParseTemplateName(t, "template clause", &name)) return nullptr;
    Node* pipe = nullptr;
    if (NextNonSpace().type != Item::kRightDelim) {
      if (failed_) return nullptr;
      Backup();
      pipe = Pipeline("template clause", Item::kRightDelim);
      if (pipe == nullptr) return nullptr;
    }
    Node* n = NewNode(NodeType::kTemplate, pos);
    n->text = name;
    n->pipe = pipe;
    return n;
  }

  Node* BlockControl() {
    const Token& t = NextNonSpace();
    if (failed_) return nullptr;
    const int pos = t.pos;
    std::string name;
    if (!ParseTemplateName(t, "block clause", &name)) return nullptr;
    Node* pipe = Pipeline("block clause", Item::kRightDelim);
    if (pipe == nullptr) return nullptr;
    std::vector<std::string> saved = std::move(vars_);
    vars_ = {"$"};
    const int saved_range = range_depth_;
    range_depth_ = 0;
    Node* end = nullptr;
    Node* body = ItemList(&end);
    vars_ = std::move(saved);
    range_depth_ = saved_range;
    if (body == nullptr) return nullptr;
    if (end->type != NodeType::kEnd) {
      return Fail(
          absl::StrCat("unexpected ", NodeString(end), " in block clause"));
    }
    if (!Add(name, body)) return nullptr;
    Node* n = NewNode(NodeType::kTemplate, pos);
    n->text = name;
    n->pipe = pipe;
    return n;
  }

  Node* NewVariable(int pos, const std::string& ident) {
    Node* v = NewNode(NodeType::kVariable, pos);
    size_t start = 0;
    while (true) {
      const size_t dot = ident.find('.', start);
      v->idents.push_back(ident.substr(start, dot - start));
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return v;
  }

  Node* Pipeline(std::string_view context, Item end) {
    if (++depth_ > kMaxNesting) return Fail("max expression depth exceeded");
    const Token& first = PeekNonSpace();
    Node* pipe = NewNode(NodeType::kPipe, first.pos);
    // Declarations: `$x :=`, `$x =`, `$i, $e :=`.
    while (PeekNonSpace().type == Item::kVariable) {
      const size_t save = idx_;
      const Token v = Next();
      const Token& nt = PeekNonSpace();
      if (nt.type == Item::kAssign || nt.type == Item::kDeclare) {
        pipe->is_assign = nt.type == Item::kAssign;
        Next();
        pipe->decl.push_back(NewVariable(v.pos, v.val));
        vars_.push_back(v.val);
        break;
      }
      if (nt.type == Item::kChar && nt.val == ",") {
        Next();
        pipe->decl.push_back(NewVariable(v.pos, v.val));
        vars_.push_back(v.val);
        if (context == "range" && pipe->decl.size() < 2) {
          const Item p = PeekNonSpace().type;
          if (p == Item::kVariable || p == Item::kRightDelim ||
              p == Item::kRightParen) {
            continue;
          }
          return Fail("range can only initialize variables");
        }
        return Fail(absl::StrCat("too many declarations in ", Av(context)));
      }
      idx_ = save;
      break;
    }
    while (true) {
      const Token& t = NextNonSpace();
      if (failed_) return nullptr;
      if (t.type == end) {
        if (pipe->nodes.empty()) {
          return Fail(absl::StrCat("missing value for ", Av(context)));
        }
        for (size_t i = 1; i < pipe->nodes.size(); ++i) {
          switch (pipe->nodes[i]->nodes[0]->type) {
            case NodeType::kBool:
            case NodeType::kDot:
            case NodeType::kNil:
            case NodeType::kNumber:
            case NodeType::kString:
              return Fail(absl::StrCat(
                  "non executable command in pipeline stage ", i + 1));
            default:
              break;
          }
        }
        --depth_;
        return pipe;
      }
      switch (t.type) {
        case Item::kBool: case Item::kCharConstant: case Item::kComplex:
        case Item::kDot: case Item::kField: case Item::kIdentifier:
        case Item::kNumber: case Item::kNil: case Item::kRawString:
        case Item::kString: case Item::kVariable: case Item::kLeftParen: {
          Backup();
          Node* cmd = Command();
          if (cmd == nullptr) return nullptr;
          pipe->nodes.push_back(cmd);
          break;
        }
        default:
          return Unexpected(t, context);
      }
    }
  }

  Node* Command() {
    Node* cmd = NewNode(NodeType::kCommand, PeekNonSpace().pos);
    while (true) {
      PeekNonSpace();
      Node* operand = Operand();
      if (failed_) return nullptr;
      if (operand != nullptr) cmd->nodes.push_back(operand);
      const Token& t = Next();
      if (failed_) return nullptr;
      if (t.type == Item::kSpace) continue;
      if (t.type == Item::kRightDelim || t.type == Item::kRightParen) {
        Backup();
      } else if (t.type != Item::kPipe) {
        return Unexpected(t, "operand");
      }
      break;
    }
    if (cmd->nodes.empty()) return Fail("empty command");
    return cmd;
  }

  Node* Operand() {
    Node* node = Term();
    if (node == nullptr) return nullptr;
    if (Peek().type == Item::kField) {
      const int pos = Peek().pos;
      std::vector<std::string> fields;
      while (Peek().type == Item::kField) fields.push_back(Next().val.substr(1));
      switch (node->type) {
        case NodeType::kField:
          for (auto& f : fields) node->idents.push_back(f);
          node->pos = pos;
          break;
        case NodeType::kVariable:
          for (auto& f : fields) node->idents.push_back(f);
          node->pos = pos;
          break;
        case NodeType::kBool:
        case NodeType::kString:
        case NodeType::kNumber:
        case NodeType::kNil:
        case NodeType::kDot:
          return Fail(absl::StrCat("unexpected . after term ",
                                   GoQuote(NodeString(node))));
        default: {
          Node* chain = NewNode(NodeType::kChain, pos);
          chain->base = node;
          chain->idents = std::move(fields);
          node = chain;
        }
      }
    }
    return node;
  }

  Node* Term() {
    const Token& t = NextNonSpace();
    if (failed_) return nullptr;
    switch (t.type) {
      case Item::kIdentifier: {
        Func f;
        if (!LookupFunc(t.val, &f)) {
          return Fail(absl::StrCat("function ", GoQuote(t.val), " not defined"));
        }
        Node* n = NewNode(NodeType::kIdentifier, t.pos);
        n->text = t.val;
        n->func = f;
        return n;
      }
      case Item::kDot:
        return NewNode(NodeType::kDot, t.pos);
      case Item::kNil:
        return NewNode(NodeType::kNil, t.pos);
      case Item::kVariable: {
        Node* v = NewVariable(t.pos, t.val);
        for (const std::string& name : vars_) {
          if (name == v->idents[0]) return v;
        }
        return Fail(absl::StrCat("undefined variable ", GoQuote(v->idents[0])));
      }
      case Item::kField: {
        Node* n = NewNode(NodeType::kField, t.pos);
        n->idents.push_back(t.val.substr(1));
        return n;
      }
      case Item::kBool: {
        Node* n = NewNode(NodeType::kBool, t.pos);
        n->boolean = t.val == "true";
        return n;
      }
      case Item::kCharConstant:
      case Item::kComplex:
      case Item::kNumber:
        return Number(t);
      case Item::kLeftParen:
        return Pipeline("parenthesized pipeline", Item::kRightParen);
      case Item::kString:
      case Item::kRawString: {
        Node* n = NewNode(NodeType::kString, t.pos);
        n->quoted = t.val;
        if (!UnquoteString(t.val, &n->text)) return Fail("invalid syntax");
        return n;
      }
      default:
        Backup();
        return nullptr;
    }
  }

  Node* Number(const Token& t) {
    Node* n = NewNode(NodeType::kNumber, t.pos);
    n->text = t.val;
    const std::string& s = t.val;
    if (t.type == Item::kCharConstant) {
      std::string tmp;
      size_t i = 1;
      uint32_t r = 0;
      std::string_view body(s);
      if (!UnquoteChar(body, &i, '\'', &tmp, &r)) return Fail("invalid syntax");
      if (body.substr(i) != "'") {
        return Fail("malformed character constant: " + s);
      }
      n->is_int = n->is_float = true;
      n->int_value = r;
      n->float_value = r;
      return n;
    }
    if (t.type == Item::kComplex || (!s.empty() && s.back() == 'i')) {
      return Fail(absl::StrCat("illegal number syntax: ", GoQuote(s)));
    }
    int64_t iv;
    if (ParseGoInt(s, &iv)) {
      n->is_int = n->is_float = true;
      n->int_value = iv;
      n->float_value = static_cast<double>(iv);
    } else {
      std::string clean;
      for (char c : s) {
        if (c != '_') clean.push_back(c);
      }
      absl::StatusOr<double> f = GoParseFloat(clean);
      const bool looks_float = s.find_first_of(".eEpP") != std::string::npos;
      const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
      if (f.ok() && std::isfinite(*f) && !(hex && s.find_first_of("pP") == std::string::npos)) {
        if (!looks_float) {
          return Fail(absl::StrCat("integer overflow: ", GoQuote(s)));
        }
        n->is_float = true;
        n->float_value = *f;
        if (*f >= -9.2e18 && *f <= 9.2e18 &&
            static_cast<double>(static_cast<int64_t>(*f)) == *f) {
          n->is_int = true;
          n->int_value = static_cast<int64_t>(*f);
        }
      }
    }
    if (!n->is_int && !n->is_float) {
      return Fail(absl::StrCat("illegal number syntax: ", GoQuote(s)));
    }
    const bool hex_int = s.size() > 2 && s[0] == '0' &&
                         (s[1] == 'x' || s[1] == 'X') &&
                         s.find_first_of("pP") == std::string::npos;
    n->ideal_float = n->is_float && !hex_int &&
                     s.find_first_of(".eEpP") != std::string::npos;
    return n;
  }

  Program* prog_;
  std::vector<Token> toks_;
  size_t idx_ = 0;
  int last_pos_ = 0;
  bool failed_ = false;
  int depth_ = 0;
  int range_depth_ = 0;
  std::vector<std::string> vars_;
};

void WriteNode(const Node* n, std::string* out) {
  if (n == nullptr) return;
  switch (n->type) {
    case NodeType::kText:
      *out += n->text;
      return;
    case NodeType::kAction:
      *out += "{{";
      WriteNode(n->pipe, out);
      *out += "}}";
      return;
    case NodeType::kIf:
    case NodeType::kRange:
    case NodeType::kWith:
      *out += n->type == NodeType::kIf      ? "{{if "
              : n->type == NodeType::kRange ? "{{range "
                                            : "{{with ";
      WriteNode(n->pipe, out);
      *out += "}}";
      WriteNode(n->list, out);
      if (n->else_list != nullptr) {
        *out += "{{else}}";
        WriteNode(n->else_list, out);
      }
      *out += "{{end}}";
      return;
    case NodeType::kBreak:
      *out += "{{break}}";
      return;
    case NodeType::kContinue:
      *out += "{{continue}}";
      return;
    case NodeType::kTemplate:
      *out += "{{template " + GoQuote(n->text);
      if (n->pipe != nullptr) {
        *out += " ";
        WriteNode(n->pipe, out);
      }
      *out += "}}";
      return;
    case NodeType::kList:
      for (const Node* c : n->nodes) WriteNode(c, out);
      return;
    case NodeType::kPipe:
      for (size_t i = 0; i < n->decl.size(); ++i) {
        if (i > 0) *out += ", ";
        WriteNode(n->decl[i], out);
      }
      if (!n->decl.empty()) *out += n->is_assign ? " = " : " := ";
      for (size_t i = 0; i < n->nodes.size(); ++i) {
        if (i > 0) *out += " | ";
        WriteNode(n->nodes[i], out);
      }
      return;
    case NodeType::kCommand:
      for (size_t i = 0; i < n->nodes.size(); ++i) {
        if (i > 0) *out += " ";
        if (n->nodes[i]->type == NodeType::kPipe) {
          *out += "(";
          WriteNode(n->nodes[i], out);
          *out += ")";
        } else {
          WriteNode(n->nodes[i], out);
        }
      }
      return;
    case NodeType::kField:
      for (const auto& f : n->idents) *out += "." + f;
      return;
    case NodeType::kChain:
      if (n->base->type == NodeType::kPipe) {
        *out += "(";
        WriteNode(n->base, out);
        *out += ")";
      } else {
        WriteNode(n->base, out);
      }
      for (const auto& f : n->idents) *out += "." + f;
      return;
    case NodeType::kVariable:
      for (size_t i = 0; i < n->idents.size(); ++i) {
        if (i > 0) *out += ".";
        *out += n->idents[i];
      }
      return;
    case NodeType::kIdentifier:
    case NodeType::kNumber:
      *out += n->text;
      return;
    case NodeType::kDot:
      *out += ".";
      return;
    case NodeType::kNil:
      *out += "nil";
      return;
    case NodeType::kBool:
      *out += n->boolean ? "true" : "false";
      return;
    case NodeType::kString:
      *out += n->quoted;
      return;
    case NodeType::kElse:
      *out += "{{else}}";
      return;
    case NodeType::kEnd:
      *out += "{{end}}";
      return;
    case NodeType::kComment:
      return;
  }
}

}  // namespace

bool LookupFunc(std::string_view name, Func* f) {
  for (const FuncName& fn : kFuncs) {
    if (name == fn.name) {
      *f = fn.func;
      return true;
    }
  }
  return false;
}

std::string NodeString(const Node* n) {
  std::string s;
  WriteNode(n, &s);
  return s;
}

void Program::Location(int pos, int* line, int* col) const {
  const std::string_view before = std::string_view(text).substr(
      0, std::min<size_t>(static_cast<size_t>(std::max(pos, 0)), text.size()));
  int l = 1;
  size_t last_nl = std::string_view::npos;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] == '\n') {
      ++l;
      last_nl = i;
    }
  }
  *line = l;
  *col = last_nl == std::string_view::npos
             ? static_cast<int>(before.size())
             : static_cast<int>(before.size() - last_nl - 1);
}

absl::StatusOr<std::shared_ptr<Program>> ParseProgram(std::string_view name,
                                                      std::string_view text) {
  auto prog = std::make_shared<Program>();
  prog->name = std::string(name);
  prog->text = std::string(text);
  Parser parser(prog.get(), Lexer(prog->text).Run());
  if (!parser.Parse()) {
    int line, col;
    prog->Location(parser.err_.pos, &line, &col);
    return absl::InvalidArgumentError(absl::StrCat(
        "template: ", Av(name), ":", line, ": ", parser.err_.msg));
  }
  return prog;
}

}  // namespace vigil::engine::tmpl::internal
