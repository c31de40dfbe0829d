#pragma once
// Shared training loop of the learner tests (vpg_test, ppo_test, trpo_test).

#include <random>

#include "agents/trajectory.h"
#include "tests/support/toy_envs.h"

namespace metajoule::test {

struct TrainResult {
  Eigen::VectorXd theta;
  double initial_return{0.0};
  double final_return{0.0};
  int failed_updates{0};
};

/// Trains `learner` on ReachTargetEnv for `iterations` batches of `episodes` episodes, all
/// randomness from `seed`.
template <class Learner>
TrainResult TrainOnReach(Learner& learner, std::uint64_t seed, int iterations, int episodes) {
  const auto& policy = learner.policy();
  std::mt19937_64 rng(seed);
  TrainResult result;
  result.theta = Eigen::VectorXd(policy.num_params());
  policy.InitializeParams(rng, 0.0, result.theta);
  result.initial_return = ExpectedReachReturn(policy, result.theta);
  ReachTargetEnv env;
  agents::PolicyWorkspace ws(policy, 1);
  for (int i = 0; i < iterations; ++i) {
    const auto batch = agents::CollectEpisodes(policy, result.theta, env, episodes, 1, rng, ws);
    const auto report = learner.Update(batch, rng, result.theta);
    if (!report.ok()) ++result.failed_updates;
  }
  result.final_return = ExpectedReachReturn(policy, result.theta);
  return result;
}

}  // namespace metajoule::test
