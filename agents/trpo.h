#pragma once
// Trust-region policy optimisation (Schulman et al. 2015, section 6 and appendix C), as the
// MAML-RL code runs it: the natural-gradient direction x = (F + damping I)^{-1} g by conjugate
// gradient with exact Fisher-vector products, scaled to the KL boundary
// (step = x / sqrt(x^T F x / (2 max_kl))), then a backtracking line search that accepts the
// first step that lowers the surrogate loss and keeps the mean KL below max_kl.

#include <random>

#include "agents/advantages.h"
#include "agents/learner_config.h"
#include "agents/math/gaussian_policy.h"
#include "agents/trajectory.h"

namespace metajoule::agents {

class TrpoLearner {
 public:
  /// @throws std::invalid_argument when `config` fails Validate.
  TrpoLearner(const GaussianMlpPolicy& policy, const TrpoConfig& config, std::mt19937_64& init_rng);

  /// One TRPO step on `batch` (ratios against pi_theta at entry). `rng` is used only by an MLP
  /// critic. Returns kLineSearchFailed (theta unchanged) when no backtracking step satisfies
  /// both conditions; any status but kOk leaves theta unchanged.
  /// @throws std::invalid_argument on wrong batch or theta sizes.
  UpdateReport Update(const TrajectoryBatch& batch, std::mt19937_64& rng,
                      Eigen::Ref<Eigen::VectorXd> theta);

  const GaussianMlpPolicy& policy() const { return policy_; }
  const TrpoConfig& config() const { return config_; }

 private:
  GaussianMlpPolicy policy_;
  TrpoConfig config_;
  AdvantageEstimator estimator_;
};

}  // namespace metajoule::agents
