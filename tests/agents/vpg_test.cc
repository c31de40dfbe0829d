#include "agents/vpg.h"

#include <doctest/doctest.h>

#include "tests/agents/learners_shared.h"

namespace metajoule::agents {
namespace {

GaussianMlpPolicy ReachPolicy() { return GaussianMlpPolicy(1, 1, {16}, Activation::kTanh); }

TEST_SUITE("agents/vpg") {
  TEST_CASE("VPG with the linear baseline and SGD improves 1-step reach-the-target") {
    VpgConfig config;
    config.learning_rate = 0.05;
    std::mt19937_64 init(2);
    VpgLearner learner(ReachPolicy(), config, init);
    const auto result = test::TrainOnReach(learner, 2, 40, 64);
    MESSAGE("VPG reach return: " << result.initial_return << " -> " << result.final_return);
    CHECK(result.failed_updates == 0);
    CHECK(result.final_return > result.initial_return + 0.3);
  }

  TEST_CASE("VPG with Adam and no baseline also learns deterministically") {
    VpgConfig config;
    config.optimizer = OptimizerKind::kAdam;
    config.adam.learning_rate = 1e-2;
    config.advantage.baseline = BaselineKind::kNone;
    const auto train = [&](std::uint64_t seed) {
      std::mt19937_64 init(seed);
      VpgLearner learner(ReachPolicy(), config, init);
      return test::TrainOnReach(learner, seed, 40, 64);
    };
    const auto a = train(3);
    CHECK(a.final_return > a.initial_return + 0.3);
    CHECK(a.theta == train(3).theta);
    CHECK(a.theta != train(4).theta);
  }
}

}  // namespace
}  // namespace metajoule::agents
