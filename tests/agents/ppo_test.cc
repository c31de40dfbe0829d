#include "agents/ppo.h"

#include <doctest/doctest.h>

#include "tests/agents/learners_shared.h"

namespace metajoule::agents {
namespace {

GaussianMlpPolicy ReachPolicy() { return GaussianMlpPolicy(1, 1, {16}, Activation::kTanh); }

PpoConfig ReachConfig() {
  PpoConfig config;
  config.advantage.baseline = BaselineKind::kMlp;
  config.advantage.critic.hidden_sizes = {16};
  config.advantage.critic.minibatch_size = 32;
  config.minibatch_size = 32;
  config.adam.learning_rate = 1e-2;
  return config;
}

test::TrainResult Train(std::uint64_t seed) {
  std::mt19937_64 init(seed);
  PpoLearner learner(ReachPolicy(), ReachConfig(), init);
  return test::TrainOnReach(learner, seed, 30, 64);
}

TEST_SUITE("agents/ppo") {
  TEST_CASE("PPO improves the expected return of 1-step reach-the-target") {
    const auto result = Train(1);
    CHECK(result.failed_updates == 0);
    MESSAGE("PPO reach return: " << result.initial_return << " -> " << result.final_return);
    CHECK(result.final_return > result.initial_return + 0.5);
  }

  TEST_CASE("PPO is deterministic per seed") {
    const auto a = Train(5);
    const auto b = Train(5);
    const auto c = Train(6);
    CHECK(a.theta == b.theta);
    CHECK(a.theta != c.theta);
  }

  TEST_CASE("PPO rejects NaN rewards and leaves theta unchanged") {
    std::mt19937_64 rng(3);
    PpoLearner learner(ReachPolicy(), ReachConfig(), rng);
    Eigen::VectorXd theta(learner.policy().num_params());
    learner.policy().InitializeParams(rng, 0.0, theta);
    test::ReachTargetEnv env;
    PolicyWorkspace ws(learner.policy(), 1);
    auto batch = CollectEpisodes(learner.policy(), theta, env, 8, 1, rng, ws);
    batch.rewards(3) = std::numeric_limits<double>::quiet_NaN();
    const Eigen::VectorXd before = theta;
    const auto report = learner.Update(batch, rng, theta);
    CHECK(report.status == UpdateStatus::kNonFiniteInput);
    CHECK(report.message == "TrajectoryBatch: NaN or inf in rewards");
    CHECK(theta == before);
  }

  TEST_CASE("PpoConfig validation names the offending key") {
    PpoConfig config;
    config.clip_ratio = 1.5;
    config.advantage.gamma = -0.1;
    config.adam.learning_rate = 0.0;
    const auto errors = Validate(config);
    REQUIRE(errors.size() == 3);
    CHECK(errors[0].key == "advantage.gamma");
    CHECK(errors[1].key == "clip_ratio");
    CHECK(errors[1].message == "must be in (0, 1), got 1.500000");
    CHECK(errors[2].key == "adam.learning_rate");
    CHECK(Validate(PpoConfig{}).empty());
    std::mt19937_64 rng(1);
    CHECK_THROWS_AS(PpoLearner(ReachPolicy(), config, rng), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::agents
