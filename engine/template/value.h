// The dynamic values a template computes with, modelled on the Go types that
// Prometheus' templates see (string, int, float64, map[string]string,
// queryResult, *sample, ...), and Go's fmt/strconv formatting of them.
// Internal to engine/template.
#ifndef VIGIL_ENGINE_TEMPLATE_VALUE_H_
#define VIGIL_ENGINE_TEMPLATE_VALUE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/template/template.h"

namespace vigil::engine::tmpl::internal {

class Value;
using StringMap = std::map<std::string, std::string>;
using AnyMap = std::map<std::string, Value>;
using List = std::vector<Value>;  // Go: template.queryResult ([]*sample)

struct SampleValue {  // Go: *template.sample
  StringMap labels;
  double value = 0;
};

enum class Kind {
  kNil,       // untyped nil / missing value; prints "<no value>"
  kBool,
  kInt,       // Go int (also runes and bytes)
  kFloat,     // float64
  kString,    // string (and template.HTML)
  kStringMap, // map[string]string ($labels)
  kAnyMap,    // map[string]interface {} (from `args`)
  kList,      // template.queryResult
  kSample,    // *template.sample
  kTime,      // *time.Time (UTC); int_ holds Unix nanoseconds
  kDuration,  // *time.Duration; int_ holds nanoseconds
  kRoot,      // the alert data struct
};

// A cheap-to-copy immutable value: scalars inline, aggregates shared.
// Values may point into the Data passed to Execute (labels maps): they must
// not outlive that call.
class Value {
 public:
  Value() = default;
  static Value Bool(bool b) {
    Value v(Kind::kBool);
    v.int_ = b;
    return v;
  }
  static Value Int(int64_t i) {
    Value v(Kind::kInt);
    v.int_ = i;
    return v;
  }
  static Value Float(double f) {
    Value v(Kind::kFloat);
    v.float_ = f;
    return v;
  }
  static Value String(std::string s) {
    Value v(Kind::kString);
    v.str_ = std::move(s);
    return v;
  }
  static Value StringMapRef(std::shared_ptr<const StringMap> m) {
    Value v(Kind::kStringMap);
    v.ptr_ = std::move(m);
    return v;
  }
  static Value AnyMapRef(std::shared_ptr<const AnyMap> m) {
    Value v(Kind::kAnyMap);
    v.ptr_ = std::move(m);
    return v;
  }
  static Value ListRef(std::shared_ptr<const List> l) {
    Value v(Kind::kList);
    v.ptr_ = std::move(l);
    return v;
  }
  static Value Sample(std::shared_ptr<const SampleValue> s) {
    Value v(Kind::kSample);
    v.ptr_ = std::move(s);
    return v;
  }
  static Value Time(int64_t unix_nanos) {
    Value v(Kind::kTime);
    v.int_ = unix_nanos;
    return v;
  }
  static Value Duration(int64_t nanos) {
    Value v(Kind::kDuration);
    v.int_ = nanos;
    return v;
  }
  static Value Root(const Data* d) {
    Value v(Kind::kRoot);
    v.root_ = d;
    return v;
  }

  Kind kind() const { return kind_; }
  bool is_nil() const { return kind_ == Kind::kNil; }
  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }
  double as_float() const { return float_; }
  const std::string& as_string() const { return str_; }
  const StringMap& as_string_map() const {
    return *static_cast<const StringMap*>(ptr_.get());
  }
  const AnyMap& as_any_map() const {
    return *static_cast<const AnyMap*>(ptr_.get());
  }
  const List& as_list() const { return *static_cast<const List*>(ptr_.get()); }
  const SampleValue& as_sample() const {
    return *static_cast<const SampleValue*>(ptr_.get());
  }
  const void* identity() const { return ptr_.get(); }
  // The shared aggregate, for aliasing pointers into it.
  const std::shared_ptr<const void>& keepalive() const { return ptr_; }
  const Data& as_root() const { return *root_; }

 private:
  explicit Value(Kind k) : kind_(k) {}
  Kind kind_ = Kind::kNil;
  int64_t int_ = 0;
  double float_ = 0;
  std::string str_;
  std::shared_ptr<const void> ptr_;
  const Data* root_ = nullptr;
};

// A non-owning shared_ptr to a map that outlives the execution.
inline std::shared_ptr<const StringMap> BorrowMap(const StringMap& m) {
  return std::shared_ptr<const StringMap>(std::shared_ptr<const void>(), &m);
}

// Debian's Abseil has its own string_view type; StrCat and friends need it.
inline absl::string_view Av(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// Go's name for the value's type, as fmt's %T and template errors print it.
std::string GoTypeName(const Value& v);

// Go's truth (text/template isTrue): false, 0, "", nil and empty are false.
bool IsTrue(const Value& v);

// fmt.Sprint of one value (%v).
void AppendGoValue(const Value& v, std::string* out);
std::string GoValueString(const Value& v);

// fmt.Sprint / fmt.Sprintln / fmt.Sprintf over values.
std::string GoSprint(const std::vector<Value>& args);
std::string GoSprintln(const std::vector<Value>& args);
std::string GoSprintf(std::string_view format, const std::vector<Value>& args);

// strconv.FormatFloat(f, 'g', -1, 64) as fmt's %v prints float64.
std::string GoFloatString(double f);
// fmt.Sprintf("%.<prec>g", f) with Go's spelling of Inf/NaN.
std::string GoFormatG(double f, int prec);
// strconv.Quote.
std::string GoQuote(std::string_view s);
// strconv.ParseFloat(s, 64); errors read `strconv.ParseFloat: parsing "s":
// invalid syntax` (or `value out of range`).
absl::StatusOr<double> GoParseFloat(std::string_view s);
// time.Time.String() of a UTC time: 2006-01-02 15:04:05.999999999 +0000 UTC.
std::string GoTimeString(int64_t unix_nanos);
// time.Time.Format(layout) of a UTC time, with Go's reference-time layout
// elements (2006 01 Jan January 02 _2 002 15 03 3 04 05 PM Mon MST -07:00
// Z07:00 .000 .999 ...).
std::string GoTimeFormat(int64_t unix_nanos, std::string_view layout);
// The civil fields of a UTC time.
struct CivilTime {
  int64_t year;
  int month, day, hour, minute, second, weekday /* 0 = Sunday */, yday;
  int64_t nanos;
};
CivilTime ToCivil(int64_t unix_nanos);
extern const char* const kGoMonthNames[12];
extern const char* const kGoDayNames[7];
// time.Duration.String(): 1h2m3.5s, 1.5ms, 0s.
std::string GoDurationString(int64_t nanos);

// UTF-8 as Go decodes it: an invalid byte is U+FFFD of width 1.
// REQUIRES: i < s.size().
int DecodeRune(std::string_view s, size_t i, uint32_t* rune);
void AppendRune(uint32_t rune, std::string* out);
// unicode.IsPrint, exact for ASCII and Latin-1, approximate above.
bool IsPrintRune(uint32_t rune);

}  // namespace vigil::engine::tmpl::internal

#endif  // VIGIL_ENGINE_TEMPLATE_VALUE_H_
