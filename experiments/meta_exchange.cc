#include "experiments/meta_exchange.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <stdexcept>
#include <thread>

#include <zmq.hpp>

#include "experiments/meta_agent.h"
#include "experiments/transfer_accounting.h"
#include "network/agent_host.h"
#include "network/channel.h"

namespace metajoule::experiments {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::chrono::milliseconds Milliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

network::NodeId NodeOf(std::size_t agent) { return static_cast<network::NodeId>(agent + 1); }

std::vector<std::unique_ptr<MetaAgent>> MakeAgents(const ExperimentConfig& config,
                                                   const Population& population) {
  std::vector<std::unique_ptr<MetaAgent>> agents;
  agents.reserve(population.size());
  for (std::size_t k = 0; k < population.size(); ++k) {
    agents.push_back(std::make_unique<MetaAgent>(config, population, k));
  }
  return agents;
}

// an agent that cannot answer a push of our own server is a bug of ours
network::Message AnswerOrThrow(MetaAgent& agent, const network::Message& push,
                               const ledger::Meter& meter) {
  std::string error;
  std::optional<network::Message> report = agent.Answer(push, meter, error);
  if (!report) {
    throw std::runtime_error("agent " + std::to_string(agent.agent()) + ": " + error);
  }
  report->sender = NodeOf(agent.agent());
  return std::move(*report);
}

// ---- transport "emulated" ----

class EmulatedExchange final : public MetaExchange {
 public:
  EmulatedExchange(const ExperimentConfig& config, const Population& population,
                   ThreadPool& pool, const ledger::Meter& meter)
      : downlink_(config.network.links.downlink.tensor_encoding),
        uplink_(config.network.links.uplink.tensor_encoding),
        agents_(MakeAgents(config, population)),
        pool_(pool),
        meter_(meter) {}

  std::vector<std::optional<network::Message>> Exchange(
      std::span<const GroupPush> groups) override {
    const auto start = Clock::now();
    ++round_;
    std::vector<network::Message> pushes;
    std::vector<std::pair<std::size_t, std::size_t>> work;  // (group, agent)
    for (std::size_t g = 0; g < groups.size(); ++g) {
      network::Message push = *groups[g].push;
      push.round = round_;
      push.sequence = round_;
      pushes.push_back(RoundTrip(push, downlink_));
      for (const std::size_t k : groups[g].agents) work.emplace_back(g, k);
    }
    std::vector<std::optional<network::Message>> reports(agents_.size());
    const auto compute_start = Clock::now();
    pool_.ParallelFor(work.size(), [&](std::size_t i, int) {
      const auto [g, k] = work[i];
      reports[k] = RoundTrip(AnswerOrThrow(*agents_[k], pushes[g], meter_), uplink_);
    });
    stats_.compute_seconds += SecondsSince(compute_start);
    stats_.exchange_seconds += SecondsSince(start);
    ++stats_.rounds;
    return reports;
  }
  const ExchangeStats& stats() const override { return stats_; }
  std::string name() const override { return "emulated"; }

 private:
  network::TensorEncoding downlink_;
  network::TensorEncoding uplink_;
  std::vector<std::unique_ptr<MetaAgent>> agents_;
  ThreadPool& pool_;
  const ledger::Meter& meter_;
  std::uint32_t round_{0};
  ExchangeStats stats_;
};

// ---- a ProtocolServer's round ----

// one round over a ProtocolServer: pushes, then the reports of the reached nodes by the deadline
std::vector<std::optional<network::Message>> ServerRound(network::ProtocolServer& server,
                                                         std::span<const GroupPush> groups,
                                                         std::size_t agents,
                                                         std::chrono::milliseconds deadline,
                                                         const ServerRoundHooks& hooks = {}) {
  int round = 0;
  if (!groups.empty()) round = static_cast<int>(groups[0].push->FindScalar("round").value_or(0.0));
  if (hooks.before_push) hooks.before_push(round, server);
  std::vector<network::PushGroup> push_groups(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const network::Tensor* theta = groups[g].push->FindTensor("theta");
    MJL_DEMAND(theta != nullptr);
    push_groups[g].theta = theta->values;
    push_groups[g].scalars = groups[g].push->scalars;
    for (const std::size_t k : groups[g].agents) push_groups[g].nodes.push_back(NodeOf(k));
  }
  (void)server.StartRound(server.current_round() + 1, push_groups);
  if (hooks.after_push) hooks.after_push(round, server);
  network::RoundResult result = server.CollectUpdates(deadline);
  std::vector<std::optional<network::Message>> reports(agents);
  for (network::Message& report : result.reports) {
    const std::size_t k = report.sender - 1;
    if (report.sender >= 1 && k < agents) reports[k] = std::move(report);
  }
  return reports;
}

class ServerExchange final : public MetaExchange {
 public:
  ServerExchange(network::ProtocolServer& server, const ExperimentConfig& config,
                 std::size_t agents, ServerRoundHooks hooks)
      : server_(server),
        agents_(agents),
        deadline_(Milliseconds(config.network.round_timeout_s)),
        hooks_(std::move(hooks)) {
    stats_.compute_known = false;
  }
  std::vector<std::optional<network::Message>> Exchange(
      std::span<const GroupPush> groups) override {
    const auto start = Clock::now();
    auto reports = ServerRound(server_, groups, agents_, deadline_, hooks_);
    stats_.exchange_seconds += SecondsSince(start);
    ++stats_.rounds;
    return reports;
  }
  const ExchangeStats& stats() const override { return stats_; }
  std::string name() const override { return server_.endpoint(); }

 private:
  network::ProtocolServer& server_;
  std::size_t agents_;
  std::chrono::milliseconds deadline_;
  ServerRoundHooks hooks_;
  ExchangeStats stats_;
};

// ---- transports "inproc" and "tcp" ----

class SocketExchange final : public MetaExchange {
 public:
  SocketExchange(const ExperimentConfig& config, const Population& population, ThreadPool& pool,
                 const ledger::Meter& meter)
      : transport_(config.network.transport),
        deadline_(Milliseconds(config.network.round_timeout_s)),
        agents_(MakeAgents(config, population)),
        pool_(pool),
        meter_(meter) {
    // the server sends in the downlink's encoding, the agents in the uplink's
    network::ChannelConfig server_channel = config.network.channel;
    server_channel.tensor_encoding = config.network.links.downlink.tensor_encoding;
    network::ChannelConfig agent_channel = config.network.channel;
    agent_channel.tensor_encoding = config.network.links.uplink.tensor_encoding;
    // a socket per agent, plus the server's (ZeroMQ's default limit is 1023 per context)
    context_.set(zmq::ctxopt::max_sockets,
                 std::max(1023, static_cast<int>(agents_.size()) + 64));
    static std::atomic<std::uint64_t> instances{0};
    const std::string endpoint =
        transport_ == network::Transport::kTcp
            ? std::string("tcp://127.0.0.1:*")
            : "inproc://metajoule-run-" + std::to_string(instances.fetch_add(1));
    server_ = std::make_unique<network::ProtocolServer>(context_, endpoint, server_channel);
    std::vector<network::JoinRequest> requests(agents_.size());
    for (std::size_t k = 0; k < agents_.size(); ++k) requests[k].node = NodeOf(k);
    host_ = std::make_unique<network::AgentHost>(context_, server_->endpoint(), requests,
                                                 agent_channel);
    network::AgentHostOptions options;
    options.join_deadline = Milliseconds(config.network.join_timeout_s);
    options.stop = &stop_;
    thread_ = std::thread([this, options] {
      try {
        host_->Run([this](std::span<const network::HostedPush> pushes,
                          std::span<std::optional<network::Message>> reports) {
                     const auto compute_start = Clock::now();
                     pool_.ParallelFor(pushes.size(), [&](std::size_t i, int) {
                       reports[i] = AnswerOrThrow(*agents_[pushes[i].agent], *pushes[i].push,
                                                  meter_);
                     });
                     host_compute_seconds_.fetch_add(SecondsSince(compute_start));
                   },
                   options);
      } catch (...) {
        host_error_ = std::current_exception();
      }
      host_done_ = true;
    });
    if (!server_->WaitForMembers(agents_.size(), Milliseconds(config.network.join_timeout_s))) {
      Shutdown();
      throw std::runtime_error("network.transport = " +
                               std::string(network::ToString(transport_)) + ": only " +
                               std::to_string(server_->member_ids().size()) + " of " +
                               std::to_string(agents_.size()) +
                               " in-process agents joined within network.join_timeout_s");
    }
  }
  ~SocketExchange() override { Shutdown(); }

  std::vector<std::optional<network::Message>> Exchange(
      std::span<const GroupPush> groups) override {
    const auto start = Clock::now();
    std::vector<std::optional<network::Message>> reports =
        ServerRound(*server_, groups, agents_.size(), deadline_);
    // an agent missing in process means the host failed (or a round outlasted its deadline)
    bool missing = false;
    for (const GroupPush& group : groups) {
      for (const std::size_t k : group.agents) missing = missing || !reports[k];
    }
    if (missing) {
      for (int i = 0; i < 100 && !host_done_; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (host_done_) {
        if (thread_.joinable()) thread_.join();
        if (host_error_) std::rethrow_exception(host_error_);
        throw std::runtime_error("the in-process agents stopped answering");
      }
    }
    stats_.exchange_seconds += SecondsSince(start);
    stats_.compute_seconds = host_compute_seconds_.load();
    ++stats_.rounds;
    return reports;
  }
  const ExchangeStats& stats() const override { return stats_; }
  std::string name() const override { return std::string(network::ToString(transport_)); }

 private:
  void Shutdown() {
    if (server_) server_->Dismiss(server_->member_ids());
    if (thread_.joinable()) {
      // the dismissed agents end the host; the stop flag ends it if some never joined
      for (int i = 0; i < 200 && !host_done_; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      stop_ = true;
      thread_.join();
    }
  }

  network::Transport transport_;
  std::chrono::milliseconds deadline_;
  std::vector<std::unique_ptr<MetaAgent>> agents_;
  ThreadPool& pool_;
  const ledger::Meter& meter_;
  // declared before the sockets so that it outlives them
  zmq::context_t context_;
  std::unique_ptr<network::ProtocolServer> server_;
  std::unique_ptr<network::AgentHost> host_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> host_done_{false};
  std::atomic<double> host_compute_seconds_{0.0};
  std::exception_ptr host_error_;
  ExchangeStats stats_;
};

}  // namespace

std::unique_ptr<MetaExchange> MakeInProcessExchange(const ExperimentConfig& config,
                                                    const Population& population, ThreadPool& pool,
                                                    const ledger::Meter& meter) {
  if (config.network.transport == network::Transport::kEmulated) {
    return std::make_unique<EmulatedExchange>(config, population, pool, meter);
  }
  return std::make_unique<SocketExchange>(config, population, pool, meter);
}

std::unique_ptr<MetaExchange> MakeServerExchange(network::ProtocolServer& server,
                                                 const ExperimentConfig& config,
                                                 std::size_t agents, ServerRoundHooks hooks) {
  return std::make_unique<ServerExchange>(server, config, agents, std::move(hooks));
}

}  // namespace metajoule::experiments
