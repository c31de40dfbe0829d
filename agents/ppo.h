#pragma once
// Proximal policy optimisation with the clipped surrogate (Schulman et al. 2017, eq. 7):
// several epochs of shuffled minibatch Adam steps per batch.

#include <random>

#include "agents/advantages.h"
#include "agents/learner_config.h"
#include "agents/math/gaussian_policy.h"
#include "agents/optimizers.h"
#include "agents/trajectory.h"

namespace metajoule::agents {

class PpoLearner {
 public:
  /// @throws std::invalid_argument when `config` fails Validate.
  PpoLearner(const GaussianMlpPolicy& policy, const PpoConfig& config, std::mt19937_64& init_rng);

  /// Estimates advantages, then runs `epochs` passes of minibatch Adam on L_CLIP with the
  /// ratios taken against batch.log_probs (the collecting policy), shuffling with `rng`.
  /// Minimises L_CLIP - entropy_coef H[pi]; clips each gradient to max_grad_norm.
  /// On any status but kOk, theta is left unchanged.
  /// @throws std::invalid_argument on wrong batch or theta sizes.
  UpdateReport Update(const TrajectoryBatch& batch, std::mt19937_64& rng,
                      Eigen::Ref<Eigen::VectorXd> theta);

  const GaussianMlpPolicy& policy() const { return policy_; }
  const PpoConfig& config() const { return config_; }

  /// The learner's state across updates (optimiser moments, baseline) under `prefix`, for
  /// checkpoints; LoadState throws StateError for a missing or mis-sized entry.
  void SaveState(StateArchive& archive, const std::string& prefix) const;
  void LoadState(const StateArchive& archive, const std::string& prefix);

 private:
  GaussianMlpPolicy policy_;
  PpoConfig config_;
  AdvantageEstimator estimator_;
  Adam adam_;
  Eigen::VectorXd grad_;
};

}  // namespace metajoule::agents
