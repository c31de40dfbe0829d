#include "meta/meta_trpo.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "agents/advantages.h"
#include "agents/learner_config.h"
#include "agents/math/checks.h"
#include "agents/math/losses.h"
#include "agents/trpo.h"
#include "meta/meta_gradient.h"

namespace metajoule::meta {
namespace {

using agents::internal::CheckSize;

// the largest batch of any trace (columns of the shared workspace)
Eigen::Index MaxBatch(std::span<const Contribution* const> tasks) {
  Eigen::Index largest = 1;
  for (const Contribution* c : tasks) {
    for (const LossBatch& b : c->trace->inner) largest = std::max(largest, b.size());
    largest = std::max(largest, c->trace->outer.size());
  }
  return largest;
}

// theta'_i(theta): the K inner steps on the trace's inner batches into `path` (K + 1 entries)
void Adapt(const agents::GaussianMlpPolicy& policy, const Eigen::VectorXd& alpha,
           const MamlTrace& trace, const Eigen::Ref<const Eigen::VectorXd>& theta,
           agents::PolicyWorkspace& ws, std::vector<Eigen::VectorXd>& path) {
  const Eigen::Index p = policy.num_params();
  path.assign(trace.inner.size() + 1, Eigen::VectorXd(p));
  path[0] = theta;
  Eigen::VectorXd grad(p);
  for (std::size_t k = 0; k < trace.inner.size(); ++k) {
    InnerStep(policy, path[k], alpha, trace.inner[k], ws, grad, path[k + 1]);
  }
}

// per task: the adaptation path at theta_old and log pi_{theta'_old} on the outer batch
struct TaskState {
  const MamlTrace* trace{nullptr};
  std::vector<Eigen::VectorXd> path;
  Eigen::VectorXd old_log_probs;
};

class Problem {
 public:
  Problem(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
          std::span<const Contribution* const> tasks,
          const Eigen::Ref<const Eigen::VectorXd>& theta_old)
      : policy_(policy),
        alpha_(Eigen::VectorXd::Constant(1, config.inner_lr)),
        first_order_(IsFirstOrder(config)),
        ws_(agents::internal::ThreadWorkspace(policy, MaxBatch(tasks))) {
    ws_.ResetFlops();
    states_.resize(tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      TaskState& s = states_[i];
      s.trace = tasks[i]->trace.get();
      Adapt(policy, alpha_, *s.trace, theta_old, ws_, s.path);
      const LossBatch& out = s.trace->outer;
      s.old_log_probs.resize(out.size());
      agents::LogProb(policy, s.path.back(), out.obs, out.actions, ws_, s.old_log_probs);
    }
  }

  // L(theta) and KL(theta) of the file comment
  void Evaluate(const Eigen::Ref<const Eigen::VectorXd>& theta, double& surrogate, double& kl) {
    surrogate = 0.0;
    kl = 0.0;
    for (const TaskState& s : states_) {
      Adapt(policy_, alpha_, *s.trace, theta, ws_, scratch_path_);
      const LossBatch& out = s.trace->outer;
      surrogate += agents::SurrogateLoss(policy_, scratch_path_.back(), out.obs, out.actions,
                                         out.advantages, s.old_log_probs, ws_);
      kl += agents::MeanKl(policy_, s.path.back(), scratch_path_.back(), out.obs, ws_);
    }
    const auto n = static_cast<double>(states_.size());
    surrogate /= n;
    kl /= n;
  }

  // out = A v = (1/n) sum_i J_i^T F_i J_i v
  void Curvature(const Eigen::Ref<const Eigen::VectorXd>& v, Eigen::Ref<Eigen::VectorXd> out) {
    const Eigen::Index p = policy_.num_params();
    out.setZero();
    Eigen::VectorXd u(p);
    Eigen::VectorXd fu(p);
    Eigen::VectorXd grad(p);
    Eigen::VectorXd hu(p);
    const double alpha = alpha_(0);
    for (const TaskState& s : states_) {
      const auto& inner = s.trace->inner;
      u = v;
      // J v: u <- (I - alpha H_k) u for k = 0..K-1
      if (!first_order_) {
        for (std::size_t k = 0; k < inner.size(); ++k) {
          agents::PolicyGradientLossHvp(policy_, s.path[k], inner[k].obs, inner[k].actions,
                                        inner[k].advantages, u, ws_, grad, hu);
          u -= alpha * hu;
        }
      }
      agents::FisherVectorProduct(policy_, s.path.back(), s.trace->outer.obs, u, ws_, fu);
      // J^T (F J v): fu <- (I - alpha H_k) fu for k = K-1..0 (each H_k symmetric)
      if (!first_order_) {
        for (std::size_t k = inner.size(); k-- > 0;) {
          agents::PolicyGradientLossHvp(policy_, s.path[k], inner[k].obs, inner[k].actions,
                                        inner[k].advantages, fu, ws_, grad, hu);
          fu -= alpha * hu;
        }
      }
      out += fu;
    }
    out /= static_cast<double>(states_.size());
  }

  double SurrogateBefore() {
    double surrogate = 0.0;
    for (const TaskState& s : states_) {
      const LossBatch& out = s.trace->outer;
      surrogate += agents::SurrogateLoss(policy_, s.path.back(), out.obs, out.actions,
                                         out.advantages, s.old_log_probs, ws_);
    }
    return surrogate / static_cast<double>(states_.size());
  }

  std::uint64_t flops() const { return ws_.total_flops(); }

 private:
  const agents::GaussianMlpPolicy& policy_;
  Eigen::VectorXd alpha_;
  bool first_order_;
  agents::PolicyWorkspace& ws_;
  std::vector<TaskState> states_;
  std::vector<Eigen::VectorXd> scratch_path_;
};

std::vector<const Contribution*> RequireTraces(std::span<const Contribution> contributions) {
  std::vector<const Contribution*> tasks;
  for (const Contribution& c : contributions) {
    if (!c.trace) throw std::invalid_argument("MAML-TRPO: a contribution has no trace");
    tasks.push_back(&c);
  }
  if (tasks.empty()) throw std::invalid_argument("MAML-TRPO: expected >= 1 contribution");
  return tasks;
}

}  // namespace

void MamlTrpoObjective(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                       std::span<const Contribution> contributions,
                       const Eigen::Ref<const Eigen::VectorXd>& theta_old,
                       const Eigen::Ref<const Eigen::VectorXd>& theta, double& surrogate,
                       double& kl) {
  CheckSize("MamlTrpoObjective: theta_old size", theta_old.size(), policy.num_params());
  CheckSize("MamlTrpoObjective: theta size", theta.size(), policy.num_params());
  const std::vector<const Contribution*> tasks = RequireTraces(contributions);
  Problem problem(config, policy, tasks, theta_old);
  problem.Evaluate(theta, surrogate, kl);
}

void MamlTrpoKlHessianProduct(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                              std::span<const Contribution> contributions,
                              const Eigen::Ref<const Eigen::VectorXd>& theta_old,
                              const Eigen::Ref<const Eigen::VectorXd>& v,
                              Eigen::Ref<Eigen::VectorXd> out) {
  CheckSize("MamlTrpoKlHessianProduct: theta_old size", theta_old.size(), policy.num_params());
  CheckSize("MamlTrpoKlHessianProduct: v size", v.size(), policy.num_params());
  CheckSize("MamlTrpoKlHessianProduct: out size", out.size(), policy.num_params());
  const std::vector<const Contribution*> tasks = RequireTraces(contributions);
  Problem problem(config, policy, tasks, theta_old);
  problem.Curvature(v, out);
}

AggregateReport MamlTrpoStep(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                             std::span<const Contribution> contributions,
                             Eigen::Ref<Eigen::VectorXd> theta) {
  agents::ThrowIfInvalid("MamlTrpoStep", Validate(config));
  if (config.outer != OuterStep::kTrpo) {
    throw std::invalid_argument("MamlTrpoStep: expected outer = \"trpo\", got \"gradient\"");
  }
  const Eigen::Index p = policy.num_params();
  CheckSize("MamlTrpoStep: theta size", theta.size(), p);
  AggregateReport report;
  // accept as MetaLearner::Update does, and only contributions that carry their batches
  std::vector<const Contribution*> tasks;
  Eigen::VectorXd grad = Eigen::VectorXd::Zero(p);
  for (std::size_t i = 0; i < contributions.size(); ++i) {
    const Contribution& c = contributions[i];
    const bool good = c.ok() && c.trace && c.vector.size() == p && c.vector.allFinite();
    if (!good) {
      report.message += (report.message.empty() ? "rejected contributions:" : "") +
                        std::string(" #") + std::to_string(i) + " (" +
                        std::string(agents::UpdateStatusName(c.status)) +
                        (c.ok() && !c.trace ? ": no batches (MAML-TRPO runs in-process only)"
                                            : (c.message.empty() ? "" : ": " + c.message)) +
                        ")";
      ++report.rejected;
      continue;
    }
    grad += c.vector;  // summed in task order
    tasks.push_back(&c);
  }
  report.accepted = static_cast<int>(tasks.size());
  if (tasks.empty()) {
    report.status = agents::UpdateStatus::kNonFiniteGradient;
    report.message = "no usable contribution; " + report.message;
    return report;
  }
  grad /= static_cast<double>(tasks.size());
  report.aggregate_norm = grad.norm();

  const Eigen::VectorXd theta_old = theta;
  Problem problem(config, policy, tasks, theta_old);
  report.surrogate_before = problem.SurrogateBefore();
  const agents::LinearOperator curvature = [&](const Eigen::Ref<const Eigen::VectorXd>& v,
                                               Eigen::Ref<Eigen::VectorXd> out) {
    problem.Curvature(v, out);
  };
  const agents::TrustRegionProbe probe = [&](const Eigen::Ref<const Eigen::VectorXd>& candidate,
                                             double& loss, double& kl) {
    problem.Evaluate(candidate, loss, kl);
  };
  const agents::TrustRegionResult step =
      agents::TrustRegionStep(curvature, grad, report.surrogate_before, probe, config.trpo,
                              theta);
  report.flops = step.flops + problem.flops() + 2 * static_cast<std::uint64_t>(p) *
                                                    static_cast<std::uint64_t>(tasks.size());
  report.line_search_steps = step.line_search_steps;
  report.cg_iterations = step.cg_iterations;
  if (step.status != agents::UpdateStatus::kOk) {
    report.status = step.status;
    report.message = "maml-trpo: " + step.message + "; step rejected" +
                     (report.message.empty() ? std::string() : "; " + report.message);
    return report;
  }
  report.surrogate_after = step.loss;
  report.kl = step.kl;
  report.step_norm = (theta - theta_old).norm();
  return report;
}

}  // namespace metajoule::meta
