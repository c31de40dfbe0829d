#include "agents/vpg.h"

#include <cmath>

#include "agents/math/losses.h"

namespace metajoule::agents {

VpgLearner::VpgLearner(const GaussianMlpPolicy& policy, const VpgConfig& config,
                       std::mt19937_64& init_rng)
    : policy_(policy),
      config_((ThrowIfInvalid("VpgLearner", Validate(config)), config)),
      estimator_(policy.obs_dim(), config.advantage, init_rng),
      grad_(policy.num_params()) {
  if (config.optimizer == OptimizerKind::kAdam) adam_.emplace(config.adam, policy.num_params());
}

UpdateReport VpgLearner::Update(const TrajectoryBatch& batch, std::mt19937_64& rng,
                                Eigen::Ref<Eigen::VectorXd> theta) {
  UpdateReport report = internal::CheckUpdateInputs(policy_, theta, batch);
  if (!report.ok()) return report;
  Eigen::VectorXd advantages;
  report.status = estimator_.Compute(batch, rng, advantages, &report.message, &report.flops);
  if (!report.ok()) return report;
  // the thread's scratch, not the learner's: kept per learner it held ~5 MB per agent between
  // updates (1000 steps, 64-64 policy), most of an agent's memory (docs/scale.md)
  PolicyWorkspace& ws = internal::ThreadWorkspace(policy_, batch.num_steps());
  ws.ResetFlops();
  // gradient of L_PG = -(1/N) sum_t A_t log pi(a_t | s_t) at theta
  report.loss_before = PolicyGradientLossGradient(policy_, theta, batch.obs, batch.actions,
                                                  advantages, ws, grad_);
  if (!std::isfinite(report.loss_before) || !grad_.allFinite()) {
    report.status = UpdateStatus::kNonFiniteGradient;
    report.message = "VPG: the policy-gradient loss or its gradient is not finite";
    return report;
  }
  Eigen::VectorXd candidate = theta;
  if (adam_) {
    adam_->Step(grad_, candidate);
    report.flops += adam_->StepFlops();
  } else {
    SgdStep(config_.learning_rate, grad_, candidate);
    report.flops += 2 * static_cast<std::uint64_t>(candidate.size());
  }
  if (!candidate.allFinite()) {
    report.status = UpdateStatus::kNonFiniteParams;
    report.message = "VPG: the step produced NaN or inf parameters";
    return report;
  }
  report.kl = MeanKl(policy_, theta, candidate, batch.obs, ws);
  theta = candidate;
  report.loss_after =
      PolicyGradientLoss(policy_, theta, batch.obs, batch.actions, advantages, ws);
  report.entropy = Entropy(policy_, theta);
  report.flops += ws.total_flops();
  return report;
}

void VpgLearner::SaveState(StateArchive& archive, const std::string& prefix) const {
  estimator_.SaveState(archive, prefix + "advantage/");
  if (adam_) adam_->SaveState(archive, prefix + "adam/");
}

void VpgLearner::LoadState(const StateArchive& archive, const std::string& prefix) {
  estimator_.LoadState(archive, prefix + "advantage/");
  if (adam_) adam_->LoadState(archive, prefix + "adam/");
}

}  // namespace metajoule::agents
