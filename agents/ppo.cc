#include "agents/ppo.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "agents/math/losses.h"

namespace metajoule::agents {

PpoLearner::PpoLearner(const GaussianMlpPolicy& policy, const PpoConfig& config,
                       std::mt19937_64& init_rng)
    : policy_(policy),
      config_((ThrowIfInvalid("PpoLearner", Validate(config)), config)),
      estimator_(policy.obs_dim(), config.advantage, init_rng),
      adam_(config.adam, policy.num_params()),
      grad_(policy.num_params()) {}

UpdateReport PpoLearner::Update(const TrajectoryBatch& batch, std::mt19937_64& rng,
                                Eigen::Ref<Eigen::VectorXd> theta) {
  UpdateReport report = internal::CheckUpdateInputs(policy_, theta, batch);
  if (!report.ok()) return report;
  Eigen::VectorXd advantages;
  report.status = estimator_.Compute(batch, rng, advantages, &report.message, &report.flops);
  if (!report.ok()) return report;
  const Eigen::Index steps = batch.num_steps();
  // the thread's scratch, not the learner's: kept per learner it held ~5 MB per agent between
  // updates (1000 steps, 64-64 policy), most of an agent's memory (docs/scale.md)
  PolicyWorkspace& ws = internal::ThreadWorkspace(policy_, steps);
  ws.ResetFlops();
  const Eigen::VectorXd theta_old = theta;
  Eigen::VectorXd candidate = theta;
  report.loss_before =
      ClippedSurrogateLossGradient(policy_, candidate, batch.obs, batch.actions, advantages,
                                   batch.log_probs, config_.clip_ratio, ws, grad_);
  const Eigen::Index minibatch = std::min<Eigen::Index>(config_.minibatch_size, steps);
  Eigen::MatrixXd obs_mb(policy_.obs_dim(), minibatch);
  Eigen::MatrixXd act_mb(policy_.act_dim(), minibatch);
  Eigen::VectorXd adv_mb(minibatch);
  Eigen::VectorXd lp_mb(minibatch);
  std::vector<Eigen::Index> order(static_cast<std::size_t>(steps));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  double clip_sum = 0.0;
  int minibatches = 0;
  const int d = policy_.act_dim();
  for (int epoch = 0; epoch < config_.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (Eigen::Index start = 0; start + minibatch <= steps; start += minibatch) {
      // gather a minibatch (the remainder of a pass that does not fill one is skipped)
      for (Eigen::Index i = 0; i < minibatch; ++i) {
        const Eigen::Index t = order[start + i];
        obs_mb.col(i) = batch.obs.col(t);
        act_mb.col(i) = batch.actions.col(t);
        adv_mb(i) = advantages(t);
        lp_mb(i) = batch.log_probs(t);
      }
      double clip_fraction = 0.0;
      const double loss = ClippedSurrogateLossGradient(policy_, candidate, obs_mb, act_mb, adv_mb,
                                                       lp_mb, config_.clip_ratio, ws, grad_,
                                                       &clip_fraction);
      // entropy bonus: d H / d s_j = 1
      grad_.tail(d).array() -= config_.entropy_coef;
      if (!std::isfinite(loss) || !grad_.allFinite()) {
        report.status = UpdateStatus::kNonFiniteGradient;
        report.message = "PPO: the clipped surrogate or its gradient is not finite";
        return report;
      }
      const double norm = grad_.norm();
      if (config_.max_grad_norm > 0.0 && norm > config_.max_grad_norm) {
        grad_ *= config_.max_grad_norm / norm;
      }
      adam_.Step(grad_, candidate);
      report.flops += adam_.StepFlops() + 3 * static_cast<std::uint64_t>(grad_.size());
      clip_sum += clip_fraction;
      ++minibatches;
    }
  }
  if (!candidate.allFinite()) {
    report.status = UpdateStatus::kNonFiniteParams;
    report.message = "PPO: the update produced NaN or inf parameters";
    return report;
  }
  theta = candidate;
  report.loss_after = ClippedSurrogateLossGradient(policy_, theta, batch.obs, batch.actions,
                                                   advantages, batch.log_probs,
                                                   config_.clip_ratio, ws, grad_);
  report.kl = MeanKl(policy_, theta_old, theta, batch.obs, ws);
  report.entropy = Entropy(policy_, theta);
  report.clip_fraction = minibatches > 0 ? clip_sum / minibatches : 0.0;
  report.flops += ws.total_flops();
  return report;
}

void PpoLearner::SaveState(StateArchive& archive, const std::string& prefix) const {
  estimator_.SaveState(archive, prefix + "advantage/");
  adam_.SaveState(archive, prefix + "adam/");
}

void PpoLearner::LoadState(const StateArchive& archive, const std::string& prefix) {
  estimator_.LoadState(archive, prefix + "advantage/");
  adam_.LoadState(archive, prefix + "adam/");
}

}  // namespace metajoule::agents
