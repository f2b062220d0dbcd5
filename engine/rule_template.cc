#include "engine/rule_template.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>

#include "absl/strings/str_cat.h"
#include "engine/str_util.h"
#include "engine/template/template.h"

namespace vigil::engine {
namespace {

// What Prometheus puts before every alert template, on one line so that
// error columns match.
constexpr std::string_view kPrelude =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}";

std::map<std::string, std::string> ToMap(const storage::Labels* l) {
  std::map<std::string, std::string> out;
  if (l != nullptr) {
    for (const storage::Label& x : *l) {
      out.emplace(x.name, x.value);
    }
  }
  return out;
}

}  // namespace

tmpl::Data MakeTemplateData(const RuleTemplateContext& ctx) {
  tmpl::Data data;
  data.labels = ToMap(ctx.labels);
  data.external_labels = ToMap(ctx.external_labels);
  data.external_url = std::string(ctx.external_url);
  data.value = ctx.value;
  return data;
}

tmpl::Env MakeTemplateEnv(const RuleTemplateContext& ctx) {
  tmpl::Env env;
  env.eval_time_ms = ctx.eval_time_ms;
  if (ctx.query != nullptr && *ctx.query) {
    const QueryFunc* q = ctx.query;
    const int64_t ts = ctx.eval_time_ms;
    env.query = [q, ts](std::string_view expr)
        -> absl::StatusOr<std::vector<tmpl::QueryResultSample>> {
      absl::StatusOr<std::vector<EvalSample>> r = (*q)(expr, ts);
      if (!r.ok()) {
        return r.status();
      }
      std::vector<tmpl::QueryResultSample> out;
      out.reserve(r->size());
      for (const EvalSample& s : *r) {
        out.push_back({ToMap(&s.labels), s.value});
      }
      return out;
    };
  }
  return env;
}

std::string ExpandRuleTemplate(std::string_view alert_name,
                               std::string_view text,
                               const RuleTemplateContext& ctx) {
  if (text.find("{{") == std::string_view::npos) {
    return std::string(text);
  }
  return tmpl::ExpandAlertTemplate(alert_name, text, MakeTemplateData(ctx),
                                   MakeTemplateEnv(ctx));
}

RuleTemplate::RuleTemplate(std::string_view alert_name, std::string_view text)
    : name_(absl::StrCat("__alert_", Sv(alert_name))),
      text_(text),
      literal_(text.find("{{") == std::string_view::npos) {
  if (literal_) {
    return;
  }
  std::string full(kPrelude);
  full.append(text);
  absl::StatusOr<tmpl::Template> t = tmpl::Template::Parse(name_, full);
  if (t.ok()) {
    parsed_ = *std::move(t);
  } else {
    parse_error_ = absl::StrCat("<error expanding template: error parsing "
                                "template ",
                                name_, ": ", t.status().message(), ">");
  }
}

std::string RuleTemplate::Expand(const tmpl::Data& data,
                                 const tmpl::Env& env) const {
  if (literal_) {
    return text_;
  }
  if (!parsed_.has_value()) {
    return parse_error_;
  }
  absl::StatusOr<std::string> out = parsed_->Execute(data, env);
  if (!out.ok()) {
    return absl::StrCat("<error expanding template: error executing template ",
                        name_, ": ", out.status().message(), ">");
  }
  return *std::move(out);
}

absl::Status ValidateRuleTemplate(std::string_view name,
                                  std::string_view text) {
  std::string full(kPrelude);
  full.append(text);
  absl::StatusOr<tmpl::Template> t = tmpl::Template::Parse(name, full);
  if (!t.ok()) {
    return absl::InvalidArgumentError(t.status().message());
  }
  return absl::OkStatus();
}

std::string FormatGoFloat(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  if (v == 0) {
    return std::signbit(v) ? "-0" : "0";
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v,
                           std::chars_format::scientific);
  std::string_view sci(buf, res.ptr - buf);  // [-]d[.ddd]e[+-]XX
  size_t e = sci.find('e');
  std::string_view mant = sci.substr(0, e);
  int exp = std::atoi(std::string(sci.substr(e + 1)).c_str());
  bool neg = false;
  if (!mant.empty() && mant[0] == '-') {
    neg = true;
    mant.remove_prefix(1);
  }
  std::string digits;
  for (char c : mant) {
    if (c != '.') {
      digits.push_back(c);
    }
  }
  std::string out = neg ? "-" : "";
  // strconv's shortest 'g' (what %v uses) takes exponent form when the
  // exponent is below -4 or at least 6.
  if (exp < -4 || exp >= 6) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1, std::string::npos);
    }
    out += 'e';
    out += exp < 0 ? '-' : '+';
    int a = std::abs(exp);
    if (a < 10) {
      out += '0';
    }
    out += std::to_string(a);
    return out;
  }
  if (exp < 0) {
    out += "0.";
    out.append(static_cast<size_t>(-exp - 1), '0');
    out += digits;
    return out;
  }
  if (digits.size() <= static_cast<size_t>(exp) + 1) {
    out += digits;
    out.append(exp + 1 - digits.size(), '0');
  } else {
    out.append(digits, 0, exp + 1);
    out += '.';
    out.append(digits, exp + 1, std::string::npos);
  }
  return out;
}

}  // namespace vigil::engine
