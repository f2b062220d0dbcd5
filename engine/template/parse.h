// Lexer, parse tree and parser for Go's text/template language, with Go's
// error wording. Internal to engine/template.
#ifndef VIGIL_ENGINE_TEMPLATE_PARSE_H_
#define VIGIL_ENGINE_TEMPLATE_PARSE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace re2 {
class RE2;
}

namespace vigil::engine::tmpl::internal {

// Every function a template may call: Go's builtins, then Prometheus'.
enum class Func {
  kAnd, kOr, kNot, kLen, kIndex, kSlice, kPrint, kPrintf, kPrintln, kEq, kNe,
  kLt, kLe, kGt, kGe, kHtml, kJs, kUrlquery, kCall,
  kQuery, kFirst, kLabel, kValue, kStrvalue, kArgs, kReReplaceAll, kSafeHtml,
  kMatch, kTitle, kToUpper, kToLower, kGraphLink, kTableLink, kSortByLabel,
  kStripPort, kStripDomain, kHumanize, kHumanize1024, kHumanizeDuration,
  kHumanizePercentage, kHumanizeTimestamp, kToTime, kToDuration, kNow,
  kPathPrefix, kExternalURL, kParseDuration,
};
// Looks a function up by its template name; false when there is none.
bool LookupFunc(std::string_view name, Func* f);

enum class NodeType {
  kText, kAction, kIf, kRange, kWith, kBreak, kContinue, kTemplate, kList,
  kPipe, kCommand, kField, kChain, kIdentifier, kVariable, kDot, kNil, kBool,
  kNumber, kString, kElse, kEnd, kComment,
};

// One parse-tree node; which members matter depends on `type`.
struct Node {
  NodeType type;
  int pos = 0;  // byte offset in the template text
  std::string text;  // text, unquoted string, number text, ident, tmpl name
  std::string quoted;  // string literal as written
  std::vector<std::string> idents;  // field/variable/chain path
  std::vector<Node*> nodes;  // list items, command args, pipe commands
  std::vector<Node*> decl;   // pipe: declared/assigned variables
  bool is_assign = false;    // pipe: `=` rather than `:=`
  Node* pipe = nullptr;      // action, if, range, with, template
  Node* list = nullptr;      // if, range, with
  Node* else_list = nullptr;
  Node* base = nullptr;      // chain: the term fields apply to
  bool boolean = false;
  // number: which Go constant kinds the literal fits
  bool is_int = false, is_float = false, ideal_float = false;
  int64_t int_value = 0;
  double float_value = 0;
  Func func = Func::kAnd;  // identifier
};

// Go's Node.String(): how error messages quote a node.
std::string NodeString(const Node* n);

// A parsed template and the templates it defines. Immutable once built
// except for the regexp cache, which has its own lock.
struct Program {
  std::string name;
  std::string text;
  std::vector<std::unique_ptr<Node>> arena;
  std::map<std::string, Node*, std::less<>> templates;  // name -> list

  // 1-based line and 0-based byte column of `pos`, as Go reports them.
  void Location(int pos, int* line, int* col) const;

  // Compiled regexps for match/reReplaceAll, keyed by pattern.
  mutable absl::Mutex re_mu;
  mutable std::map<std::string, std::shared_ptr<const re2::RE2>, std::less<>>
      re_cache ABSL_GUARDED_BY(re_mu);
};

// Parses `text` into a Program; errors are Go's `template: name:line: msg`.
absl::StatusOr<std::shared_ptr<Program>> ParseProgram(std::string_view name,
                                                      std::string_view text);

}  // namespace vigil::engine::tmpl::internal

#endif  // VIGIL_ENGINE_TEMPLATE_PARSE_H_
