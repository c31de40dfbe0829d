#include "agents/trpo.h"

#include <doctest/doctest.h>

#include "tests/agents/learners_shared.h"

namespace metajoule::agents {
namespace {

GaussianMlpPolicy ReachPolicy() { return GaussianMlpPolicy(1, 1, {16}, Activation::kTanh); }

test::TrainResult Train(std::uint64_t seed, const TrpoConfig& config = {}) {
  std::mt19937_64 init(seed);
  TrpoLearner learner(ReachPolicy(), config, init);
  return test::TrainOnReach(learner, seed, 30, 64);
}

TEST_SUITE("agents/trpo") {
  TEST_CASE("TRPO with the MAML-TRPO defaults improves 1-step reach-the-target") {
    const TrpoConfig defaults;
    CHECK(defaults.max_kl == 0.01);
    CHECK(defaults.cg_iters == 10);
    CHECK(defaults.cg_damping == 1e-5);
    CHECK(defaults.line_search_steps == 15);
    CHECK(defaults.line_search_ratio == 0.8);
    const auto result = Train(1);
    MESSAGE("TRPO reach return: " << result.initial_return << " -> " << result.final_return);
    CHECK(result.failed_updates <= 3);
    CHECK(result.final_return > result.initial_return + 0.3);
  }

  TEST_CASE("each accepted TRPO step respects max_kl and lowers the surrogate") {
    std::mt19937_64 rng(9);
    TrpoLearner learner(ReachPolicy(), TrpoConfig{}, rng);
    Eigen::VectorXd theta(learner.policy().num_params());
    learner.policy().InitializeParams(rng, 0.0, theta);
    test::ReachTargetEnv env;
    PolicyWorkspace ws(learner.policy(), 1);
    const auto batch = CollectEpisodes(learner.policy(), theta, env, 64, 1, rng, ws);
    const auto report = learner.Update(batch, rng, theta);
    REQUIRE(report.ok());
    CHECK(report.kl < 0.01);
    CHECK(report.kl > 0.0);
    CHECK(report.loss_after < report.loss_before);
    CHECK(report.line_search_steps >= 1);
    CHECK(report.flops > 0);
  }

  TEST_CASE("TRPO is deterministic per seed") {
    CHECK(Train(4).theta == Train(4).theta);
    CHECK(Train(4).theta != Train(5).theta);
  }

  TEST_CASE("TRPO rejects NaN parameters and wrong observation sizes") {
    std::mt19937_64 rng(3);
    TrpoLearner learner(ReachPolicy(), TrpoConfig{}, rng);
    Eigen::VectorXd theta(learner.policy().num_params());
    learner.policy().InitializeParams(rng, 0.0, theta);
    test::ReachTargetEnv env;
    PolicyWorkspace ws(learner.policy(), 1);
    auto batch = CollectEpisodes(learner.policy(), theta, env, 8, 1, rng, ws);
    Eigen::VectorXd bad = theta;
    bad(0) = std::numeric_limits<double>::infinity();
    CHECK(learner.Update(batch, rng, bad).status == UpdateStatus::kNonFiniteParams);
    batch.obs = Eigen::MatrixXd::Zero(2, 8);
    CHECK_THROWS_WITH_AS(learner.Update(batch, rng, theta),
                         "TrajectoryBatch: obs rows: expected 1, got 2", std::invalid_argument);
  }

  TEST_CASE("TrpoConfig validation rejects out-of-range values") {
    TrpoConfig config;
    config.max_kl = 0.0;
    config.line_search_ratio = 1.0;
    config.cg_iters = 0;
    const auto errors = Validate(config);
    REQUIRE(errors.size() == 3);
    CHECK(errors[0].key == "max_kl");
    CHECK(errors[1].key == "cg_iters");
    CHECK(errors[2].key == "line_search_ratio");
  }
}

}  // namespace
}  // namespace metajoule::agents
