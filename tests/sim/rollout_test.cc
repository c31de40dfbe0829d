#include "sim/rollout.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <doctest/doctest.h>

#include "sim/random.h"
#include "sim/world.h"

namespace metajoule::sim {
namespace {

std::vector<Env> MakeEnvs(const World& world, int count, std::uint64_t task_seed) {
  TaskDistributionConfig config;
  config.family = std::string(world.family().name());
  config.payload_mass = {0.0, 0.05};
  std::mt19937_64 rng(task_seed);
  std::vector<Env> envs;
  for (const Task& task : SampleTasks(config, count, rng)) {
    envs.emplace_back(world, task, EnvConfig{.horizon = 30});
  }
  return envs;
}

RolloutBatch Run(const World& world, int threads, std::uint64_t seed,
                 RandomPolicy::Kind kind = RandomPolicy::Kind::kUniform) {
  std::vector<Env> envs = MakeEnvs(world, 5, 1);
  RandomPolicy policy(kind, envs, seed);
  ThreadPool pool(threads);
  return RolloutEpisodes(envs, policy.AsFunction(), 3, seed, pool);
}

bool SameTrajectories(const RolloutBatch& a, const RolloutBatch& b) {
  if (a.trajectories.size() != b.trajectories.size()) return false;
  for (std::size_t k = 0; k < a.trajectories.size(); ++k) {
    for (std::size_t e = 0; e < a.trajectories[k].size(); ++e) {
      const Trajectory& x = a.trajectories[k][e];
      const Trajectory& y = b.trajectories[k][e];
      if (x.length != y.length || x.observations != y.observations || x.actions != y.actions ||
          x.rewards != y.rewards || x.statuses != y.statuses) {
        return false;
      }
    }
  }
  return true;
}

TEST_SUITE("sim/rollout") {
  TEST_CASE("one thread and two threads give bit-identical trajectories") {
    const World world("runner_velocity");
    CHECK(SameTrajectories(Run(world, 1, 9), Run(world, 2, 9)));
  }

  TEST_CASE("the same seed repeats the rollouts and another seed changes them") {
    const World world("reach2d");
    const RolloutBatch first = Run(world, 2, 4, RandomPolicy::Kind::kGaussian);
    CHECK(SameTrajectories(first, Run(world, 2, 4, RandomPolicy::Kind::kGaussian)));
    CHECK(!SameTrajectories(first, Run(world, 2, 5, RandomPolicy::Kind::kGaussian)));
  }

  TEST_CASE("trajectories hold every step and the work is counted") {
    const World world("reach2d");
    const RolloutBatch batch = Run(world, 2, 3);
    REQUIRE(batch.trajectories.size() == 5);
    std::int64_t steps = 0;
    for (const auto& episodes : batch.trajectories) {
      REQUIRE(episodes.size() == 3);
      for (const Trajectory& trajectory : episodes) {
        CHECK(trajectory.length == 30);
        CHECK(trajectory.statuses[29] == StepStatus::kTruncated);
        CHECK(trajectory.observations.rows() == 8);
        CHECK(trajectory.actions.rows() == 2);
        // plain loops: GCC 12 flags Eigen's AVX-512 reductions with a false maybe-uninitialized
        double sum = 0.0, largest_action = 0.0;
        for (int t = 0; t < trajectory.length; ++t) {
          sum += trajectory.rewards[t];
          for (int i = 0; i < 2; ++i) {
            largest_action = std::max(largest_action, std::abs(trajectory.actions(i, t)));
          }
        }
        CHECK(trajectory.episode_return == doctest::Approx(sum));
        CHECK(largest_action <= 1.0);
        steps += trajectory.length;
      }
    }
    CHECK(batch.work.env_steps == steps);
    CHECK(batch.work.sim_steps == 2 * steps);  // reach2d frame skip 2
    CHECK(batch.work.wall_seconds > 0.0);
  }

  TEST_CASE("a policy that returns NaN makes the rollout throw") {
    const World world("reach2d");
    std::vector<Env> envs = MakeEnvs(world, 2, 1);
    ThreadPool pool(2);
    const PolicyFn nan_policy = [](std::size_t, std::span<const double>, std::span<double> a) {
      for (double& x : a) x = std::numeric_limits<double>::quiet_NaN();
    };
    CHECK_THROWS_AS(RolloutEpisodes(envs, nan_policy, 1, 1, pool), std::invalid_argument);
  }

  TEST_CASE("random policy kinds parse by name and unknown names list the valid ones") {
    CHECK(ParseRandomPolicyKind("uniform") == RandomPolicy::Kind::kUniform);
    CHECK(ParseRandomPolicyKind("gaussian") == RandomPolicy::Kind::kGaussian);
    CHECK_THROWS_WITH_AS(ParseRandomPolicyKind("zero"),
                         "unknown random policy \"zero\"; valid policies: uniform, gaussian",
                         std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::sim
