#include "network/agent_host.h"

#include <algorithm>
#include <cerrno>
#include <set>
#include <stdexcept>

namespace metajoule::network {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

AgentHost::AgentHost(zmq::context_t& context, const std::string& connect_endpoint,
                     std::vector<JoinRequest> agents, const ChannelConfig& config,
                     const ClientSecurity& security)
    : requests_(std::move(agents)) {
  std::set<NodeId> seen;
  for (const JoinRequest& request : requests_) {
    if (!seen.insert(request.node).second) {
      throw std::invalid_argument("AgentHost: node " + std::to_string(request.node) +
                                  " is listed twice");
    }
  }
  clients_.reserve(requests_.size());
  for (const JoinRequest& request : requests_) {
    clients_.push_back(
        std::make_unique<ProtocolClient>(context, connect_endpoint, request.node, config, security));
  }
  assignments_.resize(requests_.size());
}

AgentHost::~AgentHost() = default;

bool AgentHost::JoinAll(const AgentHostOptions& options, std::string& reason) {
  const auto deadline = Clock::now() + options.join_deadline;
  for (std::size_t k = 0; k < clients_.size(); ++k) {
    for (;;) {
      if (options.stop != nullptr && options.stop->load()) return false;
      switch (clients_[k]->Join(requests_[k], assignments_[k], reason, options.join_timeout)) {
        case JoinStatus::kJoined:
          break;
        case JoinStatus::kRefused:
          reason = "node " + std::to_string(requests_[k].node) + " refused: " + reason;
          return false;
        case JoinStatus::kTimeout:
          if (Clock::now() >= deadline) {
            reason = "timeout";
            return false;
          }
          continue;
      }
      break;
    }
  }
  return true;
}

void AgentHost::LeaveAll() {
  for (auto& client : clients_) (void)client->Leave();
}

AgentExit AgentHost::Run(const BatchCompute& compute, const AgentHostOptions& options) {
  const auto run_start = Clock::now();
  double waited = 0.0;
  const auto finish = [&](AgentExit exit) {
    stats_.busy_seconds += SecondsSince(run_start) - waited;
    return exit;
  };
  std::string reason;
  if (!JoinAll(options, reason)) {
    if (options.stop != nullptr && options.stop->load()) {
      LeaveAll();
      return finish(AgentExit::kStopped);
    }
    LeaveAll();
    return finish(reason == "timeout" ? AgentExit::kServerLost : AgentExit::kRefused);
  }

  const std::size_t n = clients_.size();
  std::vector<bool> active(n, true);
  std::size_t left = n;
  std::vector<zmq::pollitem_t> items(n);
  for (std::size_t k = 0; k < n; ++k) {
    items[k] = {clients_[k]->channel().socket().handle(), 0, ZMQ_POLLIN, 0};
  }
  std::vector<Message> pushes;
  std::vector<std::size_t> push_agent;
  std::vector<bool> rejoin(n, false);
  Message message;

  // every queued message of agent k
  const auto drain = [&](std::size_t k) {
    while (clients_[k]->Receive(message, std::chrono::milliseconds(0)) == ReceiveStatus::kOk) {
      switch (message.kind) {
        case MessageKind::kModelPush:
          if (!active[k]) break;
          pushes.push_back(std::move(message));
          push_agent.push_back(k);
          message = Message();
          break;
        case MessageKind::kTaskAssignment:
          if (message.FindScalar("accepted") == 1.0) assignments_[k] = ParseTaskAssignment(message);
          break;
        case MessageKind::kAck: {
          const Text* verdict = message.FindText("verdict");
          if (verdict != nullptr && verdict->value == ToString(ReportVerdict::kNotMember)) {
            rejoin[k] = true;
          }
          break;
        }
        case MessageKind::kLeave:
          if (active[k]) {
            active[k] = false;
            --left;
          }
          break;
        default:
          break;
      }
    }
  };
  // drains every socket with something to read; returns whether any had
  const auto poll = [&](std::chrono::milliseconds timeout) {
    const auto start = Clock::now();
    int ready = 0;
    try {
      ready = zmq::poll(items, timeout);
    } catch (const zmq::error_t& error) {
      if (error.num() != EINTR) throw;  // a signal: poll again
    }
    if (timeout.count() > 0) waited += SecondsSince(start);
    if (ready <= 0) return false;
    for (std::size_t k = 0; k < n; ++k) {
      if ((items[k].revents & ZMQ_POLLIN) != 0) drain(k);
    }
    return true;
  };

  // messages that arrived during the joins wait in the clients' queues
  for (std::size_t k = 0; k < n; ++k) drain(k);
  std::vector<std::optional<Message>> reports;
  std::vector<HostedPush> batch;
  for (;;) {
    if (options.stop != nullptr && options.stop->load()) {
      LeaveAll();
      return finish(AgentExit::kStopped);
    }
    if (left == 0) return finish(AgentExit::kDismissed);
    if (pushes.empty()) (void)poll(options.poll_interval);
    // a round's pushes come back to back: collect the ones that follow the first
    if (!pushes.empty()) {
      // (a busy wait of microseconds: yielding could hand the core away for a whole time slice)
      auto quiet_until = Clock::now() + options.gather;
      while (Clock::now() < quiet_until) {
        if (poll(std::chrono::milliseconds(0))) quiet_until = Clock::now() + options.gather;
      }
    }
    // agents the server does not know (it restarted) join again
    for (std::size_t k = 0; k < n; ++k) {
      if (!rejoin[k] || !active[k]) continue;
      rejoin[k] = false;
      if (clients_[k]->Join(requests_[k], assignments_[k], reason, options.join_timeout) ==
          JoinStatus::kRefused) {
        active[k] = false;
        --left;
      }
      drain(k);
    }
    if (pushes.empty()) continue;

    batch.clear();
    for (std::size_t i = 0; i < pushes.size(); ++i) {
      batch.push_back({push_agent[i], &assignments_[push_agent[i]], &pushes[i]});
    }
    reports.assign(pushes.size(), std::nullopt);
    const auto compute_start = Clock::now();
    try {
      compute(batch, reports);
    } catch (...) {
      LeaveAll();
      throw;
    }
    stats_.compute_seconds += SecondsSince(compute_start);
    ++stats_.batches;
    stats_.pushes += pushes.size();
    for (std::size_t i = 0; i < pushes.size(); ++i) {
      if (!reports[i]) continue;
      reports[i]->round = pushes[i].round;
      (void)clients_[push_agent[i]]->SendReport(std::move(*reports[i]));
      ++stats_.reports;
    }
    pushes.clear();
    push_agent.clear();
  }
}

}  // namespace metajoule::network
