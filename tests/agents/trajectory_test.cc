#include "agents/trajectory.h"

#include <doctest/doctest.h>

#include "tests/support/toy_envs.h"

namespace metajoule::agents {
namespace {

// counts steps and ends the episode after 3 of them
class CountingEnv final : public RolloutEnv {
 public:
  int obs_dim() const override { return 2; }
  int act_dim() const override { return 1; }
  void Reset(std::mt19937_64&, Eigen::Ref<Eigen::VectorXd> obs) override {
    step_ = 0;
    obs.setZero();
  }
  StepResult Step(const Eigen::Ref<const Eigen::VectorXd>&, Eigen::Ref<Eigen::VectorXd> next_obs)
      override {
    ++step_;
    next_obs.setConstant(step_);
    return {1.0, step_ == 3 ? StepEnd::kTerminal : StepEnd::kNone};
  }

 private:
  int step_{0};
};

TEST_SUITE("agents/trajectory") {
  TEST_CASE("CollectEpisodes stores episodes back to back and truncates at max_steps") {
    const GaussianMlpPolicy policy(2, 1, {4}, Activation::kTanh);
    std::mt19937_64 rng(1);
    Eigen::VectorXd theta(policy.num_params());
    policy.InitializeParams(rng, 0.0, theta);
    PolicyWorkspace ws(policy, 1);
    CountingEnv env;
    SUBCASE("terminal after 3 steps") {
      const auto batch = CollectEpisodes(policy, theta, env, 2, 5, rng, ws);
      CHECK(batch.num_steps() == 6);
      CHECK(batch.num_episodes() == 2);
      CHECK(batch.ends[2] == StepEnd::kTerminal);
      CHECK(batch.final_obs(0, 1) == 3.0);
      CHECK(batch.obs(0, 4) == 1.0);
      CHECK(EpisodeReturns(batch) == Eigen::Vector2d(3.0, 3.0));
      CHECK(EpisodeTimeSteps(batch.ends) == std::vector<int>{0, 1, 2, 0, 1, 2});
      std::string message;
      CHECK(CheckTrajectoryBatch(batch, 2, 1, &message) == UpdateStatus::kOk);
    }
    SUBCASE("truncated at max_steps = 2") {
      const auto batch = CollectEpisodes(policy, theta, env, 2, 2, rng, ws);
      CHECK(batch.num_steps() == 4);
      CHECK(batch.ends[1] == StepEnd::kTruncated);
      CHECK(batch.final_obs(0, 0) == 2.0);
    }
  }

  TEST_CASE("CheckTrajectoryBatch throws on shapes and reports non-finite values") {
    TrajectoryBatch batch;
    batch.obs = Eigen::MatrixXd::Zero(2, 3);
    batch.actions = Eigen::MatrixXd::Zero(1, 3);
    batch.rewards = Eigen::VectorXd::Zero(3);
    batch.log_probs = Eigen::VectorXd::Zero(3);
    batch.ends = {StepEnd::kNone, StepEnd::kNone, StepEnd::kTerminal};
    batch.final_obs = Eigen::MatrixXd::Zero(2, 1);
    std::string message;
    CHECK(CheckTrajectoryBatch(batch, 2, 1, &message) == UpdateStatus::kOk);
    CHECK_THROWS_WITH_AS(CheckTrajectoryBatch(batch, 3, 1, &message),
                         "TrajectoryBatch: obs rows: expected 3, got 2", std::invalid_argument);
    batch.obs(1, 2) = std::numeric_limits<double>::infinity();
    CHECK(CheckTrajectoryBatch(batch, 2, 1, &message) == UpdateStatus::kNonFiniteInput);
    CHECK(message == "TrajectoryBatch: NaN or inf in obs");
  }
}

}  // namespace
}  // namespace metajoule::agents
