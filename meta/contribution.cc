#include "meta/contribution.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <span>
#include <stdexcept>
#include <vector>

#include "agents/learner_config.h"
#include "agents/math/checks.h"
#include "agents/math/losses.h"
#include "meta/meta_gradient.h"
#include "meta/task_sampler.h"

namespace metajoule::meta {
namespace {

using agents::UpdateStatus;

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void CheckMetaParams(const char* what, const MetaConfig& config,
                     const agents::GaussianMlpPolicy& policy,
                     const Eigen::Ref<const Eigen::VectorXd>& meta_params) {
  agents::internal::CheckSize(what, meta_params.size(), MetaParamCount(config, policy));
}

// fills the status of a failed contribution and drops any partial vector
Contribution Fail(Contribution contribution, UpdateStatus status, std::string message) {
  contribution.status = status;
  contribution.message = std::move(message);
  contribution.vector.resize(0);
  return contribution;
}

// closes the accounting of a contribution from its sampler
void Finish(const TaskSampler& sampler, Contribution& contribution) {
  contribution.work = sampler.work();
  contribution.timing.sampling_seconds = sampler.sampling_seconds();
}

// K SGD steps at the inner learning rate, each on a fresh batch from the current parameters
// (reptile and fedavg); theta_K into `theta`. Returns kOk or the failure, with its message.
UpdateStatus LocalSgd(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                      TaskSampler& sampler, std::mt19937_64& rng, Eigen::VectorXd& theta,
                      Contribution& contribution) {
  const Eigen::VectorXd alpha = Eigen::VectorXd::Constant(1, config.inner_lr);
  LossBatch batch;
  Eigen::VectorXd grad(theta.size());
  Eigen::VectorXd next(theta.size());
  for (int step = 0; step < config.inner_steps; ++step) {
    double mean_return = 0.0;
    const UpdateStatus status =
        sampler.Sample(theta, config.inner_episodes, rng, batch, mean_return,
                       contribution.message, contribution.timing.inner_seconds);
    if (status != UpdateStatus::kOk) return status;
    if (step == 0) contribution.pre_adaptation_return = mean_return;
    if (step > 0 && step + 1 == config.inner_steps) {
      contribution.post_adaptation_return = mean_return;
    }
    const auto start = std::chrono::steady_clock::now();
    InnerStep(policy, theta, alpha, batch, sampler.loss_workspace(), grad, next);
    contribution.work.policy_flops += 2 * static_cast<std::uint64_t>(theta.size());
    contribution.timing.inner_seconds += SecondsSince(start);
    if (!next.allFinite()) {
      contribution.message = "local step " + std::to_string(step) + " produced NaN or inf";
      return UpdateStatus::kNonFiniteParams;
    }
    theta.swap(next);
  }
  return UpdateStatus::kOk;
}

}  // namespace

Eigen::Index MetaParamCount(const MetaConfig& config, const agents::GaussianMlpPolicy& policy) {
  return config.learn_inner_lr ? 2 * policy.num_params() : policy.num_params();
}

Eigen::VectorXd InitialMetaParams(const MetaConfig& config,
                                  const agents::GaussianMlpPolicy& policy, double init_log_std,
                                  std::mt19937_64& rng) {
  const Eigen::Index p = policy.num_params();
  Eigen::VectorXd phi(MetaParamCount(config, policy));
  policy.InitializeParams(rng, init_log_std, phi.head(p));
  if (config.learn_inner_lr) phi.tail(p).setConstant(config.inner_lr);
  return phi;
}

Eigen::VectorXd InnerRates(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                           const Eigen::Ref<const Eigen::VectorXd>& meta_params) {
  CheckMetaParams("InnerRates: meta_params size", config, policy, meta_params);
  if (config.learn_inner_lr) return meta_params.tail(policy.num_params());
  return Eigen::VectorXd::Constant(1, config.inner_lr);
}

Contribution MamlContribution(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                              const Eigen::Ref<const Eigen::VectorXd>& meta_params, TaskEnv& task,
                              std::mt19937_64& rng) {
  CheckMetaParams("MamlContribution: meta_params size", config, policy, meta_params);
  const Eigen::Index p = policy.num_params();
  Contribution result;
  result.method = config.method;
  TaskSampler sampler(policy, config.advantage, task,
                      std::max(config.inner_episodes, config.outer_episodes), rng);
  const Eigen::VectorXd alpha = InnerRates(config, policy, meta_params);
  if (!meta_params.allFinite()) {
    return Fail(result, UpdateStatus::kNonFiniteParams, "maml: NaN or inf in the meta-parameters");
  }

  // inner steps theta_{k+1} = theta_k - alpha (.) grad L_k(theta_k), each on a fresh batch
  // sampled from pi_{theta_k} (Finn et al. 2017, Algorithm 3, lines 5-8)
  const auto k_steps = static_cast<std::size_t>(config.inner_steps);
  std::vector<Eigen::VectorXd> path(k_steps + 1, Eigen::VectorXd(p));
  std::vector<LossBatch> inner(k_steps);
  path[0] = meta_params.head(p);
  Eigen::VectorXd grad(p);
  // second order: each inner step runs in a workspace of its own, which keeps its forward pass
  // for the Hessian-vector product of the backward pass (MetaGradientBackward's tapes); they
  // are the thread's (slots after the sampler's), so no contribution allocates batch-sized
  // scratch, and every buffer of a tape is written by its inner step before it is read
  const bool first_order = IsFirstOrder(config);
  std::vector<agents::PolicyWorkspace*> tape_ptrs;
  if (!first_order) {
    tape_ptrs.reserve(k_steps);
    for (std::size_t k = 0; k < k_steps; ++k) {
      tape_ptrs.push_back(&agents::internal::ThreadWorkspace(
          policy, Eigen::Index{config.inner_episodes} * task.max_steps,
          TaskSampler::kLossSlot + 1 + static_cast<int>(k)));
      tape_ptrs.back()->ResetFlops();
    }
  }
  const auto finish = [&] {
    Finish(sampler, result);
    for (const agents::PolicyWorkspace* ws : tape_ptrs) {
      result.work.policy_flops += ws->total_flops();
    }
  };
  for (std::size_t k = 0; k < k_steps; ++k) {
    double mean_return = 0.0;
    const UpdateStatus status =
        sampler.Sample(path[k], config.inner_episodes, rng, inner[k], mean_return,
                       result.message, result.timing.inner_seconds);
    if (status != UpdateStatus::kOk) {
      finish();
      return Fail(result, status, "maml inner batch " + std::to_string(k) + ": " + result.message);
    }
    if (k == 0) result.pre_adaptation_return = mean_return;
    const auto start = std::chrono::steady_clock::now();
    agents::PolicyWorkspace& step_ws = first_order ? sampler.loss_workspace() : *tape_ptrs[k];
    InnerStep(policy, path[k], alpha, inner[k], step_ws, grad, path[k + 1]);
    result.timing.inner_seconds += SecondsSince(start);
    if (!path[k + 1].allFinite()) {
      finish();
      return Fail(result, UpdateStatus::kNonFiniteParams,
                  "maml: inner step " + std::to_string(k) + " produced NaN or inf");
    }
  }

  // the outer batch D'_i from pi_{theta'} (Algorithm 3, line 8), then the meta-gradient
  LossBatch outer;
  double post_return = 0.0;
  double outer_advantage_seconds = 0.0;
  const UpdateStatus status = sampler.Sample(path.back(), config.outer_episodes, rng, outer,
                                             post_return, result.message,
                                             outer_advantage_seconds);
  result.timing.outer_seconds += outer_advantage_seconds;
  if (status != UpdateStatus::kOk) {
    finish();
    return Fail(result, status, "maml outer batch: " + result.message);
  }
  result.post_adaptation_return = post_return;
  const auto start = std::chrono::steady_clock::now();
  result.vector.resize(MetaParamCount(config, policy));
  Eigen::VectorXd grad_alpha;
  result.outer_loss = MetaGradientBackward(policy, path, alpha, inner, outer, first_order,
                                           sampler.loss_workspace(), result.vector.head(p),
                                           config.learn_inner_lr ? &grad_alpha : nullptr,
                                           std::span<agents::PolicyWorkspace* const>(tape_ptrs));
  if (config.learn_inner_lr) result.vector.tail(p) = grad_alpha;
  result.timing.outer_seconds += SecondsSince(start);
  finish();
  if (!std::isfinite(result.outer_loss) || !result.vector.allFinite()) {
    return Fail(result, UpdateStatus::kNonFiniteGradient,
                "maml: the outer loss or the meta-gradient is not finite");
  }
  if (config.outer == OuterStep::kTrpo) {
    // the server's MAML-TRPO step re-runs the adaptation on these batches (meta/meta_trpo.h)
    auto trace = std::make_shared<MamlTrace>();
    trace->inner = std::move(inner);
    trace->outer = std::move(outer);
    result.trace = std::move(trace);
  }
  return result;
}

// The shared part of reptile and fedavg: LocalSgd from phi on a fresh sampler, with the work
// accounted; theta_K into `theta`. A failed run comes back as a failed contribution.
static Contribution LocalTraining(const char* name, MetaMethod method, const MetaConfig& config,
                           const agents::GaussianMlpPolicy& policy,
                           const Eigen::Ref<const Eigen::VectorXd>& meta_params, TaskEnv& task,
                           std::mt19937_64& rng, Eigen::VectorXd& theta) {
  Contribution result;
  result.method = method;
  TaskSampler sampler(policy, config.advantage, task, config.inner_episodes, rng);
  theta = meta_params;
  const UpdateStatus status = LocalSgd(config, policy, sampler, rng, theta, result);
  const std::uint64_t step_flops = result.work.policy_flops;
  Finish(sampler, result);
  result.work.policy_flops += step_flops;
  if (status != UpdateStatus::kOk) return Fail(result, status, name + (": " + result.message));
  return result;
}

Contribution ReptileContribution(const MetaConfig& config,
                                 const agents::GaussianMlpPolicy& policy,
                                 const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                 TaskEnv& task, std::mt19937_64& rng) {
  CheckMetaParams("ReptileContribution: meta_params size", config, policy, meta_params);
  Eigen::VectorXd theta;
  Contribution result = LocalTraining("reptile", MetaMethod::kReptile, config, policy,
                                      meta_params, task, rng, theta);
  if (!result.ok()) return result;
  // the Reptile direction theta_K - theta (Nichol et al. 2018, Algorithm 2)
  result.vector = theta - meta_params;
  return result;
}

Contribution GradientContribution(const MetaConfig& config,
                                  const agents::GaussianMlpPolicy& policy,
                                  const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                  TaskEnv& task, std::mt19937_64& rng) {
  CheckMetaParams("GradientContribution: meta_params size", config, policy, meta_params);
  Contribution result;
  result.method = MetaMethod::kPretrained;
  TaskSampler sampler(policy, config.advantage, task, config.inner_episodes, rng);
  LossBatch batch;
  double mean_return = 0.0;
  const UpdateStatus status = sampler.Sample(meta_params, config.inner_episodes, rng, batch,
                                             mean_return, result.message,
                                             result.timing.inner_seconds);
  if (status != UpdateStatus::kOk) {
    Finish(sampler, result);
    return Fail(result, status, "pretrained: " + result.message);
  }
  result.pre_adaptation_return = mean_return;
  const auto start = std::chrono::steady_clock::now();
  result.vector.resize(policy.num_params());
  const agents::ScopedActivationMemo<double> memo(sampler.loss_workspace().mlp, batch.memo.get());
  result.outer_loss = agents::PolicyGradientLossGradient(
      policy, meta_params, batch.obs, batch.actions, batch.advantages, sampler.loss_workspace(),
      result.vector);
  result.timing.outer_seconds += SecondsSince(start);
  Finish(sampler, result);
  if (!std::isfinite(result.outer_loss) || !result.vector.allFinite()) {
    return Fail(result, UpdateStatus::kNonFiniteGradient,
                "pretrained: the loss or its gradient is not finite");
  }
  return result;
}

Contribution FedAvgContribution(const MetaConfig& config,
                                const agents::GaussianMlpPolicy& policy,
                                const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                TaskEnv& task, std::mt19937_64& rng) {
  CheckMetaParams("FedAvgContribution: meta_params size", config, policy, meta_params);
  Eigen::VectorXd theta;
  Contribution result = LocalTraining("fedavg", MetaMethod::kFedAvg, config, policy, meta_params,
                                      task, rng, theta);
  if (!result.ok()) return result;
  // the local model and its weight n_k (McMahan et al. 2017, FederatedAveraging)
  result.vector = std::move(theta);
  result.weight = static_cast<double>(result.work.episodes);
  return result;
}

Contribution ComputeContribution(const MetaConfig& config,
                                 const agents::GaussianMlpPolicy& policy,
                                 const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                 TaskEnv& task, std::mt19937_64& rng) {
  agents::ThrowIfInvalid("ComputeContribution", Validate(config));
  switch (config.method) {
    case MetaMethod::kMaml:
    case MetaMethod::kFomaml: return MamlContribution(config, policy, meta_params, task, rng);
    case MetaMethod::kReptile: return ReptileContribution(config, policy, meta_params, task, rng);
    case MetaMethod::kPretrained:
      return GradientContribution(config, policy, meta_params, task, rng);
    case MetaMethod::kFedAvg:
    case MetaMethod::kConsensus:  // the local step of consensus is fedavg's (meta/consensus.h)
      return FedAvgContribution(config, policy, meta_params, task, rng);
    case MetaMethod::kScratch: break;
  }
  throw std::invalid_argument(
      "ComputeContribution: method \"scratch\" has no contribution (expected maml, fomaml, "
      "reptile, pretrained or fedavg)");
}

}  // namespace metajoule::meta
