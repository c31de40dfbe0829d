#pragma once
// Trust-region policy optimisation (Schulman et al. 2015, section 6 and appendix C), as the
// MAML-RL code runs it: the natural-gradient direction x = (F + damping I)^{-1} g by conjugate
// gradient with exact Fisher-vector products, scaled to the KL boundary
// (step = x / sqrt(x^T F x / (2 max_kl))), then a backtracking line search that accepts the
// first step that lowers the surrogate loss and keeps the mean KL below max_kl.

#include <functional>
#include <random>
#include <string>

#include "agents/advantages.h"
#include "agents/learner_config.h"
#include "agents/math/conjugate_gradient.h"
#include "agents/math/gaussian_policy.h"
#include "agents/trajectory.h"

namespace metajoule::agents {

/// The loss and the KL divergence from the start point at a candidate parameter vector (a
/// line-search probe): writes them into its second and third arguments.
using TrustRegionProbe =
    std::function<void(const Eigen::Ref<const Eigen::VectorXd>&, double&, double&)>;

/// What TrustRegionStep did.
struct TrustRegionResult {
  UpdateStatus status{UpdateStatus::kOk};  ///< kOk, kLineSearchFailed or kNonFiniteGradient
  std::string message{};
  int cg_iterations{0};
  int line_search_steps{0};  ///< probes evaluated
  double loss{0.0};          ///< at the accepted point
  double kl{0.0};            ///< at the accepted point
  std::uint64_t flops{0};    ///< conjugate-gradient vector FLOPs (the products count their own)
};

/// The TRPO step of any objective with a KL trust region (Schulman et al. 2015, appendix C),
/// shared by TrpoLearner and MAML-TRPO (meta/meta_trpo.h): x = (A + damping I)^{-1} grad by
/// conjugate gradient (cg_iters, cg_residual_tol, cg_damping of `config`), where `curvature`
/// writes A p, the Hessian of the mean KL at theta_old (damping is added here); the full step
/// s = x / sqrt(x^T (A + damping I) x / (2 max_kl)); then backtracking theta_old - r^k s,
/// k = 0..line_search_steps-1, r = line_search_ratio, accepting the first probe whose loss is
/// below `loss_before` and whose KL is below max_kl (both finite). On success writes the
/// accepted point into `theta`; otherwise `theta` is left unchanged. config.advantage is unused.
TrustRegionResult TrustRegionStep(const LinearOperator& curvature,
                                  const Eigen::Ref<const Eigen::VectorXd>& grad,
                                  double loss_before, const TrustRegionProbe& probe,
                                  const TrustRegionConfig& config,
                                  Eigen::Ref<Eigen::VectorXd> theta);

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

  /// The learner's state across updates (optimiser moments, baseline) under `prefix`, for
  /// checkpoints; LoadState throws StateError for a missing or mis-sized entry.
  void SaveState(StateArchive& archive, const std::string& prefix) const;
  void LoadState(const StateArchive& archive, const std::string& prefix);

 private:
  GaussianMlpPolicy policy_;
  TrpoConfig config_;
  AdvantageEstimator estimator_;
};

}  // namespace metajoule::agents
