// The values a PromQL query produces: scalar, string, instant vector and
// range vector (matrix), as the HTTP API and the rule engine consume them.
#ifndef VIGIL_PROMQL_VALUE_VALUE_H_
#define VIGIL_PROMQL_VALUE_VALUE_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "storage/labels.h"

namespace vigil::promql {

enum class ValueType { kNone, kScalar, kString, kVector, kMatrix };

// Prometheus' name of a type ("scalar", "instant vector", ...), for errors.
const char* ValueTypeName(ValueType t);

struct Scalar {
  int64_t t = 0;
  double v = 0;
};

struct String {
  int64_t t = 0;
  std::string s;
};

// One element of an instant vector. Native histograms will get their own
// slot here; today every sample is a float.
struct Sample {
  storage::Labels metric;
  int64_t t = 0;
  double v = 0;
};
using Vector = std::vector<Sample>;

// One series of a range vector: parallel arrays, in time order.
struct Series {
  storage::Labels metric;
  std::vector<int64_t> ts;
  std::vector<double> vs;
};
using Matrix = std::vector<Series>;

// A query result. Value types own their data.
using Value = std::variant<Scalar, String, Vector, Matrix>;

// A query's value with the annotations Prometheus would attach to it
// ("PromQL warning: ...", "PromQL info: ..."), deduplicated, in first-seen
// order.
struct Result {
  Value value;
  std::vector<std::string> warnings;
  std::vector<std::string> infos;
};

inline ValueType TypeOf(const Value& v) {
  switch (v.index()) {
    case 0:
      return ValueType::kScalar;
    case 1:
      return ValueType::kString;
    case 2:
      return ValueType::kVector;
    default:
      return ValueType::kMatrix;
  }
}

inline const char* ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kScalar:
      return "scalar";
    case ValueType::kString:
      return "string";
    case ValueType::kVector:
      return "instant vector";
    case ValueType::kMatrix:
      return "range vector";
    default:
      return "none";
  }
}

}  // namespace vigil::promql

#endif  // VIGIL_PROMQL_VALUE_VALUE_H_
