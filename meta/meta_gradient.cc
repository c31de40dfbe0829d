#include "meta/meta_gradient.h"

#include <stdexcept>
#include <string>

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
                            Eigen::Ref<Eigen::VectorXd> grad_theta, Eigen::VectorXd* grad_alpha) {
  const Eigen::Index p = policy.num_params();
  CheckAlpha("MetaGradientBackward", alpha, p);
  CheckSize("MetaGradientBackward: path length", static_cast<Eigen::Index>(path.size()),
            static_cast<Eigen::Index>(inner.size()) + 1);
  CheckSize("MetaGradientBackward: grad_theta size", grad_theta.size(), p);
  for (const auto& theta_k : path) CheckSize("MetaGradientBackward: path entry size", theta_k.size(), p);
  if (grad_alpha != nullptr) grad_alpha->setZero(alpha.size());

  // gbar_K = grad L_out(theta_K)
  Eigen::VectorXd gbar(p);
  const double objective = agents::PolicyGradientLossGradient(
      policy, path.back(), outer.obs, outer.actions, outer.advantages, ws, gbar);
  Eigen::VectorXd scaled(p);
  Eigen::VectorXd inner_grad(p);
  Eigen::VectorXd hvp(p);
  for (std::size_t step = inner.size(); step-- > 0;) {
    const LossBatch& batch = inner[step];
    // v = alpha (.) gbar_{k+1}; the R-op pass also returns grad L_k(theta_k)
    ScaleByAlpha(alpha, gbar, scaled);
    if (first_order) {
      if (grad_alpha != nullptr) {
        agents::PolicyGradientLossGradient(policy, path[step], batch.obs, batch.actions,
                                           batch.advantages, ws, inner_grad);
      }
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
  for (std::size_t k = 0; k < inner.size(); ++k) {
    InnerStep(policy, path[k], alpha, inner[k], ws, grad, path[k + 1]);
  }
  return MetaGradientBackward(policy, path, alpha, inner, outer, first_order, ws, grad_theta,
                              grad_alpha);
}

}  // namespace metajoule::meta
