// PromQL's float function kernels: element-wise math on values and the
// `*_over_time` family (rate, increase, ...) on one window of samples. The
// evaluator drives them in loops over series and steps; nothing here
// allocates per call.
#ifndef VIGIL_PROMQL_FUNCTIONS_FUNCTIONS_H_
#define VIGIL_PROMQL_FUNCTIONS_FUNCTIONS_H_

#include <cstdint>
#include <string_view>

namespace vigil::promql::functions {

// An element-wise float function (abs, ceil, ln, sin, ...), or null when
// `name` is not one.
using UnaryFn = double (*)(double);
UnaryFn LookupUnary(std::string_view name);

// Date functions on a Unix time in seconds (hour, month, ...), or null.
using DateFn = double (*)(double);
DateFn LookupDate(std::string_view name);

// The samples of one series inside one evaluation window
// (range_start, range_end], in time order. Borrowed for the call.
struct Window {
  const int64_t* ts;
  const double* vs;
  size_t n;
  int64_t range_start;  // exclusive, milliseconds
  int64_t range_end;    // inclusive, milliseconds (the evaluation time)
  int64_t step_t;       // the query step's time (before offset and @)
};

// A range-vector function: writes the result to *out and returns true, or
// returns false when the window yields no output. `args` are the function's
// scalar arguments at this step (e.g. the quantile), in call order.
using RangeFn = bool (*)(const Window& w, const double* args, double* out);
RangeFn LookupRange(std::string_view name);

// Adds `inc` to a Kahan-Neumaier compensated sum (*sum, *c), as Prometheus
// does for sum and avg.
inline void KahanAdd(double inc, double* sum, double* c);

// The φ-quantile of `values` (sorted in place), with Prometheus' linear
// interpolation. q < 0 gives -Inf, q > 1 +Inf, NaN q NaN.
double Quantile(double q, double* values, size_t n);

}  // namespace vigil::promql::functions

#include <cmath>

namespace vigil::promql::functions {
inline void KahanAdd(double inc, double* sum, double* c) {
  double t = *sum + inc;
  if (std::isinf(t)) {
    *c = 0;
  } else if (std::fabs(*sum) >= std::fabs(inc)) {
    *c += (*sum - t) + inc;
  } else {
    *c += (inc - t) + *sum;
  }
  *sum = t;
}
}  // namespace vigil::promql::functions

#endif  // VIGIL_PROMQL_FUNCTIONS_FUNCTIONS_H_
