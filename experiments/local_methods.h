#pragma once
// The methods in which nothing moves over a link: `random` (a seeded uniform random policy,
// the floor) and `scratch` (every agent learns its own task from a random initialisation, the
// no-transfer baseline of DESIGN.md "Methods").

#include <vector>

#include <Eigen/Core>

#include "agents/math/gaussian_policy.h"
#include "common/thread_pool.h"
#include "experiments/checkpoint.h"
#include "experiments/experiment_config.h"
#include "experiments/population.h"
#include "experiments/progress.h"
#include "ledger/meters.h"
#include "ledger/recorder.h"

namespace metajoule::experiments {

/// Method "random": every agent rolls out a seeded uniform random policy for rollout.episodes
/// episodes. Records one rollout compute event and one evaluation per agent. Returns the mean
/// episode return over agents. With `checkpoints`, its one round (round 0) is checkpointed, and
/// a restored checkpoint gives the mean back without rolling out again.
double RunRandom(const ExperimentConfig& config, Population& population, ThreadPool& pool,
                 ledger::RunRecorder& recorder, const ledger::Meter& meter,
                 MethodCheckpoints* checkpoints = nullptr);

/// What method "scratch" leaves: its last return and every agent's trained policy.
struct ScratchResult {
  double mean_return{0.0};  ///< the last round's mean return over agents
  /// Per agent (population order): its policy and final parameters theta (num_params()).
  std::vector<agents::GaussianMlpPolicy> policies;
  std::vector<Eigen::VectorXd> final_params;
};

/// Method "scratch": training.rounds updates of the [agents] learner per agent. Round r records
/// each agent's collection (rollout) and update (learn) as compute events and the batch's mean
/// return as its evaluation. With `checkpoints`, training starts after the restored round
/// (every agent's state restored, agents::Agent::LoadState) and each due round ends with a
/// checkpoint.
ScratchResult RunScratch(const ExperimentConfig& config, Population& population, ThreadPool& pool,
                         ledger::RunRecorder& recorder, Progress& progress,
                         MethodCheckpoints* checkpoints = nullptr);

}  // namespace metajoule::experiments
