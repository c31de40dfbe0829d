#include "agents/trajectory.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

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

// a 2-D point that the action pushes (many steps per episode, states depend on the actions)
class DriftEnv final : public RolloutEnv {
 public:
  int obs_dim() const override { return 2; }
  int act_dim() const override { return 2; }
  void Reset(std::mt19937_64& rng, Eigen::Ref<Eigen::VectorXd> obs) override {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    x_ = Eigen::Vector2d(u(rng), u(rng));
    obs = x_;
  }
  StepResult Step(const Eigen::Ref<const Eigen::VectorXd>& action,
                  Eigen::Ref<Eigen::VectorXd> next_obs) override {
    x_ += 0.1 * action.cwiseMax(-1.0).cwiseMin(1.0);
    next_obs = x_;
    return {-x_.squaredNorm(), StepEnd::kNone};
  }

 private:
  Eigen::Vector2d x_{Eigen::Vector2d::Zero()};
};

// every activation of two workspaces' last Forward, compared bit for bit
bool SameActivations(const MlpWorkspace& a, const MlpWorkspace& b) {
  if (a.batch != b.batch || a.activations.size() != b.activations.size()) return false;
  for (std::size_t l = 0; l < a.activations.size(); ++l) {
    const Eigen::MatrixXd x = a.activations[l].leftCols(a.batch);
    const Eigen::MatrixXd y = b.activations[l].leftCols(b.batch);
    if (std::memcmp(x.data(), y.data(), static_cast<std::size_t>(x.size()) * sizeof(double)) != 0) {
      return false;
    }
  }
  return true;
}

TEST_SUITE("agents/trajectory") {
  TEST_CASE("the rollout's recorded forward pass serves a Forward at its theta and inputs") {
    const GaussianMlpPolicy policy(2, 2, {32, 32}, Activation::kTanh);
    std::mt19937_64 rng(3);
    Eigen::VectorXd theta(policy.num_params());
    policy.InitializeParams(rng, 0.0, theta);
    PolicyWorkspace sample_ws(policy, 1);
    DriftEnv env;
    ActivationMemo memo;
    const auto batch = CollectEpisodes(policy, theta, env, 4, 25, rng, sample_ws, &memo);
    REQUIRE(batch.num_steps() == 100);
    CHECK(memo.columns == 100);
    CHECK(sample_ws.mlp.record == nullptr);
    const Eigen::VectorXd mlp_theta = theta.head(policy.num_mlp_params());
    MlpWorkspace plain(policy.mlp(), 100);
    MlpWorkspace memoised(policy.mlp(), 100);
    Forward<double>(policy.mlp(), mlp_theta, batch.obs, plain);
    {
      const ScopedActivationMemo<double> scope(memoised, &memo);
      Forward<double>(policy.mlp(), mlp_theta, batch.obs, memoised);
    }
    CHECK(memoised.memo == nullptr);
    CHECK(memoised.memo_hits == 1);
    CHECK(memoised.flops == plain.flops);  // the counted work does not change

    // the served pass is the rollout's, column by column: a batch-1 Forward of each step
    MlpWorkspace single(policy.mlp(), 1);
    bool all_equal = true;
    for (Eigen::Index t = 0; t < 100; ++t) {
      Forward<double>(policy.mlp(), mlp_theta, batch.obs.col(t), single);
      for (std::size_t l = 0; l < single.activations.size(); ++l) {
        const Eigen::VectorXd expected = single.activations[l].col(0);
        const Eigen::VectorXd served = memoised.activations[l].col(t);
        all_equal = all_equal && std::memcmp(expected.data(), served.data(),
                                             static_cast<std::size_t>(expected.size()) *
                                                 sizeof(double)) == 0;
      }
    }
    CHECK(all_equal);
    // and the batch pass's up to the rounding of the products
    for (std::size_t l = 0; l < plain.activations.size(); ++l) {
      const Eigen::MatrixXd a = plain.activations[l].leftCols(100);
      const Eigen::MatrixXd b = memoised.activations[l].leftCols(100);
      CHECK((a - b).cwiseAbs().maxCoeff() <= 1e-13 * (1.0 + a.cwiseAbs().maxCoeff()));
    }
    SUBCASE("another theta computes the pass") {
      Eigen::VectorXd other = mlp_theta;
      other(0) = std::nextafter(other(0), 1.0);  // one bit in one weight
      Forward<double>(policy.mlp(), other, batch.obs, plain);
      const ScopedActivationMemo<double> scope(memoised, &memo);
      Forward<double>(policy.mlp(), other, batch.obs, memoised);
      CHECK(memoised.memo_hits == 1);  // unchanged: the memo was not used
      CHECK(SameActivations(plain, memoised));
    }
    SUBCASE("other columns compute the pass") {
      Forward<double>(policy.mlp(), mlp_theta, batch.obs.leftCols(60), plain);
      const ScopedActivationMemo<double> scope(memoised, &memo);
      Forward<double>(policy.mlp(), mlp_theta, batch.obs.leftCols(60), memoised);
      CHECK(memoised.memo_hits == 1);
      CHECK(SameActivations(plain, memoised));
    }
    SUBCASE("an input one bit away computes the pass") {
      Eigen::MatrixXd obs = batch.obs;
      obs(1, 99) = std::nextafter(obs(1, 99), 2.0);
      Forward<double>(policy.mlp(), mlp_theta, obs, plain);
      const ScopedActivationMemo<double> scope(memoised, &memo);
      Forward<double>(policy.mlp(), mlp_theta, obs, memoised);
      CHECK(memoised.memo_hits == 1);
      CHECK(SameActivations(plain, memoised));
    }
  }

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
