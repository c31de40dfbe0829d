#pragma once
// The meta methods (maml, fomaml, reptile, pretrained, fedavg) on the star and hierarchical
// topologies, and consensus on a mesh (experiments/consensus_run.h) (DESIGN.md "The run, as
// data flows", "Topologies"). Star: per round and meta-model, the server pushes phi over the
// downlink, every agent of the group computes its contribution on its own task and reports it
// over the uplink, the server aggregates what arrived and updates phi. Hierarchical: the server
// pushes phi to each cluster head, the head relays it to its members over the sidelink, the
// members report to the head over the sidelink, the head forwards one aggregate (weighted sum,
// weight, count) over the uplink, and the server's mean over every report is the star's. The
// pushes and reports are real messages (experiments/meta_agent.h) moved by a MetaExchange
// between the server and each agent; what the wireless links would have cost and lost, and
// what a head does with the messages it relays, is emulated on the server (docs/links.md,
// docs/protocol.md "Hierarchical rounds").

#include <algorithm>
#include <cstddef>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "agents/math/gaussian_policy.h"
#include "common/thread_pool.h"
#include "experiments/checkpoint.h"
#include "experiments/experiment_config.h"
#include "experiments/meta_exchange.h"
#include "experiments/population.h"
#include "ledger/meters.h"
#include "ledger/recorder.h"
#include "meta/meta_config.h"

namespace metajoule::experiments {

/// What a meta method's training leaves: one meta-model per group of agents (one per cluster
/// with meta.per_cluster, else one for all).
struct MetaRunResult {
  /// Reports expected but not received (an agent that died, stalled past the round timeout, or
  /// was not a member), each recorded in the ledger (docs/protocol.md, "Runs").
  int missing_reports{0};
  /// Hierarchical topology: member reports the sidelink lost on the way to their head, and
  /// cluster aggregates the uplink lost on the way to the server (each marked in the ledger as
  /// a missing report: 0 bits, 0 attempts, phase other, on the leg's link).
  int lost_reports{0};
  int lost_aggregates{0};
  ExchangeStats exchange{};  ///< where the exchange time went (transport overhead)
  std::string transport;     ///< the exchange's name ("emulated", "inproc", "tcp", an endpoint)
  /// Mean return of the last round's reports: after adaptation for maml and fomaml, at the
  /// meta-model for the others.
  double last_return{0.0};
  std::vector<std::vector<std::size_t>> groups;  ///< agent indices of each group
  std::vector<std::unique_ptr<agents::GaussianMlpPolicy>> policies;  ///< per group
  /// The trained meta-parameters, per group (consensus: the average of the group's agents'
  /// models, experiments/consensus_run.h).
  std::vector<Eigen::VectorXd> meta_params;
  std::vector<Eigen::VectorXd> agent_models;  ///< consensus: every agent's model; else empty
};

/// Trains `method` for training.rounds rounds. Each agent's work is one compute event, each
/// transfer one comm event, the server's update one compute event. A message the link loses
/// after max_attempts is not delivered: the agent skips the round, or its report is dropped.
/// Every model push and report is encoded with its link's tensor encoding and decoded at the
/// receiver, which learns from the decoded values; the messages travel as
/// config.network.transport says (MakeInProcessExchange), with identical figures for each.
/// Throws std::runtime_error after meta.max_rejected_steps consecutive rejected updates.
/// With `checkpoints`, training starts after its restored round (the meta-models, their
/// optimiser states and the run's counters restored) and each due round ends with a
/// checkpoint (experiments/checkpoint.h).
MetaRunResult RunMeta(const ExperimentConfig& config, meta::MetaMethod method,
                      Population& population, ThreadPool& pool, ledger::RunRecorder& recorder,
                      const ledger::Meter& meter, std::ostream& out,
                      MethodCheckpoints* checkpoints = nullptr);

/// `method` consensus runs RunConsensus (experiments/consensus_run.h) on `pool`.
///
/// The same over a given exchange (e.g. remote agents of `metajoule serve`). The server side
/// (links, ledger, learner) runs on this thread; `meter` measures the server's updates. A
/// report that does not come is recorded as missing: an uplink event of 0 bits and 0 attempts
/// in phase "other" for that node and round.
/// @throws ConfigError for consensus, which has no server.
MetaRunResult RunMeta(const ExperimentConfig& config, meta::MetaMethod method,
                      const Population& population, MetaExchange& exchange,
                      ledger::RunRecorder& recorder, const ledger::Meter& meter,
                      std::ostream& out, MethodCheckpoints* checkpoints = nullptr);

/// The transport overhead of a run (`metajoule bench network --run FILE`).
struct TransportMeasurement {
  std::string method;
  std::string transport;
  int rounds{0};
  ExchangeStats exchange{};
  /// Wall time of the exchanges outside the agents' compute (codec, sockets, wake-ups), s.
  double overhead_seconds() const {
    return std::max(0.0, exchange.exchange_seconds - exchange.compute_seconds);
  }
  /// overhead_seconds() / exchange_seconds: the transport's share of the rounds' wall time.
  double overhead_share() const {
    return exchange.exchange_seconds > 0.0 ? overhead_seconds() / exchange.exchange_seconds : 0.0;
  }
};

/// Runs the first meta method of `config` over config.network.transport into a throwaway
/// ledger (a temporary file, removed afterwards) and returns where its exchange time went.
/// @throws ConfigError when `config` lists no meta method.
TransportMeasurement MeasureTransport(const ExperimentConfig& config, std::ostream& out);

}  // namespace metajoule::experiments
