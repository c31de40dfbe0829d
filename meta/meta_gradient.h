#pragma once
// The MAML meta-gradient on fixed trajectory batches (Finn et al. 2017, Algorithm 3), with
// exact Hessian-vector products (Pearlmutter's R-operator, agents/math/losses.h). Pure
// functions: no sampling, no RNG; the sampling loop that produces the batches lives in
// contribution.h.
//
// Notation. theta: policy parameters (P = policy.num_params()); alpha: the inner learning rate,
// either one scalar (alpha.size() == 1) or one rate per parameter (alpha.size() == P, Meta-SGD,
// Li et al. 2017). Inner batches D_0..D_{K-1} and the outer batch D_out carry fixed advantages.
// With L_k(.) = L_PG(.; D_k) and L_out(.) = L_PG(.; D_out) (the policy-gradient loss of
// losses.h, MAML's eq. 4 loss):
//   inner steps      theta_0 = theta,  theta_{k+1} = theta_k - alpha (.) grad L_k(theta_k)
//                    (Finn et al. 2017, eq. 1, applied K times)
//   meta-objective   J(theta, alpha) = L_out(theta_K)                                  (eq. 2)
//   meta-gradient    gbar_K = grad L_out(theta_K);  for k = K-1 .. 0:
//                      gbar_k = gbar_{k+1} - H_k(theta_k) (alpha (.) gbar_{k+1})
//                      dJ/dalpha += -grad L_k(theta_k) (.) gbar_{k+1}   (summed if alpha scalar)
//                    dJ/dtheta = gbar_0
// (the chain rule through each step's Jacobian I - diag(alpha) H_k, which is applied
// transposed: (I - diag(alpha) H_k)^T = I - H_k diag(alpha) since H_k is symmetric).
// The first-order approximation (FOMAML, Finn et al. 2017 section 5.2) drops H_k:
// dJ/dtheta = grad L_out(theta_K).
// Like MAML-RL, the dependence of the batches' sampling distribution on theta is ignored
// (Rothfuss et al. 2019, ProMP, section 4, analyse the missing term).

#include <memory>
#include <span>
#include <vector>

#include "agents/math/eigen.h"
#include "agents/math/gaussian_policy.h"

namespace metajoule::meta {

/// A batch of transitions with fixed advantages, the input of L_PG: obs obs_dim x N, actions
/// act_dim x N (as sampled, unclipped), advantages N.
struct LossBatch {
  Eigen::MatrixXd obs;
  Eigen::MatrixXd actions;
  Eigen::VectorXd advantages;
  /// The rollout's forward pass at the sampling theta (TaskSampler::Sample), or null. The
  /// losses below take their forward pass from it when their theta and inputs are the recorded
  /// ones (agents::ActivationMemo): the policy's outputs are then exactly those the actions
  /// were sampled from. Without it they are recomputed as a batch (equal up to rounding).
  std::shared_ptr<agents::ActivationMemo> memo{};
  Eigen::Index size() const { return advantages.size(); }
};

/// One inner step theta_next = theta - alpha (.) grad L_PG(theta; batch). `alpha` has 1 or P
/// entries; `grad` receives grad L_PG(theta) (P), `theta_next` the result (P). Returns L_PG.
/// `ws` must hold batch.size() columns.
/// @throws std::invalid_argument on a size mismatch.
double InnerStep(const agents::GaussianMlpPolicy& policy,
                 const Eigen::Ref<const Eigen::VectorXd>& theta,
                 const Eigen::Ref<const Eigen::VectorXd>& alpha, const LossBatch& batch,
                 agents::PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad,
                 Eigen::Ref<Eigen::VectorXd> theta_next);

/// H_PG(theta) v and grad L_PG(theta) on `batch` (as agents::PolicyGradientLossHvp) from the
/// forward pass that `tape` still holds: the last call on `tape` that ran a forward pass must
/// have been InnerStep (or agents::PolicyGradientLossGradient) with this theta and batch. Only
/// the two R-operator passes run (agents::ForwardTangent, agents::BackwardTangent), not the
/// forward pass with its tanh evaluations; the arithmetic is that of PolicyGradientLossHvp, so
/// the result is the same to the last bit. Adds the FLOPs of the two passes to `tape`. An empty
/// `grad` (size 0) skips the gradient (agents::BackwardTangent); hvp is unchanged.
/// @throws std::invalid_argument on a size mismatch or when the tape's batch is not batch.size().
void PolicyGradientHvpFromTape(const agents::GaussianMlpPolicy& policy,
                               const Eigen::Ref<const Eigen::VectorXd>& theta,
                               const LossBatch& batch, const Eigen::Ref<const Eigen::VectorXd>& v,
                               agents::PolicyWorkspace& tape, Eigen::Ref<Eigen::VectorXd> grad,
                               Eigen::Ref<Eigen::VectorXd> hvp);

/// The backward pass of the file comment, given the inner path `path` = theta_0..theta_K
/// (K + 1 vectors of P, as InnerStep produced them) and the batches D_0..D_{K-1}, D_out.
/// Writes dJ/dtheta into `grad_theta` (P) and, when `grad_alpha` is not null, dJ/dalpha into
/// it (alpha.size() entries). `first_order` drops the Hessian terms (alpha's gradient is still
/// -sum_k grad L_k (.) gbar_{k+1}, with gbar first-order). Returns J = L_out(theta_K).
/// `ws` must hold the largest batch. When `tapes` is not empty it holds K workspaces, tapes[k]
/// being the one InnerStep k ran in (so it still holds the forward pass at theta_k on D_k; see
/// PolicyGradientHvpFromTape): each H_k v then reuses that forward pass instead of repeating it,
/// with the same result; `ws` is used for the outer gradient only.
/// @throws std::invalid_argument on a size mismatch, path.size() != inner.size() + 1, or
/// tapes.size() not 0 or inner.size().
double MetaGradientBackward(const agents::GaussianMlpPolicy& policy,
                            std::span<const Eigen::VectorXd> path,
                            const Eigen::Ref<const Eigen::VectorXd>& alpha,
                            std::span<const LossBatch> inner, const LossBatch& outer,
                            bool first_order, agents::PolicyWorkspace& ws,
                            Eigen::Ref<Eigen::VectorXd> grad_theta,
                            Eigen::VectorXd* grad_alpha = nullptr,
                            std::span<agents::PolicyWorkspace> tapes = {});

/// As above, with the tapes given by address (e.g. the thread's workspaces,
/// agents::internal::ThreadWorkspace slots, as MamlContribution keeps them).
double MetaGradientBackward(const agents::GaussianMlpPolicy& policy,
                            std::span<const Eigen::VectorXd> path,
                            const Eigen::Ref<const Eigen::VectorXd>& alpha,
                            std::span<const LossBatch> inner, const LossBatch& outer,
                            bool first_order, agents::PolicyWorkspace& ws,
                            Eigen::Ref<Eigen::VectorXd> grad_theta, Eigen::VectorXd* grad_alpha,
                            std::span<agents::PolicyWorkspace* const> tapes);

/// J(theta, alpha) = L_out(theta_K) of the file comment (the inner steps, then the outer loss).
/// @throws std::invalid_argument on a size mismatch or an empty `inner`.
double MetaObjective(const agents::GaussianMlpPolicy& policy,
                     const Eigen::Ref<const Eigen::VectorXd>& theta,
                     const Eigen::Ref<const Eigen::VectorXd>& alpha,
                     std::span<const LossBatch> inner, const LossBatch& outer,
                     agents::PolicyWorkspace& ws);

/// The inner steps followed by MetaGradientBackward: J and its gradient (exact second order
/// unless `first_order`). Same arguments and throws as those two. Each inner step runs in a
/// workspace of its own (allocated here) that the backward pass reuses as its tape.
double MamlMetaGradient(const agents::GaussianMlpPolicy& policy,
                        const Eigen::Ref<const Eigen::VectorXd>& theta,
                        const Eigen::Ref<const Eigen::VectorXd>& alpha,
                        std::span<const LossBatch> inner, const LossBatch& outer, bool first_order,
                        agents::PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad_theta,
                        Eigen::VectorXd* grad_alpha = nullptr);

}  // namespace metajoule::meta
