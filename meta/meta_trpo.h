#pragma once
// The MAML-TRPO outer step (Finn et al. 2017, section 5.3: MAML-RL's outer optimiser is TRPO;
// Schulman et al. 2015, appendix C), on the server, for maml and fomaml with outer = "trpo".
//
// For the accepted tasks i = 1..n, with the inner batches D_{i,0..K-1} and the outer batch D'_i
// the agents sampled (kept fixed, as MAML-RL does), theta'_i(theta) the K inner steps
// theta_{k+1} = theta_k - alpha grad L_PG(theta_k; D_{i,k}) from theta, and theta_old = phi:
//   surrogate    L(theta)  = (1/n) sum_i L_S(theta'_i(theta); D'_i)  with ratios against
//                pi_{theta'_i(theta_old)} (agents::SurrogateLoss, -mean_t r_t A_t);
//   constraint   KL(theta) = (1/n) sum_i MeanKl(theta'_i(theta_old), theta'_i(theta); D'_i)
//                <= max_kl.
// grad L(theta_old) = (1/n) sum_i g_i, the agents' meta-gradients (r_t = 1 and grad r_t = grad
// log pi there, so g_i = grad_theta L_PG(theta'_i(theta); D'_i) is the surrogate's gradient).
//
// Curvature (the "A" of the CG solve): the exact Hessian of KL(theta) at theta_old,
//   A = (1/n) sum_i J_i^T F_i J_i,
// F_i the Fisher matrix of pi at theta'_i on the states of D'_i (agents::FisherVectorProduct,
// the Hessian of MeanKl in its second argument) and J_i = d theta'_i / d theta =
// (I - alpha H_{i,K-1}) ... (I - alpha H_{i,0}), H_{i,k} = Hessian of L_PG(.; D_{i,k}) at theta_k
// (exact R-operator products, agents::PolicyGradientLossHvp). The other term of the chain rule,
// sum_j (d KL / d theta'_j) d^2 theta'_j / d theta^2, vanishes at theta_old because KL is
// minimal (zero) there, so A is exact, not the usual approximation F_i(theta'_i) alone. Each
// product costs, per task, 2K Hessian-vector products and one Fisher-vector product. For
// first-order MAML (fomaml, or maml with first_order) J_i = I, as in its gradient.
//
// Then agents::TrustRegionStep: CG on (A + damping I) x = grad L, the step scaled to
// 1/2 s^T A s = max_kl, and a backtracking line search that re-runs every task's adaptation
// from each candidate theta and accepts the first candidate with L < L(theta_old) and
// KL < max_kl. A failed line search rejects the step: phi stays, the report says why.
// The batches travel in Contribution::trace, so this runs in-process only (TrainMetaModel).

#include <span>

#include "agents/math/eigen.h"
#include "agents/math/gaussian_policy.h"
#include "meta/contribution.h"
#include "meta/meta_config.h"
#include "meta/meta_learner.h"

namespace metajoule::meta {

/// The surrogate L and the mean KL of the file comment at `theta` (the adaptation re-run on
/// each trace from theta), for the traces of `contributions` (all must have one), with
/// theta_old = `theta_old`. For tests and diagnostics.
/// @throws std::invalid_argument when a contribution has no trace or sizes differ.
void MamlTrpoObjective(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                       std::span<const Contribution> contributions,
                       const Eigen::Ref<const Eigen::VectorXd>& theta_old,
                       const Eigen::Ref<const Eigen::VectorXd>& theta, double& surrogate,
                       double& kl);

/// out = A v, A the KL Hessian of the file comment at theta_old (without damping), for the
/// traces of `contributions` (all must have one). For tests and diagnostics.
/// @throws std::invalid_argument when a contribution has no trace or sizes differ.
void MamlTrpoKlHessianProduct(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                              std::span<const Contribution> contributions,
                              const Eigen::Ref<const Eigen::VectorXd>& theta_old,
                              const Eigen::Ref<const Eigen::VectorXd>& v,
                              Eigen::Ref<Eigen::VectorXd> out);

/// One MAML-TRPO step on `theta` (P = policy.num_params()) from the contributions (file
/// comment). Contributions that failed, have no trace, a wrong size or non-finite entries are
/// rejected and named in the message, as in MetaLearner::Update. Returns kOk (theta updated;
/// kl, surrogate_before/after and line_search_steps filled), kLineSearchFailed (theta
/// unchanged: no candidate improved the surrogate within max_kl) or kNonFiniteGradient
/// (nothing usable, or no descent direction).
/// @throws std::invalid_argument when config fails Validate, config.outer is not "trpo" or
/// theta has the wrong size.
AggregateReport MamlTrpoStep(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                             std::span<const Contribution> contributions,
                             Eigen::Ref<Eigen::VectorXd> theta);

}  // namespace metajoule::meta
