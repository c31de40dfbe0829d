#include "agents/sim_env.h"

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "sim/world.h"

// the one TU of this test binary that replaces the global operator new
#include "tests/support/counting_allocator.h"

namespace metajoule::agents {
namespace {

sim::Task GoalTask(const char* family, double gx, double gy) {
  sim::Task task;
  task.family = family;
  task.goal_size = 2;
  task.goal = {gx, gy, 0.0};
  return task;
}

std::string InvalidArgumentOf(SimRolloutEnv& env, const Eigen::VectorXd& action,
                              Eigen::Index obs_size) {
  Eigen::VectorXd next(obs_size);
  try {
    env.Step(action, next);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST_SUITE("agents/sim_env") {
  TEST_CASE("SimRolloutEnv exposes the sizes and horizon of the sim environment") {
    const sim::World reach("reach2d");
    const SimRolloutEnv reach_env(reach, GoalTask("reach2d", 0.1, 0.1));
    CHECK(reach_env.obs_dim() == 8);
    CHECK(reach_env.act_dim() == 2);
    CHECK(reach_env.horizon() == 50);
    const sim::World nav("nav2d");
    const SimRolloutEnv nav_env(nav, GoalTask("nav2d", 0.3, -0.2), sim::EnvConfig{.horizon = 7});
    CHECK(nav_env.obs_dim() == 2);
    CHECK(nav_env.act_dim() == 2);
    CHECK(nav_env.horizon() == 7);
    CHECK(nav_env.env().task().goal[0] == 0.3);
  }

  TEST_CASE("Reset seeds the simulator with one draw of the rng") {
    const sim::World world("reach2d");
    SimRolloutEnv a(world, GoalTask("reach2d", 0.1, 0.1));
    SimRolloutEnv b(world, GoalTask("reach2d", 0.1, 0.1));
    std::mt19937_64 rng_a(5), rng_b(5), rng_c(6);
    Eigen::VectorXd obs_a(8), obs_b(8), obs_c(8);
    a.Reset(rng_a, obs_a);
    b.Reset(rng_b, obs_b);
    CHECK(obs_a == obs_b);
    a.Reset(rng_c, obs_c);
    CHECK(obs_c != obs_a);
    // exactly one draw: the generators are in step with one that skipped a value
    std::mt19937_64 reference(5);
    reference.discard(1);
    CHECK(rng_b() == reference());
    // the observation is the sim environment's
    std::mt19937_64 rng_d(5);
    sim::Env raw(world, GoalTask("reach2d", 0.1, 0.1));
    const auto first = raw.Reset(rng_d());
    for (int i = 0; i < 8; ++i) CHECK(obs_a(i) == first[static_cast<std::size_t>(i)]);
  }

  TEST_CASE("Step maps the horizon to kTruncated and counts env and sim steps") {
    const sim::World world("reach2d");
    SimRolloutEnv env(world, GoalTask("reach2d", 0.1, 0.1), sim::EnvConfig{.horizon = 5});
    std::mt19937_64 rng(1);
    Eigen::VectorXd obs(8);
    env.Reset(rng, obs);
    const Eigen::VectorXd action = Eigen::VectorXd::Constant(2, 0.3);
    for (int t = 0; t < 4; ++t) CHECK(env.Step(action, obs).end == StepEnd::kNone);
    const StepResult last = env.Step(action, obs);
    CHECK(last.end == StepEnd::kTruncated);
    CHECK(last.reward < 0.0);
    CHECK(obs.allFinite());
    CHECK(env.env_steps() == 5);
    CHECK(env.sim_steps() == 5 * env.env().frame_skip());
    CHECK(env.divergences() == 0);
  }

  TEST_CASE("Step maps nav2d reaching the goal to kTerminal") {
    const sim::World world("nav2d");
    SimRolloutEnv env(world, GoalTask("nav2d", 0.05, -0.05));
    std::mt19937_64 rng(1);
    Eigen::VectorXd obs(2);
    env.Reset(rng, obs);
    CHECK(obs.isZero());
    // an unclipped request of 0.05 per axis lands on the goal: terminal, reward -0
    const StepResult result = env.Step(Eigen::Vector2d(0.05, -0.05), obs);
    CHECK(result.end == StepEnd::kTerminal);
    CHECK(obs(0) == doctest::Approx(0.05));
    CHECK(obs(1) == doctest::Approx(-0.05));
    CHECK(result.reward == doctest::Approx(0.0));
  }

  TEST_CASE("Step maps a divergence to kTerminal and counts it") {
    const sim::World world("reach2d");
    sim::Task task = GoalTask("reach2d", 0.1, 0.1);
    task.gain_scale = 1e30;  // as tests/sim/env_test.cc: MuJoCo flags a bad qacc
    SimRolloutEnv env(world, task);
    std::mt19937_64 rng(1);
    Eigen::VectorXd obs(8);
    env.Reset(rng, obs);
    StepResult result;
    for (int t = 0; t < 10 && result.end == StepEnd::kNone; ++t) {
      result = env.Step(Eigen::Vector2d(1.0, 1.0), obs);
    }
    CHECK(result.end == StepEnd::kTerminal);
    CHECK(env.divergences() == 1);
    CHECK(obs.allFinite());
  }

  TEST_CASE("Step rejects wrong sizes and non-finite actions without stepping") {
    const sim::World world("reach2d");
    SimRolloutEnv env(world, GoalTask("reach2d", 0.1, 0.1));
    std::mt19937_64 rng(1);
    Eigen::VectorXd obs(8);
    env.Reset(rng, obs);
    CHECK(InvalidArgumentOf(env, Eigen::VectorXd::Zero(3), 8).find("expected an action of size 2, got 3") !=
          std::string::npos);
    CHECK(InvalidArgumentOf(env, Eigen::Vector2d(0.0, std::nan("")), 8).find("action[1] is nan") !=
          std::string::npos);
    CHECK(InvalidArgumentOf(env, Eigen::Vector2d(0.0, 0.0), 7).find("next_obs size: expected 8, got 7") !=
          std::string::npos);
    CHECK(env.sim_steps() == 0);
    Eigen::VectorXd short_obs(3);
    CHECK_THROWS_AS(env.Reset(rng, short_obs), std::invalid_argument);
  }

  TEST_CASE("CollectEpisodes over SimRolloutEnv fills complete horizon-long episodes") {
    const sim::World world("reach2d");
    SimRolloutEnv env(world, GoalTask("reach2d", 0.1, 0.1));
    const GaussianMlpPolicy policy(env.obs_dim(), env.act_dim(), {8}, Activation::kTanh);
    std::mt19937_64 rng(3);
    Eigen::VectorXd theta(policy.num_params());
    policy.InitializeParams(rng, 0.0, theta);
    PolicyWorkspace ws(policy, 1);
    const TrajectoryBatch batch = CollectEpisodes(policy, theta, env, 3, env.horizon(), rng, ws);
    CHECK(batch.num_steps() == 3 * 50);
    CHECK(batch.num_episodes() == 3);
    CHECK(batch.ends[49] == StepEnd::kTruncated);
    CHECK(env.env_steps() == 150);
    std::string message;
    CHECK(CheckTrajectoryBatch(batch, env.obs_dim(), env.act_dim(), &message) == UpdateStatus::kOk);
  }

  TEST_CASE("Step does not allocate") {
    for (const char* family : {"reach2d", "nav2d"}) {
      CAPTURE(family);
      const sim::World world(family);
      SimRolloutEnv env(world, GoalTask(family, 0.4, 0.4));
      std::mt19937_64 rng(1);
      Eigen::VectorXd obs(env.obs_dim());
      const Eigen::VectorXd action = Eigen::VectorXd::Constant(env.act_dim(), 0.01);
      env.Reset(rng, obs);
      test::allocations = 0;
      test::counting = true;
      for (int t = 0; t < 20; ++t) env.Step(action, obs);
      test::counting = false;
      CHECK(test::allocations.load() == 0);
    }
  }
}

}  // namespace
}  // namespace metajoule::agents
