#include "agents/episode_capture.h"

#include <random>
#include <stdexcept>
#include <string>

#include "sim/env.h"
#include "sim/random.h"

namespace metajoule::agents {

sim::EpisodeRecording RecordPolicyEpisode(const sim::World& world, const sim::Task& task,
                                          const sim::EnvConfig& config,
                                          const GaussianMlpPolicy& policy,
                                          std::span<const double> params,
                                          std::uint64_t reset_seed,
                                          bool deterministic_mean_action) {
  if (static_cast<Eigen::Index>(params.size()) != policy.num_params()) {
    throw std::invalid_argument("RecordPolicyEpisode: expected " +
                                std::to_string(policy.num_params()) + " parameters, got " +
                                std::to_string(params.size()));
  }
  sim::Env env(world, task, config);
  if (env.observation_size() != policy.obs_dim() || env.action_size() != policy.act_dim()) {
    throw std::invalid_argument(
        "RecordPolicyEpisode: the policy maps " + std::to_string(policy.obs_dim()) + " -> " +
        std::to_string(policy.act_dim()) + ", expected " + std::to_string(env.observation_size()) +
        " -> " + std::to_string(env.action_size()) + " for " + std::string(env.family().name()));
  }
  const Eigen::Map<const Eigen::VectorXd> theta(params.data(),
                                                static_cast<Eigen::Index>(params.size()));
  PolicyWorkspace ws(policy, 1);
  std::mt19937_64 rng(sim::DeriveSeed(reset_seed, kCaptureActionStream));
  Eigen::MatrixXd obs(policy.obs_dim(), 1);
  Eigen::MatrixXd action(policy.act_dim(), 1);
  Eigen::VectorXd log_prob(1);

  std::span<const double> observation = env.Reset(reset_seed);
  sim::EpisodeRecorder recorder;
  recorder.Begin(env, reset_seed);
  for (;;) {
    for (int i = 0; i < policy.obs_dim(); ++i) obs(i, 0) = observation[static_cast<std::size_t>(i)];
    if (deterministic_mean_action) {
      ComputeMean(policy, theta, obs, ws);
      action = ws.mlp.output();
    } else {
      SampleActions(policy, theta, obs, rng, ws, action, log_prob);
    }
    const std::span<const double> a(action.data(), static_cast<std::size_t>(action.size()));
    const sim::StepResult result = env.Step(a);
    recorder.Record(env, a, result);
    if (sim::IsDone(result.status)) break;
    observation = result.observation;
  }
  return recorder.recording();
}

}  // namespace metajoule::agents
