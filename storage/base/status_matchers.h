// gmock matchers for absl::Status / StatusOr (Debian's Abseil lacks
// absl/status/status_matchers.h): IsOk(), StatusIs(code[, message matcher]).
#ifndef VIGIL_STORAGE_BASE_STATUS_MATCHERS_H_
#define VIGIL_STORAGE_BASE_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace vigil::testing_internal {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace vigil::testing_internal

namespace vigil {

MATCHER(IsOk, "is OK") {
  const absl::Status& status = testing_internal::GetStatus(arg);
  if (!status.ok()) {
    *result_listener << "status is " << status.ToString();
  }
  return status.ok();
}

MATCHER_P(StatusIs, code, "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = testing_internal::GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code;
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = testing_internal::GetStatus(arg);
  *result_listener << "status is " << status.ToString();
  return status.code() == code &&
         ::testing::Matches(message_matcher)(std::string(status.message()));
}

}  // namespace vigil

#endif  // VIGIL_STORAGE_BASE_STATUS_MATCHERS_H_
