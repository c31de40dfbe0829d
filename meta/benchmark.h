#pragma once
// Where the time of a meta-iteration goes: sampling (policy sampling and environment steps),
// inner updates (inner-batch advantages and inner steps), outer work (outer-batch advantages
// and the meta-gradient backward pass with its Hessian-vector products) and the meta-learner's
// aggregation and optimiser step. The environments are the caller's: on a toy env the
// breakdown means little; experiments/meta_study runs it on the MuJoCo tasks.

#include <cstdint>
#include <span>
#include <string>

#include "agents/math/eigen.h"
#include "agents/math/gaussian_policy.h"
#include "meta/meta_config.h"
#include "meta/task_env.h"

namespace metajoule::meta {

struct MetaBenchmarkResult {
  std::string method;
  int iterations{0};
  int tasks_per_iteration{0};
  double sampling_seconds{0.0};   ///< per iteration, summed over the tasks
  double inner_seconds{0.0};      ///< per iteration
  double outer_seconds{0.0};      ///< per iteration
  double update_seconds{0.0};     ///< per iteration (MetaLearner::Update)
  double wall_seconds{0.0};       ///< per iteration, the whole round
  WorkCounts work{};              ///< per iteration
  /// Thread CPU time (CLOCK_THREAD_CPUTIME_ID) per iteration: of episode collection, and of the
  /// whole TrainMetaModel call (every phase, plus its setup). Unlike the wall-clock timers
  /// above, these do not count the time spent waiting for a core on a loaded machine.
  double sampling_cpu_seconds{0.0};
  double cpu_seconds{0.0};
  /// The same two per iteration over iterations 2..N only (equal to the above when N = 1): the
  /// first iteration also pays the thread's one-time setup (the loss workspace and MAML's tapes,
  /// agents::internal::ThreadWorkspace, allocated and first touched), which a run pays once per
  /// thread, not per iteration.
  double steady_sampling_cpu_seconds{0.0};
  double steady_cpu_seconds{0.0};
  /// CPU of the first iteration beyond a steady one (cpu of iteration 1 - steady_cpu_seconds):
  /// the one-time setup, plus the first iteration's own variation; 0 when N = 1.
  double first_iteration_extra_cpu_seconds{0.0};
  double total_seconds() const {
    return sampling_seconds + inner_seconds + outer_seconds + update_seconds;
  }
  double sampling_fraction() const { return sampling_seconds / total_seconds(); }
  double sampling_cpu_fraction() const { return sampling_cpu_seconds / cpu_seconds; }
  double steady_sampling_cpu_fraction() const {
    return steady_sampling_cpu_seconds / steady_cpu_seconds;
  }
};

/// Runs `iterations` meta-iterations of config.method (single-threaded, so the phases add up
/// to the wall time) from `meta_params` and averages the phase times per iteration, with the
/// thread CPU time of every iteration (after each, from TrainMetaModel's callback).
/// @throws std::invalid_argument as TrainMetaModel, or when iterations < 1 or method is scratch.
MetaBenchmarkResult BenchmarkMetaIteration(const MetaConfig& config,
                                           const agents::GaussianMlpPolicy& policy,
                                           const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                           std::span<TaskEnv> tasks, int iterations,
                                           std::uint64_t seed);

/// A Markdown table of the results (ms per iteration and shares).
std::string FormatMetaBenchmark(std::span<const MetaBenchmarkResult> results);

}  // namespace metajoule::meta
