#pragma once
// The agent side of one meta-learning round, in flat vectors (what the network layer carries;
// nothing here assumes one process). The meta-learner sends the meta-parameters phi on the
// downlink; an agent runs ComputeContribution on its own task and sends Contribution::vector
// on the uplink, with its work counts for the energy ledger.
//
// Meta-parameter layout: phi = theta (P = policy.num_params() entries), or, with Meta-SGD
// (MetaConfig::learn_inner_lr, Li et al. 2017), phi = [theta; alpha] with one inner learning
// rate per parameter (2 P entries).
//
// Contribution::vector, per method (docs/meta.md "What moves over the network"):
//   maml       [dJ/dtheta; dJ/dalpha if Meta-SGD]: the exact second-order meta-gradient
//              (meta_gradient.h) on this task's inner batches and outer batch;
//   fomaml     the same without the Hessian terms: grad L_out(theta') (and dJ/dalpha);
//   reptile    theta_K - theta after K = inner_steps SGD steps (Nichol et al. 2018, Alg. 2);
//   pretrained grad L_PG(theta) on one batch at theta (joint multi-task training, FedSGD);
//   fedavg     theta_K, the locally trained model (McMahan et al. 2017, FederatedAveraging).
// Every inner or local step is a VPG step theta_{k+1} = theta_k - alpha grad L_PG(theta_k; D_k)
// on a fresh batch D_k of inner_episodes trajectories sampled from pi_{theta_k}, with
// advantages from MetaConfig::advantage (linear baseline refit on each batch, GAE, normalised).
// Randomness (actions and environment resets) comes only from the `rng` argument; callers give
// each task and round its own stream (StreamSeed(seed, round, task)).

#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "agents/math/eigen.h"
#include "agents/math/gaussian_policy.h"
#include "agents/trajectory.h"
#include "meta/meta_config.h"
#include "meta/meta_gradient.h"
#include "meta/task_env.h"

namespace metajoule::meta {

/// Wall-clock seconds spent in each phase of a contribution (diagnostics for the benchmark;
/// they do not influence any result).
struct ContributionTiming {
  double sampling_seconds{0.0};  ///< CollectEpisodes (policy sampling + environment steps)
  double inner_seconds{0.0};     ///< advantages of the inner batches and the inner steps
  double outer_seconds{0.0};     ///< outer-batch advantages and the meta-gradient backward pass
  double total() const { return sampling_seconds + inner_seconds + outer_seconds; }
};

/// The batches of a maml/fomaml contribution, kept for the in-process MAML-TRPO outer step
/// (meta/meta_trpo.h), which re-runs the adaptation on them. Never sent over the network.
struct MamlTrace {
  std::vector<LossBatch> inner;  ///< D_0..D_{K-1}, with their advantages
  LossBatch outer;               ///< D_out
};

/// What an agent sends back after one round, and what it cost.
struct Contribution {
  MetaMethod method{MetaMethod::kMaml};
  agents::UpdateStatus status{agents::UpdateStatus::kOk};
  std::string message{};  ///< why, when status != kOk
  Eigen::VectorXd vector{};  ///< the uplink payload (layout in the file comment); finite if ok
  double weight{1.0};        ///< FedAvg weight: episodes collected (1 for the other methods)
  WorkCounts work{};
  /// Mean undiscounted episode return of the first batch, at theta (before adaptation).
  double pre_adaptation_return{std::numeric_limits<double>::quiet_NaN()};
  /// maml/fomaml: mean return of the outer batch, at theta' (after adaptation); reptile/fedavg:
  /// of the last batch when inner_steps > 1 (at theta_{K-1}); NaN otherwise.
  double post_adaptation_return{std::numeric_limits<double>::quiet_NaN()};
  double outer_loss{std::numeric_limits<double>::quiet_NaN()};  ///< maml/fomaml: L_out(theta')
  ContributionTiming timing{};
  /// maml/fomaml with outer = "trpo": the batches (null otherwise, and for a failed one).
  std::shared_ptr<const MamlTrace> trace{};
  bool ok() const { return status == agents::UpdateStatus::kOk; }
};

/// Size of phi: P, or 2 P with learn_inner_lr.
Eigen::Index MetaParamCount(const MetaConfig& config, const agents::GaussianMlpPolicy& policy);

/// A fresh phi: policy.InitializeParams(rng, init_log_std) (Glorot MLP, log-std init_log_std),
/// then alpha = inner_lr for every parameter when learn_inner_lr.
Eigen::VectorXd InitialMetaParams(const MetaConfig& config,
                                  const agents::GaussianMlpPolicy& policy, double init_log_std,
                                  std::mt19937_64& rng);

/// The inner learning rates of phi: its last P entries with learn_inner_lr, else {inner_lr}.
/// @throws std::invalid_argument when phi.size() != MetaParamCount.
Eigen::VectorXd InnerRates(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                           const Eigen::Ref<const Eigen::VectorXd>& meta_params);

/// maml / fomaml (and maml with first_order): the meta-gradient on this task.
Contribution MamlContribution(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                              const Eigen::Ref<const Eigen::VectorXd>& meta_params, TaskEnv& task,
                              std::mt19937_64& rng);
/// reptile: theta_K - theta.
Contribution ReptileContribution(const MetaConfig& config,
                                 const agents::GaussianMlpPolicy& policy,
                                 const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                 TaskEnv& task, std::mt19937_64& rng);
/// pretrained: grad L_PG(theta) on one batch of inner_episodes trajectories.
Contribution GradientContribution(const MetaConfig& config,
                                  const agents::GaussianMlpPolicy& policy,
                                  const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                  TaskEnv& task, std::mt19937_64& rng);
/// fedavg: theta_K.
Contribution FedAvgContribution(const MetaConfig& config,
                                const agents::GaussianMlpPolicy& policy,
                                const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                TaskEnv& task, std::mt19937_64& rng);

/// Dispatches on config.method. Non-finite phi, a non-finite inner step, loss or result, or a
/// failed baseline fit give a Contribution with that status (and an empty vector), never a
/// throw.
/// @throws std::invalid_argument when config fails Validate, method is scratch (nothing to
/// send), phi has the wrong size, or task.env is null / has other dimensions than the policy.
Contribution ComputeContribution(const MetaConfig& config,
                                 const agents::GaussianMlpPolicy& policy,
                                 const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                 TaskEnv& task, std::mt19937_64& rng);

}  // namespace metajoule::meta
