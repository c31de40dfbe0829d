#pragma once
// Toy environments for learner tests, through the abstract agents::RolloutEnv.

#include <random>

#include "agents/trajectory.h"

namespace metajoule::test {

/// One-step "reach the target": the observation is a target a* ~ U[-1, 1]; the reward of
/// action a is -(a - a*)^2 and the episode terminates. The optimal policy has mean a* = s and
/// sigma -> 0; a Gaussian policy N(mu(s), sigma^2) has expected return
/// -E[(mu(s) - s)^2] - sigma^2.
class ReachTargetEnv final : public agents::RolloutEnv {
 public:
  int obs_dim() const override { return 1; }
  int act_dim() const override { return 1; }
  void Reset(std::mt19937_64& rng, Eigen::Ref<Eigen::VectorXd> obs) override {
    target_ = std::uniform_real_distribution<double>(-1.0, 1.0)(rng);
    obs(0) = target_;
  }
  agents::StepResult Step(const Eigen::Ref<const Eigen::VectorXd>& action,
                          Eigen::Ref<Eigen::VectorXd> next_obs) override {
    next_obs(0) = target_;
    return {-(action(0) - target_) * (action(0) - target_), agents::StepEnd::kTerminal};
  }

 private:
  double target_{0.0};
};

/// Expected return of a policy on ReachTargetEnv, by quadrature over 101 targets in [-1, 1].
inline double ExpectedReachReturn(const agents::GaussianMlpPolicy& policy,
                                  const Eigen::VectorXd& theta) {
  const Eigen::MatrixXd targets = Eigen::RowVectorXd::LinSpaced(101, -1.0, 1.0);
  agents::PolicyWorkspace ws(policy, 101);
  agents::ComputeMean(policy, theta, targets, ws);
  const double sigma = std::exp(theta(theta.size() - 1));
  return -(ws.mlp.output() - targets).squaredNorm() / 101.0 - sigma * sigma;
}

}  // namespace metajoule::test
