#pragma once
// How the meta-learner's pushes reach the agents and their reports come back in a round
// (docs/protocol.md, "Runs"). Three exchanges, one per network.transport:
//   emulated  every message is encoded and decoded in memory, the agents computed on the pool;
//   inproc,   a ProtocolServer and, on one more thread, an AgentHost that owns every agent's
//   tcp       socket and computes the batches of pushes on the pool (no thread per agent);
// plus the exchange of `metajoule serve`, whose agents are other processes. Every exchange
// hands the meta-learner the decoded reports in the agents' order, so the link draws and the
// learning that follow do not depend on arrival order: the three in-process exchanges give
// bit-identical figures.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "experiments/experiment_config.h"
#include "experiments/population.h"
#include "ledger/meters.h"
#include "network/protocol.h"
#include "network/wire_format.h"

namespace metajoule::experiments {

/// One group's model push in a round and the agents (population indices) that receive it.
struct GroupPush {
  const network::Message* push{nullptr};  ///< MakeMetaPush; the exchange sets the header round
  std::vector<std::size_t> agents;
};

/// Where a run's exchange time went, for the transport overhead figure.
struct ExchangeStats {
  std::uint64_t rounds{0};
  double exchange_seconds{0.0};  ///< wall time inside Exchange
  /// Wall time of the agents' computations inside it (the pool's batches), when they run in this
  /// process; what is left of exchange_seconds is the transport's (codec, sockets, wake-ups).
  double compute_seconds{0.0};
  bool compute_known{true};  ///< false for remote agents: their compute is not seen here
};

class MetaExchange {
 public:
  virtual ~MetaExchange() = default;
  /// Delivers each group's push to its agents and waits (up to network.round_timeout_s) for
  /// their update reports. Returns one entry per agent of the population: the decoded report,
  /// or nullopt when the agent was not pushed or did not answer in time (missing).
  virtual std::vector<std::optional<network::Message>> Exchange(
      std::span<const GroupPush> groups) = 0;
  virtual const ExchangeStats& stats() const = 0;
  /// "emulated", "inproc", "tcp" or the endpoint of a served run.
  virtual std::string name() const = 0;
};

/// The exchange of config.network.transport for an in-process run; the agents are built from
/// `population` and computed on `pool` (measured with `meter`). The population, pool and meter
/// must outlive the exchange. Socket exchanges join their agents before returning.
/// @throws std::runtime_error when the in-process agents cannot join.
std::unique_ptr<MetaExchange> MakeInProcessExchange(const ExperimentConfig& config,
                                                    const Population& population, ThreadPool& pool,
                                                    const ledger::Meter& meter);

/// Callbacks around each round of a served run (progress, fault-injection tests); `round` is
/// the training round.
struct ServerRoundHooks {
  std::function<void(int round, network::ProtocolServer& server)> before_push;
  /// After the pushes went out, before the reports are collected.
  std::function<void(int round, network::ProtocolServer& server)> after_push;
};

/// The exchange of a server whose agents are remote (`metajoule serve`): agent k is node k + 1,
/// pushed if it is a member. `server` must outlive the exchange.
std::unique_ptr<MetaExchange> MakeServerExchange(network::ProtocolServer& server,
                                                 const ExperimentConfig& config,
                                                 std::size_t agents,
                                                 ServerRoundHooks hooks = {});

}  // namespace metajoule::experiments
