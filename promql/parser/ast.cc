// Helpers on AST nodes: static types, operator names, child lists.
#include "promql/parser/ast.h"

#include "promql/parser/functions.h"

namespace vigil::promql::parser {

Expr::~Expr() = default;

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNone:
      return "none";
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    case ValueType::kString:
      return "string";
  }
  return "none";
}

std::string_view BinaryOpName(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    case BinaryOp::kMod:
      return "%";
    case BinaryOp::kPow:
      return "^";
    case BinaryOp::kAtan2:
      return "atan2";
    case BinaryOp::kEql:
      return "==";
    case BinaryOp::kNeq:
      return "!=";
    case BinaryOp::kGtr:
      return ">";
    case BinaryOp::kLss:
      return "<";
    case BinaryOp::kGte:
      return ">=";
    case BinaryOp::kLte:
      return "<=";
    case BinaryOp::kAnd:
      return "and";
    case BinaryOp::kOr:
      return "or";
    case BinaryOp::kUnless:
      return "unless";
  }
  return "?";
}

bool IsComparisonOp(BinaryOp op) {
  switch (op) {
    case BinaryOp::kEql:
    case BinaryOp::kNeq:
    case BinaryOp::kGtr:
    case BinaryOp::kLss:
    case BinaryOp::kGte:
    case BinaryOp::kLte:
      return true;
    default:
      return false;
  }
}

bool IsSetOp(BinaryOp op) {
  return op == BinaryOp::kAnd || op == BinaryOp::kOr || op == BinaryOp::kUnless;
}

int BinaryOpPrecedence(BinaryOp op) {
  switch (op) {
    case BinaryOp::kOr:
      return 1;
    case BinaryOp::kAnd:
    case BinaryOp::kUnless:
      return 2;
    case BinaryOp::kEql:
    case BinaryOp::kNeq:
    case BinaryOp::kGtr:
    case BinaryOp::kLss:
    case BinaryOp::kGte:
    case BinaryOp::kLte:
      return 3;
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
      return 4;
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kMod:
    case BinaryOp::kAtan2:
      return 5;
    case BinaryOp::kPow:
      return 6;
  }
  return 0;
}

std::string_view AggregateOpName(AggregateOp op) {
  switch (op) {
    case AggregateOp::kSum:
      return "sum";
    case AggregateOp::kAvg:
      return "avg";
    case AggregateOp::kCount:
      return "count";
    case AggregateOp::kMin:
      return "min";
    case AggregateOp::kMax:
      return "max";
    case AggregateOp::kGroup:
      return "group";
    case AggregateOp::kStddev:
      return "stddev";
    case AggregateOp::kStdvar:
      return "stdvar";
    case AggregateOp::kTopk:
      return "topk";
    case AggregateOp::kBottomk:
      return "bottomk";
    case AggregateOp::kCountValues:
      return "count_values";
    case AggregateOp::kQuantile:
      return "quantile";
    case AggregateOp::kLimitk:
      return "limitk";
    case AggregateOp::kLimitRatio:
      return "limit_ratio";
  }
  return "?";
}

bool AggregateOpHasParam(AggregateOp op) {
  switch (op) {
    case AggregateOp::kTopk:
    case AggregateOp::kBottomk:
    case AggregateOp::kCountValues:
    case AggregateOp::kQuantile:
    case AggregateOp::kLimitk:
    case AggregateOp::kLimitRatio:
      return true;
    default:
      return false;
  }
}

ValueType Expr::type() const {
  switch (kind) {
    case ExprKind::kNumberLiteral:
      return ValueType::kScalar;
    case ExprKind::kStringLiteral:
      return ValueType::kString;
    case ExprKind::kVectorSelector:
      return ValueType::kVector;
    case ExprKind::kMatrixSelector:
    case ExprKind::kSubquery:
      return ValueType::kMatrix;
    case ExprKind::kParen: {
      const auto& e = static_cast<const ParenExpr&>(*this);
      return e.expr ? e.expr->type() : ValueType::kNone;
    }
    case ExprKind::kUnary: {
      const auto& e = static_cast<const UnaryExpr&>(*this);
      return e.expr ? e.expr->type() : ValueType::kNone;
    }
    case ExprKind::kStepInvariant: {
      const auto& e = static_cast<const StepInvariantExpr&>(*this);
      return e.expr ? e.expr->type() : ValueType::kNone;
    }
    case ExprKind::kBinary: {
      const auto& e = static_cast<const BinaryExpr&>(*this);
      if (e.lhs && e.rhs && e.lhs->type() == ValueType::kScalar &&
          e.rhs->type() == ValueType::kScalar) {
        return ValueType::kScalar;
      }
      return ValueType::kVector;
    }
    case ExprKind::kAggregate:
      return ValueType::kVector;
    case ExprKind::kCall: {
      const auto& e = static_cast<const Call&>(*this);
      return e.func ? e.func->return_type : ValueType::kNone;
    }
  }
  return ValueType::kNone;
}

std::vector<const Expr*> Children(const Expr& e) {
  std::vector<const Expr*> out;
  switch (e.kind) {
    case ExprKind::kNumberLiteral:
    case ExprKind::kStringLiteral:
    case ExprKind::kVectorSelector:
      break;
    case ExprKind::kMatrixSelector:
      out.push_back(
          static_cast<const MatrixSelector&>(e).vector_selector.get());
      break;
    case ExprKind::kSubquery:
      out.push_back(static_cast<const SubqueryExpr&>(e).expr.get());
      break;
    case ExprKind::kParen:
      out.push_back(static_cast<const ParenExpr&>(e).expr.get());
      break;
    case ExprKind::kUnary:
      out.push_back(static_cast<const UnaryExpr&>(e).expr.get());
      break;
    case ExprKind::kStepInvariant:
      out.push_back(static_cast<const StepInvariantExpr&>(e).expr.get());
      break;
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      out.push_back(b.lhs.get());
      out.push_back(b.rhs.get());
      break;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      if (a.param) {
        out.push_back(a.param.get());
      }
      out.push_back(a.expr.get());
      break;
    }
    case ExprKind::kCall:
      for (const auto& arg : static_cast<const Call&>(e).args) {
        out.push_back(arg.get());
      }
      break;
  }
  return out;
}

const Expr& Unwrap(const Expr& e) {
  const Expr* cur = &e;
  while (true) {
    if (cur->kind == ExprKind::kParen) {
      cur = static_cast<const ParenExpr*>(cur)->expr.get();
    } else if (cur->kind == ExprKind::kStepInvariant) {
      cur = static_cast<const StepInvariantExpr*>(cur)->expr.get();
    } else {
      return *cur;
    }
  }
}

namespace {

ExprPtr CloneOrNull(const ExprPtr& e) { return e ? Clone(*e) : nullptr; }

template <typename T>
std::unique_ptr<T> Base(const Expr& from) {
  auto out = std::make_unique<T>();
  out->pos = from.pos;
  out->height = from.height;
  return out;
}

}  // namespace

ExprPtr Clone(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kNumberLiteral: {
      const auto& n = static_cast<const NumberLiteral&>(e);
      auto out = Base<NumberLiteral>(e);
      out->value = n.value;
      out->is_duration = n.is_duration;
      return out;
    }
    case ExprKind::kStringLiteral: {
      auto out = Base<StringLiteral>(e);
      out->value = static_cast<const StringLiteral&>(e).value;
      return out;
    }
    case ExprKind::kVectorSelector: {
      const auto& v = static_cast<const VectorSelector&>(e);
      auto out = Base<VectorSelector>(e);
      out->name = v.name;
      out->matchers = v.matchers;
      out->offset_ms = v.offset_ms;
      out->offset_expr = CloneOrNull(v.offset_expr);
      out->at = v.at;
      return out;
    }
    case ExprKind::kMatrixSelector: {
      const auto& m = static_cast<const MatrixSelector&>(e);
      auto out = Base<MatrixSelector>(e);
      out->vector_selector = CloneOrNull(m.vector_selector);
      out->range_ms = m.range_ms;
      out->range_expr = CloneOrNull(m.range_expr);
      return out;
    }
    case ExprKind::kSubquery: {
      const auto& s = static_cast<const SubqueryExpr&>(e);
      auto out = Base<SubqueryExpr>(e);
      out->expr = CloneOrNull(s.expr);
      out->range_ms = s.range_ms;
      out->range_expr = CloneOrNull(s.range_expr);
      out->step_ms = s.step_ms;
      out->step_expr = CloneOrNull(s.step_expr);
      out->offset_ms = s.offset_ms;
      out->offset_expr = CloneOrNull(s.offset_expr);
      out->at = s.at;
      return out;
    }
    case ExprKind::kParen: {
      auto out = Base<ParenExpr>(e);
      out->expr = CloneOrNull(static_cast<const ParenExpr&>(e).expr);
      return out;
    }
    case ExprKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      auto out = Base<UnaryExpr>(e);
      out->op = u.op;
      out->expr = CloneOrNull(u.expr);
      return out;
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      auto out = Base<BinaryExpr>(e);
      out->op = b.op;
      out->lhs = CloneOrNull(b.lhs);
      out->rhs = CloneOrNull(b.rhs);
      out->return_bool = b.return_bool;
      out->op_pos = b.op_pos;
      out->matching = b.matching;
      return out;
    }
    case ExprKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      auto out = Base<AggregateExpr>(e);
      out->op = a.op;
      out->expr = CloneOrNull(a.expr);
      out->param = CloneOrNull(a.param);
      out->grouping = a.grouping;
      out->without = a.without;
      return out;
    }
    case ExprKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      auto out = Base<Call>(e);
      out->func = c.func;
      out->args.reserve(c.args.size());
      for (const auto& arg : c.args) {
        out->args.push_back(CloneOrNull(arg));
      }
      return out;
    }
    case ExprKind::kStepInvariant: {
      auto out = Base<StepInvariantExpr>(e);
      out->expr = CloneOrNull(static_cast<const StepInvariantExpr&>(e).expr);
      return out;
    }
  }
  return nullptr;
}

void Inspect(const Expr& e, const std::function<bool(const Expr&)>& visit) {
  if (!visit(e)) {
    return;
  }
  for (const Expr* child : Children(e)) {
    if (child != nullptr) {
      Inspect(*child, visit);
    }
  }
}

}  // namespace vigil::promql::parser
