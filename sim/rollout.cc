#include "sim/rollout.h"

#include <chrono>
#include <stdexcept>
#include <string>

#include "sim/random.h"

namespace metajoule::sim {

RolloutBatch RolloutEpisodes(std::span<Env> envs, const PolicyFn& policy, int episodes,
                             std::uint64_t seed, ThreadPool& pool) {
  if (episodes < 0) {
    throw std::invalid_argument("RolloutEpisodes: expected episodes >= 0, got " +
                                std::to_string(episodes));
  }
  RolloutBatch batch;
  batch.trajectories.resize(envs.size());
  // buffers are sized before the parallel part, so workers only write into them
  for (std::size_t k = 0; k < envs.size(); ++k) {
    const Env& env = envs[k];
    batch.trajectories[k].resize(static_cast<std::size_t>(episodes));
    for (Trajectory& trajectory : batch.trajectories[k]) {
      trajectory.observations.setZero(env.observation_size(), env.horizon() + 1);
      trajectory.actions.setZero(env.action_size(), env.horizon());
      trajectory.rewards.setZero(env.horizon());
      trajectory.statuses.assign(static_cast<std::size_t>(env.horizon()), StepStatus::kOk);
    }
  }
  std::vector<std::int64_t> env_steps(envs.size(), 0);
  std::vector<std::int64_t> sim_steps(envs.size(), 0);

  const auto start = std::chrono::steady_clock::now();
  pool.ParallelFor(envs.size(), [&](std::size_t k, int /*thread_index*/) {
    Env& env = envs[k];
    const std::int64_t sim_before = env.sim_steps();
    const std::uint64_t env_seed = DeriveSeed(seed, k);
    for (int e = 0; e < episodes; ++e) {
      Trajectory& trajectory = batch.trajectories[k][static_cast<std::size_t>(e)];
      std::span<const double> observation = env.Reset(DeriveSeed(env_seed, static_cast<std::uint64_t>(e)));
      trajectory.observations.col(0) =
          Eigen::Map<const Eigen::VectorXd>(observation.data(), env.observation_size());
      int t = 0;
      for (;;) {
        double* action_column = trajectory.actions.col(t).data();
        std::span<double> action(action_column, static_cast<std::size_t>(env.action_size()));
        policy(k, observation, action);
        const StepResult result = env.Step(action);
        observation = result.observation;
        trajectory.observations.col(t + 1) =
            Eigen::Map<const Eigen::VectorXd>(observation.data(), env.observation_size());
        trajectory.rewards[t] = result.reward;
        trajectory.statuses[static_cast<std::size_t>(t)] = result.status;
        trajectory.episode_return += result.reward;
        ++t;
        if (IsDone(result.status)) break;
      }
      trajectory.length = t;
      env_steps[k] += t;
    }
    sim_steps[k] = env.sim_steps() - sim_before;
  });
  batch.work.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (std::size_t k = 0; k < envs.size(); ++k) {
    batch.work.env_steps += env_steps[k];
    batch.work.sim_steps += sim_steps[k];
  }
  return batch;
}

RandomPolicy::RandomPolicy(Kind kind, std::span<const Env> envs, std::uint64_t seed)
    : kind_(kind) {
  for (std::size_t k = 0; k < envs.size(); ++k) {
    low_.emplace_back(envs[k].action_low().begin(), envs[k].action_low().end());
    high_.emplace_back(envs[k].action_high().begin(), envs[k].action_high().end());
    rngs_.emplace_back(DeriveSeed(seed, k));
  }
}

void RandomPolicy::Act(std::size_t env_index, std::span<const double> /*observation*/,
                       std::span<double> action) {
  std::mt19937_64& rng = rngs_.at(env_index);
  const std::vector<double>& low = low_[env_index];
  const std::vector<double>& high = high_[env_index];
  for (std::size_t i = 0; i < action.size(); ++i) {
    if (kind_ == Kind::kUniform) {
      action[i] = UniformDouble(rng, low[i], high[i]);
    } else {
      action[i] = 0.5 * (low[i] + high[i]) + 0.5 * (high[i] - low[i]) * StandardNormal(rng);
    }
  }
}

PolicyFn RandomPolicy::AsFunction() {
  return [this](std::size_t env_index, std::span<const double> observation,
                std::span<double> action) { Act(env_index, observation, action); };
}

RandomPolicy::Kind ParseRandomPolicyKind(std::string_view name) {
  if (name == "uniform") return RandomPolicy::Kind::kUniform;
  if (name == "gaussian") return RandomPolicy::Kind::kGaussian;
  throw std::invalid_argument("unknown random policy \"" + std::string(name) +
                              "\"; valid policies: uniform, gaussian");
}

}  // namespace metajoule::sim
