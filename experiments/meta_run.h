#pragma once
// The meta methods (maml, fomaml, reptile, pretrained, fedavg) on the star topology
// (DESIGN.md "The run, as data flows"): per round and meta-model, the server pushes phi over the
// downlink, every agent of the group computes its contribution on its own task and reports it
// over the uplink, the server aggregates what arrived and updates phi.

#include <cstddef>
#include <memory>
#include <ostream>
#include <vector>

#include <Eigen/Core>

#include "agents/math/gaussian_policy.h"
#include "common/thread_pool.h"
#include "experiments/experiment_config.h"
#include "experiments/population.h"
#include "ledger/meters.h"
#include "ledger/recorder.h"
#include "meta/meta_config.h"

namespace metajoule::experiments {

/// What a meta method's training leaves: one meta-model per group of agents (one per cluster
/// with meta.per_cluster, else one for all).
struct MetaRunResult {
  /// Mean return of the last round's reports: after adaptation for maml and fomaml, at the
  /// meta-model for the others.
  double last_return{0.0};
  std::vector<std::vector<std::size_t>> groups;  ///< agent indices of each group
  std::vector<std::unique_ptr<agents::GaussianMlpPolicy>> policies;  ///< per group
  std::vector<Eigen::VectorXd> meta_params;  ///< the trained meta-parameters, per group
};

/// Trains `method` for training.rounds rounds. Each agent's work is one compute event, each
/// transfer one comm event, the server's update one compute event. A message the link loses
/// after max_attempts is not delivered: the agent skips the round, or its report is dropped.
/// Throws std::runtime_error after meta.max_rejected_steps consecutive rejected updates.
MetaRunResult RunMeta(const ExperimentConfig& config, meta::MetaMethod method,
                      Population& population, ThreadPool& pool, ledger::RunRecorder& recorder,
                      const ledger::Meter& meter, std::ostream& out);

}  // namespace metajoule::experiments
