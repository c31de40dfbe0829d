#include "experiments/population.h"

#include <random>

#include "sim/random.h"

namespace metajoule::experiments {

Population::Population(const ExperimentConfig& config)
    : Population(config, seed_stream::kTasks, false) {}

Population Population::HeldOut(const ExperimentConfig& config) {
  return Population(config, seed_stream::kHeldOutTasks, true);
}

Population::Population(const ExperimentConfig& config, std::uint64_t stream, bool held_out) {
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  for (std::size_t c = 0; c < config.clusters.size(); ++c) {
    const sim::ClusterConfig& cluster = config.clusters[c];
    auto& world = worlds[cluster.task.family];
    if (!world) world = std::make_unique<sim::World>(cluster.task.family);
    std::mt19937_64 rng(sim::DeriveSeed(seed, stream + c));
    const int count = held_out ? config.evaluation.held_out_tasks : cluster.agents;
    for (sim::Task& task : sim::SampleTasks(cluster.task, count, rng)) {
      tasks.push_back(std::move(task));
      env_worlds.push_back(world.get());
      env_configs.push_back(&cluster.env);
      nodes.push_back({static_cast<std::int32_t>(nodes.size() + 1), "agent", cluster.name, "", ""});
    }
  }
}

}  // namespace metajoule::experiments
