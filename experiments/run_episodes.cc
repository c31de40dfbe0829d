#include "experiments/run_episodes.h"

#include <chrono>
#include <limits>
#include <map>
#include <span>
#include <stdexcept>
#include <string>

#include "agents/episode_capture.h"
#include "agents/sim_env.h"
#include "common/error.h"
#include "experiments/deployment.h"
#include "experiments/episodes.h"
#include "experiments/format.h"
#include "meta/evaluation.h"
#include "sim/random.h"

namespace metajoule::experiments {
namespace {

// Per recorded agent k: the root of its replay draws, DeriveSeed(DeriveSeed(seed, kReplay), k);
// from it the adaptation generator (stream 0) and the reset seed every step's episode shares
// (stream 1), so steps 0..S start from the same state and differ only by their parameters.
std::uint64_t AgentReplaySeed(const ExperimentConfig& config, std::size_t k) {
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  return sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kReplay), k);
}
constexpr std::uint64_t kAdaptStream = 0;
constexpr std::uint64_t kResetStream = 1;

sim::EpisodeRecording Record(const ExperimentConfig& config, const Population& population,
                             std::size_t k, const agents::GaussianMlpPolicy& policy,
                             const Eigen::Ref<const Eigen::VectorXd>& theta) {
  const Eigen::VectorXd params = theta;  // contiguous
  return agents::RecordPolicyEpisode(
      *population.env_worlds[k], population.tasks[k], *population.env_configs[k], policy,
      std::span<const double>(params.data(), static_cast<std::size_t>(params.size())),
      sim::DeriveSeed(AgentReplaySeed(config, k), kResetStream),
      config.recording.actions == agents::EvaluationActions::kMean);
}

// Writes recordings[i][s] as agent agents[i]'s step s, in order; returns the count.
int WriteAll(const ExperimentConfig& config, const Population& population,
             const std::string& method, const std::vector<std::size_t>& agents,
             const std::vector<std::vector<sim::EpisodeRecording>>& recordings,
             const std::filesystem::path& run_folder) {
  int written = 0;
  for (std::size_t i = 0; i < agents.size(); ++i) {
    for (std::size_t s = 0; s < recordings[i].size(); ++s) {
      WriteRunEpisode(run_folder, method, population.nodes[agents[i]].id, config.training.rounds,
                      static_cast<int>(s), recordings[i][s]);
      ++written;
    }
  }
  return written;
}

}  // namespace

std::vector<std::size_t> RecordedAgents(const ExperimentConfig& config,
                                        const Population& population) {
  std::vector<std::size_t> agents;
  if (config.recording.episodes == EpisodeCapture::kNone) return agents;
  std::map<std::string, int> taken;  // per cluster
  for (std::size_t k = 0; k < population.size(); ++k) {
    int& count = taken[population.nodes[k].cluster];
    if (count < config.recording.agents) {
      agents.push_back(k);
      ++count;
    }
  }
  return agents;
}

// meta::AdaptOnTask's loop (meta/evaluation.cc Adapt), keeping each theta_s: the same sampler,
// the same draws from `rng` and the same inner step theta_{s+1} = theta_s - alpha (.) grad
// L_PG(theta_s; D_s) (Finn et al. 2017, eq. (1)). AdaptOnTask reports returns and work but not
// the parameters; tests/experiments/run_episodes_test.cc checks that both give the same returns
// at every step.
int RecordMetaEpisodes(const ExperimentConfig& config, meta::MetaMethod method,
                       const Population& population, const MetaRunResult& trained,
                       const std::filesystem::path& run_folder, ThreadPool& pool) {
  const std::vector<std::size_t> agents = RecordedAgents(config, population);
  meta::MetaConfig meta_config = config.meta.config;
  meta_config.method = method;
  std::vector<std::size_t> group_of(population.size(), trained.groups.size());
  for (std::size_t g = 0; g < trained.groups.size(); ++g) {
    for (const std::size_t k : trained.groups[g]) group_of[k] = g;
  }
  std::vector<std::vector<sim::EpisodeRecording>> recordings(agents.size());
  pool.ParallelFor(agents.size(), [&](std::size_t i, int) {
    const std::size_t k = agents[i];
    const std::size_t g = group_of[k];
    MJL_DEMAND(g < trained.groups.size());  // RunMeta puts every agent in a group
    const agents::GaussianMlpPolicy& policy = *trained.policies[g];
    // theta_s of the agent's own adaptation from the server's trained meta-model
    agents::SimRolloutEnv env(*population.env_worlds[k], population.tasks[k],
                              *population.env_configs[k]);
    meta::TaskEnv task = TaskEnvOf(env);
    std::mt19937_64 rng(sim::DeriveSeed(AgentReplaySeed(config, k), kAdaptStream));
    const meta::TaskAdaptation adaptation =
        meta::AdaptOnTask(meta_config, policy, trained.meta_params[g], task, rng);
    for (const Eigen::VectorXd& theta : adaptation.thetas) {
      recordings[i].push_back(Record(config, population, k, policy, theta));
    }
  });
  return WriteAll(config, population, std::string(meta::MetaMethodName(method)), agents,
                  recordings, run_folder);
}

int RecordScratchEpisodes(const ExperimentConfig& config, const Population& population,
                          const ScratchResult& trained, const std::filesystem::path& run_folder,
                          ThreadPool& pool) {
  const std::vector<std::size_t> agents = RecordedAgents(config, population);
  MJL_DEMAND(trained.policies.size() == population.size() &&
             trained.final_params.size() == population.size());
  std::vector<std::vector<sim::EpisodeRecording>> recordings(agents.size());
  pool.ParallelFor(agents.size(), [&](std::size_t i, int) {
    const std::size_t k = agents[i];
    recordings[i].push_back(
        Record(config, population, k, trained.policies[k], trained.final_params[k]));
  });
  return WriteAll(config, population, "scratch", agents, recordings, run_folder);
}

int RecordMethodEpisodes(const ExperimentConfig& config, const std::string& method,
                         const Population& population, const MetaRunResult* meta,
                         meta::MetaMethod meta_method, const ScratchResult* scratch,
                         const std::filesystem::path& run_folder, ThreadPool& pool,
                         std::ostream& out) {
  if (config.recording.episodes == EpisodeCapture::kNone) return 0;
  const auto start = std::chrono::steady_clock::now();
  int written = 0;
  if (meta != nullptr) {
    written = RecordMetaEpisodes(config, meta_method, population, *meta, run_folder, pool);
  } else if (scratch != nullptr) {
    written = RecordScratchEpisodes(config, population, *scratch, run_folder, pool);
  }
  if (meta == nullptr && scratch == nullptr) {
    out << "episodes: none for " << method << " (no trained model to record)\n";
  } else {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out << "episodes: " << written << " recordings in "
        << (run_folder / "episodes" / method).string()
        << Format(" (%.2f s, not charged to the ledger)\n", seconds);
  }
  return written;
}

}  // namespace metajoule::experiments
