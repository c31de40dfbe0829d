#include "agents/trpo.h"

#include <cmath>

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

  // natural-gradient direction: (F + damping I) x = g by conjugate gradient
  const double damping = config_.cg_damping;
  const LinearOperator fisher = [&](const Eigen::Ref<const Eigen::VectorXd>& p,
                                    Eigen::Ref<Eigen::VectorXd> out) {
    FisherVectorProduct(policy_, theta_old, batch.obs, p, ws, out);
    out += damping * p;
  };
  Eigen::VectorXd direction(n);
  const int cg_iterations =
      ConjugateGradient(fisher, grad, config_.cg_iters, config_.cg_residual_tol, direction);
  report.flops += static_cast<std::uint64_t>(cg_iterations) * 10 * static_cast<std::uint64_t>(n);
  Eigen::VectorXd f_direction(n);
  fisher(direction, f_direction);
  // scale to the trust-region boundary: 1/2 s^T F s = max_kl (Schulman et al. 2015, app. C)
  const double shs = 0.5 * direction.dot(f_direction);
  if (!(shs > 0.0) || !std::isfinite(shs)) {
    report.status = shs == 0.0 ? UpdateStatus::kLineSearchFailed : UpdateStatus::kNonFiniteGradient;
    report.message = "TRPO: no descent direction (s^T F s = " + std::to_string(2.0 * shs) + ")";
    return report;
  }
  const Eigen::VectorXd full_step = direction / std::sqrt(shs / config_.max_kl);

  // backtracking line search: first step with a lower surrogate and KL below max_kl
  Eigen::VectorXd candidate(n);
  double step_size = 1.0;
  for (int k = 0; k < config_.line_search_steps; ++k, step_size *= config_.line_search_ratio) {
    candidate = theta_old - step_size * full_step;
    const double loss = SurrogateLoss(policy_, candidate, batch.obs, batch.actions, advantages,
                                      old_log_probs, ws);
    const double kl = MeanKl(policy_, theta_old, candidate, batch.obs, ws);
    report.line_search_steps = k + 1;
    if (std::isfinite(loss) && std::isfinite(kl) && loss < report.loss_before &&
        kl < config_.max_kl && candidate.allFinite()) {
      theta = candidate;
      report.loss_after = loss;
      report.kl = kl;
      report.entropy = Entropy(policy_, theta);
      report.flops += ws.total_flops();
      return report;
    }
  }
  report.status = UpdateStatus::kLineSearchFailed;
  report.message = "TRPO: no step of the line search improved the surrogate within max_kl";
  report.flops += ws.total_flops();
  return report;
}

}  // namespace metajoule::agents
