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
  TEST_CASE("the rollout's tanh memo gives the plain forward pass bit for bit") {
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
    CHECK(SameActivations(plain, memoised));
    CHECK(memoised.flops == plain.flops);  // the counted work does not change
    CHECK(memoised.memo_lookups == 2 * 32 * 100);
    // the batch GEMM often reproduces the rollout's GEMV bit for bit: tanh is skipped there
    CHECK(memoised.memo_hits > 0);
    MESSAGE("memo hit rate " << static_cast<double>(memoised.memo_hits) /
                                    static_cast<double>(memoised.memo_lookups));

    SUBCASE("another theta computes every tanh") {
      Eigen::VectorXd other = mlp_theta;
      other(0) = std::nextafter(other(0), 1.0);  // one bit in one weight
      Forward<double>(policy.mlp(), other, batch.obs, plain);
      const ScopedActivationMemo<double> scope(memoised, &memo);
      Forward<double>(policy.mlp(), other, batch.obs, memoised);
      CHECK(memoised.memo_lookups == 2 * 32 * 100);  // unchanged: the memo was not used
      CHECK(SameActivations(plain, memoised));
    }
    SUBCASE("another batch size computes every tanh") {
      Forward<double>(policy.mlp(), mlp_theta, batch.obs.leftCols(60), plain);
      const ScopedActivationMemo<double> scope(memoised, &memo);
      Forward<double>(policy.mlp(), mlp_theta, batch.obs.leftCols(60), memoised);
      CHECK(memoised.memo_lookups == 2 * 32 * 100);
      CHECK(SameActivations(plain, memoised));
    }
    SUBCASE("a stored z equal to the new one in bits, including the sign of zero") {
      // forge a memo whose z differ from the batch's everywhere except one +0.0 vs -0.0 entry
      ActivationMemo forged = memo;
      for (auto& z : forged.z) z.array() += 1.0;
      Eigen::MatrixXd obs = batch.obs;
      Forward<double>(policy.mlp(), mlp_theta, obs, plain);
      const ScopedActivationMemo<double> scope(memoised, &forged);
      const std::uint64_t hits = memoised.memo_hits;
      Forward<double>(policy.mlp(), mlp_theta, obs, memoised);
      CHECK(memoised.memo_hits == hits);
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
