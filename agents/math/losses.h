#pragma once
// Policy-gradient losses of a batch of transitions, their gradients and Hessian-vector
// products wrt the flat policy parameters, at any parameter vector. These are the pure
// functions the learners (VPG, PPO, TRPO) and the meta-learners (MAML, FOMAML, Reptile) call.
// Every loss is to be *minimised*. Inputs, for N transitions (batches are columns):
//   obs: obs_dim x N, actions: act_dim x N, advantages A: N (already normalised if wanted),
//   old_log_probs: N, log pi_old(a_t | s_t) at collection.
//
//   policy-gradient loss  L_PG(theta)   = -(1/N) sum_t A_t log pi_theta(a_t | s_t)
//     (REINFORCE with a baseline, Williams 1992; MAML's inner loss, Finn et al. 2017, eq. 4)
//   surrogate loss        L_S(theta)    = -(1/N) sum_t r_t(theta) A_t,
//     r_t = exp(log pi_theta(a_t|s_t) - log pi_old(a_t|s_t))   (Schulman et al. 2015, eq. 14)
//   clipped surrogate     L_CLIP(theta) = -(1/N) sum_t min(r_t A_t, clip(r_t, 1-eps, 1+eps) A_t)
//     (Schulman et al. 2017, eq. 7)
// At theta = theta_old, grad L_S = grad L_PG.
//
// Hessian-vector products are exact (R-operator through the MLP, Pearlmutter 1994):
//   H_PG v = -(1/N) sum_t A_t (d^2 log pi_t) v
//   H_S  v = sum_t w_t [(d^2 log pi_t) v + (grad log pi_t . v) grad log pi_t],  w_t = -A_t r_t / N
// MAML's second-order meta-gradient is (I - alpha H_PG(theta)) grad L_outer(theta'), so it needs
// PolicyGradientLossHvp. HvpByCentralDifference gives the finite-difference alternative.
// The workspace must hold N columns (PolicyWorkspace max_batch >= N).

#include <functional>

#include "agents/math/eigen.h"

#include "agents/math/gaussian_policy.h"

namespace metajoule::agents {

/// L_PG(theta). @throws std::invalid_argument on a size mismatch (also for every function below).
double PolicyGradientLoss(const GaussianMlpPolicy& policy,
                          const Eigen::Ref<const Eigen::VectorXd>& theta,
                          const Eigen::Ref<const Eigen::MatrixXd>& obs,
                          const Eigen::Ref<const Eigen::MatrixXd>& actions,
                          const Eigen::Ref<const Eigen::VectorXd>& advantages, PolicyWorkspace& ws);

/// L_PG(theta) and its gradient into `grad` (num_params).
double PolicyGradientLossGradient(const GaussianMlpPolicy& policy,
                                  const Eigen::Ref<const Eigen::VectorXd>& theta,
                                  const Eigen::Ref<const Eigen::MatrixXd>& obs,
                                  const Eigen::Ref<const Eigen::MatrixXd>& actions,
                                  const Eigen::Ref<const Eigen::VectorXd>& advantages,
                                  PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad);

/// L_PG(theta), its gradient and the exact H_PG v (num_params each).
double PolicyGradientLossHvp(const GaussianMlpPolicy& policy,
                             const Eigen::Ref<const Eigen::VectorXd>& theta,
                             const Eigen::Ref<const Eigen::MatrixXd>& obs,
                             const Eigen::Ref<const Eigen::MatrixXd>& actions,
                             const Eigen::Ref<const Eigen::VectorXd>& advantages,
                             const Eigen::Ref<const Eigen::VectorXd>& v, PolicyWorkspace& ws,
                             Eigen::Ref<Eigen::VectorXd> grad, Eigen::Ref<Eigen::VectorXd> hvp);

/// L_S(theta).
double SurrogateLoss(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta,
                     const Eigen::Ref<const Eigen::MatrixXd>& obs,
                     const Eigen::Ref<const Eigen::MatrixXd>& actions,
                     const Eigen::Ref<const Eigen::VectorXd>& advantages,
                     const Eigen::Ref<const Eigen::VectorXd>& old_log_probs, PolicyWorkspace& ws);

/// L_S(theta) and its gradient into `grad`.
double SurrogateLossGradient(const GaussianMlpPolicy& policy,
                             const Eigen::Ref<const Eigen::VectorXd>& theta,
                             const Eigen::Ref<const Eigen::MatrixXd>& obs,
                             const Eigen::Ref<const Eigen::MatrixXd>& actions,
                             const Eigen::Ref<const Eigen::VectorXd>& advantages,
                             const Eigen::Ref<const Eigen::VectorXd>& old_log_probs,
                             PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad);

/// L_S(theta), its gradient and the exact H_S v.
double SurrogateLossHvp(const GaussianMlpPolicy& policy,
                        const Eigen::Ref<const Eigen::VectorXd>& theta,
                        const Eigen::Ref<const Eigen::MatrixXd>& obs,
                        const Eigen::Ref<const Eigen::MatrixXd>& actions,
                        const Eigen::Ref<const Eigen::VectorXd>& advantages,
                        const Eigen::Ref<const Eigen::VectorXd>& old_log_probs,
                        const Eigen::Ref<const Eigen::VectorXd>& v, PolicyWorkspace& ws,
                        Eigen::Ref<Eigen::VectorXd> grad, Eigen::Ref<Eigen::VectorXd> hvp);

/// L_CLIP(theta) with clip parameter eps = `clip_ratio` in (0, 1), and its gradient (zero for
/// the samples where the clipped term is the smaller one). When `clip_fraction` is not null it
/// receives the fraction of samples with |r_t - 1| > eps.
double ClippedSurrogateLossGradient(const GaussianMlpPolicy& policy,
                                    const Eigen::Ref<const Eigen::VectorXd>& theta,
                                    const Eigen::Ref<const Eigen::MatrixXd>& obs,
                                    const Eigen::Ref<const Eigen::MatrixXd>& actions,
                                    const Eigen::Ref<const Eigen::VectorXd>& advantages,
                                    const Eigen::Ref<const Eigen::VectorXd>& old_log_probs,
                                    double clip_ratio, PolicyWorkspace& ws,
                                    Eigen::Ref<Eigen::VectorXd> grad,
                                    double* clip_fraction = nullptr);

/// A gradient oracle: writes grad f(theta) into its second argument.
using GradientFunction =
    std::function<void(const Eigen::Ref<const Eigen::VectorXd>&, Eigen::Ref<Eigen::VectorXd>)>;

/// Hessian-vector product by central differences of gradients:
///   H v ~ (g(theta + h v) - g(theta - h v)) / (2 h),   h = step / |v|_2,
/// so the perturbation has 2-norm `step` (default 1e-5: truncation error O(step^2 |D^3 f|) and
/// round-off O(1e-16 |g| / step) balance near the cube root of machine epsilon). Writes `out`
/// (theta.size()); a zero v gives a zero product. Allocates two temporaries.
void HvpByCentralDifference(const GradientFunction& gradient,
                            const Eigen::Ref<const Eigen::VectorXd>& theta,
                            const Eigen::Ref<const Eigen::VectorXd>& v,
                            Eigen::Ref<Eigen::VectorXd> out, double step = 1e-5);

}  // namespace metajoule::agents
