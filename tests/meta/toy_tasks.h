#pragma once
// Small deterministic task families for the meta tests, through agents::RolloutEnv: a point
// navigation task in `dims` dimensions like nav2d (Finn et al. 2017) but shorter, with the goal
// unobserved, so a policy has to adapt to it from rewards.

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "agents/math/gaussian_policy.h"
#include "agents/trajectory.h"
#include "meta/task_env.h"
#include "tests/support/random.h"

namespace metajoule::test {

/// Start at 0; obs = position (dims); action = velocity clipped to [-0.1, 0.1] per axis and
/// added to the position; reward = -|position - goal|; no early end. Counts its steps as
/// "simulator calls". With `nan_rewards`, every reward is NaN (a broken environment).
class PointGoalEnv final : public agents::RolloutEnv {
 public:
  explicit PointGoalEnv(Eigen::VectorXd goal, bool nan_rewards = false)
      : goal_(std::move(goal)), position_(Eigen::VectorXd::Zero(goal_.size())),
        nan_rewards_(nan_rewards) {}
  int obs_dim() const override { return static_cast<int>(goal_.size()); }
  int act_dim() const override { return static_cast<int>(goal_.size()); }
  void Reset(std::mt19937_64& /*rng*/, Eigen::Ref<Eigen::VectorXd> obs) override {
    position_.setZero();
    obs = position_;
  }
  agents::StepResult Step(const Eigen::Ref<const Eigen::VectorXd>& action,
                          Eigen::Ref<Eigen::VectorXd> next_obs) override {
    ++steps_;
    position_ += action.cwiseMax(-0.1).cwiseMin(0.1);
    next_obs = position_;
    const double reward = nan_rewards_ ? std::numeric_limits<double>::quiet_NaN()
                                       : -(position_ - goal_).norm();
    return {reward, agents::StepEnd::kNone};
  }
  std::int64_t steps() const { return steps_; }

 private:
  Eigen::VectorXd goal_;
  Eigen::VectorXd position_;
  bool nan_rewards_{false};
  std::int64_t steps_{0};
};

/// `count` point tasks with goals uniform in [lo, hi]^dims drawn from `seed`, owning their
/// environments, and the TaskEnv views the meta code takes.
struct PointTasks {
  std::vector<std::unique_ptr<PointGoalEnv>> envs;
  std::vector<meta::TaskEnv> tasks;

  PointTasks(int count, int dims, int horizon, std::uint64_t seed, double lo = -0.5,
             double hi = 0.5) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < count; ++i) {
      envs.push_back(std::make_unique<PointGoalEnv>(RandomVector(dims, rng, lo, hi)));
      PointGoalEnv* env = envs.back().get();
      tasks.push_back({env, horizon, [env] { return env->steps(); }});
    }
  }
};

/// A small tanh policy for `dims`-dimensional point tasks.
inline agents::GaussianMlpPolicy PointPolicy(int dims, std::vector<int> hidden = {8}) {
  return agents::GaussianMlpPolicy(dims, dims, hidden, agents::Activation::kTanh);
}

}  // namespace metajoule::test
