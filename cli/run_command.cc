#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/thread_pool.h"
#include "experiments/experiment_config.h"
#include "sim/env.h"
#include "sim/random.h"
#include "sim/rollout.h"
#include "sim/task_family.h"
#include "sim/world.h"

namespace metajoule::cli {
namespace {

// seed streams derived from experiment.seed (sim::DeriveSeed), one per purpose
constexpr std::uint64_t kTaskStream = 0;        // cluster c samples its tasks from stream c
constexpr std::uint64_t kPolicyStream = 1'000'000;
constexpr std::uint64_t kResetStream = 1'000'001;

}  // namespace

std::function<int()> ConfigureRun(CLI::App& app) {
  struct Options {
    std::string file;
    std::vector<std::string> overrides;
    std::string policy{"uniform"};
  };
  auto options = std::make_shared<Options>();
  app.add_option("file", options->file, "experiment file (TOML)")->required();
  app.add_option("--set", options->overrides, "override a key: a.b.c=value (TOML syntax)");
  app.add_option("--policy", options->policy,
                 "random policy of the smoke rollouts: uniform or gaussian")
      ->capture_default_str();
  return [options] {
    const auto config = experiments::LoadExperiment(options->file, options->overrides);
    const sim::RandomPolicy::Kind kind = sim::ParseRandomPolicyKind(options->policy);
    const auto seed = static_cast<std::uint64_t>(config.experiment.seed);

    // one immutable world per family, shared by every environment of that family
    std::map<std::string, std::unique_ptr<sim::World>> worlds;
    struct AgentRow {
      std::string cluster;
      int agent{0};
    };
    std::vector<AgentRow> rows;
    std::vector<sim::Env> envs;
    for (std::size_t c = 0; c < config.clusters.size(); ++c) {
      const sim::ClusterConfig& cluster = config.clusters[c];
      auto& world = worlds[cluster.task.family];
      if (!world) world = std::make_unique<sim::World>(cluster.task.family);
      std::mt19937_64 rng(sim::DeriveSeed(seed, kTaskStream + c));
      const std::vector<sim::Task> tasks = sim::SampleTasks(cluster.task, cluster.agents, rng);
      for (int k = 0; k < cluster.agents; ++k) {
        envs.emplace_back(*world, tasks[static_cast<std::size_t>(k)], cluster.env);
        rows.push_back({cluster.name, k});
      }
    }

    ThreadPool pool(config.sim.threads);
    sim::RandomPolicy policy(kind, envs, sim::DeriveSeed(seed, kPolicyStream));
    const sim::RolloutBatch batch = sim::RolloutEpisodes(
        envs, policy.AsFunction(), config.rollout.episodes, sim::DeriveSeed(seed, kResetStream),
        pool);

    std::printf("run: %s (seed %lld, %zu agents in %zu clusters, %d episodes each, %s random "
                "policy, %d threads)\n",
                config.experiment.name.c_str(), static_cast<long long>(config.experiment.seed),
                envs.size(), config.clusters.size(), config.rollout.episodes,
                options->policy.c_str(), pool.num_threads());
    std::printf("%-16s %5s  %-20s %-40s %12s %7s\n", "cluster", "agent", "family", "task",
                "mean return", "steps");
    for (std::size_t i = 0; i < envs.size(); ++i) {
      double total_return = 0.0;
      long long steps = 0;
      for (const sim::Trajectory& trajectory : batch.trajectories[i]) {
        total_return += trajectory.episode_return;
        steps += trajectory.length;
      }
      const double mean = batch.trajectories[i].empty()
                              ? 0.0
                              : total_return / static_cast<double>(batch.trajectories[i].size());
      std::printf("%-16s %5d  %-20s %-40s %12.3f %7lld\n", rows[i].cluster.c_str(), rows[i].agent,
                  std::string(envs[i].family().name()).c_str(),
                  envs[i].task().Describe().c_str(), mean, steps);
    }
    const double seconds = batch.work.wall_seconds;
    std::printf("total: %lld env steps (%lld simulator steps) in %.3f s: %.0f env steps/s, %.0f "
                "simulator steps/s\n",
                static_cast<long long>(batch.work.env_steps),
                static_cast<long long>(batch.work.sim_steps), seconds,
                seconds > 0.0 ? static_cast<double>(batch.work.env_steps) / seconds : 0.0,
                seconds > 0.0 ? static_cast<double>(batch.work.sim_steps) / seconds : 0.0);
    return kExitOk;
  };
}

}  // namespace metajoule::cli
