// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Debian's Abseil (20220623) predates
// absl/status/status_macros.h, so vigil carries these two small macros.
#ifndef VIGIL_STORAGE_BASE_STATUS_MACROS_H_
#define VIGIL_STORAGE_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define VIGIL_STATUS_CONCAT_INNER_(a, b) a##b
#define VIGIL_STATUS_CONCAT_(a, b) VIGIL_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                   \
  do {                                          \
    ::absl::Status vigil_status_ = (expr);      \
    if (!vigil_status_.ok()) {                  \
      return vigil_status_;                     \
    }                                           \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F());` declares x from a StatusOr or returns its
// error.
#define ASSIGN_OR_RETURN(lhs, rexpr)                                         \
  VIGIL_ASSIGN_OR_RETURN_IMPL_(VIGIL_STATUS_CONCAT_(vigil_sor_, __LINE__), \
                               lhs, rexpr)

#define VIGIL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                  \
  if (!tmp.ok()) {                                     \
    return std::move(tmp).status();                    \
  }                                                    \
  lhs = std::move(tmp).value()

#endif  // VIGIL_STORAGE_BASE_STATUS_MACROS_H_
