#include "agents/agent.h"

#include <chrono>
#include <ctime>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>

#include "agents/math/checks.h"
#include "sim/random.h"

namespace metajoule::agents {
namespace {

using internal::CheckSize;

// stream indices under the agent's seed (agent.h file comment)
constexpr std::uint64_t kInitStream = 0;
constexpr std::uint64_t kCollectStream = 1;
constexpr std::uint64_t kLearnStream = 2;
constexpr std::uint64_t kEvaluateStream = 3;

double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// Measures one call: CPU and wall time, and the environment's counters, from construction to
// Finish(). Policy FLOPs are added by the caller, which knows where they were counted.
class WorkMeter {
 public:
  explicit WorkMeter(const SimRolloutEnv& env)
      : env_(env),
        env_steps_(env.env_steps()),
        sim_steps_(env.sim_steps()),
        cpu_(ThreadCpuSeconds()),
        wall_(std::chrono::steady_clock::now()) {}

  WorkCounters Finish(std::uint64_t policy_flops) const {
    WorkCounters work;
    work.env_steps = env_.env_steps() - env_steps_;
    work.sim_steps = env_.sim_steps() - sim_steps_;
    work.policy_flops = policy_flops;
    work.cpu_seconds = ThreadCpuSeconds() - cpu_;
    work.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
    return work;
  }

 private:
  const SimRolloutEnv& env_;
  std::int64_t env_steps_;
  std::int64_t sim_steps_;
  double cpu_;
  std::chrono::steady_clock::time_point wall_;
};

const AgentsConfig& Validated(const AgentsConfig& config) {
  ThrowIfInvalid("Agent: agents", Validate(config));
  return config;
}

int CheckedId(int id) {
  if (id < 0) throw std::invalid_argument("Agent: expected id >= 0, got " + std::to_string(id));
  return id;
}

void CheckEpisodes(const char* what, int episodes) {
  if (episodes < 1) {
    throw std::invalid_argument(std::string(what) + ": expected episodes >= 1, got " +
                                std::to_string(episodes));
  }
}

}  // namespace

WorkCounters& WorkCounters::operator+=(const WorkCounters& other) {
  env_steps += other.env_steps;
  sim_steps += other.sim_steps;
  policy_flops += other.policy_flops;
  cpu_seconds += other.cpu_seconds;
  wall_seconds += other.wall_seconds;
  return *this;
}

const WorkCounters& AgentWork::of(Phase phase) const {
  switch (phase) {
    case Phase::kCollect: return collect;
    case Phase::kLearn: return learn;
    case Phase::kEvaluate: return evaluate;
  }
  return collect;
}

Agent::Agent(int id, const sim::World& world, const sim::Task& task,
             const sim::EnvConfig& env_config, const AgentsConfig& config,
             std::uint64_t base_seed)
    : id_(CheckedId(id)),
      seed_(sim::DeriveSeed(base_seed, static_cast<std::uint64_t>(id_))),
      config_(Validated(config)),
      env_(world, task, env_config),
      policy_(env_.obs_dim(), env_.act_dim(), config_.policy.hidden_sizes,
              config_.policy.activation),
      init_rng_(sim::DeriveSeed(seed_, kInitStream)),
      collect_rng_(sim::DeriveSeed(seed_, kCollectStream)),
      learn_rng_(sim::DeriveSeed(seed_, kLearnStream)),
      evaluation_seed_(sim::DeriveSeed(seed_, kEvaluateStream)),
      theta_(policy_.num_params()),
      learner_([this]() -> Learner {
        // theta first, then the learner (its MLP critic draws from the same init stream)
        policy_.InitializeParams(init_rng_, config_.policy.init_log_std, theta_);
        switch (config_.learner) {
          case LearnerKind::kVpg: return VpgLearner(policy_, config_.vpg, init_rng_);
          case LearnerKind::kPpo: return PpoLearner(policy_, config_.ppo, init_rng_);
          case LearnerKind::kTrpo: break;
        }
        return TrpoLearner(policy_, config_.trpo, init_rng_);
      }()),
      ws_(policy_, 1),
      obs_(env_.obs_dim()),
      next_obs_(env_.obs_dim()) {}

TrajectoryBatch Agent::Collect(const Eigen::Ref<const Eigen::VectorXd>& theta, int episodes) {
  CheckSize("Agent::Collect: theta size", theta.size(), policy_.num_params());
  CheckEpisodes("Agent::Collect", episodes);
  const WorkMeter meter(env_);
  ws_.ResetFlops();
  TrajectoryBatch batch =
      CollectEpisodes(policy_, theta, env_, episodes, env_.horizon(), collect_rng_, ws_);
  last_work_ = meter.Finish(ws_.total_flops());
  work_.collect += last_work_;
  return batch;
}

UpdateReport Agent::Learn(const TrajectoryBatch& batch) {
  const WorkMeter meter(env_);
  UpdateReport report = std::visit(
      [&](auto& learner) { return learner.Update(batch, learn_rng_, theta_); }, learner_);
  last_work_ = meter.Finish(report.flops);
  work_.learn += last_work_;
  return report;
}

double Agent::Evaluate(const Eigen::Ref<const Eigen::VectorXd>& theta, int episodes) {
  CheckSize("Agent::Evaluate: theta size", theta.size(), policy_.num_params());
  CheckEpisodes("Agent::Evaluate", episodes);
  std::mt19937_64 rng(sim::DeriveSeed(evaluation_seed_, evaluations_++));
  const WorkMeter meter(env_);
  ws_.ResetFlops();
  double mean_return = 0.0;
  if (config_.evaluation_actions == EvaluationActions::kSample) {
    const TrajectoryBatch batch =
        CollectEpisodes(policy_, theta, env_, episodes, env_.horizon(), rng, ws_);
    mean_return = EpisodeReturns(batch).mean();
  } else {
    mean_return = EvaluateMean(theta, episodes, rng);
  }
  last_work_ = meter.Finish(ws_.total_flops());
  work_.evaluate += last_work_;
  return mean_return;
}

double Agent::EvaluateMean(const Eigen::Ref<const Eigen::VectorXd>& theta, int episodes,
                           std::mt19937_64& rng) {
  // deterministic actions a_t = mu_theta(s_t); rng only seeds the environment resets
  double total = 0.0;
  for (int episode = 0; episode < episodes; ++episode) {
    env_.Reset(rng, obs_);
    for (int step = 0; step < env_.horizon(); ++step) {
      ComputeMean(policy_, theta, obs_, ws_);
      const StepResult result = env_.Step(ws_.mlp.output().col(0), next_obs_);
      total += result.reward;
      obs_.swap(next_obs_);
      if (result.end != StepEnd::kNone) break;
    }
  }
  return total / episodes;
}

IterationReport Agent::Iterate() {
  IterationReport report;
  const TrajectoryBatch batch = Collect(theta_, config_.episodes_per_update);
  report.collect = last_work_;
  report.episodes = static_cast<int>(batch.num_episodes());
  report.mean_return = EpisodeReturns(batch).mean();
  report.update = Learn(batch);
  report.learn = last_work_;
  report.iteration = ++iterations_;
  report.total_env_steps = work_.collect.env_steps;
  return report;
}

void Agent::SetTheta(const Eigen::Ref<const Eigen::VectorXd>& theta) {
  CheckSize("Agent::SetTheta: theta size", theta.size(), policy_.num_params());
  theta_ = theta;
}

namespace {

void SaveWork(StateArchive& archive, const std::string& prefix, const WorkCounters& work) {
  archive.PutInt(prefix + "env_steps", work.env_steps);
  archive.PutInt(prefix + "sim_steps", work.sim_steps);
  archive.PutInt(prefix + "policy_flops", static_cast<std::int64_t>(work.policy_flops));
  archive.PutDouble(prefix + "cpu_seconds", work.cpu_seconds);
  archive.PutDouble(prefix + "wall_seconds", work.wall_seconds);
}

WorkCounters LoadWork(const StateArchive& archive, const std::string& prefix) {
  WorkCounters work;
  work.env_steps = archive.Int(prefix + "env_steps");
  work.sim_steps = archive.Int(prefix + "sim_steps");
  work.policy_flops = static_cast<std::uint64_t>(archive.Int(prefix + "policy_flops"));
  work.cpu_seconds = archive.Double(prefix + "cpu_seconds");
  work.wall_seconds = archive.Double(prefix + "wall_seconds");
  return work;
}

}  // namespace

void Agent::SaveState(StateArchive& archive, const std::string& prefix) const {
  archive.PutVector(prefix + "theta", {theta_.data(), static_cast<std::size_t>(theta_.size())});
  archive.PutRng(prefix + "init_rng", init_rng_);
  archive.PutRng(prefix + "collect_rng", collect_rng_);
  archive.PutRng(prefix + "learn_rng", learn_rng_);
  archive.PutInt(prefix + "evaluations", static_cast<std::int64_t>(evaluations_));
  archive.PutInt(prefix + "iterations", iterations_);
  SaveWork(archive, prefix + "work/collect/", work_.collect);
  SaveWork(archive, prefix + "work/learn/", work_.learn);
  SaveWork(archive, prefix + "work/evaluate/", work_.evaluate);
  std::visit([&](const auto& learner) { learner.SaveState(archive, prefix + "learner/"); },
             learner_);
}

void Agent::LoadState(const StateArchive& archive, const std::string& prefix) {
  const std::span<const double> theta = archive.Vector(prefix + "theta", theta_.size());
  const std::int64_t iterations = archive.Int(prefix + "iterations");
  const std::int64_t evaluations = archive.Int(prefix + "evaluations");
  if (iterations < 0 || iterations > std::numeric_limits<int>::max()) {
    throw StateError(prefix + "iterations", "out of range");
  }
  if (evaluations < 0) throw StateError(prefix + "evaluations", "out of range");
  archive.Rng(prefix + "init_rng", init_rng_);
  archive.Rng(prefix + "collect_rng", collect_rng_);
  archive.Rng(prefix + "learn_rng", learn_rng_);
  AgentWork work;
  work.collect = LoadWork(archive, prefix + "work/collect/");
  work.learn = LoadWork(archive, prefix + "work/learn/");
  work.evaluate = LoadWork(archive, prefix + "work/evaluate/");
  std::visit([&](auto& learner) { learner.LoadState(archive, prefix + "learner/"); }, learner_);
  theta_ = Eigen::Map<const Eigen::VectorXd>(theta.data(), theta_.size());
  iterations_ = static_cast<int>(iterations);
  evaluations_ = static_cast<std::uint64_t>(evaluations);
  work_ = work;
}

}  // namespace metajoule::agents
