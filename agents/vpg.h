#pragma once
// Vanilla policy gradient / REINFORCE with a baseline and GAE (Williams 1992; Sutton et al.
// 2000; Schulman et al. 2016): one gradient step on L_PG per batch (losses.h).

#include <optional>
#include <random>

#include "agents/advantages.h"
#include "agents/learner_config.h"
#include "agents/math/gaussian_policy.h"
#include "agents/optimizers.h"
#include "agents/trajectory.h"

namespace metajoule::agents {

class VpgLearner {
 public:
  /// @throws std::invalid_argument when `config` fails Validate.
  VpgLearner(const GaussianMlpPolicy& policy, const VpgConfig& config, std::mt19937_64& init_rng);

  /// Estimates advantages on `batch`, then takes one SGD or Adam step on L_PG at theta.
  /// On any status but kOk, theta is left unchanged.
  /// @throws std::invalid_argument on wrong batch or theta sizes.
  UpdateReport Update(const TrajectoryBatch& batch, std::mt19937_64& rng,
                      Eigen::Ref<Eigen::VectorXd> theta);

  const GaussianMlpPolicy& policy() const { return policy_; }
  const VpgConfig& config() const { return config_; }

  /// The learner's state across updates (optimiser moments, baseline) under `prefix`, for
  /// checkpoints; LoadState throws StateError for a missing or mis-sized entry.
  void SaveState(StateArchive& archive, const std::string& prefix) const;
  void LoadState(const StateArchive& archive, const std::string& prefix);

 private:
  GaussianMlpPolicy policy_;
  VpgConfig config_;
  AdvantageEstimator estimator_;
  std::optional<Adam> adam_;
  Eigen::VectorXd grad_;
};

}  // namespace metajoule::agents
