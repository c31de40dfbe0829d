#pragma once
// The meta-learner side of a round: aggregate the contributions the agents sent (in task
// order) and update the meta-parameters phi.
//   maml, fomaml, pretrained: g = (1/n) sum_i g_i, then one Adam or SGD step on g
//                             (Finn et al. 2017, Algorithm 3, line 10, with Adam);
//   reptile:                  phi <- phi + epsilon (1/n) sum_i (theta'_i - phi)
//                             (Nichol et al. 2018, Algorithm 2, batched version);
//   fedavg:                   phi <- sum_i w_i theta'_i / sum_i w_i (McMahan et al. 2017);
//   maml, fomaml with outer = "trpo": the MAML-TRPO step of meta/meta_trpo.h (it needs the
//                             contributions' traces, i.e. in-process training).
// Contributions with a failed status, a wrong size or non-finite entries are rejected (counted
// and named in the report); when none is left, or the step would make phi non-finite, the
// update is rejected and phi and the optimiser state stay as they were.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "agents/math/eigen.h"
#include "agents/math/gaussian_policy.h"
#include "agents/optimizers.h"
#include "agents/trajectory.h"
#include "common/state_archive.h"
#include "meta/contribution.h"
#include "meta/meta_config.h"

namespace metajoule::meta {

/// What one meta-update did.
struct AggregateReport {
  agents::UpdateStatus status{agents::UpdateStatus::kOk};
  std::string message{};  ///< why, when rejected; also lists rejected contributions
  int accepted{0};        ///< contributions aggregated
  int rejected{0};        ///< contributions dropped (failed, wrong size or non-finite)
  double aggregate_norm{0.0};  ///< 2-norm of the aggregated vector (before clipping)
  double step_norm{0.0};       ///< 2-norm of the change of phi
  std::uint64_t flops{0};      ///< aggregation and optimiser FLOPs
  // outer = "trpo" only (meta/meta_trpo.h): the surrogate before and after the step, the mean
  // KL of the adapted policies after it, line-search probes and CG iterations used
  double surrogate_before{0.0};
  double surrogate_after{0.0};
  double kl{0.0};
  int line_search_steps{0};
  int cg_iterations{0};
  bool ok() const { return status == agents::UpdateStatus::kOk; }
};

/// The weighted mean of the accepted contributions' vectors into `mean` (weights: Contribution::
/// weight for fedavg, 1 otherwise), in the order given. Returns the number accepted; the
/// indices of rejected ones are appended to `rejected` (may be null).
int AggregateContributions(MetaMethod method, std::span<const Contribution> contributions,
                           Eigen::Index size, Eigen::VectorXd& mean,
                           std::vector<int>* rejected = nullptr);

/// Holds phi and the outer optimiser state.
class MetaLearner {
 public:
  /// @throws std::invalid_argument when config fails Validate, method is scratch or
  /// initial_meta_params.size() != MetaParamCount(config, policy).
  MetaLearner(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
              Eigen::VectorXd initial_meta_params);

  /// Aggregates and updates phi (file comment). Never throws on bad contributions; they are
  /// rejected and reported.
  AggregateReport Update(std::span<const Contribution> contributions);

  /// phi (MetaParamCount entries).
  const Eigen::VectorXd& meta_params() const { return phi_; }
  /// The policy part theta of phi (P entries).
  Eigen::VectorXd theta() const { return phi_.head(num_policy_params_); }
  std::int64_t updates() const { return updates_; }

  /// phi, the outer optimiser's state and the update count under `prefix`, for checkpoints
  /// (`metajoule run --resume`): a learner built with the same arguments that loads them
  /// continues exactly as this one would. LoadState throws StateError naming a missing or
  /// mis-sized entry.
  void SaveState(StateArchive& archive, const std::string& prefix) const;
  void LoadState(const StateArchive& archive, const std::string& prefix);

 private:
  MetaConfig config_;
  agents::GaussianMlpPolicy policy_;
  Eigen::Index num_policy_params_;
  Eigen::VectorXd phi_;
  std::optional<agents::Adam> adam_;
  std::int64_t updates_{0};
};

}  // namespace metajoule::meta
