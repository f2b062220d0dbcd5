// Small string helpers for engine/: Debian's Abseil has its own
// absl::string_view (not std::string_view), so StrCat/StrJoin need a bridge.
#ifndef VIGIL_ENGINE_STR_UTIL_H_
#define VIGIL_ENGINE_STR_UTIL_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace vigil::engine {

inline absl::string_view Sv(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_STR_UTIL_H_
