#pragma once
// The agent node (issue 3): one robot. It owns its environment (SimRolloutEnv over its own
// sim::Env), its policy description and parameters theta, its learner (VPG, PPO or TRPO, as
// AgentsConfig selects), its random streams and its policy workspace, and it counts the work of
// every phase (rollout collection, learning, evaluation) for the energy ledger.
//
// Threading: an Agent shares no mutable state with anything, so a thread pool may run one Agent
// per work item (ThreadPool::ParallelFor over a vector of agents); results do not depend on the
// number of threads. CPU time is thread CPU time, so each call must run on one thread.
//
// Random streams (EnvPool-style per-agent seeds, STYLE.md section 6): the agent's seed is
// sim::DeriveSeed(base_seed, id); from it, independent streams DeriveSeed(seed, s) drive
//   s = 0: the initial theta and the learner's own initialisation (MLP critic),
//   s = 1: rollout collection (action noise and environment resets),
//   s = 2: the learner's updates (PPO shuffling, critic minibatches),
//   s = 3: evaluation; evaluation call k uses DeriveSeed(DeriveSeed(seed, 3), k),
// so evaluating never changes the learning curve, and the same (base_seed, id) always gives the
// same curve.

#include <cstdint>
#include <random>
#include <string>
#include <variant>

#include "agents/agent_config.h"
#include "agents/math/eigen.h"
#include "agents/math/gaussian_policy.h"
#include "agents/ppo.h"
#include "agents/sim_env.h"
#include "agents/trajectory.h"
#include "agents/trpo.h"
#include "agents/vpg.h"
#include "common/state_archive.h"
#include "sim/task_config.h"
#include "sim/task_family.h"
#include "sim/world.h"

namespace metajoule::agents {

/// Work done by one call or accumulated over a phase, in the raw units the ledger stores
/// (DESIGN.md "Energy model"): the ledger converts them to device time and joules.
struct WorkCounters {
  std::int64_t env_steps{0};       ///< environment steps (SimRolloutEnv::Step calls)
  std::int64_t sim_steps{0};       ///< simulator calls (mj_step; mj_kinematics for nav2d)
  std::uint64_t policy_flops{0};   ///< policy, baseline and optimiser FLOPs (docs/agents.md rule)
  double cpu_seconds{0.0};         ///< thread CPU time, clock_gettime(CLOCK_THREAD_CPUTIME_ID)
  double wall_seconds{0.0};        ///< elapsed steady-clock time
  WorkCounters& operator+=(const WorkCounters& other);
};

/// What the ledger charges separately: rollouts for learning, learner updates, evaluation
/// rollouts (an experiment decides whether evaluation is charged).
enum class Phase : std::uint8_t { kCollect, kLearn, kEvaluate };

/// Work accumulated per phase since construction.
struct AgentWork {
  WorkCounters collect{};
  WorkCounters learn{};
  WorkCounters evaluate{};
  /// The counters of `phase`.
  const WorkCounters& of(Phase phase) const;
};

/// The outcome of one Iterate (collect + learn).
struct IterationReport {
  int iteration{0};                  ///< 1 for the first Iterate call
  std::int64_t total_env_steps{0};   ///< training env steps so far (collect phase), this included
  double mean_return{0.0};           ///< mean undiscounted return of the batch (pi_theta before the update)
  int episodes{0};                   ///< episodes in the batch
  UpdateReport update{};             ///< the learner's report (theta unchanged unless update.ok())
  WorkCounters collect{};            ///< work of this iteration's collection
  WorkCounters learn{};              ///< work of this iteration's update
};

class Agent {
 public:
  /// Builds agent `id` (>= 0) on `task` of `world`'s family: its environment (a copy of the
  /// model with the task applied; `world` is not referred to afterwards), the policy described by
  /// config.policy, theta initialised from stream 0 (Glorot weights, log-std
  /// config.policy.init_log_std), and config.learner's learner.
  /// @throws std::invalid_argument when config fails Validate (naming the first key), id < 0,
  /// or sim::Env rejects the task or env_config.
  Agent(int id, const sim::World& world, const sim::Task& task, const sim::EnvConfig& env_config,
        const AgentsConfig& config, std::uint64_t base_seed);

  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  Agent(Agent&&) = default;
  Agent& operator=(Agent&&) = default;
  ~Agent() = default;

  /// Runs `episodes` episodes of pi_theta (sampled actions) on the agent's environment with the
  /// collection stream. `theta`: policy().num_params() entries (the agent's own theta() or one
  /// received from a meta-learner). Returns the batch; its work goes to work().collect and
  /// last_work().
  /// @throws std::invalid_argument on a theta of the wrong size or episodes < 1.
  TrajectoryBatch Collect(const Eigen::Ref<const Eigen::VectorXd>& theta, int episodes);

  /// One learner update of the agent's own theta on `batch` (collected with pi_theta for PPO
  /// and TRPO, whose ratios are taken against batch.log_probs / pi_theta). theta is unchanged
  /// unless the report is ok(). Work goes to work().learn and last_work() (FLOPs from the report).
  /// @throws std::invalid_argument on a batch of the wrong shape.
  UpdateReport Learn(const TrajectoryBatch& batch);

  /// Mean undiscounted return of `episodes` evaluation episodes of pi_theta. Actions follow
  /// config().evaluation_actions: sampled (default, as MAML-RL reports returns) or the mean
  /// mu_theta(s). Evaluation call k draws from its own stream (file comment), so the result is
  /// deterministic given the seed and the number of earlier Evaluate calls, and training
  /// randomness is untouched. Work goes to work().evaluate and last_work().
  /// @throws std::invalid_argument on a theta of the wrong size or episodes < 1.
  double Evaluate(const Eigen::Ref<const Eigen::VectorXd>& theta, int episodes);

  /// The from-scratch loop body: Collect(theta(), config().episodes_per_update), then Learn.
  IterationReport Iterate();

  /// Replaces theta (e.g. a model received over the downlink). The learner's optimiser state
  /// (PPO/VPG Adam moments) is kept.
  /// @throws std::invalid_argument on a theta of the wrong size.
  void SetTheta(const Eigen::Ref<const Eigen::VectorXd>& theta);

  int id() const { return id_; }
  /// sim::DeriveSeed(base_seed, id): the root of the agent's streams.
  std::uint64_t seed() const { return seed_; }
  const AgentsConfig& config() const { return config_; }
  const GaussianMlpPolicy& policy() const { return policy_; }
  /// The agent's parameters (policy().num_params()).
  const Eigen::VectorXd& theta() const { return theta_; }
  const SimRolloutEnv& env() const { return env_; }
  const sim::Task& task() const { return env_.env().task(); }
  /// Episode length of the agent's environment.
  int horizon() const { return env_.horizon(); }
  /// Iterate calls so far.
  int iterations() const { return iterations_; }
  /// Work per phase since construction.
  const AgentWork& work() const { return work_; }
  /// Work of the most recent Collect, Learn or Evaluate call (Iterate: its Learn).
  const WorkCounters& last_work() const { return last_work_; }

  /// Everything that carries over from one Iterate to the next (theta, the random streams'
  /// states, the learner's optimiser and baseline, the call counters and the work so far)
  /// under `prefix`, for checkpoints (`metajoule run --resume`). An agent built with the same
  /// arguments that loads it continues exactly as this one would.
  void SaveState(StateArchive& archive, const std::string& prefix) const;
  /// Restores what SaveState wrote. Throws StateError naming a missing or mis-sized entry; the
  /// agent is then unchanged only up to the entries read before it (rebuild it to retry).
  void LoadState(const StateArchive& archive, const std::string& prefix);

 private:
  using Learner = std::variant<VpgLearner, PpoLearner, TrpoLearner>;

  double EvaluateMean(const Eigen::Ref<const Eigen::VectorXd>& theta, int episodes,
                      std::mt19937_64& rng);

  int id_;
  std::uint64_t seed_;
  AgentsConfig config_;
  SimRolloutEnv env_;
  GaussianMlpPolicy policy_;
  std::mt19937_64 init_rng_;
  std::mt19937_64 collect_rng_;
  std::mt19937_64 learn_rng_;
  std::uint64_t evaluation_seed_;
  Eigen::VectorXd theta_;
  std::uint64_t evaluations_{0};
  Learner learner_;
  PolicyWorkspace ws_;
  Eigen::VectorXd obs_;
  Eigen::VectorXd next_obs_;
  int iterations_{0};
  AgentWork work_{};
  WorkCounters last_work_{};
};

}  // namespace metajoule::agents
