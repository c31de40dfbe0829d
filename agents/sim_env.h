#pragma once
// SimRolloutEnv: the one place where the learners meet the simulator. It adapts a sim::Env (one
// robot's MuJoCo environment with its task applied) to the abstract agents::RolloutEnv that
// CollectEpisodes and the learners see, and counts the work the energy ledger charges
// (environment steps, simulator calls). The policy math (agents/math/) never includes sim/.

#include <cstdint>
#include <random>

#include "agents/math/eigen.h"
#include "agents/trajectory.h"
#include "sim/env.h"
#include "sim/task_config.h"
#include "sim/task_family.h"
#include "sim/world.h"

namespace metajoule::agents {

/// RolloutEnv over one sim::Env (owns it). Counts the work the ledger charges.
///
/// Step statuses map to StepEnd as follows: kTerminated -> kTerminal (the task ended the
/// episode, nothing to bootstrap), kTruncated -> kTruncated (the horizon was reached),
/// kDiverged -> kTerminal (MuJoCo reset the state and the step's reward is 0; the episode is
/// over and there is no meaningful next state to bootstrap from), counted in divergences().
/// One instance per thread at a time; instances share no mutable state.
class SimRolloutEnv final : public RolloutEnv {
 public:
  /// Builds the sim::Env (a copy of `world`'s model with `task` applied); `world` is not referred
  /// to afterwards. Zero fields of `config` take the family's defaults.
  /// @throws std::invalid_argument as sim::Env does (task of another family, out-of-range
  /// parameters, negative config fields).
  SimRolloutEnv(const sim::World& world, const sim::Task& task,
                const sim::EnvConfig& config = {});

  SimRolloutEnv(const SimRolloutEnv&) = delete;
  SimRolloutEnv& operator=(const SimRolloutEnv&) = delete;
  SimRolloutEnv(SimRolloutEnv&&) = default;
  SimRolloutEnv& operator=(SimRolloutEnv&&) = default;
  ~SimRolloutEnv() override = default;

  int obs_dim() const override;
  int act_dim() const override;

  /// Starts an episode: draws one 64-bit seed from `rng` and calls sim::Env::Reset with it, then
  /// writes the first observation into `obs` (obs_dim entries).
  /// @throws std::invalid_argument when obs.size() != obs_dim().
  void Reset(std::mt19937_64& rng, Eigen::Ref<Eigen::VectorXd> obs) override;

  /// Applies `action` (act_dim entries, unclipped; sim::Env clips it to the action bounds) and
  /// writes the next observation into `next_obs` (obs_dim). Does not allocate.
  /// @throws std::invalid_argument on wrong sizes or a non-finite action (nothing simulated),
  /// std::logic_error when no episode is running (sim::Env::Step).
  StepResult Step(const Eigen::Ref<const Eigen::VectorXd>& action,
                  Eigen::Ref<Eigen::VectorXd> next_obs) override;

  /// Episode length in environment steps (sim::Env::horizon, after EnvConfig defaults).
  int horizon() const;
  /// Step calls so far (each one is one environment step).
  std::int64_t env_steps() const;
  /// Simulator calls so far (sim::Env::sim_steps: mj_step calls, or mj_kinematics for nav2d).
  std::int64_t sim_steps() const;
  /// Episodes that ended because MuJoCo flagged a divergence (StepStatus::kDiverged).
  std::int64_t divergences() const;
  const sim::Env& env() const;

 private:
  sim::Env env_;
  std::int64_t env_steps_{0};
  std::int64_t divergences_{0};
};

}  // namespace metajoule::agents
