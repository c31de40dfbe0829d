#pragma once
// The trajectory batch the learners consume, the status they report, and the environment
// interface they see. The environment stays abstract (RolloutEnv): the agent node adapts
// sim::Env to it, tests use toy problems; nothing here includes sim/ or MuJoCo.

#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agents/math/eigen.h"
#include "agents/math/gae.h"
#include "agents/math/gaussian_policy.h"

namespace metajoule::agents {

/// Consecutive complete episodes stored back to back as flat buffers (T steps in all; batches
/// are columns). Episode e consists of the steps up to and including the e-th entry of `ends`
/// that is not kNone.
struct TrajectoryBatch {
  Eigen::MatrixXd obs;        ///< s_t, obs_dim x T
  Eigen::MatrixXd actions;    ///< a_t as sampled (unclipped), act_dim x T
  Eigen::VectorXd rewards;    ///< r_t, T
  Eigen::VectorXd log_probs;  ///< log pi_old(a_t | s_t) at collection, T
  std::vector<StepEnd> ends;  ///< how each step ends, T; the last is not kNone
  Eigen::MatrixXd final_obs;  ///< the observation after each episode's last step, obs_dim x E

  Eigen::Index num_steps() const { return rewards.size(); }
  /// E, the number of episodes (throws like CountEpisodes when the last step is kNone).
  Eigen::Index num_episodes() const { return CountEpisodes(ends); }
};

/// Why an update was applied or rejected. Anything but kOk leaves the parameters unchanged.
enum class UpdateStatus : std::uint8_t {
  kOk,
  kNonFiniteInput,     ///< NaN/inf in observations, actions, rewards or log-probs
  kNonFiniteParams,    ///< NaN/inf in the parameters given, or produced by the step
  kNonFiniteGradient,  ///< the loss or its gradient is NaN/inf
  kBaselineFailed,     ///< the baseline regression failed at every regularisation
  kLineSearchFailed,   ///< TRPO: no step improved the surrogate within max_kl
};
std::string_view UpdateStatusName(UpdateStatus status);

/// What one learner update did. Loss and KL figures are NaN when not computed.
struct UpdateReport {
  UpdateStatus status{UpdateStatus::kOk};
  std::string message{};  ///< why, when status != kOk
  double loss_before{std::numeric_limits<double>::quiet_NaN()};
  double loss_after{std::numeric_limits<double>::quiet_NaN()};
  double kl{std::numeric_limits<double>::quiet_NaN()};  ///< mean KL(pi_old || pi_new)
  double entropy{std::numeric_limits<double>::quiet_NaN()};
  double mean_episode_return{std::numeric_limits<double>::quiet_NaN()};  ///< undiscounted
  double clip_fraction{std::numeric_limits<double>::quiet_NaN()};       ///< PPO
  int line_search_steps{0};                                             ///< TRPO backtracks
  std::uint64_t flops{0};  ///< policy, baseline and optimiser FLOPs of this update
  bool ok() const { return status == UpdateStatus::kOk; }
};

/// Checks the shapes of `batch` against the policy sizes and throws std::invalid_argument
/// ("expected X, got Y") on a mismatch; returns kNonFiniteInput with a message naming the
/// first offending buffer when a value is NaN or infinite, kOk otherwise.
UpdateStatus CheckTrajectoryBatch(const TrajectoryBatch& batch, int obs_dim, int act_dim,
                                  std::string* message);

/// The time index of each step within its episode (0, 1, ..., restarting after each end).
std::vector<int> EpisodeTimeSteps(std::span<const StepEnd> ends);

/// Undiscounted return of each episode (E entries).
Eigen::VectorXd EpisodeReturns(const TrajectoryBatch& batch);

/// The result of one environment step.
struct StepResult {
  double reward{0.0};
  StepEnd end{StepEnd::kNone};
};

/// What rollout collection needs from an environment: the agent node wraps sim::Env in it.
class RolloutEnv {
 public:
  virtual ~RolloutEnv() = default;
  virtual int obs_dim() const = 0;
  virtual int act_dim() const = 0;
  /// Starts an episode and writes its first observation (obs_dim).
  virtual void Reset(std::mt19937_64& rng, Eigen::Ref<Eigen::VectorXd> obs) = 0;
  /// Applies `action` (act_dim, the unclipped policy sample; the environment clips if it must)
  /// and writes the next observation (obs_dim).
  virtual StepResult Step(const Eigen::Ref<const Eigen::VectorXd>& action,
                          Eigen::Ref<Eigen::VectorXd> next_obs) = 0;
};

/// Runs `num_episodes` episodes of pi_theta in `env`, sampling actions with `rng` (the same rng
/// seeds the environment resets). An episode that reaches `max_steps` without ending is marked
/// kTruncated. `ws` needs max_batch >= 1. Adds the policy FLOPs to ws.
/// With `record`, every step's MLP activations (its input, hidden layers and output) are kept
/// there, column t for step t, for the MLP part of `theta` (ActivationMemo, agents/math/mlp.h):
/// a loss on the returned batch at the same theta takes its forward pass from there.
/// @throws std::invalid_argument on mismatched sizes or num_episodes, max_steps < 1.
TrajectoryBatch CollectEpisodes(const GaussianMlpPolicy& policy,
                                const Eigen::Ref<const Eigen::VectorXd>& theta, RolloutEnv& env,
                                int num_episodes, int max_steps, std::mt19937_64& rng,
                                PolicyWorkspace& ws, ActivationMemo* record = nullptr);

}  // namespace metajoule::agents
