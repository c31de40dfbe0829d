#pragma once
// The agent side of a meta method's round, as messages (docs/protocol.md, "Runs"): a robot
// receives a model push (phi as a flat tensor, with the method and the training round as
// scalars), computes its contribution on its own task (meta::ComputeContribution), and answers
// with an update report that carries the contribution and, as scalars, the work it measured and
// the returns it saw, so that the meta-learner records every event in its one ledger.
//
// The same code answers in every transport: in memory (transport "emulated"), over inproc or
// tcp sockets in one process, and in a separate `metajoule agent` process. The meta-learner only
// ever sees the decoded report, so the three give the same figures bit for bit.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>

#include <Eigen/Core>

#include "agents/math/gaussian_policy.h"
#include "agents/sim_env.h"
#include "experiments/experiment_config.h"
#include "experiments/population.h"
#include "ledger/meters.h"
#include "meta/contribution.h"
#include "meta/meta_config.h"
#include "network/channel.h"
#include "network/curve.h"
#include "network/protocol.h"
#include "network/wire_format.h"

namespace metajoule::experiments {

/// A decoded model push of a run.
struct MetaPush {
  meta::MetaMethod method{meta::MetaMethod::kMaml};
  int round{0};         ///< training round (1-based; the header round is the session's)
  Eigen::VectorXd phi;  ///< the meta-parameters as the agent received them
};

/// What the meta-learner learns from one update report.
struct MetaReport {
  /// status, message, vector (decoded), weight, work, pre/post returns and outer loss.
  meta::Contribution contribution;
  ledger::Measurement measurement;  ///< the agent's cpu and wall seconds (and RAPL joules)
};

/// The model push of `phi` for `method`'s training `round` (receiver kAnyNode, header round 0:
/// the transport sets it). phi travels as float32 values and then in the downlink's encoding.
network::Message MakeMetaPush(meta::MetaMethod method, int round, const Eigen::VectorXd& phi);
/// The push's content; nullopt with `error` set when a scalar or the tensor is missing or
/// invalid.
std::optional<MetaPush> ParseMetaPush(const network::Message& push, std::string& error);

/// The update report of a contribution (sender and round left to the transport). Its tensor
/// "update" holds the contribution's vector as float32 values; a vector that float32 cannot
/// hold (an entry beyond its range) is sent as a failed contribution.
network::Message MakeMetaReport(const meta::Contribution& contribution,
                                const ledger::Measurement& measurement);
/// The report's content; nullopt with `error` set when it is malformed.
std::optional<MetaReport> ParseMetaReport(const network::Message& report, std::string& error);

/// What a cluster head forwards to the server in a hierarchical round (docs/protocol.md,
/// "Hierarchical rounds"): the weighted sum of its cluster's accepted contributions,
/// sum_i w_i v_i (w_i: the FedAvg weight for fedavg, 1 otherwise), their total weight and count,
/// so that the server's mean over every report, sum / weight, is the star topology's.
struct ClusterAggregate {
  Eigen::VectorXd sum;  ///< empty when count is 0
  double weight{0.0};   ///< sum_i w_i
  int count{0};         ///< contributions aggregated
  int rejected{0};      ///< reports the head received but could not use
};

/// The update report of an aggregate (content as the method's reports, tensor "update" = the
/// sum as float32 values, scalars "weight", "count", "rejected"). A sum that float32 cannot
/// hold is sent as an empty aggregate (count 0) with its contributions counted rejected.
network::Message MakeClusterAggregate(meta::MetaMethod method, const ClusterAggregate& aggregate);
/// The aggregate's content; nullopt with `error` set when it is malformed.
std::optional<ClusterAggregate> ParseClusterAggregate(const network::Message& message,
                                                      std::string& error);

/// One robot of a run: its task environment and the policy shape of its group, built from the
/// experiment config and the population (agent index `agent`, ledger node agent + 1).
class MetaAgent {
 public:
  /// @throws std::invalid_argument when `agent` is not in the population.
  MetaAgent(const ExperimentConfig& config, const Population& population, std::size_t agent);
  MetaAgent(const MetaAgent&) = delete;
  MetaAgent& operator=(const MetaAgent&) = delete;

  /// Computes the contribution a push asks for, on this agent's task, with the seeded stream of
  /// (round, agent), measured by `meter`; returns its update report. nullopt with `error` set
  /// for a malformed push (wrong method or size).
  std::optional<network::Message> Answer(const network::Message& push, const ledger::Meter& meter,
                                         std::string& error);

  std::size_t agent() const { return agent_; }

 private:
  std::size_t agent_;
  std::uint64_t seed_;
  meta::MetaConfig meta_config_;
  std::unique_ptr<agents::SimRolloutEnv> env_;
  meta::TaskEnv task_;
  std::unique_ptr<agents::GaussianMlpPolicy> policy_;
};

/// `metajoule agent`: one robot process.
struct RemoteAgentOptions {
  std::string connect;  ///< the server's endpoint, e.g. tcp://host:5555
  network::NodeId node{1};
  network::ClientSecurity security{};
  network::ChannelConfig channel{};
  /// Give up after this long without a word from the server, seconds (0: never; a restarted
  /// server is waited for).
  double give_up_s{0.0};
  const std::atomic<bool>* stop{nullptr};  ///< set by a signal handler: leave and return
};

/// Joins the server as options.node, takes the task its assignment names (the experiment
/// config as TOML text and the agent index: the population is rebuilt here from the same seed),
/// answers every push, and returns when the server dismisses it (kDismissed), refuses it, is
/// lost, or `stop` is set. Progress lines go to `log`.
/// @throws ConfigError for an endpoint ZeroMQ cannot connect to, or an assigned config that does
/// not load.
network::AgentExit RunRemoteAgent(const RemoteAgentOptions& options, std::ostream& log);

}  // namespace metajoule::experiments
