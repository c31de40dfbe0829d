#include "agents/trajectory.h"

#include <stdexcept>

#include "agents/math/checks.h"

namespace metajoule::agents {

using internal::CheckSize;

std::string_view UpdateStatusName(UpdateStatus status) {
  switch (status) {
    case UpdateStatus::kOk: return "ok";
    case UpdateStatus::kNonFiniteInput: return "non-finite input";
    case UpdateStatus::kNonFiniteParams: return "non-finite parameters";
    case UpdateStatus::kNonFiniteGradient: return "non-finite loss or gradient";
    case UpdateStatus::kBaselineFailed: return "baseline fit failed";
    case UpdateStatus::kLineSearchFailed: return "line search failed";
  }
  return "unknown";
}

UpdateStatus CheckTrajectoryBatch(const TrajectoryBatch& batch, int obs_dim, int act_dim,
                                  std::string* message) {
  const Eigen::Index steps = batch.rewards.size();
  if (steps < 1) throw std::invalid_argument("TrajectoryBatch: expected >= 1 steps, got 0");
  CheckSize("TrajectoryBatch: obs rows", batch.obs.rows(), obs_dim);
  CheckSize("TrajectoryBatch: obs columns", batch.obs.cols(), steps);
  CheckSize("TrajectoryBatch: actions rows", batch.actions.rows(), act_dim);
  CheckSize("TrajectoryBatch: actions columns", batch.actions.cols(), steps);
  CheckSize("TrajectoryBatch: log_probs size", batch.log_probs.size(), steps);
  CheckSize("TrajectoryBatch: ends size", static_cast<Eigen::Index>(batch.ends.size()), steps);
  const Eigen::Index episodes = batch.num_episodes();
  CheckSize("TrajectoryBatch: final_obs rows", batch.final_obs.rows(), obs_dim);
  CheckSize("TrajectoryBatch: final_obs columns (one per episode)", batch.final_obs.cols(),
            episodes);
  const auto report = [&](const char* what) {
    if (message != nullptr) *message = std::string("TrajectoryBatch: NaN or inf in ") + what;
    return UpdateStatus::kNonFiniteInput;
  };
  if (!batch.obs.allFinite()) return report("obs");
  if (!batch.actions.allFinite()) return report("actions");
  if (!batch.rewards.allFinite()) return report("rewards");
  if (!batch.log_probs.allFinite()) return report("log_probs");
  if (!batch.final_obs.allFinite()) return report("final_obs");
  return UpdateStatus::kOk;
}

std::vector<int> EpisodeTimeSteps(std::span<const StepEnd> ends) {
  std::vector<int> time_steps(ends.size());
  int t = 0;
  for (std::size_t i = 0; i < ends.size(); ++i) {
    time_steps[i] = t;
    t = ends[i] == StepEnd::kNone ? t + 1 : 0;
  }
  return time_steps;
}

Eigen::VectorXd EpisodeReturns(const TrajectoryBatch& batch) {
  Eigen::VectorXd returns = Eigen::VectorXd::Zero(batch.num_episodes());
  Eigen::Index episode = 0;
  for (Eigen::Index t = 0; t < batch.num_steps(); ++t) {
    returns(episode) += batch.rewards(t);
    if (batch.ends[t] != StepEnd::kNone) ++episode;
  }
  return returns;
}

TrajectoryBatch CollectEpisodes(const GaussianMlpPolicy& policy,
                                const Eigen::Ref<const Eigen::VectorXd>& theta, RolloutEnv& env,
                                int num_episodes, int max_steps, std::mt19937_64& rng,
                                PolicyWorkspace& ws, ActivationMemo* record) {
  CheckSize("CollectEpisodes: env obs_dim", env.obs_dim(), policy.obs_dim());
  CheckSize("CollectEpisodes: env act_dim", env.act_dim(), policy.act_dim());
  CheckSize("CollectEpisodes: theta size", theta.size(), policy.num_params());
  if (num_episodes < 1 || max_steps < 1) {
    throw std::invalid_argument("CollectEpisodes: expected num_episodes, max_steps >= 1, got " +
                                std::to_string(num_episodes) + ", " + std::to_string(max_steps));
  }
  const int obs_dim = policy.obs_dim();
  const int act_dim = policy.act_dim();
  const Eigen::Index capacity = Eigen::Index{num_episodes} * max_steps;
  TrajectoryBatch batch;
  batch.obs.resize(obs_dim, capacity);
  batch.actions.resize(act_dim, capacity);
  batch.rewards.resize(capacity);
  batch.log_probs.resize(capacity);
  batch.ends.reserve(static_cast<std::size_t>(capacity));
  batch.final_obs.resize(obs_dim, num_episodes);
  Eigen::VectorXd obs(obs_dim);
  Eigen::VectorXd log_prob(1);
  // the memo records the rollout's own Forward calls (one column each), for this theta only;
  // the guard detaches it however the loop ends
  struct RecordGuard {
    MlpWorkspace& mlp;
    ~RecordGuard() { mlp.record = nullptr; }
  } record_guard{ws.mlp};
  if (record != nullptr) {
    record->Start(policy.mlp(), theta.head(policy.num_mlp_params()), capacity);
    ws.mlp.record = record;
  }
  Eigen::Index t = 0;
  for (int episode = 0; episode < num_episodes; ++episode) {
    env.Reset(rng, obs);
    for (int step = 0; step < max_steps; ++step) {
      // sample a_t ~ pi_theta(. | s_t), then step the environment
      batch.obs.col(t) = obs;
      SampleActions(policy, theta, batch.obs.col(t), rng, ws, batch.actions.col(t), log_prob);
      batch.log_probs(t) = log_prob(0);
      const StepResult result = env.Step(batch.actions.col(t), obs);
      batch.rewards(t) = result.reward;
      StepEnd end = result.end;
      if (end == StepEnd::kNone && step + 1 == max_steps) end = StepEnd::kTruncated;
      batch.ends.push_back(end);
      ++t;
      if (end != StepEnd::kNone) break;
    }
    batch.final_obs.col(episode) = obs;
  }
  batch.obs.conservativeResize(obs_dim, t);
  batch.actions.conservativeResize(act_dim, t);
  batch.rewards.conservativeResize(t);
  batch.log_probs.conservativeResize(t);
  return batch;
}

}  // namespace metajoule::agents
