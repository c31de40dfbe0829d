#pragma once
// The consensus method on a mesh (DESIGN.md "Methods": "SL models only; decentralised FL among
// neighbours; no server"; meta/consensus.h for the mixing). Every agent holds a model; per
// round each takes fedavg's local step on its own task, sends its model to each mesh neighbour
// over the sidelink (one transfer per directed edge, or one broadcast per agent with
// network.links.sidelink.broadcast), and mixes what arrived with Metropolis-Hastings weights.
// There is no server and no uplink or downlink: the ledger holds sidelink transfers and compute
// events of the agents only.

#include <ostream>

#include "common/thread_pool.h"
#include "experiments/checkpoint.h"
#include "experiments/experiment_config.h"
#include "experiments/meta_run.h"
#include "experiments/population.h"
#include "ledger/meters.h"
#include "ledger/recorder.h"

namespace metajoule::experiments {

/// Trains consensus for training.rounds rounds over config.network.topology (a mesh). With
/// meta.per_cluster the agents of a cluster mix only among themselves (the mesh's edges inside
/// the cluster), else every agent with every neighbour. The agents start from their group's
/// seeded initial model (as RunMeta's meta-models). Each agent's local step is a compute event
/// (phase learn), each sidelink transfer a comm event of its sender, each mixing a compute
/// event (phase aggregate) of the agent. The result's meta_params are, per group, the average of
/// its agents' models after the last round: the network average, which a newcomer would get
/// from a neighbour once the models have converged. Agents compute on `pool` whatever
/// network.transport says (there is no server to carry messages; the sidelink messages are
/// encoded and decoded in memory with the sidelink's tensor encoding).
/// @throws ConfigError when the mesh restricted to a group is not connected while
/// network.topology.require_connected is set, or the groups mix task families.
/// With `checkpoints`, training starts after the restored round (every agent's model restored)
/// and each due round ends with a checkpoint (experiments/checkpoint.h).
MetaRunResult RunConsensus(const ExperimentConfig& config, const Population& population,
                           ThreadPool& pool, ledger::RunRecorder& recorder,
                           const ledger::Meter& meter, std::ostream& out,
                           MethodCheckpoints* checkpoints = nullptr);

}  // namespace metajoule::experiments
