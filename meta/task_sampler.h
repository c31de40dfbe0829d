#pragma once
// Sampling trajectories on one task and turning them into LossBatches (advantages fixed), with
// the work and time accounting every contribution, evaluation and oracle run shares.

#include <optional>
#include <random>
#include <string>

#include "agents/advantages.h"
#include "agents/math/gaussian_policy.h"
#include "meta/meta_gradient.h"
#include "meta/task_env.h"

namespace metajoule::meta {

/// Owns the advantage estimator for one task and borrows the calling thread's loss workspace
/// (agents::internal::ThreadWorkspace slot kLossSlot; at most one TaskSampler alive per
/// thread, checked by MJL_DEMAND).
class TaskSampler {
 public:
  /// `max_episodes`: the largest `episodes` a Sample call will ask for (sizes the loss
  /// workspace to max_episodes x task.max_steps columns). `init_rng` initialises an MLP
  /// critic, if the advantage config asks for one.
  /// @throws std::invalid_argument when task.env is null, its dimensions differ from the
  /// policy's, task.max_steps < 1, max_episodes < 1 or `advantage` fails Validate.
  TaskSampler(const agents::GaussianMlpPolicy& policy, const agents::AdvantageConfig& advantage,
              TaskEnv& task, int max_episodes, std::mt19937_64& init_rng);
  ~TaskSampler();
  TaskSampler(const TaskSampler&) = delete;
  TaskSampler& operator=(const TaskSampler&) = delete;

  /// The ThreadWorkspace slot of the loss workspace; MAML's tapes use the slots after it.
  static constexpr int kLossSlot = 1;

  /// Collects `episodes` episodes of pi_theta (actions and resets from `rng`) and writes the
  /// batch with its advantages into `out`; `mean_return` gets the mean undiscounted episode
  /// return. Returns kNonFiniteParams (theta has NaN/inf; nothing sampled), kNonFiniteInput,
  /// kBaselineFailed (with `message`) or kOk. Adds the work to work(), the collection time to
  /// sampling_seconds() and the advantage time to *advantage_seconds.
  agents::UpdateStatus Sample(const Eigen::Ref<const Eigen::VectorXd>& theta, int episodes,
                              std::mt19937_64& rng, LossBatch& out, double& mean_return,
                              std::string& message, double& advantage_seconds);

  /// The workspace for losses on batches of up to max_episodes x max_steps columns (the
  /// thread's, flop counters reset at construction; valid while this sampler lives).
  agents::PolicyWorkspace& loss_workspace() { return loss_ws_; }
  /// Work since construction; policy_flops includes every call made on loss_workspace().
  WorkCounts work() const;
  double sampling_seconds() const { return sampling_seconds_; }
  /// Thread CPU seconds (CLOCK_THREAD_CPUTIME_ID) spent collecting episodes by every
  /// TaskSampler on the calling thread since it started: the benchmark's load-independent
  /// sampling time (wall-clock timers also count the time spent waiting for a core).
  static double ThreadSamplingCpuSeconds();
  /// Thread CPU seconds of the calling thread.
  static double ThreadCpuSeconds();

 private:
  const agents::GaussianMlpPolicy& policy_;
  TaskEnv& task_;
  agents::AdvantageEstimator estimator_;
  agents::PolicyWorkspace sample_ws_;
  agents::PolicyWorkspace& loss_ws_;
  Eigen::Index max_batch_;  // max_episodes x max_steps (loss_ws_ may be larger)
  WorkCounts work_{};
  double sampling_seconds_{0.0};
};

}  // namespace metajoule::meta
