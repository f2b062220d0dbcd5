// The PromQL abstract syntax tree that the parser produces and the planner
// and evaluator consume. Plain structs, one per node kind, owned top-down by
// std::unique_ptr.
#ifndef VIGIL_PROMQL_PARSER_AST_H_
#define VIGIL_PROMQL_PARSER_AST_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/matcher.h"

namespace vigil::promql::parser {

struct FunctionSignature;  // functions.h

// The type an expression evaluates to. kNone only for invalid trees.
enum class ValueType { kNone, kScalar, kVector, kMatrix, kString };

// "scalar", "instant vector", "range vector", "string", "none" as
// Prometheus names them in error messages.
std::string_view ValueTypeName(ValueType t);

// Byte offsets [start, end) into the parsed input.
struct PositionRange {
  int start = 0;
  int end = 0;
};

// Binary and unary operators. kAdd/kSub double as unary + and -.
enum class BinaryOp {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kPow,
  kAtan2,
  kEql,  // ==
  kNeq,  // !=
  kGtr,  // >
  kLss,  // <
  kGte,  // >=
  kLte,  // <=
  kAnd,
  kOr,
  kUnless,
};

// "+", "==", "and", ... as written in PromQL.
std::string_view BinaryOpName(BinaryOp op);
bool IsComparisonOp(BinaryOp op);
bool IsSetOp(BinaryOp op);  // and, or, unless
// Higher binds tighter: or=1, and/unless=2, comparisons=3, +-=4, */%atan2=5,
// ^=6.
int BinaryOpPrecedence(BinaryOp op);

enum class AggregateOp {
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
  kLimitk,      // experimental
  kLimitRatio,  // experimental
};

std::string_view AggregateOpName(AggregateOp op);
// Whether the aggregation takes a leading parameter (topk, bottomk,
// count_values, quantile, limitk, limit_ratio).
bool AggregateOpHasParam(AggregateOp op);

enum class ExprKind {
  kNumberLiteral,
  kStringLiteral,
  kVectorSelector,
  kMatrixSelector,
  kSubquery,
  kParen,
  kUnary,
  kBinary,
  kAggregate,
  kCall,
  kStepInvariant,  // never produced by the parser; for planners
};

// `@ start()` / `@ end()` resolve at evaluation time to the query's range.
enum class AtModifier { kNone, kTimestamp, kStart, kEnd };

// Base of all nodes. Not thread-safe for mutation; a finished tree may be
// read from many threads.
struct Expr {
  explicit Expr(ExprKind k) : kind(k) {}
  virtual ~Expr();
  Expr(const Expr&) = delete;
  Expr& operator=(const Expr&) = delete;

  // The static type of the expression (Prometheus' Type()).
  ValueType type() const;

  const ExprKind kind;
  PositionRange pos;
  // Height of this subtree (1 for a leaf); the parser bounds it by
  // ParseOptions::max_depth so that recursive walks cannot overflow.
  int height = 1;
};

using ExprPtr = std::unique_ptr<Expr>;

struct NumberLiteral : Expr {
  NumberLiteral() : Expr(ExprKind::kNumberLiteral) {}
  double value = 0;
  // Written as a duration (`5m`) inside a duration expression; the value is
  // then in seconds. Only affects printing.
  bool is_duration = false;
};

struct StringLiteral : Expr {
  StringLiteral() : Expr(ExprKind::kStringLiteral) {}
  std::string value;  // unescaped
};

// Duration-valued modifiers (range, subquery step, offset) are stored as
// milliseconds. When the query wrote a duration expression (`[5m+1m]`,
// `offset (1h*2)`), the expression is kept next to it for printing; the
// parser has already folded it into the *_ms field.

// `@` modifier shared by selectors and subqueries.
struct AtSpec {
  AtModifier modifier = AtModifier::kNone;
  int64_t timestamp_ms = 0;  // only for kTimestamp
};

struct VectorSelector : Expr {
  VectorSelector() : Expr(ExprKind::kVectorSelector) {}
  // The metric name written before the braces (`foo` in `foo{a="b"}`);
  // empty for `{__name__="foo"}` and `{"foo"}`, as in Prometheus.
  std::string name;
  // All matchers, including the `__name__="foo"` matcher for `foo{...}`.
  std::vector<storage::Matcher> matchers;
  int64_t offset_ms = 0;  // positive looks back; may be negative
  ExprPtr offset_expr;    // non-null only if a duration expression was used
  AtSpec at;
};

struct MatrixSelector : Expr {
  MatrixSelector() : Expr(ExprKind::kMatrixSelector) {}
  // Always a VectorSelector (carries offset and @).
  ExprPtr vector_selector;
  int64_t range_ms = 0;
  ExprPtr range_expr;  // non-null only if a duration expression was used

  const VectorSelector& selector() const {
    return static_cast<const VectorSelector&>(*vector_selector);
  }
};

struct SubqueryExpr : Expr {
  SubqueryExpr() : Expr(ExprKind::kSubquery) {}
  ExprPtr expr;
  int64_t range_ms = 0;
  ExprPtr range_expr;
  int64_t step_ms = 0;  // 0: the engine's default evaluation interval
  ExprPtr step_expr;
  int64_t offset_ms = 0;
  ExprPtr offset_expr;
  AtSpec at;
};

struct ParenExpr : Expr {
  ParenExpr() : Expr(ExprKind::kParen) {}
  ExprPtr expr;
};

struct UnaryExpr : Expr {
  UnaryExpr() : Expr(ExprKind::kUnary) {}
  BinaryOp op = BinaryOp::kSub;  // kAdd or kSub
  ExprPtr expr;
};

enum class VectorMatchCardinality {
  kOneToOne,
  kManyToOne,   // group_left
  kOneToMany,   // group_right
  kManyToMany,  // set operators
};

struct VectorMatching {
  VectorMatchCardinality card = VectorMatchCardinality::kOneToOne;
  // Labels of on(...) or ignoring(...).
  std::vector<std::string> matching_labels;
  bool on = false;  // true: on(...); false: ignoring(...) or none given
  // Labels of group_left(...) / group_right(...) to copy from the "one" side.
  std::vector<std::string> include;
};

struct BinaryExpr : Expr {
  BinaryExpr() : Expr(ExprKind::kBinary) {}
  BinaryOp op = BinaryOp::kAdd;
  ExprPtr lhs;
  ExprPtr rhs;
  bool return_bool = false;  // `bool` modifier on a comparison
  PositionRange op_pos;      // the operator token
  // Set when both sides are instant vectors (Prometheus sets it then, with
  // kManyToMany for and/or/unless); absent otherwise.
  std::optional<VectorMatching> matching;
};

struct AggregateExpr : Expr {
  AggregateExpr() : Expr(ExprKind::kAggregate) {}
  AggregateOp op = AggregateOp::kSum;
  ExprPtr expr;
  ExprPtr param;  // null unless AggregateOpHasParam(op)
  std::vector<std::string> grouping;
  bool without = false;
};

struct Call : Expr {
  Call() : Expr(ExprKind::kCall) {}
  const FunctionSignature* func = nullptr;  // static table, never null
  std::vector<ExprPtr> args;
};

// Wraps a subtree whose value is the same at every step of a range query
// (Prometheus' StepInvariantExpr). The parser never creates it.
struct StepInvariantExpr : Expr {
  StepInvariantExpr() : Expr(ExprKind::kStepInvariant) {}
  ExprPtr expr;
};

// Direct children in evaluation order (args, lhs then rhs, param then expr).
// Duration expressions attached to modifiers are not included. The pointers
// live as long as `e`.
std::vector<const Expr*> Children(const Expr& e);

// Strips any number of enclosing ParenExpr / StepInvariantExpr.
const Expr& Unwrap(const Expr& e);

// A deep copy of `e` (matchers share their compiled regexes).
ExprPtr Clone(const Expr& e);

// Calls `visit` on `e` and then on its descendants in pre-order (Children()
// order); when `visit` returns false the node's children are skipped.
void Inspect(const Expr& e, const std::function<bool(const Expr&)>& visit);

}  // namespace vigil::promql::parser

#endif  // VIGIL_PROMQL_PARSER_AST_H_
