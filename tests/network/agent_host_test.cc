#include "network/agent_host.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "network/protocol.h"

namespace metajoule::network {
namespace {

using std::chrono::milliseconds;

constexpr int kTimeoutMs = 3000;

ChannelConfig TestConfig() {
  ChannelConfig config;
  config.receive_timeout_ms = kTimeoutMs;
  config.send_timeout_ms = kTimeoutMs;
  config.reconnect_interval_ms = 50;
  return config;
}

std::vector<JoinRequest> Requests(NodeId first, NodeId count) {
  std::vector<JoinRequest> requests(count);
  for (NodeId i = 0; i < count; ++i) requests[i].node = first + i;
  return requests;
}

// update = node x theta, with the push's scalar "tag" echoed back
void Compute(std::span<const HostedPush> pushes, std::span<std::optional<Message>> reports) {
  for (std::size_t i = 0; i < pushes.size(); ++i) {
    const Message& push = *pushes[i].push;
    const auto node = static_cast<float>(pushes[i].agent + 1);
    std::vector<float> update;
    for (const float x : push.FindTensor("theta")->values) update.push_back(node * x);
    reports[i] = MakeUpdateReport(kAnyNode, push.round, Content::kGradient, update,
                                  {{"tag", push.FindScalar("tag").value_or(-1.0)}});
  }
}

TEST_SUITE("network/agent_host") {
  TEST_CASE("one thread hosts many agents and answers a round of two models in batches") {
    zmq::context_t context;
    ProtocolServer server(context, "inproc://agent-host-test", TestConfig());
    constexpr NodeId kAgents = 40;
    AgentHost host(context, server.endpoint(), Requests(1, kAgents), TestConfig());
    AgentExit exit = AgentExit::kStopped;
    std::thread thread([&] { exit = host.Run(Compute); });
    REQUIRE(server.WaitForMembers(kAgents, milliseconds(kTimeoutMs)));

    const std::vector<float> small{1.0f, 2.0f};
    const std::vector<float> large{1.0f, 2.0f, 3.0f, 4.0f};
    for (std::uint32_t round = 1; round <= 3; ++round) {
      // odd nodes get the small model, even nodes the large one; node 7 is left out
      PushGroup odd{small, {{"tag", 1.0}}, {}};
      PushGroup even{large, {{"tag", 2.0}}, {}};
      for (NodeId node = 1; node <= kAgents; ++node) {
        if (node != 7) (node % 2 == 1 ? odd : even).nodes.push_back(node);
      }
      const std::vector<PushGroup> groups{odd, even};
      CHECK(server.StartRound(round, groups).empty());
      const RoundResult result = server.CollectUpdates(milliseconds(kTimeoutMs));
      CHECK(!result.timed_out);
      REQUIRE(result.reports.size() == kAgents - 1);
      // in the order the groups listed them
      std::size_t i = 0;
      for (const PushGroup& group : groups) {
        for (const NodeId node : group.nodes) {
          const Message& report = result.reports[i++];
          CHECK(report.sender == node);
          CHECK(report.round == round);
          CHECK(report.FindScalar("tag") == (node % 2 == 1 ? 1.0 : 2.0));
          const auto& values = report.FindTensor("update")->values;
          REQUIRE(values.size() == (node % 2 == 1 ? 2u : 4u));
          CHECK(values[1] == 2.0f * static_cast<float>(node));
        }
      }
    }
    server.Dismiss(server.member_ids());
    thread.join();
    CHECK(exit == AgentExit::kDismissed);
    CHECK(host.stats().pushes == 3 * (kAgents - 1));
    CHECK(host.stats().reports == 3 * (kAgents - 1));
    // the pushes of a round are gathered into few batches, not one per agent
    CHECK(host.stats().batches < 3 * 10);
  }

  TEST_CASE("a host whose compute throws makes its agents leave and rethrows") {
    zmq::context_t context;
    ProtocolServer server(context, "inproc://agent-host-throw", TestConfig());
    AgentHost host(context, server.endpoint(), Requests(1, 3), TestConfig());
    bool threw = false;
    std::thread thread([&] {
      try {
        host.Run([](std::span<const HostedPush>, std::span<std::optional<Message>>) {
          throw std::runtime_error("boom");
        });
      } catch (const std::runtime_error&) {
        threw = true;
      }
    });
    REQUIRE(server.WaitForMembers(3, milliseconds(kTimeoutMs)));
    const std::vector<float> theta{1.0f};
    const std::vector<NodeId> nodes{1, 2, 3};
    server.StartRound(1, theta, nodes);
    // the leaves end the collection long before its deadline
    const auto start = std::chrono::steady_clock::now();
    const RoundResult result = server.CollectUpdates(milliseconds(10 * kTimeoutMs));
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(kTimeoutMs));
    CHECK(result.missing.size() == 3);
    thread.join();
    CHECK(threw);
    CHECK(server.member_ids().empty());
  }

  TEST_CASE("the stop flag makes every hosted agent leave") {
    zmq::context_t context;
    ProtocolServer server(context, "inproc://agent-host-stop", TestConfig());
    AgentHost host(context, server.endpoint(), Requests(5, 4), TestConfig());
    std::atomic<bool> stop{false};
    AgentHostOptions options;
    options.stop = &stop;
    options.poll_interval = milliseconds(20);
    AgentExit exit = AgentExit::kDismissed;
    std::thread thread([&] { exit = host.Run(Compute, options); });
    REQUIRE(server.WaitForMembers(4, milliseconds(kTimeoutMs)));
    stop = true;
    thread.join();
    CHECK(exit == AgentExit::kStopped);
    server.Poll(milliseconds(200));
    CHECK(server.member_ids().empty());
    CHECK(server.stats().leaves == 4);
  }

  TEST_CASE("RunAgentReportLoop answers with the caller's report built from the whole push") {
    zmq::context_t context;
    ProtocolServer server(context, "inproc://report-loop", TestConfig());
    AgentExit exit = AgentExit::kStopped;
    std::thread thread([&] {
      ProtocolClient client(context, server.endpoint(), 3, TestConfig());
      JoinRequest request;
      request.node = 3;
      exit = RunAgentReportLoop(client, request,
                                [](const TaskAssignment&, const Message& push) -> std::optional<Message> {
                                  const std::vector<float> update{
                                      static_cast<float>(*push.FindScalar("tag"))};
                                  return MakeUpdateReport(kAnyNode, push.round, Content::kModel,
                                                          update);
                                });
    });
    REQUIRE(server.WaitForMembers(1, milliseconds(kTimeoutMs)));
    const std::vector<float> theta{1.0f};
    const std::vector<NodeId> nodes{3};
    server.StartRound(1, theta, nodes, {{"tag", 42.0}});
    const RoundResult result = server.CollectUpdates(milliseconds(kTimeoutMs));
    REQUIRE(result.reports.size() == 1);
    CHECK(result.reports[0].sender == 3);
    CHECK(result.reports[0].content == Content::kModel);
    CHECK(result.reports[0].FindTensor("update")->values == std::vector<float>{42.0f});
    server.Dismiss(server.member_ids());
    thread.join();
    CHECK(exit == AgentExit::kDismissed);
  }
}

}  // namespace
}  // namespace metajoule::network
