#pragma once
// `metajoule bench sim`: our Env against a raw mj_step loop on the same model, in one run.

#include <cstdint>
#include <string>

#include "common/thread_pool.h"

namespace metajoule::sim {

/// Throughput of one family on a number of threads (one environment per thread).
struct SimBenchResult {
  std::string family;
  int threads{1};
  int frame_skip{1};
  /// mj_step calls per second through Env::Step (random uniform actions, resets at the horizon).
  double env_mj_steps_per_second{0.0};
  /// mj_step calls per second of a bare loop: ctrl copied from the same action table,
  /// frame_skip mj_step calls, mj_resetData + mj_forward at the horizon.
  double raw_mj_steps_per_second{0.0};
  /// env_mj_steps_per_second / raw_mj_steps_per_second: 1 means no overhead.
  double ratio{0.0};
  /// The same ratio from each thread's CPU time (CLOCK_THREAD_CPUTIME_ID) instead of wall time:
  /// less sensitive to other processes competing for the cores.
  double cpu_ratio{0.0};
  /// Bytes of one environment's mjData (buffer + stack).
  std::int64_t data_bytes{0};
};

/// Measures `family` with `pool.num_threads()` threads, alternating Env and raw runs of about
/// `seconds` each, `repeats` times, keeping the best run of each. Throws std::invalid_argument
/// for an unknown family or non-positive seconds/repeats.
SimBenchResult BenchmarkSim(const std::string& family, ThreadPool& pool, double seconds,
                            int repeats);

}  // namespace metajoule::sim
