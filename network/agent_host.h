#pragma once
// Many agents on one thread (docs/protocol.md, "Hosting many agents"): an AgentHost owns one
// ProtocolClient (one DEALER socket, routing id "node-<id>") per agent, joins them all, and then
// polls every socket from the thread that calls Run. The model pushes that arrive together are
// handed to the caller as one batch, which it may compute on a thread pool; the reports go back
// from the host's thread. So hundreds of agents in one process need one thread for their sockets
// and as many compute threads as there are cores, not a thread each.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "network/protocol.h"

namespace metajoule::network {

/// One model push handed to a batch: which hosted agent got it, with its assignment.
struct HostedPush {
  std::size_t agent{0};  ///< index into the host's agents
  const TaskAssignment* assignment{nullptr};
  const Message* push{nullptr};
};

/// Computes the reports of a batch of pushes: reports[i] answers pushes[i] (an update_report
/// whose round is the push's; sender and sequence are filled in by the host), or stays nullopt
/// to send nothing. Called on the thread that runs AgentHost::Run.
using BatchCompute =
    std::function<void(std::span<const HostedPush> pushes, std::span<std::optional<Message>> reports)>;

struct AgentHostOptions {
  /// Wait for each join's answer; on a timeout the hello is sent again.
  std::chrono::milliseconds join_timeout{2000};
  /// Give up joining after this long (Run returns kServerLost).
  std::chrono::milliseconds join_deadline{std::chrono::seconds(60)};
  /// After a push arrives, keep collecting the pushes that follow it for this long before the
  /// batch is computed (a server sends a round's pushes back to back).
  std::chrono::microseconds gather{50};
  /// Longest wait in one poll; the stop flag is checked between polls.
  std::chrono::milliseconds poll_interval{100};
  /// Checked between polls: true makes every agent leave and Run return kStopped.
  const std::atomic<bool>* stop{nullptr};
};

/// What a host did, for overhead figures.
struct AgentHostStats {
  std::uint64_t pushes{0};
  std::uint64_t reports{0};
  std::uint64_t batches{0};
  double compute_seconds{0.0};  ///< wall time inside BatchCompute
  double busy_seconds{0.0};     ///< wall time in Run outside polls' waits (compute included)
};

class AgentHost {
 public:
  /// Makes one client per entry of `agents` (each its own node id), connected to
  /// `connect_endpoint`. @throws as ChannelClient; std::invalid_argument for a repeated node.
  AgentHost(zmq::context_t& context, const std::string& connect_endpoint,
            std::vector<JoinRequest> agents, const ChannelConfig& config = {},
            const ClientSecurity& security = {});
  ~AgentHost();
  AgentHost(const AgentHost&) = delete;
  AgentHost& operator=(const AgentHost&) = delete;

  /// Joins every agent, then answers pushes in batches until every agent is dismissed
  /// (kDismissed), the stop flag is set (every agent leaves; kStopped), an agent is refused
  /// (the others leave; kRefused) or the joins time out (kServerLost). An agent told
  /// not_member joins again. Exceptions of `compute` make every agent leave, then propagate.
  AgentExit Run(const BatchCompute& compute, const AgentHostOptions& options = {});

  std::size_t size() const { return clients_.size(); }
  /// The assignment agent `index` got when it (last) joined.
  const TaskAssignment& assignment(std::size_t index) const { return assignments_[index]; }
  const AgentHostStats& stats() const { return stats_; }

 private:
  bool JoinAll(const AgentHostOptions& options, std::string& reason);
  void LeaveAll();

  std::vector<JoinRequest> requests_;
  std::vector<std::unique_ptr<ProtocolClient>> clients_;
  std::vector<TaskAssignment> assignments_;
  AgentHostStats stats_;
};

}  // namespace metajoule::network
