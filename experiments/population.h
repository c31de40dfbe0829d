#pragma once
// The robots of a run (DESIGN.md "The run, as data flows"): every agent's task, drawn per
// cluster from the experiment seed, with its world and episode settings, and the seed streams
// each purpose of a run draws from. Every method builds the environments it needs from these.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "experiments/experiment_config.h"
#include "ledger/ledger_store.h"
#include "sim/env.h"
#include "sim/task_family.h"
#include "sim/world.h"

namespace metajoule::experiments {

/// Seed streams derived from experiment.seed with sim::DeriveSeed, one per purpose; a purpose
/// with several members (clusters, rounds, agents) derives one more level from its stream.
namespace seed_stream {
inline constexpr std::uint64_t kTasks = 0;  ///< cluster c samples its tasks from stream c
inline constexpr std::uint64_t kPolicy = 1'000'000;
inline constexpr std::uint64_t kReset = 1'000'001;
inline constexpr std::uint64_t kMetaInit = 1'000'002;  ///< initial meta-parameters, per group
inline constexpr std::uint64_t kLinks = 1'000'003;     ///< link losses, per round
inline constexpr std::uint64_t kContribution = 1'000'004;
inline constexpr std::uint64_t kReplay = 1'000'005;  ///< episodes recorded for replay, per agent
inline constexpr std::uint64_t kMesh = 1'000'100;  ///< the mesh of a consensus run (k_nearest, random)
inline constexpr std::uint64_t kHeldOutTasks = 2'000'000;  ///< held-out tasks of cluster c: + c
inline constexpr std::uint64_t kHeldOutLinks = 3'000'000;  ///< deployment downlink, per task
inline constexpr std::uint64_t kHeldOutAdapt = 3'000'001;  ///< deployment adaptation, per task
}  // namespace seed_stream

/// The agents of a run; agent k is ledger node k + 1 (node 0 is the server).
struct Population {
  std::map<std::string, std::unique_ptr<sim::World>> worlds;  ///< one per family, shared
  std::vector<sim::Task> tasks;
  std::vector<const sim::World*> env_worlds;       ///< the world of each agent's task
  std::vector<const sim::EnvConfig*> env_configs;  ///< its cluster's episode settings
  std::vector<ledger::NodeInfo> nodes;

  /// Samples every cluster's tasks from the config's seed (refers to `config`'s clusters,
  /// which must outlive the population).
  explicit Population(const ExperimentConfig& config);
  /// The held-out tasks: evaluation.held_out_tasks per cluster, each cluster from its own
  /// stream seed_stream::kHeldOutTasks + c, so they never coincide with the training draws.
  static Population HeldOut(const ExperimentConfig& config);
  std::size_t size() const { return tasks.size(); }

 private:
  Population(const ExperimentConfig& config, std::uint64_t stream, bool held_out);
};

}  // namespace metajoule::experiments
