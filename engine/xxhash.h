// XXH64 (seed 0): the hash Prometheus uses for label sets, here so that a
// group's evaluation offset within its interval matches Prometheus'.
#ifndef VIGIL_ENGINE_XXHASH_H_
#define VIGIL_ENGINE_XXHASH_H_

#include <cstdint>
#include <string_view>

namespace vigil::engine {

uint64_t XxHash64(std::string_view data);

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_XXHASH_H_
