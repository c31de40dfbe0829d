#include "agents/math/losses.h"

#include <algorithm>
#include <cmath>

#include "agents/math/checks.h"

namespace metajoule::agents {
namespace {

using internal::CheckSize;

void CheckBatchVectors(const char* what, const Eigen::Ref<const Eigen::MatrixXd>& obs,
                       const Eigen::Ref<const Eigen::VectorXd>& advantages,
                       const Eigen::Ref<const Eigen::VectorXd>* old_log_probs) {
  CheckSize((std::string(what) + ": advantages size").c_str(), advantages.size(), obs.cols());
  if (old_log_probs != nullptr) {
    CheckSize((std::string(what) + ": old_log_probs size").c_str(), old_log_probs->size(),
              obs.cols());
  }
}

// ws.weights = -A / N; returns a view of them
auto SetPolicyGradientWeights(const Eigen::Ref<const Eigen::VectorXd>& advantages,
                              PolicyWorkspace& ws) {
  auto w = ws.weights.head(advantages.size());
  w = advantages * (-1.0 / static_cast<double>(advantages.size()));
  ws.flops += static_cast<std::uint64_t>(advantages.size());
  return w;
}

// after LogProb: ws.weights = -A r / N with r = exp(log pi - log pi_old); returns L_S
double SetSurrogateWeights(const Eigen::Ref<const Eigen::VectorXd>& advantages,
                           const Eigen::Ref<const Eigen::VectorXd>& old_log_probs,
                           PolicyWorkspace& ws) {
  const Eigen::Index n = advantages.size();
  auto w = ws.weights.head(n);
  w = -(ws.log_prob.head(n) - old_log_probs).array().exp().matrix().cwiseProduct(advantages) /
      static_cast<double>(n);
  ws.flops += 5 * static_cast<std::uint64_t>(n);
  return w.sum();
}

}  // namespace

double PolicyGradientLoss(const GaussianMlpPolicy& policy,
                          const Eigen::Ref<const Eigen::VectorXd>& theta,
                          const Eigen::Ref<const Eigen::MatrixXd>& obs,
                          const Eigen::Ref<const Eigen::MatrixXd>& actions,
                          const Eigen::Ref<const Eigen::VectorXd>& advantages,
                          PolicyWorkspace& ws) {
  CheckBatchVectors("PolicyGradientLoss", obs, advantages, nullptr);
  LogProb(policy, theta, obs, actions, ws, ws.log_prob.head(obs.cols()));
  const auto w = SetPolicyGradientWeights(advantages, ws);
  return ws.log_prob.head(obs.cols()).dot(w);
}

double PolicyGradientLossGradient(const GaussianMlpPolicy& policy,
                                  const Eigen::Ref<const Eigen::VectorXd>& theta,
                                  const Eigen::Ref<const Eigen::MatrixXd>& obs,
                                  const Eigen::Ref<const Eigen::MatrixXd>& actions,
                                  const Eigen::Ref<const Eigen::VectorXd>& advantages,
                                  PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad) {
  CheckBatchVectors("PolicyGradientLossGradient", obs, advantages, nullptr);
  const auto w = SetPolicyGradientWeights(advantages, ws);
  return WeightedLogProbGradient(policy, theta, obs, actions, w, ws, grad);
}

double PolicyGradientLossHvp(const GaussianMlpPolicy& policy,
                             const Eigen::Ref<const Eigen::VectorXd>& theta,
                             const Eigen::Ref<const Eigen::MatrixXd>& obs,
                             const Eigen::Ref<const Eigen::MatrixXd>& actions,
                             const Eigen::Ref<const Eigen::VectorXd>& advantages,
                             const Eigen::Ref<const Eigen::VectorXd>& v, PolicyWorkspace& ws,
                             Eigen::Ref<Eigen::VectorXd> grad, Eigen::Ref<Eigen::VectorXd> hvp) {
  CheckBatchVectors("PolicyGradientLossHvp", obs, advantages, nullptr);
  const auto w = SetPolicyGradientWeights(advantages, ws);
  return WeightedLogProbHvp(policy, theta, obs, actions, w, v, ws, grad, hvp);
}

double SurrogateLoss(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta,
                     const Eigen::Ref<const Eigen::MatrixXd>& obs,
                     const Eigen::Ref<const Eigen::MatrixXd>& actions,
                     const Eigen::Ref<const Eigen::VectorXd>& advantages,
                     const Eigen::Ref<const Eigen::VectorXd>& old_log_probs, PolicyWorkspace& ws) {
  CheckBatchVectors("SurrogateLoss", obs, advantages, &old_log_probs);
  LogProb(policy, theta, obs, actions, ws, ws.log_prob.head(obs.cols()));
  return SetSurrogateWeights(advantages, old_log_probs, ws);
}

double SurrogateLossGradient(const GaussianMlpPolicy& policy,
                             const Eigen::Ref<const Eigen::VectorXd>& theta,
                             const Eigen::Ref<const Eigen::MatrixXd>& obs,
                             const Eigen::Ref<const Eigen::MatrixXd>& actions,
                             const Eigen::Ref<const Eigen::VectorXd>& advantages,
                             const Eigen::Ref<const Eigen::VectorXd>& old_log_probs,
                             PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad) {
  const double loss = SurrogateLoss(policy, theta, obs, actions, advantages, old_log_probs, ws);
  // d L_S = sum_t (-A_t r_t / N) d log pi_t
  WeightedLogProbBackward(policy, theta, ws.weights.head(obs.cols()), ws, grad);
  return loss;
}

double SurrogateLossHvp(const GaussianMlpPolicy& policy,
                        const Eigen::Ref<const Eigen::VectorXd>& theta,
                        const Eigen::Ref<const Eigen::MatrixXd>& obs,
                        const Eigen::Ref<const Eigen::MatrixXd>& actions,
                        const Eigen::Ref<const Eigen::VectorXd>& advantages,
                        const Eigen::Ref<const Eigen::VectorXd>& old_log_probs,
                        const Eigen::Ref<const Eigen::VectorXd>& v, PolicyWorkspace& ws,
                        Eigen::Ref<Eigen::VectorXd> grad, Eigen::Ref<Eigen::VectorXd> hvp) {
  CheckSize("SurrogateLossHvp: hvp size", hvp.size(), policy.num_params());
  const Eigen::Index n = obs.cols();
  const double loss = SurrogateLoss(policy, theta, obs, actions, advantages, old_log_probs, ws);
  // curvature of each log pi_t, weighted by w_t = -A_t r_t / N ...
  WeightedLogProbHvp(policy, theta, obs, actions, ws.weights.head(n), v, ws, grad, hvp);
  // ... plus the Gauss-Newton term of the exponential: sum_t w_t (grad log pi_t . v) grad log pi_t
  ws.jvp.head(n).array() *= ws.weights.head(n).array();
  WeightedLogProbBackward(policy, theta, ws.jvp.head(n), ws, ws.scratch);
  hvp += ws.scratch;
  ws.flops += static_cast<std::uint64_t>(n + hvp.size());
  return loss;
}

double ClippedSurrogateLossGradient(const GaussianMlpPolicy& policy,
                                    const Eigen::Ref<const Eigen::VectorXd>& theta,
                                    const Eigen::Ref<const Eigen::MatrixXd>& obs,
                                    const Eigen::Ref<const Eigen::MatrixXd>& actions,
                                    const Eigen::Ref<const Eigen::VectorXd>& advantages,
                                    const Eigen::Ref<const Eigen::VectorXd>& old_log_probs,
                                    double clip_ratio, PolicyWorkspace& ws,
                                    Eigen::Ref<Eigen::VectorXd> grad, double* clip_fraction) {
  CheckBatchVectors("ClippedSurrogateLossGradient", obs, advantages, &old_log_probs);
  LogProb(policy, theta, obs, actions, ws, ws.log_prob.head(obs.cols()));
  const Eigen::Index n = obs.cols();
  const double inv_n = 1.0 / static_cast<double>(n);
  double loss = 0.0;
  Eigen::Index clipped = 0;
  for (Eigen::Index t = 0; t < n; ++t) {
    // Schulman et al. 2017, eq. (7): the unclipped term carries the gradient when it is the min
    const double ratio = std::exp(ws.log_prob(t) - old_log_probs(t));
    const double adv = advantages(t);
    const double unclipped = ratio * adv;
    const double clipped_term = std::clamp(ratio, 1.0 - clip_ratio, 1.0 + clip_ratio) * adv;
    if (std::abs(ratio - 1.0) > clip_ratio) ++clipped;
    if (unclipped <= clipped_term) {
      loss -= unclipped * inv_n;
      ws.weights(t) = -unclipped * inv_n;
    } else {
      loss -= clipped_term * inv_n;
      ws.weights(t) = 0.0;
    }
  }
  if (clip_fraction != nullptr) *clip_fraction = static_cast<double>(clipped) * inv_n;
  WeightedLogProbBackward(policy, theta, ws.weights.head(n), ws, grad);
  ws.flops += 8 * static_cast<std::uint64_t>(n);
  return loss;
}

void HvpByCentralDifference(const GradientFunction& gradient,
                            const Eigen::Ref<const Eigen::VectorXd>& theta,
                            const Eigen::Ref<const Eigen::VectorXd>& v,
                            Eigen::Ref<Eigen::VectorXd> out, double step) {
  CheckSize("HvpByCentralDifference: v size", v.size(), theta.size());
  CheckSize("HvpByCentralDifference: out size", out.size(), theta.size());
  const double v_norm = v.norm();
  if (v_norm == 0.0) {
    out.setZero();
    return;
  }
  const double h = step / v_norm;
  Eigen::VectorXd plus = theta + h * v;
  Eigen::VectorXd g_minus(theta.size());
  gradient(plus, out);
  plus = theta - h * v;
  gradient(plus, g_minus);
  out = (out - g_minus) / (2.0 * h);
}

}  // namespace metajoule::agents
