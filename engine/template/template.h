// Go text/template, as Prometheus uses it for alert labels and annotations:
// parse once, execute many times against an alert's labels and value, with
// Prometheus' template functions (query, humanize, ...).
#ifndef VIGIL_ENGINE_TEMPLATE_TEMPLATE_H_
#define VIGIL_ENGINE_TEMPLATE_TEMPLATE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::engine::tmpl {

// What Prometheus hands an alert template. Inside a template these are the
// fields of dot (.Labels, .ExternalLabels, .ExternalURL, .Value) and, through
// ExpandAlertTemplate's prelude, the variables $labels, $externalLabels,
// $externalURL and $value.
struct Data {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> external_labels;
  std::string external_url;
  double value = 0;
};

// One element of the instant vector that `query` returns.
struct QueryResultSample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

// The outside world a template may reach while it executes.
struct Env {
  // Backs the `query` function. Empty means `query` fails with an error.
  // Called synchronously from Execute, possibly several times.
  std::function<absl::StatusOr<std::vector<QueryResultSample>>(
      std::string_view expr)>
      query;
  // Evaluation time of the rule (ms since epoch): what `now` returns, in
  // seconds. Queries are expected to run at this time too.
  int64_t eval_time_ms = 0;
};

namespace internal {
struct Program;
}  // namespace internal

// A parsed template. Immutable after Parse: copies share the parsed program,
// and Execute may run concurrently from many threads.
class Template {
 public:
  // Parses `text`; `name` is the template's name in error messages. Errors
  // are InvalidArgument with Go's wording, e.g.
  // `template: name:1: function "foo" not defined`.
  static absl::StatusOr<Template> Parse(std::string_view name,
                                        std::string_view text);

  // Runs the template. Errors are InvalidArgument with Go's wording, e.g.
  // `template: name:1:3: executing "name" at <humanize "x">: error calling
  // humanize: ...`, or ResourceExhausted when output, steps or template
  // recursion exceed the limits below. Never crashes on any input; the
  // limits keep its worst-case stack use under 512 KiB.
  absl::StatusOr<std::string> Execute(const Data& data, const Env& env) const;

  const std::string& name() const;

  // Limits that keep a hostile template from taking the process down.
  static constexpr size_t kMaxOutputBytes = 1 << 20;  // also any one string
  static constexpr int kMaxCallDepth = 100;           // nested {{template}}
  static constexpr int kMaxNesting = 200;  // if/with/range/template, overall
  static constexpr int64_t kMaxSteps = 2'000'000;     // nodes evaluated

 private:
  explicit Template(std::shared_ptr<const internal::Program> program)
      : program_(std::move(program)) {}
  std::shared_ptr<const internal::Program> program_;
};

// Prometheus' expansion of one alert label or annotation: the rule's text is
// prefixed with
//   {{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}
//   {{$externalURL := .ExternalURL}}{{$value := .Value}}
// (on one line, so error columns match Prometheus), parsed and executed as the
// template "__alert_<alert_name>". Any error becomes the result text
//   <error expanding template: error parsing|executing template __alert_X: ...>
// exactly as Prometheus writes it; evaluation of the rule goes on.
std::string ExpandAlertTemplate(std::string_view alert_name,
                                std::string_view text, const Data& data,
                                const Env& env);

// The same in two steps, for callers that keep the parse across rule
// evaluations. ParseAlertTemplate's error message is Prometheus' wrapped
// text ("error parsing template __alert_X: template: ..."); the overload of
// ExpandAlertTemplate executes and wraps execution errors the same way.
absl::StatusOr<Template> ParseAlertTemplate(std::string_view alert_name,
                                            std::string_view text);
std::string ExpandAlertTemplate(const Template& parsed, const Data& data,
                                const Env& env);

}  // namespace vigil::engine::tmpl

#endif  // VIGIL_ENGINE_TEMPLATE_TEMPLATE_H_
