#include "agents/trpo.h"

#include <cmath>
#include <string>

#include "agents/math/checks.h"
#include "agents/math/conjugate_gradient.h"
#include "agents/math/losses.h"

namespace metajoule::agents {

TrpoLearner::TrpoLearner(const GaussianMlpPolicy& policy, const TrpoConfig& config,
                         std::mt19937_64& init_rng)
    : policy_(policy),
      config_((ThrowIfInvalid("TrpoLearner", Validate(config)), config)),
      estimator_(policy.obs_dim(), config.advantage, init_rng) {}

UpdateReport TrpoLearner::Update(const TrajectoryBatch& batch, std::mt19937_64& rng,
                                 Eigen::Ref<Eigen::VectorXd> theta) {
  UpdateReport report = internal::CheckUpdateInputs(policy_, theta, batch);
  if (!report.ok()) return report;
  Eigen::VectorXd advantages;
  report.status = estimator_.Compute(batch, rng, advantages, &report.message, &report.flops);
  if (!report.ok()) return report;
  const Eigen::Index steps = batch.num_steps();
  const Eigen::Index n = policy_.num_params();
  // the thread's scratch, not the learner's: kept per learner it held ~5 MB per agent between
  // updates (1000 steps, 64-64 policy), most of an agent's memory (docs/scale.md)
  PolicyWorkspace& ws = internal::ThreadWorkspace(policy_, steps);
  ws.ResetFlops();
  const Eigen::VectorXd theta_old = theta;
  Eigen::VectorXd old_log_probs(steps);
  LogProb(policy_, theta_old, batch.obs, batch.actions, ws, old_log_probs);

  // gradient of the surrogate loss at theta_old (= the policy-gradient loss gradient)
  Eigen::VectorXd grad(n);
  report.loss_before = SurrogateLossGradient(policy_, theta_old, batch.obs, batch.actions,
                                             advantages, old_log_probs, ws, grad);
  if (!std::isfinite(report.loss_before) || !grad.allFinite()) {
    report.status = UpdateStatus::kNonFiniteGradient;
    report.message = "TRPO: the surrogate loss or its gradient is not finite";
    return report;
  }

  // natural-gradient step in the KL trust region (TrustRegionStep)
  const LinearOperator fisher = [&](const Eigen::Ref<const Eigen::VectorXd>& p,
                                    Eigen::Ref<Eigen::VectorXd> out) {
    FisherVectorProduct(policy_, theta_old, batch.obs, p, ws, out);
  };
  const TrustRegionProbe probe = [&](const Eigen::Ref<const Eigen::VectorXd>& candidate,
                                     double& loss, double& kl) {
    loss = SurrogateLoss(policy_, candidate, batch.obs, batch.actions, advantages, old_log_probs,
                         ws);
    kl = MeanKl(policy_, theta_old, candidate, batch.obs, ws);
  };
  const TrustRegionResult step =
      TrustRegionStep(fisher, grad, report.loss_before, probe, config_, theta);
  report.flops += step.flops;
  report.line_search_steps = step.line_search_steps;
  report.status = step.status;
  report.message = step.message;
  if (step.status == UpdateStatus::kOk) {
    report.loss_after = step.loss;
    report.kl = step.kl;
    report.entropy = Entropy(policy_, theta);
  } else if (step.status == UpdateStatus::kLineSearchFailed && step.line_search_steps > 0) {
    report.message = "TRPO: no step of the line search improved the surrogate within max_kl";
  }
  if (step.line_search_steps > 0) report.flops += ws.total_flops();
  return report;
}

TrustRegionResult TrustRegionStep(const LinearOperator& curvature,
                                  const Eigen::Ref<const Eigen::VectorXd>& grad,
                                  double loss_before, const TrustRegionProbe& probe,
                                  const TrustRegionConfig& config,
                                  Eigen::Ref<Eigen::VectorXd> theta) {
  internal::CheckSize("TrustRegionStep: theta size", theta.size(), grad.size());
  TrustRegionResult result;
  const Eigen::Index n = grad.size();
  // natural-gradient direction: (A + damping I) x = g by conjugate gradient
  const double damping = config.cg_damping;
  const LinearOperator damped = [&](const Eigen::Ref<const Eigen::VectorXd>& p,
                                    Eigen::Ref<Eigen::VectorXd> out) {
    curvature(p, out);
    out += damping * p;
  };
  Eigen::VectorXd direction(n);
  result.cg_iterations =
      ConjugateGradient(damped, grad, config.cg_iters, config.cg_residual_tol, direction);
  result.flops +=
      static_cast<std::uint64_t>(result.cg_iterations) * 10 * static_cast<std::uint64_t>(n);
  Eigen::VectorXd f_direction(n);
  damped(direction, f_direction);
  // scale to the trust-region boundary: 1/2 s^T A s = max_kl (Schulman et al. 2015, app. C)
  const double shs = 0.5 * direction.dot(f_direction);
  if (!(shs > 0.0) || !std::isfinite(shs)) {
    result.status =
        shs == 0.0 ? UpdateStatus::kLineSearchFailed : UpdateStatus::kNonFiniteGradient;
    result.message = "TRPO: no descent direction (s^T F s = " + std::to_string(2.0 * shs) + ")";
    return result;
  }
  const Eigen::VectorXd full_step = direction / std::sqrt(shs / config.max_kl);

  // backtracking line search: first step with a lower loss and KL below max_kl
  const Eigen::VectorXd theta_old = theta;
  Eigen::VectorXd candidate(n);
  double step_size = 1.0;
  for (int k = 0; k < config.line_search_steps; ++k, step_size *= config.line_search_ratio) {
    candidate = theta_old - step_size * full_step;
    double loss = 0.0;
    double kl = 0.0;
    probe(candidate, loss, kl);
    result.line_search_steps = k + 1;
    if (std::isfinite(loss) && std::isfinite(kl) && loss < loss_before && kl < config.max_kl &&
        candidate.allFinite()) {
      theta = candidate;
      result.loss = loss;
      result.kl = kl;
      return result;
    }
  }
  result.status = UpdateStatus::kLineSearchFailed;
  result.message = "TRPO: no step of the line search improved the loss within max_kl";
  return result;
}

void TrpoLearner::SaveState(StateArchive& archive, const std::string& prefix) const {
  estimator_.SaveState(archive, prefix + "advantage/");
}

void TrpoLearner::LoadState(const StateArchive& archive, const std::string& prefix) {
  estimator_.LoadState(archive, prefix + "advantage/");
}

}  // namespace metajoule::agents
