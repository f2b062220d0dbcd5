#include "promql/functions/functions.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <string_view>
#include <vector>

namespace vigil::promql::functions {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Sgn(double v) { return v > 0 ? 1 : v < 0 ? -1 : v; }
double Deg(double v) { return v * 180 / M_PI; }
double Rad(double v) { return v * M_PI / 180; }
double Abs(double v) { return std::fabs(v); }
double Ceil(double v) { return std::ceil(v); }
double Floor(double v) { return std::floor(v); }
double Exp(double v) { return std::exp(v); }
double Sqrt(double v) { return std::sqrt(v); }
double Ln(double v) { return std::log(v); }
double Log2(double v) { return std::log2(v); }
double Log10(double v) { return std::log10(v); }
double Sin(double v) { return std::sin(v); }
double Cos(double v) { return std::cos(v); }
double Tan(double v) { return std::tan(v); }
double Asin(double v) { return std::asin(v); }
double Acos(double v) { return std::acos(v); }
double Atan(double v) { return std::atan(v); }
double Sinh(double v) { return std::sinh(v); }
double Cosh(double v) { return std::cosh(v); }
double Tanh(double v) { return std::tanh(v); }
double Asinh(double v) { return std::asinh(v); }
double Acosh(double v) { return std::acosh(v); }
double Atanh(double v) { return std::atanh(v); }

bool ToTm(double secs, std::tm* tm) {
  if (!std::isfinite(secs)) return false;
  std::time_t t = static_cast<std::time_t>(std::floor(secs));
  return gmtime_r(&t, tm) != nullptr;
}
double DayOfMonth(double s) {
  std::tm tm;
  return ToTm(s, &tm) ? tm.tm_mday : kNaN;
}
double DayOfWeek(double s) {
  std::tm tm;
  return ToTm(s, &tm) ? tm.tm_wday : kNaN;
}
double DayOfYear(double s) {
  std::tm tm;
  return ToTm(s, &tm) ? tm.tm_yday + 1 : kNaN;
}
double Hour(double s) {
  std::tm tm;
  return ToTm(s, &tm) ? tm.tm_hour : kNaN;
}
double Minute(double s) {
  std::tm tm;
  return ToTm(s, &tm) ? tm.tm_min : kNaN;
}
double Month(double s) {
  std::tm tm;
  return ToTm(s, &tm) ? tm.tm_mon + 1 : kNaN;
}
double Year(double s) {
  std::tm tm;
  return ToTm(s, &tm) ? tm.tm_year + 1900 : kNaN;
}
double DaysInMonth(double s) {
  std::tm tm;
  if (!ToTm(s, &tm)) return kNaN;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y = tm.tm_year + 1900;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return tm.tm_mon == 1 && leap ? 29 : kDays[tm.tm_mon];
}

// rate/increase/delta with Prometheus' extrapolation to the window edges.
bool Extrapolated(const Window& w, bool is_counter, bool is_rate, double* out) {
  if (w.n < 2) return false;
  double first = w.vs[0], last = w.vs[w.n - 1];
  double result = last - first;
  if (is_counter) {
    double prev = first;
    for (size_t i = 1; i < w.n; ++i) {
      if (w.vs[i] < prev) result += prev;
      prev = w.vs[i];
    }
  }
  double to_start = (w.ts[0] - w.range_start) / 1000.0;
  double to_end = (w.range_end - w.ts[w.n - 1]) / 1000.0;
  double sampled = (w.ts[w.n - 1] - w.ts[0]) / 1000.0;
  double avg_step = sampled / static_cast<double>(w.n - 1);
  double threshold = avg_step * 1.1;
  if (to_start >= threshold) to_start = avg_step / 2;
  if (is_counter && result > 0 && first >= 0) {
    double to_zero = sampled * (first / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  if (to_end >= threshold) to_end = avg_step / 2;
  double factor = (sampled + to_start + to_end) / sampled;
  if (is_rate) factor /= (w.range_end - w.range_start) / 1000.0;
  *out = result * factor;
  return true;
}

bool Rate(const Window& w, const double*, double* out) {
  return Extrapolated(w, true, true, out);
}
bool Increase(const Window& w, const double*, double* out) {
  return Extrapolated(w, true, false, out);
}
bool Delta(const Window& w, const double*, double* out) {
  return Extrapolated(w, false, false, out);
}

bool Instant(const Window& w, bool is_rate, double* out) {
  if (w.n < 2) return false;
  double last = w.vs[w.n - 1], prev = w.vs[w.n - 2];
  double r = (is_rate && last < prev) ? last : last - prev;
  if (is_rate) {
    double dt = (w.ts[w.n - 1] - w.ts[w.n - 2]) / 1000.0;
    if (dt == 0) return false;
    r /= dt;
  }
  *out = r;
  return true;
}
bool Irate(const Window& w, const double*, double* out) {
  return Instant(w, true, out);
}
bool Idelta(const Window& w, const double*, double* out) {
  return Instant(w, false, out);
}

bool Changes(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  double c = 0;
  for (size_t i = 1; i < w.n; ++i) {
    double a = w.vs[i - 1], b = w.vs[i];
    if (!(a == b || (std::isnan(a) && std::isnan(b)))) c++;
  }
  *out = c;
  return true;
}

bool Resets(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  double c = 0;
  for (size_t i = 1; i < w.n; ++i) {
    if (w.vs[i] < w.vs[i - 1]) c++;
  }
  *out = c;
  return true;
}

// Least squares fit with x in seconds relative to `intercept_t`.
void LinearRegression(const Window& w, int64_t intercept_t, double* slope,
                      double* intercept) {
  double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0,
         cx2 = 0;
  double init_y = w.vs[0];
  bool const_y = true;
  for (size_t i = 0; i < w.n; ++i) {
    double y = w.vs[i];
    if (const_y && i > 0 && y != init_y) const_y = false;
    n += 1;
    double x = (w.ts[i] - intercept_t) / 1e3;
    KahanAdd(x, &sx, &cx);
    KahanAdd(y, &sy, &cy);
    KahanAdd(x * y, &sxy, &cxy);
    KahanAdd(x * x, &sx2, &cx2);
  }
  if (const_y) {
    if (std::isinf(init_y)) {
      *slope = *intercept = kNaN;
    } else {
      *slope = 0;
      *intercept = init_y;
    }
    return;
  }
  sx += cx;
  sy += cy;
  sxy += cxy;
  sx2 += cx2;
  double cov = sxy - sx * sy / n;
  double var = sx2 - sx * sx / n;
  *slope = cov / var;
  *intercept = sy / n - *slope * sx / n;
}

bool Deriv(const Window& w, const double*, double* out) {
  if (w.n < 2) return false;
  double slope, icpt;
  LinearRegression(w, w.ts[0], &slope, &icpt);
  *out = slope;
  return true;
}

bool PredictLinear(const Window& w, const double* args, double* out) {
  if (w.n < 2) return false;
  double slope, icpt;
  LinearRegression(w, w.step_t, &slope, &icpt);
  *out = slope * args[0] + icpt;
  return true;
}

bool AvgOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  double sum = 0, c = 0, mean = 0;
  bool incremental = false;
  double count = 0;
  for (size_t i = 0; i < w.n; ++i) {
    double v = w.vs[i];
    count++;
    if (!incremental) {
      double s2 = sum, c2 = c;
      KahanAdd(v, &s2, &c2);
      if (count == 1 || !std::isinf(s2)) {
        sum = s2;
        c = c2;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    if (std::isinf(mean)) {
      if (std::isinf(v) && (mean > 0) == (v > 0)) continue;
      if (!std::isinf(v) && !std::isnan(v)) continue;
    }
    double cur = mean + c;
    KahanAdd(v / count - cur / count, &mean, &c);
  }
  *out = incremental ? mean + c : sum / count + c / count;
  return true;
}

bool SumOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  double sum = 0, c = 0;
  for (size_t i = 0; i < w.n; ++i) KahanAdd(w.vs[i], &sum, &c);
  *out = std::isinf(sum) ? sum : sum + c;
  return true;
}

bool CountOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  *out = static_cast<double>(w.n);
  return true;
}

bool MinOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  double m = w.vs[0];
  for (size_t i = 1; i < w.n; ++i) {
    if (w.vs[i] < m || std::isnan(m)) m = w.vs[i];
  }
  *out = m;
  return true;
}

bool MaxOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  double m = w.vs[0];
  for (size_t i = 1; i < w.n; ++i) {
    if (w.vs[i] > m || std::isnan(m)) m = w.vs[i];
  }
  *out = m;
  return true;
}

bool TsOfMinOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  double m = w.vs[0];
  int64_t t = w.ts[0];
  for (size_t i = 1; i < w.n; ++i) {
    if (w.vs[i] <= m || std::isnan(m)) {
      m = w.vs[i];
      t = w.ts[i];
    }
  }
  *out = t / 1000.0;
  return true;
}

bool TsOfMaxOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  double m = w.vs[0];
  int64_t t = w.ts[0];
  for (size_t i = 1; i < w.n; ++i) {
    if (w.vs[i] >= m || std::isnan(m)) {
      m = w.vs[i];
      t = w.ts[i];
    }
  }
  *out = t / 1000.0;
  return true;
}

bool TsOfLastOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  *out = w.ts[w.n - 1] / 1000.0;
  return true;
}

bool LastOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  *out = w.vs[w.n - 1];
  return true;
}

bool PresentOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  *out = 1;
  return true;
}

double Variance(const Window& w) {
  double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
  for (size_t i = 0; i < w.n; ++i) {
    double v = w.vs[i];
    count++;
    double delta = v - (mean + cmean);
    KahanAdd(delta / count, &mean, &cmean);
    KahanAdd(delta * (v - (mean + cmean)), &aux, &caux);
  }
  return (aux + caux) / count;
}

bool StdvarOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  *out = Variance(w);
  return true;
}
bool StddevOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  *out = std::sqrt(Variance(w));
  return true;
}

thread_local std::vector<double> scratch;

bool QuantileOverTime(const Window& w, const double* args, double* out) {
  if (w.n == 0) return false;
  scratch.assign(w.vs, w.vs + w.n);
  *out = Quantile(args[0], scratch.data(), scratch.size());
  return true;
}

bool MadOverTime(const Window& w, const double*, double* out) {
  if (w.n == 0) return false;
  scratch.assign(w.vs, w.vs + w.n);
  double median = Quantile(0.5, scratch.data(), scratch.size());
  for (size_t i = 0; i < w.n; ++i) scratch[i] = std::fabs(w.vs[i] - median);
  *out = Quantile(0.5, scratch.data(), scratch.size());
  return true;
}

bool DoubleExponentialSmoothing(const Window& w, const double* args,
                                double* out) {
  if (w.n < 2) return false;
  double sf = args[0], tf = args[1];
  double s0 = 0, s1 = w.vs[0], b = w.vs[1] - w.vs[0];
  for (size_t i = 1; i < w.n; ++i) {
    double x = sf * w.vs[i];
    if (i - 1 != 0) b = tf * (s1 - s0) + (1 - tf) * b;
    double y = (1 - sf) * (s1 + b);
    s0 = s1;
    s1 = x + y;
  }
  *out = s1;
  return true;
}

struct NamedRange {
  std::string_view name;
  RangeFn fn;
};
constexpr NamedRange kRange[] = {
    {"rate", Rate},
    {"increase", Increase},
    {"delta", Delta},
    {"irate", Irate},
    {"idelta", Idelta},
    {"changes", Changes},
    {"resets", Resets},
    {"deriv", Deriv},
    {"predict_linear", PredictLinear},
    {"avg_over_time", AvgOverTime},
    {"sum_over_time", SumOverTime},
    {"count_over_time", CountOverTime},
    {"min_over_time", MinOverTime},
    {"max_over_time", MaxOverTime},
    {"last_over_time", LastOverTime},
    {"present_over_time", PresentOverTime},
    {"stddev_over_time", StddevOverTime},
    {"stdvar_over_time", StdvarOverTime},
    {"quantile_over_time", QuantileOverTime},
    {"mad_over_time", MadOverTime},
    {"double_exponential_smoothing", DoubleExponentialSmoothing},
    {"ts_of_min_over_time", TsOfMinOverTime},
    {"ts_of_max_over_time", TsOfMaxOverTime},
    {"ts_of_last_over_time", TsOfLastOverTime},
};

struct NamedUnary {
  std::string_view name;
  UnaryFn fn;
};
constexpr NamedUnary kUnary[] = {
    {"abs", Abs},     {"ceil", Ceil},   {"floor", Floor}, {"exp", Exp},
    {"sqrt", Sqrt},   {"ln", Ln},       {"log2", Log2},   {"log10", Log10},
    {"sgn", Sgn},     {"deg", Deg},     {"rad", Rad},     {"sin", Sin},
    {"cos", Cos},     {"tan", Tan},     {"asin", Asin},   {"acos", Acos},
    {"atan", Atan},   {"sinh", Sinh},   {"cosh", Cosh},   {"tanh", Tanh},
    {"asinh", Asinh}, {"acosh", Acosh}, {"atanh", Atanh},
};

struct NamedDate {
  std::string_view name;
  DateFn fn;
};
constexpr NamedDate kDate[] = {
    {"day_of_month", DayOfMonth}, {"day_of_week", DayOfWeek},
    {"day_of_year", DayOfYear},   {"days_in_month", DaysInMonth},
    {"hour", Hour},               {"minute", Minute},
    {"month", Month},             {"year", Year},
};

}  // namespace

double Quantile(double q, double* values, size_t n) {
  if (n == 0 || std::isnan(q)) return kNaN;
  if (q < 0) return -INFINITY;
  if (q > 1) return INFINITY;
  std::sort(values, values + n, [](double a, double b) {
    // NaN sorts first, as Go's sort.Float64s does.
    if (std::isnan(a)) return !std::isnan(b);
    return a < b;
  });
  double rank = q * static_cast<double>(n - 1);
  size_t lower = static_cast<size_t>(std::max(0.0, std::floor(rank)));
  size_t upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return values[lower] * (1 - weight) + values[upper] * weight;
}

UnaryFn LookupUnary(std::string_view name) {
  for (const auto& u : kUnary) {
    if (u.name == name) return u.fn;
  }
  return nullptr;
}

DateFn LookupDate(std::string_view name) {
  for (const auto& d : kDate) {
    if (d.name == name) return d.fn;
  }
  return nullptr;
}

RangeFn LookupRange(std::string_view name) {
  for (const auto& r : kRange) {
    if (r.name == name) return r.fn;
  }
  return nullptr;
}

}  // namespace vigil::promql::functions
