#pragma once
// Advantage estimation for the learners: the baseline (none, linear features, MLP critic) and
// GAE over a TrajectoryBatch, plus the input checks every update starts with.

#include <memory>
#include <optional>
#include <random>
#include <string>

#include "agents/baselines.h"
#include "agents/learner_config.h"
#include "agents/math/gaussian_policy.h"
#include "agents/trajectory.h"

namespace metajoule::agents {

/// Owns the baseline and turns a batch into advantages.
class AdvantageEstimator {
 public:
  /// `init_rng` initialises the MLP critic (unused for the other baselines).
  /// @throws std::invalid_argument when the config fails Validate or obs_dim < 1.
  AdvantageEstimator(int obs_dim, const AdvantageConfig& config, std::mt19937_64& init_rng);

  /// Advantages A_t (T) for `batch`, whose shapes the caller has checked:
  ///  - linear: refit on the discounted returns of this batch, then predict (MAML-RL order);
  ///    both kinds of episode end use V = 0 after the last step, as the returns it is fit to;
  ///  - mlp: predict V(s_t) and V(final obs) (bootstrapping kTruncated ends), compute GAE, then
  ///    fit the critic to the lambda-returns A_t + V(s_t) with `rng` shuffling;
  ///  - none: V = 0.
  /// Then GAE(gamma, lambda) and, when configured, normalisation. Returns kBaselineFailed
  /// (with `message`) when the linear regression fails, kOk otherwise; adds FLOPs to `flops`.
  UpdateStatus Compute(const TrajectoryBatch& batch, std::mt19937_64& rng,
                       Eigen::VectorXd& advantages, std::string* message, std::uint64_t* flops);

  const AdvantageConfig& config() const { return config_; }
  /// The critic, when baseline = "mlp".
  const MlpCritic* critic() const { return critic_ ? &*critic_ : nullptr; }

  /// The baseline's state under `prefix` ("linear/" or "critic/"), for checkpoints; LoadState
  /// throws StateError for a missing or mis-sized entry.
  void SaveState(StateArchive& archive, const std::string& prefix) const;
  void LoadState(const StateArchive& archive, const std::string& prefix);

 private:
  AdvantageConfig config_;
  std::optional<LinearFeatureBaseline> linear_;
  std::optional<MlpCritic> critic_;
};

namespace internal {

/// The checks at the start of every learner update: shapes (throws std::invalid_argument),
/// then finiteness of theta and of the batch. Returns a report with status kOk or the reason.
UpdateReport CheckUpdateInputs(const GaussianMlpPolicy& policy,
                               const Eigen::Ref<const Eigen::VectorXd>& theta,
                               const TrajectoryBatch& batch);

/// The calling thread's scratch for policies of `policy`'s layer sizes, with at least `batch`
/// columns: one per thread and layer-size list, grown to the largest batch seen and shared by
/// every learner update on the thread (PolicyWorkspace is "one per thread"). Learners keep no
/// batch-sized scratch of their own, so an agent holds none between its updates (it was ~5 MB
/// per agent, docs/scale.md), and no update pays for fresh pages. Every buffer is written before
/// it is read, so results do not depend on what ran on the thread before. The reference is
/// valid until the next call on the same thread.
PolicyWorkspace& ThreadWorkspace(const GaussianMlpPolicy& policy, Eigen::Index batch);

/// As above, for callers that need several of the thread's workspaces alive at once: each
/// `slot` (>= 0) is a workspace of its own, with the same growth and the same "written before
/// read" rule; slot 0 is the one the learners use. A MAML contribution keeps its loss workspace
/// in slot 1 and one tape per inner step in slots 2.. (meta/contribution.cc), so no
/// contribution allocates batch-sized scratch (fresh pages were ~40 % of its CPU time).
/// Growing a slot invalidates only that slot's earlier references.
/// @throws std::invalid_argument when slot < 0.
PolicyWorkspace& ThreadWorkspace(const GaussianMlpPolicy& policy, Eigen::Index batch, int slot);

}  // namespace internal
}  // namespace metajoule::agents
