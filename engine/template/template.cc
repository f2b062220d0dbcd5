// Executes parsed templates with Go text/template semantics (missingkey=zero,
// as Prometheus sets it) and Prometheus' function set.
#include "engine/template/template.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "engine/template/funcs.h"
#include "engine/template/parse.h"
#include "engine/template/value.h"
#include "re2/re2.h"
#include "storage/base/status_macros.h"

namespace vigil::engine::tmpl {
namespace {

using internal::Func;
using internal::Kind;
using internal::Node;
using internal::NodeType;
using internal::Program;
using internal::Value;

enum class Flow { kNormal, kBreak, kContinue };

// The Go parameter types our functions declare; they decide how literal
// arguments are taken and which values are accepted.
enum class Param {
  kAny,     // interface{}
  kValue,   // reflect.Value (builtins like eq, index)
  kString,
  kQueryResult,
  kSample,
};

struct Signature {
  std::vector<Param> params;
  bool variadic = false;  // the last param repeats
};

const Signature& SignatureOf(Func f) {
  static const Signature kNone{{}, false};
  static const Signature kAny1{{Param::kAny}, false};
  static const Signature kValue1{{Param::kValue}, false};
  static const Signature kValueVar{{Param::kValue, Param::kValue}, true};
  static const Signature kValue2{{Param::kValue, Param::kValue}, false};
  static const Signature kAnyVar{{Param::kAny}, true};
  static const Signature kPrintf{{Param::kString, Param::kAny}, true};
  static const Signature kString1{{Param::kString}, false};
  static const Signature kString2{{Param::kString, Param::kString}, false};
  static const Signature kString3{
      {Param::kString, Param::kString, Param::kString}, false};
  static const Signature kQuery1{{Param::kQueryResult}, false};
  static const Signature kSample1{{Param::kSample}, false};
  static const Signature kLabel{{Param::kString, Param::kSample}, false};
  static const Signature kSort{{Param::kString, Param::kQueryResult}, false};
  static const Signature kAndOr{{Param::kValue, Param::kValue}, true};
  switch (f) {
    case Func::kAnd:
    case Func::kOr:
      return kAndOr;
    case Func::kNot:
      return kValue1;
    case Func::kLen:
      return kValue1;
    case Func::kIndex:
    case Func::kSlice:
    case Func::kEq:
    case Func::kCall:
      return kValueVar;
    case Func::kNe:
    case Func::kLt:
    case Func::kLe:
    case Func::kGt:
    case Func::kGe:
      return kValue2;
    case Func::kPrint:
    case Func::kPrintln:
    case Func::kHtml:
    case Func::kJs:
    case Func::kUrlquery:
    case Func::kArgs:
      return kAnyVar;
    case Func::kPrintf:
      return kPrintf;
    case Func::kQuery:
    case Func::kSafeHtml:
    case Func::kTitle:
    case Func::kToUpper:
    case Func::kToLower:
    case Func::kGraphLink:
    case Func::kTableLink:
    case Func::kStripPort:
    case Func::kStripDomain:
    case Func::kParseDuration:
      return kString1;
    case Func::kMatch:
      return kString2;
    case Func::kReReplaceAll:
      return kString3;
    case Func::kFirst:
      return kQuery1;
    case Func::kLabel:
      return kLabel;
    case Func::kValue:
    case Func::kStrvalue:
      return kSample1;
    case Func::kSortByLabel:
      return kSort;
    case Func::kHumanize:
    case Func::kHumanize1024:
    case Func::kHumanizeDuration:
    case Func::kHumanizePercentage:
    case Func::kHumanizeTimestamp:
    case Func::kToTime:
    case Func::kToDuration:
      return kAny1;
    case Func::kNow:
    case Func::kPathPrefix:
    case Func::kExternalURL:
      return kNone;
  }
  return kNone;
}

std::string ParamTypeName(Param p) {
  switch (p) {
    case Param::kAny:
      return "interface {}";
    case Param::kValue:
      return "reflect.Value";
    case Param::kString:
      return "string";
    case Param::kQueryResult:
      return "template.queryResult";
    case Param::kSample:
      return "*template.sample";
  }
  return "?";
}

const char kNilDeref[] =
    "runtime error: invalid memory address or nil pointer dereference";

// common/helpers/templates.ConvertToFloat.
absl::StatusOr<double> ConvertToFloat(const Value& v) {
  switch (v.kind()) {
    case Kind::kFloat:
      return v.as_float();
    case Kind::kInt:
      return static_cast<double>(v.as_int());
    case Kind::kString:
      return internal::GoParseFloat(v.as_string());
    case Kind::kDuration:
      return static_cast<double>(v.as_int()) / 1e9;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "can't convert ", internal::GoTypeName(v), " to float"));
  }
}

enum class BasicKind { kBad, kBool, kInt, kFloat, kString };
BasicKind BasicKindOf(const Value& v) {
  switch (v.kind()) {
    case Kind::kBool:
      return BasicKind::kBool;
    case Kind::kInt:
      return BasicKind::kInt;
    case Kind::kFloat:
      return BasicKind::kFloat;
    case Kind::kString:
      return BasicKind::kString;
    default:
      return BasicKind::kBad;
  }
}

// Go's eq: arg1 equals any of rest.
absl::StatusOr<bool> GoEq(const Value& a, absl::Span<const Value> rest) {
  if (rest.empty()) {
    return absl::InvalidArgumentError("missing argument for comparison");
  }
  const BasicKind k1 = BasicKindOf(a);
  for (const Value& b : rest) {
    const BasicKind k2 = BasicKindOf(b);
    bool truth = false;
    if (a.is_nil() || b.is_nil()) {
      truth = a.is_nil() && b.is_nil();
    } else if (k1 != k2) {
      return absl::InvalidArgumentError("incompatible types for comparison");
    } else {
      switch (k1) {
        case BasicKind::kBool:
        case BasicKind::kInt:
          truth = a.as_int() == b.as_int();
          break;
        case BasicKind::kFloat:
          truth = a.as_float() == b.as_float();
          break;
        case BasicKind::kString:
          truth = a.as_string() == b.as_string();
          break;
        case BasicKind::kBad: {
          const auto uncomparable = [](const Value& v) {
            // Maps, slices and structs holding them can't be compared.
            return v.kind() == Kind::kStringMap || v.kind() == Kind::kAnyMap ||
                   v.kind() == Kind::kList || v.kind() == Kind::kRoot;
          };
          if (a.kind() != b.kind()) {
            return absl::InvalidArgumentError(internal::GoSprintf(
                "non-comparable types %s: %v, %v: %v",
                {a, Value::String(internal::GoTypeName(a)),
                 Value::String(internal::GoTypeName(b)), b}));
          }
          if (uncomparable(b)) {
            return absl::InvalidArgumentError(internal::GoSprintf(
                "non-comparable type %s: %v",
                {b, Value::String(internal::GoTypeName(b))}));
          }
          if (a.kind() == Kind::kTime || a.kind() == Kind::kDuration) {
            truth = a.as_int() == b.as_int();
          } else if (a.kind() == Kind::kRoot) {
            truth = &a.as_root() == &b.as_root();
          } else {
            truth = a.identity() == b.identity();
          }
        }
      }
    }
    if (truth) return true;
  }
  return false;
}

absl::StatusOr<bool> GoLt(const Value& a, const Value& b) {
  const BasicKind k1 = BasicKindOf(a);
  const BasicKind k2 = BasicKindOf(b);
  if (k1 == BasicKind::kBad || k2 == BasicKind::kBad) {
    return absl::InvalidArgumentError("invalid type for comparison");
  }
  if (k1 != k2) {
    return absl::InvalidArgumentError("incompatible types for comparison");
  }
  switch (k1) {
    case BasicKind::kInt:
      return a.as_int() < b.as_int();
    case BasicKind::kFloat:
      return a.as_float() < b.as_float();
    case BasicKind::kString:
      return a.as_string() < b.as_string();
    default:
      return absl::InvalidArgumentError("invalid type for comparison");
  }
}

// Go's index/slice argument: an int in [0, cap].
absl::StatusOr<int64_t> IndexArg(const Value& index, int64_t cap) {
  if (index.is_nil()) {
    return absl::InvalidArgumentError("cannot index slice/array with nil");
  }
  if (index.kind() != Kind::kInt) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot index slice/array with type ",
                     internal::GoTypeName(index)));
  }
  const int64_t x = index.as_int();
  if (x < 0 || x > cap) {
    return absl::InvalidArgumentError(absl::StrCat("index out of range: ", x));
  }
  return x;
}

// What text/template's evalArgs gives html/js/urlquery: the lone string, or
// fmt.Sprint of the printable values.
std::string EvalArgsString(const std::vector<Value>& args) {
  if (args.size() == 1 && args[0].kind() == Kind::kString) {
    return args[0].as_string();
  }
  std::vector<Value> printable;
  printable.reserve(args.size());
  for (const Value& a : args) {
    if (a.is_nil()) {
      printable.push_back(Value::String("<no value>"));
    } else if (a.kind() == Kind::kSample) {
      std::string s = internal::GoValueString(a);
      printable.push_back(Value::String(s.substr(1)));  // drop '&'
    } else {
      printable.push_back(a);
    }
  }
  // Sprint's space rule looks at the original types.
  std::string out;
  bool prev_string = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const bool is_string = args[i].kind() == Kind::kString;
    if (i > 0 && !is_string && !prev_string) out.push_back(' ');
    internal::AppendGoValue(printable[i], &out);
    prev_string = is_string;
  }
  return out;
}

// The node as Go's ErrorContext quotes it (whole; old Go truncated it).
std::string ErrorContextString(const Node* n) {
  return internal::NodeString(n);
}

class State {
 public:
  State(const Program& prog, const Data& data, const Env& env)
      : prog_(prog), data_(data), env_(env), tmpl_name_(prog.name) {}

  absl::StatusOr<std::string> Run(const Node* root) {
    const Value dot = Value::Root(&data_);
    vars_.emplace_back("$", dot);
    absl::StatusOr<Flow> f = Walk(dot, root);
    if (!f.ok()) return f.status();
    return std::move(out_);
  }

 private:
  // ------------------------------------------------------------ errors

  absl::Status Errorf(absl::string_view msg,
                      absl::StatusCode code = absl::StatusCode::kInvalidArgument) {
    std::string text;
    if (at_ == nullptr) {
      text = absl::StrCat("template: ", internal::Av(tmpl_name_), ": ", msg);
    } else {
      int line, col;
      prog_.Location(at_->pos, &line, &col);
      text = absl::StrCat("template: ", prog_.name, ":", line, ":", col,
                          ": executing ", internal::GoQuote(tmpl_name_),
                          " at <", ErrorContextString(at_), ">: ", msg);
    }
    return absl::Status(code, text);
  }

  absl::Status Step() {
    if (++steps_ > Template::kMaxSteps) {
      return Errorf(absl::StrCat("template evaluation exceeded ",
                                 Template::kMaxSteps, " steps"),
                    absl::StatusCode::kResourceExhausted);
    }
    return absl::OkStatus();
  }

  absl::Status CheckOutput() {
    if (out_.size() > Template::kMaxOutputBytes) {
      return Errorf(absl::StrCat("template output exceeds ",
                                 Template::kMaxOutputBytes, " bytes"),
                    absl::StatusCode::kResourceExhausted);
    }
    return absl::OkStatus();
  }

  // ------------------------------------------------------------ variables

  absl::StatusOr<Value> VarValue(std::string_view name) {
    for (size_t i = vars_.size(); i-- > 0;) {
      if (vars_[i].first == name) return vars_[i].second;
    }
    return Errorf(absl::StrCat("undefined variable: ", internal::Av(name)));
  }

  absl::Status SetVar(std::string_view name, const Value& v) {
    for (size_t i = vars_.size(); i-- > 0;) {
      if (vars_[i].first == name) {
        vars_[i].second = v;
        return absl::OkStatus();
      }
    }
    return Errorf(absl::StrCat("undefined variable: ", internal::Av(name)));
  }

  // ------------------------------------------------------------ walking

  absl::StatusOr<Flow> Walk(const Value& dot, const Node* n) {
    RETURN_IF_ERROR(Step());
    switch (n->type) {
      case NodeType::kIf:
      case NodeType::kWith:
      case NodeType::kRange:
      case NodeType::kTemplate: {
        // Blocks nest within a template (bounded by the parser) and across
        // template calls; bound the product so the stack stays small.
        if (nesting_ >= Template::kMaxNesting) {
          at_ = n;
          return Errorf(absl::StrCat("template nesting exceeds ",
                                     Template::kMaxNesting, " levels"),
                        absl::StatusCode::kResourceExhausted);
        }
        ++nesting_;
        absl::StatusOr<Flow> f = WalkBlock(dot, n);
        --nesting_;
        return f;
      }
      default:
        break;
    }
    switch (n->type) {
      case NodeType::kAction: {
        ASSIGN_OR_RETURN(Value v, EvalPipeline(dot, n->pipe));
        if (n->pipe->decl.empty()) {
          at_ = n;
          PrintValue(v);
          RETURN_IF_ERROR(CheckOutput());
        }
        return Flow::kNormal;
      }
      case NodeType::kBreak:
        return Flow::kBreak;
      case NodeType::kContinue:
        return Flow::kContinue;
      case NodeType::kList:
        for (const Node* c : n->nodes) {
          ASSIGN_OR_RETURN(Flow f, Walk(dot, c));
          if (f != Flow::kNormal) return f;
        }
        return Flow::kNormal;
      case NodeType::kText:
        out_ += n->text;
        RETURN_IF_ERROR(CheckOutput());
        return Flow::kNormal;
      default:
        return Errorf(absl::StrCat("unknown node: ", internal::NodeString(n)),
                      absl::StatusCode::kInternal);
    }
  }

  absl::StatusOr<Flow> WalkBlock(const Value& dot, const Node* n) {
    switch (n->type) {
      case NodeType::kRange:
        return WalkRange(dot, n);
      case NodeType::kTemplate:
        return WalkTemplate(dot, n);
      default:
        return WalkIfOrWith(dot, n);
    }
  }

  void PrintValue(const Value& v) {
    switch (v.kind()) {
      case Kind::kNil:
        out_ += "<no value>";
        return;
      case Kind::kSample:
        out_ += PrintedValue(v);
        return;
      default:
        internal::AppendGoValue(v, &out_);
    }
  }

  // %v of a value after text/template's indirection: a sample prints as the
  // struct it points at.
  static std::string PrintedValue(const Value& v) {
    std::string s = internal::GoValueString(v);
    if (v.kind() == Kind::kSample) s.erase(0, 1);  // the '&'
    return s;
  }

  absl::StatusOr<Flow> WalkIfOrWith(const Value& dot, const Node* n) {
    const size_t mark = vars_.size();
    ASSIGN_OR_RETURN(Value v, EvalPipeline(dot, n->pipe));
    Flow f = Flow::kNormal;
    if (internal::IsTrue(v)) {
      ASSIGN_OR_RETURN(f, Walk(n->type == NodeType::kWith ? v : dot, n->list));
    } else if (n->else_list != nullptr) {
      ASSIGN_OR_RETURN(f, Walk(dot, n->else_list));
    }
    vars_.resize(mark);
    return f;
  }

  absl::StatusOr<Flow> WalkRange(const Value& dot, const Node* n) {
    at_ = n;
    const size_t mark0 = vars_.size();
    ASSIGN_OR_RETURN(Value val, EvalPipeline(dot, n->pipe));
    const size_t mark = vars_.size();
    const std::vector<Node*>& decl = n->pipe->decl;
    bool ran = false;
    bool stop = false;
    auto one = [&](const Value& index, const Value& elem) -> absl::Status {
      ran = true;
      if (!decl.empty()) {
        if (n->pipe->is_assign) {
          RETURN_IF_ERROR(
              SetVar(decl[0]->idents[0], decl.size() > 1 ? index : elem));
        } else {
          vars_[mark - 1].second = elem;
        }
      }
      if (decl.size() > 1) {
        if (n->pipe->is_assign) {
          RETURN_IF_ERROR(SetVar(decl[1]->idents[0], elem));
        } else {
          vars_[mark - 2].second = index;
        }
      }
      absl::StatusOr<Flow> f = Walk(elem, n->list);
      if (!f.ok()) return f.status();
      vars_.resize(mark);
      if (*f == Flow::kBreak) stop = true;
      return absl::OkStatus();
    };
    switch (val.kind()) {
      case Kind::kList: {
        const internal::List& list = val.as_list();
        for (size_t i = 0; i < list.size() && !stop; ++i) {
          RETURN_IF_ERROR(one(Value::Int(static_cast<int64_t>(i)), list[i]));
        }
        break;
      }
      case Kind::kStringMap:
        for (const auto& [k, v] : val.as_string_map()) {
          if (stop) break;
          RETURN_IF_ERROR(one(Value::String(k), Value::String(v)));
        }
        break;
      case Kind::kAnyMap:
        for (const auto& [k, v] : val.as_any_map()) {
          if (stop) break;
          RETURN_IF_ERROR(one(Value::String(k), v));
        }
        break;
      case Kind::kInt:
        if (decl.size() > 1) {
          return Errorf(absl::StrCat("can't use ", internal::GoValueString(val),
                                     " to iterate over more than one variable"));
        }
        for (int64_t i = 0; i < val.as_int() && !stop; ++i) {
          RETURN_IF_ERROR(one(Value(), Value::Int(i)));
        }
        break;
      case Kind::kNil:
        break;
      default:
        return Errorf(absl::StrCat("range can't iterate over ",
                                   PrintedValue(val)));
    }
    if (!ran && n->else_list != nullptr) {
      ASSIGN_OR_RETURN(Flow f, Walk(dot, n->else_list));
      (void)f;
    }
    vars_.resize(mark0);
    return Flow::kNormal;
  }

  absl::StatusOr<Flow> WalkTemplate(const Value& dot, const Node* n) {
    at_ = n;
    auto it = prog_.templates.find(n->text);
    if (it == prog_.templates.end()) {
      return Errorf(absl::StrCat("template ", internal::GoQuote(n->text),
                                 " not defined"));
    }
    if (depth_ >= Template::kMaxCallDepth) {
      return Errorf(absl::StrCat("exceeded maximum template depth (",
                                 Template::kMaxCallDepth, ")"),
                    absl::StatusCode::kResourceExhausted);
    }
    Value new_dot;
    if (n->pipe != nullptr) {
      ASSIGN_OR_RETURN(new_dot, EvalPipeline(dot, n->pipe));
    }
    std::vector<std::pair<std::string_view, Value>> saved_vars;
    saved_vars.swap(vars_);
    vars_.emplace_back("$", new_dot);
    const std::string_view saved_name = tmpl_name_;
    tmpl_name_ = it->first;
    ++depth_;
    absl::StatusOr<Flow> f = Walk(new_dot, it->second);
    --depth_;
    tmpl_name_ = saved_name;
    vars_.swap(saved_vars);
    if (!f.ok()) return f.status();
    return Flow::kNormal;
  }

  // ------------------------------------------------------------ evaluation

  absl::StatusOr<Value> EvalPipeline(const Value& dot, const Node* pipe) {
    at_ = pipe;
    Value value;
    bool have = false;
    for (const Node* cmd : pipe->nodes) {
      RETURN_IF_ERROR(Step());
      Value final = value;
      ASSIGN_OR_RETURN(value, EvalCommand(dot, cmd, have ? &final : nullptr));
      have = true;
    }
    for (const Node* var : pipe->decl) {
      if (pipe->is_assign) {
        RETURN_IF_ERROR(SetVar(var->idents[0], value));
      } else {
        vars_.emplace_back(var->idents[0], value);
      }
    }
    return value;
  }

  absl::Status NotAFunction(absl::Span<Node* const> args, const Value* final) {
    if (args.size() > 1 || final != nullptr) {
      return Errorf(absl::StrCat("can't give argument to non-function ",
                                 internal::NodeString(args[0])));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Value> IdealConstant(const Node* n) {
    if (n->ideal_float) return Value::Float(n->float_value);
    if (n->is_int) return Value::Int(n->int_value);
    return Errorf(absl::StrCat(n->text, " overflows int"));
  }

  absl::StatusOr<Value> EvalCommand(const Value& dot, const Node* cmd,
                                    const Value* final) {
    const Node* first = cmd->nodes[0];
    absl::Span<Node* const> args(cmd->nodes);
    switch (first->type) {
      case NodeType::kField:
        at_ = first;
        return EvalFieldChain(dot, dot, first, first->idents, args, final);
      case NodeType::kChain:
        return EvalChainNode(dot, first, args, final);
      case NodeType::kIdentifier:
        at_ = first;
        return EvalCall(dot, first, cmd, args, final);
      case NodeType::kPipe:
        RETURN_IF_ERROR(NotAFunction(args, final));
        return EvalPipeline(dot, first);
      case NodeType::kVariable:
        return EvalVariableNode(dot, first, args, final);
      default:
        break;
    }
    at_ = first;
    RETURN_IF_ERROR(NotAFunction(args, final));
    switch (first->type) {
      case NodeType::kBool:
        return Value::Bool(first->boolean);
      case NodeType::kDot:
        return dot;
      case NodeType::kNil:
        return Errorf("nil is not a command");
      case NodeType::kNumber:
        return IdealConstant(first);
      case NodeType::kString:
        return Value::String(first->text);
      default:
        return Errorf(absl::StrCat("can't evaluate command ",
                                   internal::GoQuote(internal::NodeString(first))));
    }
  }

  absl::StatusOr<Value> EvalChainNode(const Value& dot, const Node* chain,
                                      absl::Span<Node* const> args,
                                      const Value* final) {
    at_ = chain;
    if (chain->base->type == NodeType::kNil) {
      return Errorf(absl::StrCat("indirection through explicit nil in ",
                                 internal::NodeString(chain)));
    }
    ASSIGN_OR_RETURN(Value base, EvalArg(dot, Param::kAny, chain->base));
    return EvalFieldChain(dot, base, chain, chain->idents, args, final);
  }

  absl::StatusOr<Value> EvalVariableNode(const Value& dot, const Node* var,
                                         absl::Span<Node* const> args,
                                         const Value* final) {
    at_ = var;
    ASSIGN_OR_RETURN(Value v, VarValue(var->idents[0]));
    if (var->idents.size() == 1) {
      if (!args.empty()) RETURN_IF_ERROR(NotAFunction(args, final));
      return v;
    }
    return EvalFieldChain(dot, v,  var,
                          absl::MakeConstSpan(var->idents).subspan(1), args,
                          final);
  }

  absl::StatusOr<Value> EvalFieldChain(const Value& dot, Value receiver,
                                       const Node* node,
                                       absl::Span<const std::string> idents,
                                       absl::Span<Node* const> args,
                                       const Value* final) {
    for (size_t i = 0; i + 1 < idents.size(); ++i) {
      ASSIGN_OR_RETURN(receiver,
                       EvalField(dot, idents[i], node, {}, nullptr, receiver));
    }
    return EvalField(dot, idents.back(), node, args, final, receiver);
  }

  absl::StatusOr<Value> EvalField(const Value& dot, const std::string& name,
                                  const Node* node,
                                  absl::Span<Node* const> args,
                                  const Value* final, const Value& receiver) {
    if (receiver.is_nil()) return Value();  // missingkey=zero on nil data
    const bool has_args = args.size() > 1 || final != nullptr;
    auto field = [&](Value v) -> absl::StatusOr<Value> {
      if (has_args) {
        return Errorf(absl::StrCat(
            name, " has arguments but cannot be invoked as function"));
      }
      return v;
    };
    switch (receiver.kind()) {
      case Kind::kRoot: {
        const Data& d = receiver.as_root();
        if (name == "Labels") {
          return field(Value::StringMapRef(internal::BorrowMap(d.labels)));
        }
        if (name == "ExternalLabels") {
          return field(
              Value::StringMapRef(internal::BorrowMap(d.external_labels)));
        }
        if (name == "ExternalURL") return field(Value::String(d.external_url));
        if (name == "Value") return field(Value::Float(d.value));
        break;
      }
      case Kind::kStringMap: {
        if (has_args) {
          return Errorf(
              absl::StrCat(name, " is not a method but has arguments"));
        }
        const internal::StringMap& m = receiver.as_string_map();
        auto it = m.find(name);
        return Value::String(it == m.end() ? std::string() : it->second);
      }
      case Kind::kAnyMap: {
        if (has_args) {
          return Errorf(
              absl::StrCat(name, " is not a method but has arguments"));
        }
        const internal::AnyMap& m = receiver.as_any_map();
        auto it = m.find(name);
        return it == m.end() ? Value() : it->second;
      }
      case Kind::kSample: {
        const internal::SampleValue& s = receiver.as_sample();
        if (name == "Labels") {
          return field(Value::StringMapRef(
              std::shared_ptr<const internal::StringMap>(receiver.keepalive(),
                                                         &s.labels)));
        }
        if (name == "Value") return field(Value::Float(s.value));
        break;
      }
      case Kind::kTime:
      case Kind::kDuration:
        return EvalMethod(dot, name, args, final, receiver);
      default:
        break;
    }
    return Errorf(absl::StrCat("can't evaluate field ", name, " in type ",
                               internal::GoTypeName(receiver)));
  }

  // Methods of time.Time and time.Duration that templates use.
  absl::StatusOr<Value> EvalMethod(const Value& dot, const std::string& name,
                                   absl::Span<Node* const> args,
                                   const Value* final, const Value& recv) {
    std::vector<Value> argv;
    const size_t nargs = (args.empty() ? 0 : args.size() - 1) + (final ? 1 : 0);
    auto want = [&](size_t n) -> absl::Status {
      if (nargs != n) {
        return Errorf(absl::StrCat("wrong number of args for ", name, ": want ",
                                   n, " got ", nargs));
      }
      for (size_t i = 1; i < args.size(); ++i) {
        ASSIGN_OR_RETURN(Value v, EvalArg(dot, Param::kString, args[i]));
        argv.push_back(std::move(v));
      }
      if (final != nullptr) {
        ASSIGN_OR_RETURN(Value v, ValidateType(*final, Param::kString));
        argv.push_back(std::move(v));
      }
      return absl::OkStatus();
    };
    const int64_t ns = recv.as_int();
    if (recv.kind() == Kind::kTime) {
      auto floor_div = [](int64_t a, int64_t b) {
        return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
      };
      if (name == "Unix") {
        RETURN_IF_ERROR(want(0));
        return Value::Int(floor_div(ns, 1000000000));
      }
      if (name == "UnixMilli") {
        RETURN_IF_ERROR(want(0));
        return Value::Int(floor_div(ns, 1000000));
      }
      if (name == "UnixNano") {
        RETURN_IF_ERROR(want(0));
        return Value::Int(ns);
      }
      if (name == "UTC") {
        RETURN_IF_ERROR(want(0));
        return recv;
      }
      if (name == "String") {
        RETURN_IF_ERROR(want(0));
        return Value::String(internal::GoTimeString(ns));
      }
      if (name == "Format") {
        RETURN_IF_ERROR(want(1));
        return Value::String(internal::GoTimeFormat(ns, argv[0].as_string()));
      }
      const internal::CivilTime t = internal::ToCivil(ns);
      if (name == "Year") {
        RETURN_IF_ERROR(want(0));
        return Value::Int(t.year);
      }
      if (name == "Month") {  // Go's time.Month prints as its name
        RETURN_IF_ERROR(want(0));
        return Value::String(internal::kGoMonthNames[t.month - 1]);
      }
      if (name == "Weekday") {
        RETURN_IF_ERROR(want(0));
        return Value::String(internal::kGoDayNames[t.weekday]);
      }
      if (name == "Day" || name == "Hour" || name == "Minute" ||
          name == "Second" || name == "YearDay" || name == "Nanosecond") {
        RETURN_IF_ERROR(want(0));
        return Value::Int(name == "Day"      ? t.day
                          : name == "Hour"   ? t.hour
                          : name == "Minute" ? t.minute
                          : name == "Second" ? t.second
                          : name == "YearDay" ? t.yday
                                              : t.nanos);
      }
    } else {
      if (name == "Seconds") {
        RETURN_IF_ERROR(want(0));
        return Value::Float(static_cast<double>(ns) / 1e9);
      }
      if (name == "Minutes") {
        RETURN_IF_ERROR(want(0));
        return Value::Float(static_cast<double>(ns) / 6e10);
      }
      if (name == "Hours") {
        RETURN_IF_ERROR(want(0));
        return Value::Float(static_cast<double>(ns) / 3.6e12);
      }
      if (name == "Milliseconds") {
        RETURN_IF_ERROR(want(0));
        return Value::Int(ns / 1000000);
      }
      if (name == "Nanoseconds") {
        RETURN_IF_ERROR(want(0));
        return Value::Int(ns);
      }
      if (name == "String") {
        RETURN_IF_ERROR(want(0));
        return Value::String(internal::GoDurationString(ns));
      }
    }
    return Errorf(absl::StrCat("can't evaluate field ", name, " in type ",
                               internal::GoTypeName(recv)));
  }

  absl::StatusOr<Value> ValidateType(const Value& v, Param p) {
    if (v.is_nil()) {
      switch (p) {
        case Param::kAny:
        case Param::kValue:
        case Param::kSample:
          return v;
        case Param::kQueryResult:
          return Value::ListRef(std::make_shared<const internal::List>());
        case Param::kString:
          return Errorf("invalid value; expected string");
      }
    }
    auto wrong = [&] {
      return Errorf(absl::StrCat("wrong type for value; expected ",
                                 ParamTypeName(p), "; got ",
                                 internal::GoTypeName(v)));
    };
    switch (p) {
      case Param::kAny:
      case Param::kValue:
        return v;
      case Param::kString:
        if (v.kind() != Kind::kString) return wrong();
        return v;
      case Param::kQueryResult:
        if (v.kind() != Kind::kList) return wrong();
        return v;
      case Param::kSample:
        if (v.kind() != Kind::kSample) return wrong();
        return v;
    }
    return v;
  }

  absl::StatusOr<Value> EvalArg(const Value& dot, Param p, const Node* n) {
    at_ = n;
    switch (n->type) {
      case NodeType::kDot:
        return ValidateType(dot, p);
      case NodeType::kNil:
        if (p == Param::kString) {
          return Errorf(absl::StrCat("cannot assign nil to ", ParamTypeName(p)));
        }
        return ValidateType(Value(), p);
      case NodeType::kField: {
        ASSIGN_OR_RETURN(Value v,
                         EvalFieldChain(dot, dot, n, n->idents, {}, nullptr));
        return ValidateType(v, p);
      }
      case NodeType::kVariable: {
        ASSIGN_OR_RETURN(Value v, EvalVariableNode(dot, n, {}, nullptr));
        return ValidateType(v, p);
      }
      case NodeType::kPipe: {
        ASSIGN_OR_RETURN(Value v, EvalPipeline(dot, n));
        return ValidateType(v, p);
      }
      case NodeType::kIdentifier: {
        Node* const self[1] = {const_cast<Node*>(n)};
        ASSIGN_OR_RETURN(Value v, EvalCall(dot, n, n, self, nullptr));
        return ValidateType(v, p);
      }
      case NodeType::kChain: {
        ASSIGN_OR_RETURN(Value v, EvalChainNode(dot, n, {}, nullptr));
        return ValidateType(v, p);
      }
      default:
        break;
    }
    switch (p) {
      case Param::kString:
        if (n->type == NodeType::kString) return Value::String(n->text);
        return Errorf(absl::StrCat("expected string; found ",
                                   internal::NodeString(n)));
      case Param::kAny:
      case Param::kValue:
        switch (n->type) {
          case NodeType::kBool:
            return Value::Bool(n->boolean);
          case NodeType::kNumber:
            return IdealConstant(n);
          case NodeType::kString:
            return Value::String(n->text);
          default:
            break;
        }
        break;
      default:
        break;
    }
    return Errorf(absl::StrCat("can't handle ", internal::NodeString(n),
                               " for arg of type ", ParamTypeName(p)));
  }

  // A function call: `ident` names the function, `node` is what errors
  // point at (the command, or the identifier when used as an argument),
  // args[0] is the identifier itself.
  absl::StatusOr<Value> EvalCall(const Value& dot, const Node* ident,
                                 const Node* node, absl::Span<Node* const> args,
                                 const Value* final) {
    const Func f = ident->func;
    const std::string& name = ident->text;
    const Signature& sig = SignatureOf(f);
    const size_t num_in = args.size() - 1 + (final != nullptr ? 1 : 0);
    if (sig.variadic) {
      if (num_in < sig.params.size() - 1) {
        return Errorf(absl::StrCat("wrong number of args for ", name,
                                   ": want at least ", sig.params.size() - 1,
                                   " got ", num_in));
      }
    } else if (num_in != sig.params.size()) {
      return Errorf(absl::StrCat("wrong number of args for ", name, ": want ",
                                 sig.params.size(), " got ", num_in));
    }
    if (f == Func::kAnd || f == Func::kOr) {
      if (num_in == 0) {
        return Errorf(absl::StrCat("wrong number of args for ", name,
                                   ": want at least 1 got 0"));
      }
      Value v;
      for (size_t i = 1; i < args.size(); ++i) {
        ASSIGN_OR_RETURN(v, EvalArg(dot, Param::kValue, args[i]));
        if (internal::IsTrue(v) == (f == Func::kOr)) return v;
      }
      if (final != nullptr) v = *final;
      return v;
    }
    std::vector<Value> argv;
    argv.reserve(num_in);
    auto param_at = [&](size_t i) {
      return i < sig.params.size() ? sig.params[i] : sig.params.back();
    };
    for (size_t i = 1; i < args.size(); ++i) {
      ASSIGN_OR_RETURN(Value v, EvalArg(dot, param_at(i - 1), args[i]));
      argv.push_back(std::move(v));
    }
    if (final != nullptr) {
      ASSIGN_OR_RETURN(Value v, ValidateType(*final, param_at(num_in - 1)));
      argv.push_back(std::move(v));
    }
    std::string callee;
    if (f == Func::kCall) {
      callee = args.size() > 1 ? internal::NodeString(args[1])
                               : internal::GoValueString(*final);
    }
    absl::StatusOr<Value> r = CallBuiltin(f, argv, callee);
    if (!r.ok()) {
      at_ = node;
      if (r.status().code() == absl::StatusCode::kResourceExhausted) {
        return Errorf(absl::StrCat("error calling ", name, ": ",
                                   r.status().message()),
                      absl::StatusCode::kResourceExhausted);
      }
      return Errorf(
          absl::StrCat("error calling ", name, ": ", r.status().message()));
    }
    if (r->kind() == Kind::kString &&
        r->as_string().size() > Template::kMaxOutputBytes) {
      at_ = node;
      return Errorf(absl::StrCat("error calling ", name, ": result exceeds ",
                                 Template::kMaxOutputBytes, " bytes"),
                    absl::StatusCode::kResourceExhausted);
    }
    return r;
  }

  absl::StatusOr<std::shared_ptr<const re2::RE2>> Regexp(
      const std::string& pattern) {
    {
      absl::MutexLock l(&prog_.re_mu);
      auto it = prog_.re_cache.find(pattern);
      if (it != prog_.re_cache.end()) return it->second;
    }
    re2::RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<const re2::RE2>(pattern, opts);
    if (!re->ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("error parsing regexp: ", re->error()));
    }
    absl::MutexLock l(&prog_.re_mu);
    if (prog_.re_cache.size() < 64) prog_.re_cache.emplace(pattern, re);
    return re;
  }

  absl::StatusOr<Value> CallBuiltin(Func f, const std::vector<Value>& a,
                                    const std::string& callee) {
    switch (f) {
      case Func::kAnd:
      case Func::kOr:
        break;  // handled by EvalCall
      case Func::kNot:
        return Value::Bool(!internal::IsTrue(a[0]));
      case Func::kLen:
        switch (a[0].kind()) {
          case Kind::kString:
            return Value::Int(static_cast<int64_t>(a[0].as_string().size()));
          case Kind::kStringMap:
            return Value::Int(static_cast<int64_t>(a[0].as_string_map().size()));
          case Kind::kAnyMap:
            return Value::Int(static_cast<int64_t>(a[0].as_any_map().size()));
          case Kind::kList:
            return Value::Int(static_cast<int64_t>(a[0].as_list().size()));
          case Kind::kNil:
            return absl::InvalidArgumentError(
                "reflect: call of reflect.Value.Type on zero Value");
          default: {
            std::string t = internal::GoTypeName(a[0]);
            if (!t.empty() && t[0] == '*') t = t.substr(1);
            return absl::InvalidArgumentError(absl::StrCat("len of type ", t));
          }
        }
      case Func::kIndex:
        return Index(a);
      case Func::kSlice:
        return Slice(a);
      case Func::kPrint:
        return Value::String(internal::GoSprint(a));
      case Func::kPrintln:
        return Value::String(internal::GoSprintln(a));
      case Func::kPrintf:
        return Value::String(internal::GoSprintf(
            a[0].as_string(), std::vector<Value>(a.begin() + 1, a.end())));
      case Func::kEq: {
        ASSIGN_OR_RETURN(bool b,
                         GoEq(a[0], absl::MakeConstSpan(a).subspan(1)));
        return Value::Bool(b);
      }
      case Func::kNe: {
        ASSIGN_OR_RETURN(bool b, GoEq(a[0], absl::MakeConstSpan(a).subspan(1)));
        return Value::Bool(!b);
      }
      case Func::kLt: {
        ASSIGN_OR_RETURN(bool b, GoLt(a[0], a[1]));
        return Value::Bool(b);
      }
      case Func::kLe: {
        ASSIGN_OR_RETURN(bool lt, GoLt(a[0], a[1]));
        if (lt) return Value::Bool(true);
        ASSIGN_OR_RETURN(bool eq, GoEq(a[0], absl::MakeConstSpan(a).subspan(1)));
        return Value::Bool(eq);
      }
      case Func::kGt: {
        ASSIGN_OR_RETURN(bool lt, GoLt(a[0], a[1]));
        if (lt) return Value::Bool(false);
        ASSIGN_OR_RETURN(bool eq, GoEq(a[0], absl::MakeConstSpan(a).subspan(1)));
        return Value::Bool(!eq);
      }
      case Func::kGe: {
        ASSIGN_OR_RETURN(bool lt, GoLt(a[0], a[1]));
        return Value::Bool(!lt);
      }
      case Func::kHtml:
        return Value::String(internal::HtmlEscape(EvalArgsString(a)));
      case Func::kJs:
        return Value::String(internal::JsEscape(EvalArgsString(a)));
      case Func::kUrlquery:
        return Value::String(internal::QueryEscape(EvalArgsString(a)));
      case Func::kCall:
        if (a[0].is_nil()) return absl::InvalidArgumentError("call of nil");
        return absl::InvalidArgumentError(absl::StrCat(
            "non-function ", callee, " of type ", internal::GoTypeName(a[0])));
      case Func::kQuery: {
        if (!env_.query) {
          return absl::InvalidArgumentError(
              "query is not available in this context");
        }
        absl::StatusOr<std::vector<QueryResultSample>> res =
            env_.query(a[0].as_string());
        if (!res.ok()) {
          return absl::InvalidArgumentError(res.status().message());
        }
        auto list = std::make_shared<internal::List>();
        list->reserve(res->size());
        for (QueryResultSample& s : *res) {
          auto sv = std::make_shared<internal::SampleValue>();
          sv->labels = std::move(s.labels);
          sv->value = s.value;
          list->push_back(Value::Sample(std::move(sv)));
        }
        return Value::ListRef(std::move(list));
      }
      case Func::kFirst:
        if (a[0].as_list().empty()) {
          return absl::InvalidArgumentError(
              "first() called on vector with no elements");
        }
        return a[0].as_list()[0];
      case Func::kLabel: {
        if (a[1].is_nil()) return absl::InternalError(kNilDeref);
        const auto& labels = a[1].as_sample().labels;
        auto it = labels.find(a[0].as_string());
        return Value::String(it == labels.end() ? "" : it->second);
      }
      case Func::kValue:
        if (a[0].is_nil()) return absl::InternalError(kNilDeref);
        return Value::Float(a[0].as_sample().value);
      case Func::kStrvalue: {
        if (a[0].is_nil()) return absl::InternalError(kNilDeref);
        const auto& labels = a[0].as_sample().labels;
        auto it = labels.find("__value__");
        return Value::String(it == labels.end() ? "" : it->second);
      }
      case Func::kArgs: {
        auto m = std::make_shared<internal::AnyMap>();
        for (size_t i = 0; i < a.size(); ++i) {
          m->emplace(absl::StrCat("arg", i), a[i]);
        }
        return Value::AnyMapRef(std::move(m));
      }
      case Func::kReReplaceAll: {
        absl::StatusOr<std::shared_ptr<const re2::RE2>> re =
            Regexp(a[0].as_string());
        if (!re.ok()) {
          // Go's MustCompile panics; text/template reports the panic text.
          const std::string& p = a[0].as_string();
          const std::string quoted = p.find('`') == std::string::npos
                                         ? absl::StrCat("`", p, "`")
                                         : internal::GoQuote(p);
          return absl::InvalidArgumentError(absl::StrCat(
              "regexp: Compile(", quoted, "): ", re.status().message()));
        }
        ASSIGN_OR_RETURN(std::string s,
                         internal::GoReplaceAll(**re, a[2].as_string(),
                                                a[1].as_string(),
                                                Template::kMaxOutputBytes));
        return Value::String(std::move(s));
      }
      case Func::kSafeHtml:
        return a[0];
      case Func::kMatch: {
        ASSIGN_OR_RETURN(std::shared_ptr<const re2::RE2> re,
                         Regexp(a[0].as_string()));
        return Value::Bool(re2::RE2::PartialMatch(a[1].as_string(), *re));
      }
      case Func::kTitle:
        return Value::String(internal::Title(a[0].as_string()));
      case Func::kToUpper:
        return Value::String(internal::ToUpper(a[0].as_string()));
      case Func::kToLower:
        return Value::String(internal::ToLower(a[0].as_string()));
      case Func::kGraphLink:
        return Value::String(internal::GraphLink(a[0].as_string()));
      case Func::kTableLink:
        return Value::String(internal::TableLink(a[0].as_string()));
      case Func::kSortByLabel: {
        auto list = std::make_shared<internal::List>(a[1].as_list());
        const std::string& label = a[0].as_string();
        auto get = [&](const Value& v) -> std::string_view {
          if (v.is_nil()) return {};
          auto it = v.as_sample().labels.find(label);
          return it == v.as_sample().labels.end() ? std::string_view()
                                                  : it->second;
        };
        std::stable_sort(list->begin(), list->end(),
                         [&](const Value& x, const Value& y) {
                           return get(x) < get(y);
                         });
        return Value::ListRef(std::move(list));
      }
      case Func::kStripPort:
        return Value::String(internal::StripPort(a[0].as_string()));
      case Func::kStripDomain:
        return Value::String(internal::StripDomain(a[0].as_string()));
      case Func::kHumanize: {
        ASSIGN_OR_RETURN(double v, ConvertToFloat(a[0]));
        return Value::String(internal::Humanize(v));
      }
      case Func::kHumanize1024: {
        ASSIGN_OR_RETURN(double v, ConvertToFloat(a[0]));
        return Value::String(internal::Humanize1024(v));
      }
      case Func::kHumanizeDuration: {
        ASSIGN_OR_RETURN(double v, ConvertToFloat(a[0]));
        return Value::String(internal::HumanizeDuration(v));
      }
      case Func::kHumanizePercentage: {
        ASSIGN_OR_RETURN(double v, ConvertToFloat(a[0]));
        return Value::String(internal::HumanizePercentage(v));
      }
      case Func::kHumanizeTimestamp: {
        ASSIGN_OR_RETURN(double v, ConvertToFloat(a[0]));
        ASSIGN_OR_RETURN(std::string s, internal::HumanizeTimestamp(v));
        return Value::String(std::move(s));
      }
      case Func::kToTime: {
        ASSIGN_OR_RETURN(double v, ConvertToFloat(a[0]));
        ASSIGN_OR_RETURN(int64_t ns, internal::FloatToUnixNanos(v));
        return Value::Time(ns);
      }
      case Func::kToDuration: {
        ASSIGN_OR_RETURN(double v, ConvertToFloat(a[0]));
        const double ns = v * 1e9;
        // Go's float->int64 conversion of out-of-range values gives
        // MinInt64 on amd64; reproduce that rather than invoke UB.
        const bool fits = ns > -9223372036854775808.0 &&
                          ns < 9223372036854775808.0;
        return Value::Duration(fits ? static_cast<int64_t>(ns) : INT64_MIN);
      }
      case Func::kNow:
        return Value::Float(static_cast<double>(env_.eval_time_ms) / 1000.0);
      case Func::kPathPrefix:
        return Value::String(internal::UrlPath(data_.external_url));
      case Func::kExternalURL:
        return Value::String(data_.external_url);
      case Func::kParseDuration: {
        ASSIGN_OR_RETURN(double v, internal::ParsePromDuration(a[0].as_string()));
        return Value::Float(v);
      }
    }
    return absl::InternalError("unknown function");
  }

  static absl::StatusOr<Value> Index(const std::vector<Value>& a) {
    Value item = a[0];
    if (item.is_nil()) return absl::InvalidArgumentError("index of untyped nil");
    for (size_t i = 1; i < a.size(); ++i) {
      const Value& index = a[i];
      switch (item.kind()) {
        case Kind::kString: {
          const std::string& s = item.as_string();
          ASSIGN_OR_RETURN(int64_t x,
                           IndexArg(index, static_cast<int64_t>(s.size())));
          if (x == static_cast<int64_t>(s.size())) {
            return absl::InvalidArgumentError(
                absl::StrCat("index out of range: ", x));
          }
          item = Value::Int(static_cast<unsigned char>(s[x]));
          break;
        }
        case Kind::kList: {
          const internal::List& l = item.as_list();
          ASSIGN_OR_RETURN(int64_t x,
                           IndexArg(index, static_cast<int64_t>(l.size())));
          if (x == static_cast<int64_t>(l.size())) {
            return absl::InvalidArgumentError(
                absl::StrCat("index out of range: ", x));
          }
          item = l[x];
          break;
        }
        case Kind::kStringMap:
        case Kind::kAnyMap: {
          if (index.is_nil()) {
            return absl::InvalidArgumentError(
                "value is nil; should be of type string");
          }
          if (index.kind() != Kind::kString) {
            return absl::InvalidArgumentError(
                absl::StrCat("value has type ", internal::GoTypeName(index),
                             "; should be string"));
          }
          if (item.kind() == Kind::kStringMap) {
            const auto& m = item.as_string_map();
            auto it = m.find(index.as_string());
            item = Value::String(it == m.end() ? "" : it->second);
          } else {
            const auto& m = item.as_any_map();
            auto it = m.find(index.as_string());
            item = it == m.end() ? Value() : it->second;
          }
          break;
        }
        case Kind::kNil:
          return absl::InvalidArgumentError("index of untyped nil");
        default: {
          std::string t = internal::GoTypeName(item);
          if (!t.empty() && t[0] == '*') t = t.substr(1);
          return absl::InvalidArgumentError(
              absl::StrCat("can't index item of type ", t));
        }
      }
    }
    return item;
  }

  static absl::StatusOr<Value> Slice(const std::vector<Value>& a) {
    const Value& item = a[0];
    if (item.is_nil()) return absl::InvalidArgumentError("slice of untyped nil");
    const size_t nidx = a.size() - 1;
    if (nidx > 3) {
      return absl::InvalidArgumentError(
          absl::StrCat("too many slice indexes: ", nidx));
    }
    int64_t len;
    if (item.kind() == Kind::kString) {
      if (nidx == 3) {
        return absl::InvalidArgumentError("cannot 3-index slice a string");
      }
      len = static_cast<int64_t>(item.as_string().size());
    } else if (item.kind() == Kind::kList) {
      len = static_cast<int64_t>(item.as_list().size());
    } else {
      // Unlike index and len, slice does not look through pointers.
      return absl::InvalidArgumentError(absl::StrCat(
          "can't slice item of type ", internal::GoTypeName(item)));
    }
    int64_t idx[3] = {0, len, len};
    for (size_t i = 0; i < nidx; ++i) {
      ASSIGN_OR_RETURN(idx[i], IndexArg(a[i + 1], len));
    }
    if (idx[0] > idx[1]) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid slice index: ", idx[0], " > ", idx[1]));
    }
    if (nidx == 3 && idx[1] > idx[2]) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid slice index: ", idx[1], " > ", idx[2]));
    }
    if (item.kind() == Kind::kString) {
      return Value::String(item.as_string().substr(idx[0], idx[1] - idx[0]));
    }
    const internal::List& l = item.as_list();
    return Value::ListRef(std::make_shared<const internal::List>(
        l.begin() + idx[0], l.begin() + idx[1]));
  }

  const Program& prog_;
  const Data& data_;
  const Env& env_;
  std::string out_;
  std::vector<std::pair<std::string_view, Value>> vars_;
  const Node* at_ = nullptr;
  std::string_view tmpl_name_;
  int depth_ = 0;
  int nesting_ = 0;
  int64_t steps_ = 0;
};

constexpr char kAlertPrelude[] =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}";

}  // namespace

absl::StatusOr<Template> Template::Parse(std::string_view name,
                                         std::string_view text) {
  ASSIGN_OR_RETURN(std::shared_ptr<internal::Program> prog,
                   internal::ParseProgram(name, text));
  return Template(std::move(prog));
}

const std::string& Template::name() const { return program_->name; }

absl::StatusOr<std::string> Template::Execute(const Data& data,
                                              const Env& env) const {
  auto it = program_->templates.find(program_->name);
  if (it == program_->templates.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("template: ", program_->name, ": ",
                     internal::GoQuote(program_->name),
                     " is an incomplete or empty template"));
  }
  State state(*program_, data, env);
  return state.Run(it->second);
}

absl::StatusOr<Template> ParseAlertTemplate(std::string_view alert_name,
                                            std::string_view text) {
  const std::string name = absl::StrCat("__alert_", internal::Av(alert_name));
  absl::StatusOr<Template> t =
      Template::Parse(name, absl::StrCat(kAlertPrelude, internal::Av(text)));
  if (!t.ok()) {
    return absl::Status(t.status().code(),
                        absl::StrCat("error parsing template ", name, ": ",
                                     t.status().message()));
  }
  return t;
}

std::string ExpandAlertTemplate(const Template& parsed, const Data& data,
                                const Env& env) {
  absl::StatusOr<std::string> out = parsed.Execute(data, env);
  if (!out.ok()) {
    return absl::StrCat("<error expanding template: error executing template ",
                        parsed.name(), ": ", out.status().message(), ">");
  }
  return *std::move(out);
}

std::string ExpandAlertTemplate(std::string_view alert_name,
                                std::string_view text, const Data& data,
                                const Env& env) {
  absl::StatusOr<Template> t = ParseAlertTemplate(alert_name, text);
  if (!t.ok()) {
    return absl::StrCat("<error expanding template: ", t.status().message(),
                        ">");
  }
  return ExpandAlertTemplate(*t, data, env);
}

}  // namespace vigil::engine::tmpl
