#pragma once
// The node protocol (docs/protocol.md) on top of the channel: typed helpers for each step of a
// session, a server that keeps the membership and collects the reports of a round with a
// deadline, and a client with an agent loop. Transport level only: the contents of task
// assignments, models and reports are the caller's opaque scalars, texts and flat tensors.
//
//   agent                                   server
//   hello(node, cluster, capabilities)  ->
//                                       <-  task_assignment (same sequence), or ack accepted=0
//   per round r:                        <-  model_push(round r, tensor "theta")
//   update_report(r, tensor "update")   ->  ack(verdict)
//   evaluation_report(r) (optional)     ->  ack(verdict)
//   heartbeat (when idle)               ->  (ack not_member if the server does not know it)
//   leave                               ->     / <- leave (the session is over)
//
// A node that dies or stalls mid-round is recorded missing when the round's deadline passes;
// the others' reports complete the round. The same node id can rejoin later (a new hello) and
// takes part in the rounds pushed after that. Reports for a round that is closed, not yet
// pushed, or already reported are rejected, counted and acknowledged with their verdict.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "network/channel.h"
#include "network/topology.h"
#include "network/wire_format.h"

namespace metajoule::network {

/// The protocol version a hello carries (scalar "protocol"); a server refuses other versions.
inline constexpr std::uint32_t kProtocolVersion = 1;

/// What a node says when it joins: its id, cluster and capabilities (opaque to the network).
struct JoinRequest {
  NodeId node{0};
  std::uint32_t cluster{0};
  std::vector<Scalar> scalars{};  ///< capabilities; names "protocol" and "cluster" are reserved
  std::vector<Text> texts{};
};

/// What the server gives a node that joined (opaque task description).
struct TaskAssignment {
  std::vector<Scalar> scalars{};  ///< the name "accepted" is reserved
  std::vector<Text> texts{};
  std::vector<Tensor> tensors{};
};

/// The answer to a report (the ack's text "verdict").
enum class ReportVerdict : std::uint8_t {
  kAccepted,    ///< counted in its round
  kDuplicate,   ///< the node already reported this round
  kStale,       ///< the round is closed, or older than the current one
  kFuture,      ///< a round that has not been pushed yet
  kUnexpected,  ///< the node is not expected in this round
  kNotMember,   ///< the node has not joined (e.g. the server restarted): send hello again
};
inline constexpr std::size_t kNumReportVerdicts = 6;
std::string_view ToString(ReportVerdict verdict);
/// The verdict called `name`, if any.
std::optional<ReportVerdict> ParseReportVerdict(std::string_view name);

// ---- message helpers (docs/protocol.md, "Messages") ----

/// hello: sender = node, receiver = 0, scalars protocol, cluster, then the capabilities.
/// @throws std::invalid_argument if a capability uses a reserved name.
Message MakeHello(const JoinRequest& request, std::uint32_t sequence);
/// The join request of a hello; nullopt unless kind is hello and protocol/cluster are valid.
std::optional<JoinRequest> ParseHello(const Message& hello);
/// task_assignment answering `hello`: same sequence, scalar accepted = 1, then the assignment.
Message MakeTaskAssignment(const Message& hello, std::uint32_t round,
                           const TaskAssignment& assignment);
/// The assignment a task_assignment carries (scalar "accepted" removed).
TaskAssignment ParseTaskAssignment(const Message& message);
/// ack refusing `hello`: scalar accepted = 0, text reason.
Message MakeJoinRefusal(const Message& hello, const std::string& reason);
/// model_push of `round` to `node`: content model, tensor "theta", then the caller's scalars.
Message MakeModelPush(NodeId node, std::uint32_t round, std::span<const float> theta,
                      const std::vector<Scalar>& scalars = {});
/// update_report of `round`: content (gradient, model, delta or data), tensor "update", scalars.
Message MakeUpdateReport(NodeId node, std::uint32_t round, Content content,
                         std::span<const float> update, const std::vector<Scalar>& scalars = {});
/// evaluation_report of `round` with the caller's scalars and texts.
Message MakeEvaluationReport(NodeId node, std::uint32_t round, const std::vector<Scalar>& scalars,
                             const std::vector<Text>& texts = {});
/// ack of a report: same round and sequence, scalar accepted (1 for kAccepted), text verdict.
Message MakeReportAck(const Message& report, ReportVerdict verdict);
/// heartbeat from `node`, carrying the latest round it has seen.
Message MakeHeartbeat(NodeId node, std::uint32_t round);
/// leave: from a node (it leaves) or from the server (the session is over).
Message MakeLeave(NodeId from, NodeId to);

// ---- collecting one round ----

/// The outcome of collecting one round's reports of one kind.
struct RoundResult {
  std::uint32_t round{0};
  MessageKind kind{MessageKind::kUpdateReport};
  std::vector<Message> reports{};     ///< the accepted reports, in the order of `expected`
  std::vector<NodeId> arrived{};      ///< nodes whose report was accepted, in `expected` order
  std::vector<NodeId> missing{};      ///< expected nodes without a report (timed out or left)
  std::vector<NodeId> unreachable{};  ///< nodes the model push could not reach (not waited for)
  bool timed_out{false};              ///< the deadline passed before every report arrived
  double elapsed_s{0.0};              ///< wall time spent waiting
  bool complete() const { return missing.empty() && unreachable.empty(); }
};

/// The reports of one kind for one round, from an expected set of nodes. Pure bookkeeping (no
/// sockets, no clock): the ProtocolServer feeds it, tests drive it directly.
class RoundCollector {
 public:
  /// @throws std::invalid_argument unless kind is update_report or evaluation_report.
  RoundCollector(MessageKind kind, std::uint32_t round, std::vector<NodeId> expected);

  /// Offers one report; accepted ones are kept (the first per node).
  ReportVerdict Offer(Message report);
  /// Stops waiting for `node` (it left or became unreachable); it ends up in missing.
  void Drop(NodeId node);
  /// True when every expected node has reported or been dropped.
  bool done() const { return waiting_ == 0; }
  /// True when `node`'s report was accepted.
  bool HasArrived(NodeId node) const;
  std::uint32_t round() const { return round_; }
  MessageKind kind() const { return kind_; }
  /// The result so far (reports in expected order; nodes not yet reported are missing).
  RoundResult Result(bool timed_out) const;

 private:
  enum class Slot : std::uint8_t { kWaiting, kArrived, kDropped };
  MessageKind kind_;
  std::uint32_t round_;
  std::vector<NodeId> expected_;
  std::vector<Slot> slots_;
  std::vector<Message> reports_;
  std::size_t waiting_{0};
};

// ---- server ----

/// One model pushed to a group of nodes in a round (ProtocolServer::StartRound).
struct PushGroup {
  std::span<const float> theta{};
  std::vector<Scalar> scalars{};  ///< the caller's scalars of the push
  std::vector<NodeId> nodes{};
};

/// A node that has joined.
struct Member {
  JoinRequest request{};
  PeerId peer{};
  std::uint32_t joins{0};  ///< 1 + rejoins
  std::chrono::steady_clock::time_point last_seen{};
};

/// What the server has seen, beyond the channel's RejectionStats.
struct ProtocolStats {
  std::uint64_t joins{0};          ///< hellos accepted (rejoins included)
  std::uint64_t rejoins{0};        ///< hellos from a node that was already a member
  std::uint64_t refused_joins{0};  ///< hellos refused (bad hello or the join handler said no)
  std::uint64_t leaves{0};
  std::uint64_t heartbeats{0};
  std::uint64_t missed_reports{0};  ///< expected reports that timed out (or whose node left)
  /// Rejected reports, per ReportVerdict (index kAccepted counts the accepted ones).
  std::uint64_t reports[kNumReportVerdicts]{};
  std::uint64_t ignored{0};  ///< other messages with no meaning for a server (e.g. a model push)
  std::uint64_t count(ReportVerdict verdict) const {
    return reports[static_cast<std::size_t>(verdict)];
  }
};

/// The server side of the protocol over one ChannelServer. Not thread-safe; every method
/// handles the messages that arrive while it waits (joins, heartbeats, leaves, reports).
class ProtocolServer {
 public:
  /// Decides on a join: an assignment accepts it, nullopt refuses it.
  using JoinHandler = std::function<std::optional<TaskAssignment>(const JoinRequest&)>;
  /// Sees every valid message before it is handled (logging, tests).
  using Observer = std::function<void(const Message&)>;

  /// @throws as ChannelServer.
  ProtocolServer(zmq::context_t& context, const std::string& bind_endpoint,
                 const ChannelConfig& config = {}, const ServerSecurity& security = {});

  /// Default: accept every join with an empty assignment.
  void SetJoinHandler(JoinHandler handler) { join_handler_ = std::move(handler); }
  void SetObserver(Observer observer) { observer_ = std::move(observer); }

  const std::string& endpoint() const { return channel_.endpoint(); }

  /// Handles messages until at least `count` nodes are members (true) or `timeout` passes.
  bool WaitForMembers(std::size_t count, std::chrono::milliseconds timeout);
  /// Handles whatever arrives during `timeout`.
  void Poll(std::chrono::milliseconds timeout);

  /// Opens round `round` (> every earlier round): pushes theta to `nodes` and starts collecting
  /// their update and evaluation reports. Earlier rounds are closed (their late reports are
  /// stale). Returns the nodes the push could not reach (not members or disconnected).
  /// @throws std::invalid_argument if `round` is not above the current round.
  std::vector<NodeId> StartRound(std::uint32_t round, std::span<const float> theta,
                                 std::span<const NodeId> nodes,
                                 const std::vector<Scalar>& scalars = {});
  /// The same with one model per group of nodes (e.g. one meta-model per cluster): each group's
  /// push is encoded once and shared by its nodes, and one collection covers every group's
  /// nodes, in group order. A node listed in two groups is pushed twice and expected once.
  std::vector<NodeId> StartRound(std::uint32_t round, std::span<const PushGroup> groups);
  /// Waits up to `deadline` for the update reports of the current round and closes their
  /// collection: later ones are stale.
  RoundResult CollectUpdates(std::chrono::milliseconds deadline);
  /// The same for evaluation reports.
  RoundResult CollectEvaluations(std::chrono::milliseconds deadline);

  /// Sends leave (the session is over) to `nodes` and forgets them.
  void Dismiss(std::span<const NodeId> nodes);

  /// Member ids, ascending.
  std::vector<NodeId> member_ids() const;
  const Member* FindMember(NodeId node) const;
  std::uint32_t current_round() const { return round_; }
  const ProtocolStats& stats() const { return stats_; }
  ChannelServer& channel() { return channel_; }

 private:
  RoundResult Collect(std::optional<RoundCollector>& collector, bool& closed,
                      std::chrono::milliseconds deadline);
  void Handle(Incoming& incoming);
  void HandleReport(Incoming& incoming);
  void Reply(const PeerId& peer, const Message& message);

  ChannelServer channel_;
  JoinHandler join_handler_;
  Observer observer_;
  std::map<NodeId, Member> members_;
  std::uint32_t round_{0};
  bool started_{false};  // a round has been started
  std::vector<NodeId> unreachable_;
  // the collectors of the current round; a collected one stays, closed, to tell duplicates
  // (the node had reported) from late reports
  std::optional<RoundCollector> updates_;
  std::optional<RoundCollector> evaluations_;
  bool updates_closed_{false};
  bool evaluations_closed_{false};
  ProtocolStats stats_;
};

// ---- client ----

/// The outcome of a join.
enum class JoinStatus : std::uint8_t { kJoined, kRefused, kTimeout };
std::string_view ToString(JoinStatus status);

/// The agent side of the protocol over one ChannelClient (routing id "node-<id>", so a
/// reconnecting node keeps its slot at the server). Not thread-safe.
class ProtocolClient {
 public:
  /// @throws as ChannelClient.
  ProtocolClient(zmq::context_t& context, const std::string& connect_endpoint, NodeId node,
                 const ChannelConfig& config = {}, const ClientSecurity& security = {});

  /// Sends hello and waits up to `timeout` for the assignment (kJoined) or a refusal (kRefused,
  /// with `reason`). Other messages arriving meanwhile are kept for Receive.
  JoinStatus Join(const JoinRequest& request, TaskAssignment& assignment, std::string& reason,
                  std::chrono::milliseconds timeout);
  /// The next message from the server (model_push, ack, leave, task_assignment).
  ReceiveStatus Receive(Message& out, std::chrono::milliseconds timeout);
  SendStatus ReportUpdate(std::uint32_t round, Content content, std::span<const float> update,
                          const std::vector<Scalar>& scalars = {});
  SendStatus ReportEvaluation(std::uint32_t round, const std::vector<Scalar>& scalars,
                              const std::vector<Text>& texts = {});
  /// Sends a report the caller built (update or evaluation report): sender and sequence are
  /// set here.
  SendStatus SendReport(Message report);
  SendStatus Heartbeat();
  SendStatus Leave();

  NodeId node() const { return node_; }
  /// The latest round this client has received a model for.
  std::uint32_t last_round() const { return last_round_; }
  ChannelClient& channel() { return channel_; }

 private:
  std::uint32_t NextSequence() { return ++sequence_; }

  ChannelClient channel_;
  NodeId node_;
  std::uint32_t sequence_{0};
  std::uint32_t last_round_{0};
};

/// What an agent sends back for one model push.
struct AgentReply {
  Content content{Content::kGradient};
  std::vector<float> update{};
  std::vector<Scalar> scalars{};
  /// When set, an evaluation report follows the update report.
  std::optional<std::vector<Scalar>> evaluation{};
};

/// Computes the reply to a model push; nullopt makes the loop return kStopped at once (without
/// leave), as a node that dies would.
using AgentCompute = std::function<std::optional<AgentReply>(
    const TaskAssignment& assignment, std::uint32_t round, std::span<const float> theta)>;

struct AgentLoopOptions {
  /// Wait for a join's answer; on a timeout the hello is sent again.
  std::chrono::milliseconds join_timeout{2000};
  /// Silence after which the agent sends a heartbeat (a server that does not know it answers
  /// not_member, and the agent joins again, e.g. after a server restart).
  std::chrono::milliseconds idle_timeout{2000};
  /// Consecutive silent periods (joins or idle timeouts) after which the loop gives up with
  /// kServerLost; 0 = never.
  int max_silent_periods{0};
  /// Checked between waits; true makes the loop leave and return kStopped.
  const std::atomic<bool>* stop{nullptr};
};

enum class AgentExit : std::uint8_t {
  kDismissed,   ///< the server sent leave
  kRefused,     ///< the server refused the join
  kStopped,     ///< the stop flag, or compute returned nullopt
  kServerLost,  ///< max_silent_periods passed without a word from the server
};
std::string_view ToString(AgentExit exit);

/// Joins, then answers every model push with compute's reply, rejoining whenever the server
/// says not_member (or a join times out), until dismissed, refused, stopped or lost.
AgentExit RunAgentLoop(ProtocolClient& client, const JoinRequest& request,
                       const AgentCompute& compute, const AgentLoopOptions& options = {});

/// Computes the report answering a model push from the whole push message (its scalars
/// included): an update_report whose round is the push's; sender and sequence are filled in
/// by the loop. nullopt makes the loop return kStopped at once, as for AgentCompute.
using AgentReportCompute = std::function<std::optional<Message>(const TaskAssignment& assignment,
                                                                const Message& push)>;

/// RunAgentLoop for callers that read the push's scalars and build their own report.
AgentExit RunAgentReportLoop(ProtocolClient& client, const JoinRequest& request,
                             const AgentReportCompute& compute,
                             const AgentLoopOptions& options = {});

}  // namespace metajoule::network
