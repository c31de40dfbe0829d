#pragma once
// Vectorised rollouts: many environments stepped on a ThreadPool, one mjData per environment,
// with the policy given as a callback (sim knows nothing of agents; the agents module plugs its
// MLP in through PolicyFn). Results do not depend on the number of threads: each environment is
// stepped by one thread at a time, and every seed is derived from (seed, env index, episode).

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <vector>

#include <Eigen/Core>

#include "common/thread_pool.h"
#include "sim/env.h"

namespace metajoule::sim {

/// A policy: writes the action for environment `env_index` given its observation. Called from
/// worker threads, at most once at a time per env_index (so per-environment state needs no lock);
/// `action` has envs[env_index].action_size() entries. Actions outside the bounds are clipped by
/// the environment; non-finite actions make the rollout throw std::invalid_argument.
using PolicyFn = std::function<void(std::size_t env_index, std::span<const double> observation,
                                    std::span<double> action)>;

/// One episode, stored in flat column-major buffers preallocated to the horizon.
struct Trajectory {
  /// obs_size x (length + 1): o_0 (after Reset) ... o_length; columns beyond length are unused.
  Eigen::MatrixXd observations;
  /// action_size x length: the actions as the policy gave them (before clipping).
  Eigen::MatrixXd actions;
  /// length entries used: r_0 ... r_{length-1}.
  Eigen::VectorXd rewards;
  /// Status of each step; only the last used entry is not kOk.
  std::vector<StepStatus> statuses;
  int length{0};
  double episode_return{0.0};  ///< sum of the rewards (undiscounted)
};

/// Work done by a batch of rollouts, for the energy ledger.
struct RolloutWork {
  std::int64_t env_steps{0};    ///< Env::Step calls
  std::int64_t sim_steps{0};    ///< simulator calls (Env::sim_steps(), mj_step for physics)
  double wall_seconds{0.0};     ///< elapsed time of the whole batch
};

/// The rollouts of a batch: trajectories[env][episode], and the work done.
struct RolloutBatch {
  std::vector<std::vector<Trajectory>> trajectories;
  RolloutWork work;
};

/// Runs `episodes` episodes on every environment, environments spread over `pool`. Episode e
/// of environment k resets with DeriveSeed(DeriveSeed(seed, k), e). Returns the trajectories and
/// the work counted. Throws std::invalid_argument for episodes < 0 or a bad action (rethrown
/// from the worker that saw it).
RolloutBatch RolloutEpisodes(std::span<Env> envs, const PolicyFn& policy, int episodes,
                             std::uint64_t seed, ThreadPool& pool);

/// A seeded random policy for smoke runs and benchmarks. Environment k draws from its own
/// generator seeded DeriveSeed(seed, k), so draws do not depend on thread scheduling.
class RandomPolicy {
 public:
  enum class Kind {
    kUniform,   ///< a_i ~ U(low_i, high_i)
    kGaussian,  ///< a_i ~ N(mid_i, (0.5 * (high_i - low_i))^2), clipped by the environment
  };

  /// Takes the action bounds of every environment in `envs`.
  RandomPolicy(Kind kind, std::span<const Env> envs, std::uint64_t seed);

  /// Fills `action` for environment `env_index`.
  void Act(std::size_t env_index, std::span<const double> observation, std::span<double> action);

  /// This policy as a PolicyFn (refers to *this, which must outlive it).
  PolicyFn AsFunction();

 private:
  Kind kind_;
  std::vector<std::vector<double>> low_;
  std::vector<std::vector<double>> high_;
  std::vector<std::mt19937_64> rngs_;
};

/// "uniform" or "gaussian"; throws std::invalid_argument listing both for anything else.
RandomPolicy::Kind ParseRandomPolicyKind(std::string_view name);

}  // namespace metajoule::sim
