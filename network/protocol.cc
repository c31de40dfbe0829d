#include "network/protocol.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

namespace metajoule::network {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::array<std::string_view, kNumReportVerdicts> kVerdictNames{
    "accepted", "duplicate", "stale", "future", "unexpected", "not_member"};

constexpr std::string_view kTheta = "theta";
constexpr std::string_view kUpdate = "update";

milliseconds Left(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
  return std::max(left, milliseconds(0));
}

void CheckNotReserved(const char* who, const std::vector<Scalar>& scalars,
                      std::initializer_list<std::string_view> reserved) {
  for (const Scalar& scalar : scalars) {
    for (std::string_view name : reserved) {
      if (scalar.name == name) {
        throw std::invalid_argument(std::string(who) + ": scalar name \"" + scalar.name +
                                    "\" is reserved by the protocol");
      }
    }
  }
}

// a whole number in [0, max] carried as a float64 scalar
bool WholeNumber(std::optional<double> value, double max) {
  return value && std::isfinite(*value) && *value >= 0.0 && *value <= max &&
         std::floor(*value) == *value;
}

}  // namespace

std::string_view ToString(ReportVerdict verdict) {
  const auto index = static_cast<std::size_t>(verdict);
  return index < kNumReportVerdicts ? kVerdictNames[index] : std::string_view("unknown");
}

std::optional<ReportVerdict> ParseReportVerdict(std::string_view name) {
  for (std::size_t i = 0; i < kNumReportVerdicts; ++i) {
    if (kVerdictNames[i] == name) return static_cast<ReportVerdict>(i);
  }
  return std::nullopt;
}

std::string_view ToString(JoinStatus status) {
  switch (status) {
    case JoinStatus::kJoined:
      return "joined";
    case JoinStatus::kRefused:
      return "refused";
    case JoinStatus::kTimeout:
      return "timeout";
  }
  return "unknown";
}

std::string_view ToString(AgentExit exit) {
  switch (exit) {
    case AgentExit::kDismissed:
      return "dismissed";
    case AgentExit::kRefused:
      return "refused";
    case AgentExit::kStopped:
      return "stopped";
    case AgentExit::kServerLost:
      return "server_lost";
  }
  return "unknown";
}

// ---- messages ----

Message MakeHello(const JoinRequest& request, std::uint32_t sequence) {
  CheckNotReserved("MakeHello", request.scalars, {"protocol", "cluster"});
  Message message;
  message.kind = MessageKind::kHello;
  message.sender = request.node;
  message.receiver = kServerNode;
  message.sequence = sequence;
  message.scalars.reserve(2 + request.scalars.size());
  message.scalars.push_back({"protocol", static_cast<double>(kProtocolVersion)});
  message.scalars.push_back({"cluster", static_cast<double>(request.cluster)});
  message.scalars.insert(message.scalars.end(), request.scalars.begin(), request.scalars.end());
  message.texts = request.texts;
  return message;
}

std::optional<JoinRequest> ParseHello(const Message& hello) {
  if (hello.kind != MessageKind::kHello || hello.sender == kAnyNode) return std::nullopt;
  if (hello.FindScalar("protocol") != static_cast<double>(kProtocolVersion)) return std::nullopt;
  const auto cluster = hello.FindScalar("cluster");
  if (!WholeNumber(cluster, 4294967295.0)) return std::nullopt;
  JoinRequest request;
  request.node = hello.sender;
  request.cluster = static_cast<std::uint32_t>(*cluster);
  for (const Scalar& scalar : hello.scalars) {
    if (scalar.name != "protocol" && scalar.name != "cluster") request.scalars.push_back(scalar);
  }
  request.texts = hello.texts;
  return request;
}

Message MakeTaskAssignment(const Message& hello, std::uint32_t round,
                           const TaskAssignment& assignment) {
  CheckNotReserved("MakeTaskAssignment", assignment.scalars, {"accepted"});
  Message message;
  message.kind = MessageKind::kTaskAssignment;
  message.sender = kServerNode;
  message.receiver = hello.sender;
  message.round = round;
  message.sequence = hello.sequence;
  message.scalars.push_back({"accepted", 1.0});
  message.scalars.insert(message.scalars.end(), assignment.scalars.begin(),
                         assignment.scalars.end());
  message.texts = assignment.texts;
  message.tensors = assignment.tensors;
  return message;
}

TaskAssignment ParseTaskAssignment(const Message& message) {
  TaskAssignment assignment;
  for (const Scalar& scalar : message.scalars) {
    if (scalar.name != "accepted") assignment.scalars.push_back(scalar);
  }
  assignment.texts = message.texts;
  assignment.tensors = message.tensors;
  return assignment;
}

Message MakeJoinRefusal(const Message& hello, const std::string& reason) {
  Message message;
  message.kind = MessageKind::kAck;
  message.sender = kServerNode;
  message.receiver = hello.sender;
  message.round = hello.round;
  message.sequence = hello.sequence;
  message.scalars = {{"accepted", 0.0}};
  message.texts = {{"reason", reason.substr(0, kMaxTextBytes)}};
  return message;
}

Message MakeModelPush(NodeId node, std::uint32_t round, std::span<const float> theta,
                      const std::vector<Scalar>& scalars) {
  Message message;
  message.kind = MessageKind::kModelPush;
  message.content = Content::kModel;
  message.sender = kServerNode;
  message.receiver = node;
  message.round = round;
  message.sequence = round;
  message.scalars = scalars;
  message.tensors = {{std::string(kTheta), std::vector<float>(theta.begin(), theta.end())}};
  return message;
}

Message MakeUpdateReport(NodeId node, std::uint32_t round, Content content,
                         std::span<const float> update, const std::vector<Scalar>& scalars) {
  Message message;
  message.kind = MessageKind::kUpdateReport;
  message.content = content;
  message.sender = node;
  message.receiver = kServerNode;
  message.round = round;
  message.scalars = scalars;
  message.tensors = {{std::string(kUpdate), std::vector<float>(update.begin(), update.end())}};
  return message;
}

Message MakeEvaluationReport(NodeId node, std::uint32_t round, const std::vector<Scalar>& scalars,
                             const std::vector<Text>& texts) {
  Message message;
  message.kind = MessageKind::kEvaluationReport;
  message.sender = node;
  message.receiver = kServerNode;
  message.round = round;
  message.scalars = scalars;
  message.texts = texts;
  return message;
}

Message MakeReportAck(const Message& report, ReportVerdict verdict) {
  Message message;
  message.kind = MessageKind::kAck;
  message.sender = kServerNode;
  message.receiver = report.sender;
  message.round = report.round;
  message.sequence = report.sequence;
  message.scalars = {{"accepted", verdict == ReportVerdict::kAccepted ? 1.0 : 0.0}};
  message.texts = {{"verdict", std::string(ToString(verdict))}};
  return message;
}

Message MakeHeartbeat(NodeId node, std::uint32_t round) {
  Message message;
  message.kind = MessageKind::kHeartbeat;
  message.sender = node;
  message.receiver = kServerNode;
  message.round = round;
  return message;
}

Message MakeLeave(NodeId from, NodeId to) {
  Message message;
  message.kind = MessageKind::kLeave;
  message.sender = from;
  message.receiver = to;
  return message;
}

// ---- RoundCollector ----

RoundCollector::RoundCollector(MessageKind kind, std::uint32_t round, std::vector<NodeId> expected)
    : kind_(kind), round_(round), expected_(std::move(expected)) {
  if (kind != MessageKind::kUpdateReport && kind != MessageKind::kEvaluationReport) {
    throw std::invalid_argument("RoundCollector: expected kind update_report or "
                                "evaluation_report, got " +
                                std::string(ToString(kind)));
  }
  // a node listed twice is expected once
  std::vector<NodeId> unique;
  for (NodeId node : expected_) {
    if (std::find(unique.begin(), unique.end(), node) == unique.end()) unique.push_back(node);
  }
  expected_ = std::move(unique);
  slots_.assign(expected_.size(), Slot::kWaiting);
  reports_.resize(expected_.size());
  waiting_ = expected_.size();
}

ReportVerdict RoundCollector::Offer(Message report) {
  if (report.round < round_) return ReportVerdict::kStale;
  if (report.round > round_) return ReportVerdict::kFuture;
  const auto at = std::find(expected_.begin(), expected_.end(), report.sender);
  if (report.kind != kind_ || at == expected_.end()) return ReportVerdict::kUnexpected;
  const auto index = static_cast<std::size_t>(at - expected_.begin());
  if (slots_[index] == Slot::kArrived) return ReportVerdict::kDuplicate;
  if (slots_[index] == Slot::kDropped) return ReportVerdict::kStale;
  slots_[index] = Slot::kArrived;
  reports_[index] = std::move(report);
  --waiting_;
  return ReportVerdict::kAccepted;
}

bool RoundCollector::HasArrived(NodeId node) const {
  const auto at = std::find(expected_.begin(), expected_.end(), node);
  return at != expected_.end() &&
         slots_[static_cast<std::size_t>(at - expected_.begin())] == Slot::kArrived;
}

void RoundCollector::Drop(NodeId node) {
  const auto at = std::find(expected_.begin(), expected_.end(), node);
  if (at == expected_.end()) return;
  const auto index = static_cast<std::size_t>(at - expected_.begin());
  if (slots_[index] != Slot::kWaiting) return;
  slots_[index] = Slot::kDropped;
  --waiting_;
}

RoundResult RoundCollector::Result(bool timed_out) const {
  RoundResult result;
  result.round = round_;
  result.kind = kind_;
  result.timed_out = timed_out;
  for (std::size_t i = 0; i < expected_.size(); ++i) {
    if (slots_[i] == Slot::kArrived) {
      result.arrived.push_back(expected_[i]);
      result.reports.push_back(reports_[i]);
    } else {
      result.missing.push_back(expected_[i]);
    }
  }
  return result;
}

// ---- ProtocolServer ----

ProtocolServer::ProtocolServer(zmq::context_t& context, const std::string& bind_endpoint,
                               const ChannelConfig& config, const ServerSecurity& security)
    : channel_(context, bind_endpoint, config, security) {}

void ProtocolServer::Reply(const PeerId& peer, const Message& message) {
  // a peer that vanished meanwhile cannot be answered; nothing else to do
  (void)channel_.Send(peer, message);
}

bool ProtocolServer::WaitForMembers(std::size_t count, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Incoming incoming;
  while (members_.size() < count) {
    if (channel_.Receive(incoming, Left(deadline)) != ReceiveStatus::kOk) break;
    Handle(incoming);
  }
  return members_.size() >= count;
}

void ProtocolServer::Poll(milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Incoming incoming;
  while (channel_.Receive(incoming, Left(deadline)) == ReceiveStatus::kOk) Handle(incoming);
}

std::vector<NodeId> ProtocolServer::StartRound(std::uint32_t round, std::span<const float> theta,
                                               std::span<const NodeId> nodes,
                                               const std::vector<Scalar>& scalars) {
  PushGroup group;
  group.theta = theta;
  group.scalars = scalars;
  group.nodes.assign(nodes.begin(), nodes.end());
  return StartRound(round, std::span<const PushGroup>(&group, 1));
}

std::vector<NodeId> ProtocolServer::StartRound(std::uint32_t round,
                                               std::span<const PushGroup> groups) {
  if (started_ && round <= round_) {
    throw std::invalid_argument("StartRound: expected a round above " + std::to_string(round_) +
                                ", got " + std::to_string(round));
  }
  round_ = round;
  started_ = true;
  std::vector<NodeId> reached;
  unreachable_.clear();
  for (const PushGroup& group : groups) {
    // one encoding of each group's model, shared by its receivers
    const Message push = MakeModelPush(kAnyNode, round, group.theta, group.scalars);
    zmq::message_t encoded = EncodeToZmq(push, channel_.config().tensor_encoding);
    for (NodeId node : group.nodes) {
      const auto member = members_.find(node);
      if (member == members_.end() ||
          channel_.SendShared(member->second.peer, encoded) != SendStatus::kOk) {
        unreachable_.push_back(node);
      } else {
        reached.push_back(node);
      }
    }
  }
  updates_.emplace(MessageKind::kUpdateReport, round, reached);
  evaluations_.emplace(MessageKind::kEvaluationReport, round, reached);
  updates_closed_ = false;
  evaluations_closed_ = false;
  return unreachable_;
}

RoundResult ProtocolServer::Collect(std::optional<RoundCollector>& collector, bool& closed,
                                    milliseconds deadline) {
  if (!collector || closed) {
    throw std::invalid_argument("Collect: no open round (call StartRound first) or collected "
                                "already");
  }
  const auto start = Clock::now();
  const auto end = start + deadline;
  Incoming incoming;
  while (!collector->done()) {
    if (channel_.Receive(incoming, Left(end)) != ReceiveStatus::kOk) break;
    Handle(incoming);
  }
  RoundResult result = collector->Result(!collector->done());
  result.unreachable = unreachable_;
  result.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  stats_.missed_reports += result.missing.size();
  closed = true;
  return result;
}

RoundResult ProtocolServer::CollectUpdates(milliseconds deadline) {
  return Collect(updates_, updates_closed_, deadline);
}

RoundResult ProtocolServer::CollectEvaluations(milliseconds deadline) {
  return Collect(evaluations_, evaluations_closed_, deadline);
}

void ProtocolServer::Dismiss(std::span<const NodeId> nodes) {
  for (NodeId node : nodes) {
    const auto member = members_.find(node);
    if (member == members_.end()) continue;
    Reply(member->second.peer, MakeLeave(kServerNode, node));
    if (updates_ && !updates_closed_) updates_->Drop(node);
    if (evaluations_ && !evaluations_closed_) evaluations_->Drop(node);
    members_.erase(member);
  }
}

std::vector<NodeId> ProtocolServer::member_ids() const {
  std::vector<NodeId> ids;
  for (const auto& entry : members_) ids.push_back(entry.first);
  return ids;
}

const Member* ProtocolServer::FindMember(NodeId node) const {
  const auto member = members_.find(node);
  return member == members_.end() ? nullptr : &member->second;
}

void ProtocolServer::HandleReport(Incoming& incoming) {
  const Message& report = incoming.message;
  const bool is_update = report.kind == MessageKind::kUpdateReport;
  std::optional<RoundCollector>& collector = is_update ? updates_ : evaluations_;
  const bool closed = is_update ? updates_closed_ : evaluations_closed_;
  ReportVerdict verdict;
  if (members_.count(report.sender) == 0) {
    verdict = ReportVerdict::kNotMember;
  } else if (report.round > round_ || !started_ || !collector) {
    verdict = ReportVerdict::kFuture;  // no round pushed yet, or a later one
  } else if (report.round < round_) {
    verdict = ReportVerdict::kStale;
  } else if (closed) {
    // the round's collection is over: a second report from a node that made it is a duplicate,
    // any other is late
    verdict = collector->HasArrived(report.sender) ? ReportVerdict::kDuplicate
                                                   : ReportVerdict::kStale;
  } else {
    const PeerId peer = incoming.peer;
    Message ack_source;
    ack_source.sender = report.sender;
    ack_source.round = report.round;
    ack_source.sequence = report.sequence;
    verdict = collector->Offer(std::move(incoming.message));
    ++stats_.reports[static_cast<std::size_t>(verdict)];
    Reply(peer, MakeReportAck(ack_source, verdict));
    return;
  }
  ++stats_.reports[static_cast<std::size_t>(verdict)];
  Reply(incoming.peer, MakeReportAck(report, verdict));
}

void ProtocolServer::Handle(Incoming& incoming) {
  const Message& message = incoming.message;
  if (observer_) observer_(message);
  const auto member = members_.find(message.sender);
  if (member != members_.end()) {
    member->second.last_seen = Clock::now();
    member->second.peer = incoming.peer;
  }
  switch (message.kind) {
    case MessageKind::kHello: {
      const std::optional<JoinRequest> request = ParseHello(message);
      std::optional<TaskAssignment> assignment;
      std::string reason = "malformed hello (protocol version or cluster)";
      if (request) {
        assignment = join_handler_ ? join_handler_(*request) : TaskAssignment{};
        reason = "refused by the server";
      }
      if (!assignment) {
        ++stats_.refused_joins;
        Reply(incoming.peer, MakeJoinRefusal(message, reason));
        return;
      }
      Member& joined = members_[request->node];
      if (joined.joins > 0) ++stats_.rejoins;
      ++joined.joins;
      ++stats_.joins;
      joined.request = *request;
      joined.peer = incoming.peer;
      joined.last_seen = Clock::now();
      Reply(incoming.peer, MakeTaskAssignment(message, round_, *assignment));
      return;
    }
    case MessageKind::kUpdateReport:
    case MessageKind::kEvaluationReport:
      HandleReport(incoming);
      return;
    case MessageKind::kHeartbeat:
      ++stats_.heartbeats;
      if (member == members_.end()) {
        // a node the server does not know (it restarted, or dismissed it): tell it to rejoin
        Reply(incoming.peer, MakeReportAck(message, ReportVerdict::kNotMember));
      }
      return;
    case MessageKind::kLeave:
      if (member == members_.end()) return;
      ++stats_.leaves;
      if (updates_ && !updates_closed_) updates_->Drop(message.sender);
      if (evaluations_ && !evaluations_closed_) evaluations_->Drop(message.sender);
      members_.erase(member);
      return;
    default:
      ++stats_.ignored;
      return;
  }
}

// ---- ProtocolClient ----

ProtocolClient::ProtocolClient(zmq::context_t& context, const std::string& connect_endpoint,
                               NodeId node, const ChannelConfig& config,
                               const ClientSecurity& security)
    : channel_(context, connect_endpoint, config, "node-" + std::to_string(node), security),
      node_(node) {}

JoinStatus ProtocolClient::Join(const JoinRequest& request, TaskAssignment& assignment,
                                std::string& reason, milliseconds timeout) {
  if (request.node != node_) {
    throw std::invalid_argument("Join: request for node " + std::to_string(request.node) +
                                ", expected this client's node " + std::to_string(node_));
  }
  Message reply;
  if (channel_.Request(MakeHello(request, NextSequence()), reply, timeout) != ReceiveStatus::kOk) {
    return JoinStatus::kTimeout;
  }
  if (reply.kind == MessageKind::kTaskAssignment && reply.FindScalar("accepted") == 1.0) {
    assignment = ParseTaskAssignment(reply);
    return JoinStatus::kJoined;
  }
  const Text* why = reply.FindText("reason");
  reason = why ? why->value : std::string("refused");
  return JoinStatus::kRefused;
}

ReceiveStatus ProtocolClient::Receive(Message& out, milliseconds timeout) {
  const ReceiveStatus status = channel_.Receive(out, timeout);
  if (status == ReceiveStatus::kOk && out.kind == MessageKind::kModelPush) {
    last_round_ = std::max(last_round_, out.round);
  }
  return status;
}

SendStatus ProtocolClient::ReportUpdate(std::uint32_t round, Content content,
                                        std::span<const float> update,
                                        const std::vector<Scalar>& scalars) {
  Message report = MakeUpdateReport(node_, round, content, update, scalars);
  report.sequence = NextSequence();
  return channel_.Send(report);
}

SendStatus ProtocolClient::ReportEvaluation(std::uint32_t round,
                                            const std::vector<Scalar>& scalars,
                                            const std::vector<Text>& texts) {
  Message report = MakeEvaluationReport(node_, round, scalars, texts);
  report.sequence = NextSequence();
  return channel_.Send(report);
}

SendStatus ProtocolClient::SendReport(Message report) {
  report.sender = node_;
  report.receiver = kServerNode;
  report.sequence = NextSequence();
  return channel_.Send(report);
}

SendStatus ProtocolClient::Heartbeat() {
  Message heartbeat = MakeHeartbeat(node_, last_round_);
  heartbeat.sequence = NextSequence();
  return channel_.Send(heartbeat);
}

SendStatus ProtocolClient::Leave() { return channel_.Send(MakeLeave(node_, kServerNode)); }

// ---- agent loop ----

namespace {

// the agent loop of RunAgentLoop and RunAgentReportLoop: `answer` handles one model push and
// returns false to stop at once
template <class Answer>
AgentExit AgentLoop(ProtocolClient& client, const JoinRequest& request,
                    const AgentLoopOptions& options, Answer&& answer) {
  auto stopped = [&options] { return options.stop != nullptr && options.stop->load(); };
  TaskAssignment assignment;
  bool joined = false;
  int silent_periods = 0;
  auto silent = [&] {
    ++silent_periods;
    return options.max_silent_periods > 0 && silent_periods >= options.max_silent_periods;
  };
  for (;;) {
    if (stopped()) {
      (void)client.Leave();
      return AgentExit::kStopped;
    }
    // join (again) until the server answers
    if (!joined) {
      std::string reason;
      switch (client.Join(request, assignment, reason, options.join_timeout)) {
        case JoinStatus::kJoined:
          joined = true;
          silent_periods = 0;
          break;
        case JoinStatus::kRefused:
          return AgentExit::kRefused;
        case JoinStatus::kTimeout:
          if (silent()) return AgentExit::kServerLost;
          continue;
      }
    }
    Message message;
    if (client.Receive(message, options.idle_timeout) != ReceiveStatus::kOk) {
      if (silent()) return AgentExit::kServerLost;
      (void)client.Heartbeat();
      continue;
    }
    silent_periods = 0;
    switch (message.kind) {
      case MessageKind::kModelPush:
        if (!answer(assignment, message)) return AgentExit::kStopped;
        break;
      case MessageKind::kTaskAssignment:
        if (message.FindScalar("accepted") == 1.0) assignment = ParseTaskAssignment(message);
        break;
      case MessageKind::kAck: {
        const Text* verdict = message.FindText("verdict");
        if (verdict != nullptr && verdict->value == ToString(ReportVerdict::kNotMember)) {
          joined = false;
        }
        break;
      }
      case MessageKind::kLeave:
        return AgentExit::kDismissed;
      default:
        break;
    }
  }
}

}  // namespace

AgentExit RunAgentLoop(ProtocolClient& client, const JoinRequest& request,
                       const AgentCompute& compute, const AgentLoopOptions& options) {
  return AgentLoop(client, request, options,
                   [&](const TaskAssignment& assignment, const Message& push) {
                     const Tensor* theta = push.FindTensor(kTheta);
                     if (theta == nullptr) return true;
                     std::optional<AgentReply> reply = compute(assignment, push.round,
                                                               theta->values);
                     if (!reply) return false;
                     (void)client.ReportUpdate(push.round, reply->content, reply->update,
                                               reply->scalars);
                     if (reply->evaluation) {
                       (void)client.ReportEvaluation(push.round, *reply->evaluation);
                     }
                     return true;
                   });
}

AgentExit RunAgentReportLoop(ProtocolClient& client, const JoinRequest& request,
                             const AgentReportCompute& compute,
                             const AgentLoopOptions& options) {
  return AgentLoop(client, request, options,
                   [&](const TaskAssignment& assignment, const Message& push) {
                     std::optional<Message> report = compute(assignment, push);
                     if (!report) return false;
                     (void)client.SendReport(std::move(*report));
                     return true;
                   });
}

}  // namespace metajoule::network
