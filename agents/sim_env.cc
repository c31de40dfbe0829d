#include "agents/sim_env.h"

#include <span>
#include <stdexcept>
#include <string>

#include "agents/math/checks.h"

namespace metajoule::agents {

using internal::CheckSize;

SimRolloutEnv::SimRolloutEnv(const sim::World& world, const sim::Task& task,
                             const sim::EnvConfig& config)
    : env_(world, task, config) {}

int SimRolloutEnv::obs_dim() const { return env_.observation_size(); }
int SimRolloutEnv::act_dim() const { return env_.action_size(); }
int SimRolloutEnv::horizon() const { return env_.horizon(); }
std::int64_t SimRolloutEnv::env_steps() const { return env_steps_; }
std::int64_t SimRolloutEnv::sim_steps() const { return env_.sim_steps(); }
std::int64_t SimRolloutEnv::divergences() const { return divergences_; }
const sim::Env& SimRolloutEnv::env() const { return env_; }

void SimRolloutEnv::Reset(std::mt19937_64& rng, Eigen::Ref<Eigen::VectorXd> obs) {
  CheckSize("SimRolloutEnv::Reset: obs size", obs.size(), obs_dim());
  // one draw per episode seeds the simulator's reset noise (sim::Env::Reset)
  const std::span<const double> first = env_.Reset(rng());
  obs = Eigen::Map<const Eigen::VectorXd>(first.data(), obs_dim());
}

StepResult SimRolloutEnv::Step(const Eigen::Ref<const Eigen::VectorXd>& action,
                               Eigen::Ref<Eigen::VectorXd> next_obs) {
  CheckSize("SimRolloutEnv::Step: next_obs size", next_obs.size(), obs_dim());
  // a Ref<const VectorXd> has unit inner stride, so its storage is one contiguous span
  const sim::StepResult result =
      env_.Step(std::span<const double>(action.data(), static_cast<std::size_t>(action.size())));
  ++env_steps_;
  next_obs = Eigen::Map<const Eigen::VectorXd>(result.observation.data(), obs_dim());
  StepResult out{.reward = result.reward, .end = StepEnd::kNone};
  switch (result.status) {
    case sim::StepStatus::kOk: break;
    case sim::StepStatus::kTerminated: out.end = StepEnd::kTerminal; break;
    case sim::StepStatus::kTruncated: out.end = StepEnd::kTruncated; break;
    case sim::StepStatus::kDiverged:
      out.end = StepEnd::kTerminal;
      ++divergences_;
      break;
  }
  return out;
}

}  // namespace metajoule::agents
