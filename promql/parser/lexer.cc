// PromQL tokenizer. Mirrors the lexing rules of Prometheus 3.5 (modes for
// the inside of braces and of brackets, keywords case-insensitive,
// numbers/durations, Go-style string escapes) in a single pass.
#include "promql/parser/lexer.h"

#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

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

constexpr int kEofRune = -1;
constexpr int kRuneError = 0xFFFD;

// Decodes one UTF-8 rune at s[pos]. Invalid encodings give kRuneError with
// width 1, like Go's utf8.DecodeRuneInString.
int DecodeRune(std::string_view s, size_t pos, int* width) {
  if (pos >= s.size()) {
    *width = 0;
    return kEofRune;
  }
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) {
    *width = 1;
    return b0;
  }
  int need;
  int cp;
  int min;
  if ((b0 & 0xE0) == 0xC0) {
    need = 1;
    cp = b0 & 0x1F;
    min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    need = 2;
    cp = b0 & 0x0F;
    min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    need = 3;
    cp = b0 & 0x07;
    min = 0x10000;
  } else {
    *width = 1;
    return kRuneError;
  }
  for (int i = 1; i <= need; ++i) {
    if (pos + i >= s.size()) {
      *width = 1;
      return kRuneError;
    }
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) {
      *width = 1;
      return kRuneError;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) {
    *width = 1;
    return kRuneError;
  }
  *width = need + 1;
  return cp;
}

}  // namespace

std::string EncodeUtf8(int r) {
  std::string raw;
  if (r < 0) {
    return raw;
  }
  if (r < 0x80) {
    raw.push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    raw.push_back(static_cast<char>(0xC0 | (r >> 6)));
    raw.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    raw.push_back(static_cast<char>(0xE0 | (r >> 12)));
    raw.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    raw.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    raw.push_back(static_cast<char>(0xF0 | (r >> 18)));
    raw.push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    raw.push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    raw.push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
  return raw;
}

namespace {

bool IsSpace(int r) { return r == ' ' || r == '\t' || r == '\n' || r == '\r'; }
bool IsDigit(int r) { return r >= '0' && r <= '9'; }
bool IsAlpha(int r) {
  return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
}
bool IsAlphaNumeric(int r) { return IsAlpha(r) || IsDigit(r); }

bool Contains(std::string_view set, int r) {
  return r >= 0 && r < 0x80 && set.find(static_cast<char>(r)) != set.npos;
}

struct Keyword {
  std::string_view word;
  Tok tok;
};

constexpr Keyword kKeywords[] = {
    {"and", Tok::kLand},
    {"or", Tok::kLor},
    {"unless", Tok::kLunless},
    {"atan2", Tok::kAtan2},
    {"sum", Tok::kSum},
    {"avg", Tok::kAvg},
    {"count", Tok::kCount},
    {"min", Tok::kMin},
    {"max", Tok::kMax},
    {"group", Tok::kGroup},
    {"stddev", Tok::kStddev},
    {"stdvar", Tok::kStdvar},
    {"topk", Tok::kTopk},
    {"bottomk", Tok::kBottomk},
    {"count_values", Tok::kCountValues},
    {"quantile", Tok::kQuantile},
    {"limitk", Tok::kLimitk},
    {"limit_ratio", Tok::kLimitRatio},
    {"offset", Tok::kOffset},
    {"by", Tok::kBy},
    {"without", Tok::kWithout},
    {"on", Tok::kOn},
    {"ignoring", Tok::kIgnoring},
    {"group_left", Tok::kGroupLeft},
    {"group_right", Tok::kGroupRight},
    {"bool", Tok::kBool},
    {"start", Tok::kStart},
    {"end", Tok::kEnd},
    {"inf", Tok::kNumber},
    {"nan", Tok::kNumber},
};

class Lexer {
 public:
  explicit Lexer(std::string_view input) : in_(input) {}

  std::vector<Token> Run() {
    while (true) {
      if (!Step()) {
        break;
      }
    }
    return std::move(out_);
  }

 private:
  int Next() {
    int w;
    int r = DecodeRune(in_, pos_, &w);
    width_ = w;
    pos_ += w;
    return r;
  }
  int Peek() {
    int w;
    return DecodeRune(in_, pos_, &w);
  }
  void Backup() { pos_ -= width_; }
  bool Accept(std::string_view set) {
    if (Contains(set, Next())) {
      return true;
    }
    Backup();
    return false;
  }
  bool Is(std::string_view set) { return Contains(set, Peek()); }
  void AcceptRun(std::string_view set) {
    while (Contains(set, Next())) {
    }
    Backup();
  }
  void Emit(Tok t) {
    out_.push_back(Token{
        t, static_cast<int>(start_), in_.substr(start_, pos_ - start_), {}});
    start_ = pos_;
  }
  // Records an error token; lexing stops.
  bool Error(std::string msg) {
    out_.push_back(
        Token{Tok::kError, static_cast<int>(start_), {}, std::move(msg)});
    return false;
  }
  void Ignore() { start_ = pos_; }

  // One lexer step; false when finished (EOF or error emitted).
  bool Step() {
    if (brace_open_) {
      return InsideBraces();
    }
    if (bracket_open_ && duration_mode_) {
      return InsideBrackets();
    }
    if (pos_ < in_.size() && in_[pos_] == '#') {
      SkipComment();
      return true;
    }
    int r = Next();
    switch (r) {
      case kEofRune:
        if (paren_depth_ != 0) {
          return Error("unclosed left parenthesis");
        }
        if (bracket_open_) {
          return Error("unclosed left bracket");
        }
        Emit(Tok::kEof);
        return false;
      case ',':
        Emit(Tok::kComma);
        return true;
      case '*':
        Emit(Tok::kMul);
        return true;
      case '/':
        Emit(Tok::kDiv);
        return true;
      case '%':
        Emit(Tok::kMod);
        return true;
      case '+':
        Emit(Tok::kAdd);
        return true;
      case '-':
        Emit(Tok::kSub);
        return true;
      case '^':
        Emit(Tok::kPow);
        return true;
      case '=': {
        int t = Peek();
        if (t == '=') {
          Next();
          Emit(Tok::kEqlc);
        } else if (t == '~') {
          return Error(
              absl::StrCat("unexpected character after '=': ", GoQuoteRune(t)));
        } else {
          Emit(Tok::kEql);
        }
        return true;
      }
      case '!': {
        int t = Next();
        if (t != '=') {
          return Error(
              absl::StrCat("unexpected character after '!': ", GoQuoteRune(t)));
        }
        Emit(Tok::kNeq);
        return true;
      }
      case '<':
        if (Peek() == '=') {
          Next();
          Emit(Tok::kLte);
        } else {
          Emit(Tok::kLss);
        }
        return true;
      case '>':
        if (Peek() == '=') {
          Next();
          Emit(Tok::kGte);
        } else {
          Emit(Tok::kGtr);
        }
        return true;
      case '"':
      case '\'':
        return LexString(r);
      case '`':
        return LexRawString();
      case '(':
        Emit(Tok::kLeftParen);
        ++paren_depth_;
        return true;
      case ')':
        Emit(Tok::kRightParen);
        --paren_depth_;
        if (paren_depth_ < 0) {
          out_.pop_back();
          start_ = pos_;
          return Error("unexpected right parenthesis ')'");
        }
        return true;
      case '{':
        Emit(Tok::kLeftBrace);
        brace_open_ = true;
        return true;
      case '[':
        if (bracket_open_) {
          Backup();
          Ignore();
          Next();
          return Error("unexpected left bracket '['");
        }
        Emit(Tok::kLeftBracket);
        bracket_open_ = true;
        duration_mode_ = true;
        got_colon_ = false;
        got_duration_ = false;
        SkipSpaces();
        return true;
      case ']':
        if (!bracket_open_) {
          return Error("unexpected right bracket ']'");
        }
        Emit(Tok::kRightBracket);
        bracket_open_ = false;
        return true;
      case '@':
        Emit(Tok::kAt);
        return true;
      default:
        break;
    }
    if (IsSpace(r)) {
      SkipSpaces();
      return true;
    }
    if (IsDigit(r) || (r == '.' && IsDigit(Peek()))) {
      Backup();
      return LexNumberOrDuration();
    }
    if ((IsAlpha(r) || r == ':') && !bracket_open_) {
      Backup();
      LexKeywordOrIdentifier();
      return true;
    }
    if (r == ':') {  // inside brackets: the subquery colon
      if (got_colon_) {
        return Error("unexpected colon ':'");
      }
      Emit(Tok::kColon);
      got_colon_ = true;
      return true;
    }
    if (IsAlpha(r)) {
      return Error(absl::StrCat("unexpected character: ", GoQuoteRune(r),
                                ", expected ':'"));
    }
    return Error(absl::StrCat("unexpected character: ", GoQuoteRune(r)));
  }

  void SkipSpaces() {
    while (IsSpace(Peek())) {
      Next();
    }
    Ignore();
  }

  void SkipComment() {
    while (pos_ < in_.size() && in_[pos_] != '\n' && in_[pos_] != '\r') {
      ++pos_;
    }
    Ignore();
  }

  bool InsideBraces() {
    if (pos_ < in_.size() && in_[pos_] == '#') {
      SkipComment();
      return true;
    }
    int r = Next();
    if (r == kEofRune) {
      return Error("unexpected end of input inside braces");
    }
    if (IsSpace(r)) {
      SkipSpaces();
      return true;
    }
    if (IsAlpha(r)) {
      while (IsAlphaNumeric(Next())) {
      }
      Backup();
      Emit(Tok::kIdentifier);
      return true;
    }
    switch (r) {
      case ',':
        Emit(Tok::kComma);
        return true;
      case '"':
      case '\'':
        return LexString(r);
      case '`':
        return LexRawString();
      case '=':
        if (Next() == '~') {
          Emit(Tok::kEqlRegex);
        } else {
          Backup();
          Emit(Tok::kEql);
        }
        return true;
      case '!': {
        int nr = Next();
        if (nr == '~') {
          Emit(Tok::kNeqRegex);
        } else if (nr == '=') {
          Emit(Tok::kNeq);
        } else {
          return Error(
              absl::StrCat("unexpected character after '!' inside braces: ",
                           GoQuoteRune(nr)));
        }
        return true;
      }
      case '{':
        return Error("unexpected left brace '{'");
      case '}':
        Emit(Tok::kRightBrace);
        brace_open_ = false;
        return true;
      default:
        return Error(absl::StrCat("unexpected character inside braces: ",
                                  GoQuoteRune(r)));
    }
  }

  // The start of a duration expression inside `[...]`, up to its first
  // number; after that the ordinary rules apply (as in Prometheus).
  bool InsideBrackets() {
    int r = Next();
    if (r == kEofRune) {
      return Error("unexpected end of input in duration expression");
    }
    if (IsSpace(r)) {
      SkipSpaces();
      return true;
    }
    switch (r) {
      case ']':
        Emit(Tok::kRightBracket);
        bracket_open_ = false;
        got_colon_ = false;
        return true;
      case ':':
        if (got_colon_) {
          return Error("unexpected repeated colon in duration expression");
        }
        if (!got_duration_) {
          return Error(
              "unexpected colon before duration in duration expression");
        }
        Emit(Tok::kColon);
        got_colon_ = true;
        return true;
      case '(':
        Emit(Tok::kLeftParen);
        ++paren_depth_;
        return true;
      case ')':
        Emit(Tok::kRightParen);
        --paren_depth_;
        if (paren_depth_ < 0) {
          out_.pop_back();
          start_ = pos_;
          return Error("unexpected right parenthesis ')'");
        }
        return true;
      case '+':
        Emit(Tok::kAdd);
        return true;
      case '-':
        Emit(Tok::kSub);
        return true;
      case '*':
        Emit(Tok::kMul);
        return true;
      case '/':
        Emit(Tok::kDiv);
        return true;
      case '%':
        Emit(Tok::kMod);
        return true;
      case '^':
        Emit(Tok::kPow);
        return true;
      case ',':
        Emit(Tok::kComma);
        return true;
      default:
        break;
    }
    if (IsDigit(r) || (r == '.' && IsDigit(Peek()))) {
      Backup();
      got_duration_ = true;
      duration_mode_ = false;
      return LexNumberOrDuration();
    }
    if (r == 'm' || r == 'M') {
      // min(a, b) / max(a, b) inside durations.
      size_t save = pos_;
      while (IsAlpha(Peek())) {
        Next();
      }
      std::string word = Lower(in_.substr(start_, pos_ - start_));
      if (word == "min") {
        Emit(Tok::kMin);
        return true;
      }
      if (word == "max") {
        Emit(Tok::kMax);
        return true;
      }
      pos_ = save;
    }
    return Error(absl::StrCat("unexpected character in duration expression: ",
                              GoQuoteRune(r)));
  }

  bool LexString(int quote) {
    while (true) {
      int r = Next();
      if (r == '\\') {
        if (!LexEscape(quote)) {
          return false;
        }
        continue;
      }
      if (r == kRuneError && width_ == 1) {
        return Error("invalid UTF-8 rune");
      }
      if (r == kEofRune || r == '\n') {
        return Error("unterminated quoted string");
      }
      if (r == quote) {
        break;
      }
    }
    Emit(Tok::kString);
    return true;
  }

  bool LexEscape(int quote) {
    int ch = Next();
    int n;
    uint32_t base;
    uint32_t max;
    switch (ch) {
      case 'a':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
      case 'v':
      case '\\':
        return true;
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
        n = 3;
        base = 8;
        max = 255;
        break;
      case 'x':
        ch = Next();
        n = 2;
        base = 16;
        max = 255;
        break;
      case 'u':
        ch = Next();
        n = 4;
        base = 16;
        max = 0x10FFFF;
        break;
      case 'U':
        ch = Next();
        n = 8;
        base = 16;
        max = 0x10FFFF;
        break;
      case kEofRune:
        return Error("escape sequence not terminated");
      default:
        if (ch == quote) {
          return true;
        }
        return Error(absl::StrFormat("unknown escape sequence U+%04X '%s'", ch,
                                     EncodeUtf8(ch)));
    }
    uint32_t x = 0;
    while (n > 0) {
      uint32_t d = 16;
      if (ch >= '0' && ch <= '9') {
        d = ch - '0';
      } else if (ch >= 'a' && ch <= 'f') {
        d = ch - 'a' + 10;
      } else if (ch >= 'A' && ch <= 'F') {
        d = ch - 'A' + 10;
      }
      if (d >= base) {
        if (ch == kEofRune) {
          return Error("escape sequence not terminated");
        }
        return Error(
            absl::StrFormat("illegal character U+%04X '%s' in escape sequence",
                            ch, EncodeUtf8(ch)));
      }
      x = x * base + d;
      --n;
      if (n > 0) {
        ch = Next();
      }
    }
    if (x > max || (x >= 0xD800 && x < 0xE000)) {
      return Error("escape sequence is an invalid Unicode code point");
    }
    return true;
  }

  bool LexRawString() {
    while (true) {
      int r = Next();
      if (r == kRuneError && width_ == 1) {
        return Error("invalid UTF-8 rune");
      }
      if (r == kEofRune) {
        return Error("unterminated raw string");
      }
      if (r == '`') {
        break;
      }
    }
    Emit(Tok::kString);
    return true;
  }

  bool LexNumberOrDuration() {
    if (ScanNumber()) {
      Emit(Tok::kNumber);
      return true;
    }
    if (AcceptRemainingDuration()) {
      Backup();
      Emit(Tok::kDuration);
      return true;
    }
    return Error(absl::StrCat("bad number or duration syntax: ",
                              GoQuote(in_.substr(start_, pos_ - start_))));
  }

  bool AcceptRemainingDuration() {
    if (!Accept("smhdwy")) {
      return false;
    }
    Accept("s");
    while (Accept("0123456789")) {
      while (Accept("0123456789")) {
      }
      if (!Accept("smhdw")) {
        return false;
      }
      Accept("s");
    }
    return !IsAlphaNumeric(Next());
  }

  bool ScanNumber() {
    const size_t initial = pos_;
    std::string_view digits = "0123456789";
    bool hex = false;
    if (Accept("0")) {
      if (Accept("xX")) {
        Accept("_");
        digits = "0123456789abcdefABCDEF";
        hex = true;
      }
    }
    Accept(".");
    Accept(digits);
    bool dot = false;
    bool exp = false;
    while (true) {
      int r = Peek();
      bool in_set =
          Contains(digits, r) || r == '.' || r == '_' || r == 'e' || r == 'E';
      if (!in_set) {
        break;
      }
      if (r == '.') {
        if (dot) {
          Accept(".");
          return false;
        }
        Accept(".");
        dot = true;
        if (Accept("_.")) {
          return false;
        }
        if (hex) {
          return false;
        }
        continue;
      }
      if (r == 'e' || r == 'E') {
        if (exp) {
          Accept("eE");
          return false;
        }
        Accept("eE");
        exp = true;
        Accept("+-");
        if (Accept("._eE") || Peek() == kEofRune) {
          return false;
        }
        continue;
      }
      if (r == '_') {
        Accept("_");
        if (Accept("._eE") || Peek() == kEofRune) {
          return false;
        }
        continue;
      }
      AcceptRun(digits);
    }
    if (pos_ == initial) {
      return false;
    }
    return !IsAlphaNumeric(Peek());
  }

  void LexKeywordOrIdentifier() {
    while (true) {
      int r = Next();
      if (!(IsAlphaNumeric(r) || r == ':')) {
        Backup();
        break;
      }
    }
    std::string_view word = in_.substr(start_, pos_ - start_);
    std::string lower = Lower(word);
    for (const auto& kw : kKeywords) {
      if (kw.word == lower) {
        Emit(kw.tok);
        return;
      }
    }
    Emit(word.find(':') == word.npos ? Tok::kIdentifier
                                     : Tok::kMetricIdentifier);
  }

  std::string_view in_;
  size_t pos_ = 0;
  size_t start_ = 0;
  int width_ = 0;
  int paren_depth_ = 0;
  bool duration_mode_ = false;  // in `[` before its first number
  bool brace_open_ = false;
  bool bracket_open_ = false;
  bool got_colon_ = false;
  bool got_duration_ = false;
  std::vector<Token> out_;
};

bool IsPrintable(int r) {
  if (r < 0x20 || r == 0x7F) {
    return false;
  }
  if (r >= 0x80 && r < 0xA0) {
    return false;
  }
  return true;
}

void AppendQuotedRune(std::string* out, int r, int width, std::string_view raw,
                      char quote) {
  if (r == kRuneError && width == 1) {
    absl::StrAppendFormat(out, "\\x%02x", static_cast<unsigned char>(raw[0]));
    return;
  }
  if (r == quote || r == '\\') {
    out->push_back('\\');
    out->push_back(static_cast<char>(r));
    return;
  }
  if (IsPrintable(r)) {
    out->append(raw.substr(0, width));
    return;
  }
  switch (r) {
    case '\a':
      out->append("\\a");
      return;
    case '\b':
      out->append("\\b");
      return;
    case '\f':
      out->append("\\f");
      return;
    case '\n':
      out->append("\\n");
      return;
    case '\r':
      out->append("\\r");
      return;
    case '\t':
      out->append("\\t");
      return;
    case '\v':
      out->append("\\v");
      return;
    default:
      break;
  }
  if (r < 0x80) {
    absl::StrAppendFormat(out, "\\x%02x", r);
  } else if (r < 0x10000) {
    absl::StrAppendFormat(out, "\\u%04x", r);
  } else {
    absl::StrAppendFormat(out, "\\U%08x", r);
  }
}

}  // namespace

bool IsAggregatorTok(Tok t) { return t >= Tok::kSum && t <= Tok::kLimitRatio; }
bool IsKeywordTok(Tok t) { return t >= Tok::kBool && t <= Tok::kEnd; }
bool IsOperatorTok(Tok t) {
  return (t >= Tok::kAdd && t <= Tok::kAtan2) || t == Tok::kAt ||
         t == Tok::kEqlRegex || t == Tok::kNeqRegex;
}

int DecodeRuneAt(std::string_view s, size_t pos, int* width) {
  return DecodeRune(s, pos, width);
}

std::vector<Token> Lex(std::string_view input) { return Lexer(input).Run(); }

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    int w;
    int r = DecodeRune(s, i, &w);
    AppendQuotedRune(&out, r, w, s.substr(i), '"');
    i += w;
  }
  out.push_back('"');
  return out;
}

std::string GoQuoteRune(int r) {
  if (r < 0) {
    return "'\\x00'";  // EOF never reaches messages in practice
  }
  std::string raw = EncodeUtf8(r);
  std::string out = "'";
  AppendQuotedRune(&out, r, static_cast<int>(raw.size()), raw, '\'');
  out.push_back('\'');
  return out;
}

std::string TokenDesc(const Token& t) {
  switch (t.type) {
    case Tok::kEof:
      return "end of input";
    case Tok::kError:
      return t.error;
    case Tok::kIdentifier:
      return absl::StrCat("identifier ", GoQuote(t.val));
    case Tok::kMetricIdentifier:
      return absl::StrCat("metric identifier ", GoQuote(t.val));
    case Tok::kNumber:
      return absl::StrCat("number ", GoQuote(t.val));
    case Tok::kDuration:
      return absl::StrCat("duration ", GoQuote(t.val));
    case Tok::kString: {
      if (t.val.size() > 10) {
        // Go's %.10q: at most 10 runes of the value, then "...".
        size_t i = 0;
        int runes = 0;
        while (i < t.val.size() && runes < 10) {
          int w;
          DecodeRune(t.val, i, &w);
          i += w;
          ++runes;
        }
        return absl::StrCat("string ", GoQuote(t.val.substr(0, i)), "...");
      }
      return absl::StrCat("string ", GoQuote(t.val));
    }
    default:
      break;
  }
  if (IsKeywordTok(t.type)) {
    return absl::StrCat("<", Lower(t.val), ">");
  }
  if (IsAggregatorTok(t.type)) {
    return absl::StrCat("<aggr:", Lower(t.val), ">");
  }
  if (t.type >= Tok::kAdd && t.type <= Tok::kAtan2) {
    std::string v(t.val);
    if (t.type == Tok::kLand || t.type == Tok::kLor ||
        t.type == Tok::kLunless || t.type == Tok::kAtan2) {
      v = Lower(v);
    }
    return absl::StrCat("<op:", v, ">");
  }
  if (t.type == Tok::kAt || t.type == Tok::kEqlRegex ||
      t.type == Tok::kNeqRegex) {
    return absl::StrCat("<op:", AV(t.val), ">");
  }
  return GoQuote(t.val);
}

}  // namespace vigil::promql::parser
