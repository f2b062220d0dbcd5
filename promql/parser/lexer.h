// The PromQL tokenizer. Internal to the parser package; turns a query into
// a token list that ends in kEof or in a kError token carrying the message.
#ifndef VIGIL_PROMQL_PARSER_LEXER_H_
#define VIGIL_PROMQL_PARSER_LEXER_H_

#include <string>
#include <string_view>
#include <vector>

namespace vigil::promql::parser {

enum class Tok {
  kEof,
  kError,
  kIdentifier,        // foo (no colon); label names inside braces
  kMetricIdentifier,  // foo:bar
  kNumber,            // 1, 0x1f, 1e3, Inf, NaN
  kDuration,          // 5m, 1h30m
  kString,            // raw text including quotes
  kLeftParen,
  kRightParen,
  kLeftBrace,
  kRightBrace,
  kLeftBracket,
  kRightBracket,
  kComma,
  kColon,
  kAt,
  kEql,       // = (label matching)
  kEqlRegex,  // =~
  kNeqRegex,  // !~
  // Binary operators.
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kEqlc,  // ==
  kNeq,   // !=
  kGtr,
  kLss,
  kGte,
  kLte,
  kLand,
  kLor,
  kLunless,
  kAtan2,
  // Aggregators.
  kSum,
  kAvg,
  kCount,
  kMin,
  kMax,
  kGroup,
  kStddev,
  kStdvar,
  kTopk,
  kBottomk,
  kCountValues,
  kQuantile,
  kLimitk,
  kLimitRatio,
  // Keywords.
  kBool,
  kBy,
  kGroupLeft,
  kGroupRight,
  kIgnoring,
  kOffset,
  kOn,
  kWithout,
  kStart,
  kEnd,
};

struct Token {
  Tok type = Tok::kEof;
  int pos = 0;           // byte offset of the first character
  std::string_view val;  // the token's text (for kError: empty)
  std::string error;     // kError only: the message
};

bool IsAggregatorTok(Tok t);
bool IsKeywordTok(Tok t);
bool IsOperatorTok(Tok t);

// Tokenizes all of `input`. The views in the result point into `input`.
// Comments (`# ...`) are dropped. The last token is kEof or kError.
std::vector<Token> Lex(std::string_view input);

// How Prometheus names a token in "unexpected ..." messages, e.g.
// `"}"`, `<op:+>`, `<aggr:sum>`, `identifier "foo"`, `end of input`.
std::string TokenDesc(const Token& t);

// Go's %q of a string / of a rune.
std::string GoQuote(std::string_view s);
std::string GoQuoteRune(int r);
// UTF-8 bytes of code point r ("" for r < 0).
std::string EncodeUtf8(int r);
// Decodes one rune of s at pos; invalid bytes give 0xFFFD with width 1,
// the end gives -1 with width 0.
int DecodeRuneAt(std::string_view s, size_t pos, int* width);

}  // namespace vigil::promql::parser

#endif  // VIGIL_PROMQL_PARSER_LEXER_H_
