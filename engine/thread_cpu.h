// CPU time of the calling thread, for the per-group accounting a rule
// group's own thread does: how much CPU an evaluation took, and how much of
// that went to its rules' queries (the prepared expressions re-executed), as
// opposed to alert state and the upkeep of their output series.
#ifndef VIGIL_ENGINE_THREAD_CPU_H_
#define VIGIL_ENGINE_THREAD_CPU_H_

#include <time.h>

#include "absl/time/time.h"

namespace vigil::engine {

// User and system CPU time the calling thread has used so far, from the
// scheduler's nanosecond accounting (one clock_gettime call).
inline absl::Duration ThreadCpuTime() {
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
    return absl::ZeroDuration();
  }
  return absl::DurationFromTimespec(ts);
}

// CPU time the calling thread has spent in rule queries: the rule query
// engine adds to it, and a group's Eval reads it before and after. Each
// thread has its own; only that thread touches it.
inline absl::Duration& ThreadQueryCpuTime() {
  thread_local absl::Duration spent = absl::ZeroDuration();
  return spent;
}

}  // namespace vigil::engine

#endif  // VIGIL_ENGINE_THREAD_CPU_H_
