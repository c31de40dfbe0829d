#include "experiments/population.h"

#include <random>

#include "sim/random.h"

namespace metajoule::experiments {

Population::Population(const ExperimentConfig& config) {
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  for (std::size_t c = 0; c < config.clusters.size(); ++c) {
    const sim::ClusterConfig& cluster = config.clusters[c];
    auto& world = worlds[cluster.task.family];
    if (!world) world = std::make_unique<sim::World>(cluster.task.family);
    std::mt19937_64 rng(sim::DeriveSeed(seed, seed_stream::kTasks + c));
    for (sim::Task& task : sim::SampleTasks(cluster.task, cluster.agents, rng)) {
      tasks.push_back(std::move(task));
      env_worlds.push_back(world.get());
      env_configs.push_back(&cluster.env);
      nodes.push_back({static_cast<std::int32_t>(nodes.size() + 1), "agent", cluster.name, "", ""});
    }
  }
}

}  // namespace metajoule::experiments
