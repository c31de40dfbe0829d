#include "meta/meta_gradient.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "agents/math/checks.h"
#include "agents/math/losses.h"

namespace metajoule::meta {
namespace {

using agents::internal::CheckSize;

void CheckAlpha(const char* what, const Eigen::Ref<const Eigen::VectorXd>& alpha,
                Eigen::Index num_params) {
  if (alpha.size() != 1 && alpha.size() != num_params) {
    throw std::invalid_argument(std::string(what) + ": alpha size: expected 1 or " +
                                std::to_string(num_params) + ", got " +
                                std::to_string(alpha.size()));
  }
}

// alpha (.) v for a scalar or per-parameter alpha
void ScaleByAlpha(const Eigen::Ref<const Eigen::VectorXd>& alpha,
                  const Eigen::Ref<const Eigen::VectorXd>& v, Eigen::Ref<Eigen::VectorXd> out) {
  if (alpha.size() == 1) {
    out = alpha(0) * v;
  } else {
    out = alpha.cwiseProduct(v);
  }
}

}  // namespace

void PolicyGradientHvpFromTape(const agents::GaussianMlpPolicy& policy,
                               const Eigen::Ref<const Eigen::VectorXd>& theta,
                               const LossBatch& batch, const Eigen::Ref<const Eigen::VectorXd>& v,
                               agents::PolicyWorkspace& tape, Eigen::Ref<Eigen::VectorXd> grad,
                               Eigen::Ref<Eigen::VectorXd> hvp) {
  const Eigen::Index p = policy.num_params();
  CheckSize("PolicyGradientHvpFromTape: theta size", theta.size(), p);
  CheckSize("PolicyGradientHvpFromTape: v size", v.size(), p);
  const bool want_grad = grad.size() != 0;  // empty: the gradient is skipped
  if (want_grad) CheckSize("PolicyGradientHvpFromTape: grad size", grad.size(), p);
  CheckSize("PolicyGradientHvpFromTape: hvp size", hvp.size(), p);
  CheckSize("PolicyGradientHvpFromTape: advantages size", batch.advantages.size(),
            batch.obs.cols());
  CheckSize("PolicyGradientHvpFromTape: tape batch (columns of its last forward pass)",
            tape.mlp.batch, batch.size());
  // agents::WeightedLogProbHvp after its LogProb, with the weights of PolicyGradientLossHvp
  // (w = -A / N); the tape holds a_0..a_L, a - mu and 1/sigma^2 of that forward pass
  const Eigen::Index n = batch.size();
  const Eigen::Index nm = policy.num_mlp_params();
  const int d = policy.act_dim();
  auto weights = tape.weights.head(n);
  weights = batch.advantages * (-1.0 / static_cast<double>(n));
  agents::ForwardTangent<double>(policy.mlp(), theta.head(nm), v.head(nm), tape.mlp);
  const auto diff = tape.diff.leftCols(n);
  const auto rmu = tape.mlp.output_tangent();
  const auto vs = v.tail(d);
  const auto w = weights.transpose().array();
  // dL/dmu = w (a - mu) / sigma^2;  R{dL/dmu} = -w (R{mu} + 2 (a - mu) v_s) / sigma^2
  auto dmean = tape.dmean.leftCols(n);
  auto rdmean = tape.rdmean.leftCols(n);
  dmean = ((diff.array().colwise() * tape.inv_var.array()).rowwise() * w).matrix();
  rdmean = (((rmu.array() + 2.0 * (diff.array().colwise() * vs.array())).colwise() *
             tape.inv_var.array())
                .rowwise() *
            w)
               .matrix();
  rdmean *= -1.0;
  // the per-sample directional derivatives (ws.jvp of WeightedLogProbHvp) are not needed here
  for (int j = 0; j < d; ++j) {
    const auto dj = diff.row(j).array();
    const double iv = tape.inv_var(j);
    if (want_grad) grad(nm + j) = ((dj.square() * iv - 1.0) * w).sum();
    hvp(nm + j) = (-2.0 * iv * (dj * rmu.row(j).array() + dj.square() * vs(j)) * w).sum();
  }
  agents::BackwardTangent<double>(policy.mlp(), theta.head(nm), v.head(nm), dmean, rdmean,
                                  tape.mlp, want_grad ? grad.head(nm) : grad, hvp.head(nm));
  // the Gaussian head's FLOPs of WeightedLogProbHvp (its MLP passes count in tape.mlp.flops)
  const int nb = static_cast<int>(n);
  tape.flops += static_cast<std::uint64_t>(n) + policy.LogProbHvpFlops(nb) -
                policy.LogProbFlops(nb) - policy.mlp().ForwardTangentFlops(nb) -
                policy.mlp().BackwardTangentFlops(nb);
}

double InnerStep(const agents::GaussianMlpPolicy& policy,
                 const Eigen::Ref<const Eigen::VectorXd>& theta,
                 const Eigen::Ref<const Eigen::VectorXd>& alpha, const LossBatch& batch,
                 agents::PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad,
                 Eigen::Ref<Eigen::VectorXd> theta_next) {
  const Eigen::Index p = policy.num_params();
  CheckAlpha("InnerStep", alpha, p);
  CheckSize("InnerStep: grad size", grad.size(), p);
  CheckSize("InnerStep: theta_next size", theta_next.size(), p);
  // theta' = theta - alpha (.) grad L_PG(theta)   (Finn et al. 2017, eq. 1)
  const agents::ScopedActivationMemo<double> memo(ws.mlp, batch.memo.get());
  const double loss = agents::PolicyGradientLossGradient(policy, theta, batch.obs, batch.actions,
                                                         batch.advantages, ws, grad);
  ScaleByAlpha(alpha, grad, theta_next);
  theta_next = theta - theta_next;
  return loss;
}

double MetaGradientBackward(const agents::GaussianMlpPolicy& policy,
                            std::span<const Eigen::VectorXd> path,
                            const Eigen::Ref<const Eigen::VectorXd>& alpha,
                            std::span<const LossBatch> inner, const LossBatch& outer,
                            bool first_order, agents::PolicyWorkspace& ws,
                            Eigen::Ref<Eigen::VectorXd> grad_theta, Eigen::VectorXd* grad_alpha,
                            std::span<agents::PolicyWorkspace> tapes) {
  std::vector<agents::PolicyWorkspace*> addresses;
  addresses.reserve(tapes.size());
  for (agents::PolicyWorkspace& tape : tapes) addresses.push_back(&tape);
  return MetaGradientBackward(policy, path, alpha, inner, outer, first_order, ws, grad_theta,
                              grad_alpha, std::span<agents::PolicyWorkspace* const>(addresses));
}

double MetaGradientBackward(const agents::GaussianMlpPolicy& policy,
                            std::span<const Eigen::VectorXd> path,
                            const Eigen::Ref<const Eigen::VectorXd>& alpha,
                            std::span<const LossBatch> inner, const LossBatch& outer,
                            bool first_order, agents::PolicyWorkspace& ws,
                            Eigen::Ref<Eigen::VectorXd> grad_theta, Eigen::VectorXd* grad_alpha,
                            std::span<agents::PolicyWorkspace* const> tapes) {
  const Eigen::Index p = policy.num_params();
  CheckAlpha("MetaGradientBackward", alpha, p);
  CheckSize("MetaGradientBackward: path length", static_cast<Eigen::Index>(path.size()),
            static_cast<Eigen::Index>(inner.size()) + 1);
  CheckSize("MetaGradientBackward: grad_theta size", grad_theta.size(), p);
  for (const auto& theta_k : path) CheckSize("MetaGradientBackward: path entry size", theta_k.size(), p);
  if (!tapes.empty()) {
    CheckSize("MetaGradientBackward: tapes (0 or one per inner step)",
              static_cast<Eigen::Index>(tapes.size()), static_cast<Eigen::Index>(inner.size()));
  }
  if (grad_alpha != nullptr) grad_alpha->setZero(alpha.size());

  // gbar_K = grad L_out(theta_K)
  Eigen::VectorXd gbar(p);
  const double objective = [&] {
    const agents::ScopedActivationMemo<double> memo(ws.mlp, outer.memo.get());
    return agents::PolicyGradientLossGradient(policy, path.back(), outer.obs, outer.actions,
                                              outer.advantages, ws, gbar);
  }();
  Eigen::VectorXd scaled(p);
  Eigen::VectorXd inner_grad(p);
  Eigen::VectorXd hvp(p);
  for (std::size_t step = inner.size(); step-- > 0;) {
    const LossBatch& batch = inner[step];
    // v = alpha (.) gbar_{k+1}; the R-op pass also returns grad L_k(theta_k)
    ScaleByAlpha(alpha, gbar, scaled);
    const agents::ScopedActivationMemo<double> memo(ws.mlp, batch.memo.get());
    if (first_order) {
      if (grad_alpha != nullptr) {
        agents::PolicyGradientLossGradient(policy, path[step], batch.obs, batch.actions,
                                           batch.advantages, ws, inner_grad);
      }
    } else if (!tapes.empty()) {
      // grad L_k(theta_k) is needed only for dJ/dalpha: without it, skip its products
      PolicyGradientHvpFromTape(policy, path[step], batch, scaled, *tapes[step],
                                grad_alpha != nullptr ? inner_grad.head(p) : inner_grad.head(0),
                                hvp);
    } else {
      agents::PolicyGradientLossHvp(policy, path[step], batch.obs, batch.actions,
                                    batch.advantages, scaled, ws, inner_grad, hvp);
    }
    // dJ/dalpha += -grad L_k(theta_k) (.) gbar_{k+1}
    if (grad_alpha != nullptr) {
      if (alpha.size() == 1) {
        (*grad_alpha)(0) -= inner_grad.dot(gbar);
      } else {
        *grad_alpha -= inner_grad.cwiseProduct(gbar);
      }
    }
    // gbar_k = gbar_{k+1} - H_k(theta_k) (alpha (.) gbar_{k+1})
    if (!first_order) gbar -= hvp;
  }
  grad_theta = gbar;
  return objective;
}

double MetaObjective(const agents::GaussianMlpPolicy& policy,
                     const Eigen::Ref<const Eigen::VectorXd>& theta,
                     const Eigen::Ref<const Eigen::VectorXd>& alpha,
                     std::span<const LossBatch> inner, const LossBatch& outer,
                     agents::PolicyWorkspace& ws) {
  if (inner.empty()) throw std::invalid_argument("MetaObjective: expected >= 1 inner batch, got 0");
  CheckSize("MetaObjective: theta size", theta.size(), policy.num_params());
  Eigen::VectorXd current = theta;
  Eigen::VectorXd next(theta.size());
  Eigen::VectorXd grad(theta.size());
  for (const LossBatch& batch : inner) {
    InnerStep(policy, current, alpha, batch, ws, grad, next);
    current.swap(next);
  }
  return agents::PolicyGradientLoss(policy, current, outer.obs, outer.actions, outer.advantages,
                                    ws);
}

double MamlMetaGradient(const agents::GaussianMlpPolicy& policy,
                        const Eigen::Ref<const Eigen::VectorXd>& theta,
                        const Eigen::Ref<const Eigen::VectorXd>& alpha,
                        std::span<const LossBatch> inner, const LossBatch& outer, bool first_order,
                        agents::PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad_theta,
                        Eigen::VectorXd* grad_alpha) {
  if (inner.empty()) {
    throw std::invalid_argument("MamlMetaGradient: expected >= 1 inner batch, got 0");
  }
  CheckSize("MamlMetaGradient: theta size", theta.size(), policy.num_params());
  std::vector<Eigen::VectorXd> path(inner.size() + 1, Eigen::VectorXd(theta.size()));
  path[0] = theta;
  Eigen::VectorXd grad(theta.size());
  // one workspace per inner step, kept as the tape of the backward pass
  std::vector<agents::PolicyWorkspace> tapes;
  tapes.reserve(inner.size());
  for (std::size_t k = 0; k < inner.size(); ++k) {
    tapes.emplace_back(policy, static_cast<int>(std::max<Eigen::Index>(inner[k].size(), 1)));
    InnerStep(policy, path[k], alpha, inner[k], tapes[k], grad, path[k + 1]);
  }
  return MetaGradientBackward(policy, path, alpha, inner, outer, first_order, ws, grad_theta,
                              grad_alpha, tapes);
}

}  // namespace metajoule::meta
