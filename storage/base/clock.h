// Clock: where vigil reads the time, so that tests run on simulated time
// without sleeping.
#ifndef VIGIL_STORAGE_BASE_CLOCK_H_
#define VIGIL_STORAGE_BASE_CLOCK_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vigil {

// Source of the current time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
  // Milliseconds since the Unix epoch, Prometheus' timestamp unit.
  int64_t NowMillis() const { return absl::ToUnixMillis(Now()); }

  // The process-wide real clock; never null, never deleted.
  static Clock* Real();
};

// A clock that only moves when told to. Thread-safe.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start = absl::UnixEpoch()) : now_(start) {}
  absl::Time Now() const override;
  void Advance(absl::Duration d);
  void Set(absl::Time t);

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vigil

#endif  // VIGIL_STORAGE_BASE_CLOCK_H_
