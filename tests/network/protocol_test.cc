#include "network/protocol.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

namespace metajoule::network {
namespace {

using std::chrono::milliseconds;

// every wait is bounded: a lost message fails a test instead of hanging it
constexpr int kTimeoutMs = 3000;
// a round's deadline when a node is expected to miss it
constexpr milliseconds kShortDeadline{400};
constexpr milliseconds kLongDeadline{kTimeoutMs};

ChannelConfig TestConfig() {
  ChannelConfig config;
  config.receive_timeout_ms = kTimeoutMs;
  config.send_timeout_ms = kTimeoutMs;
  config.reconnect_interval_ms = 50;
  return config;
}

AgentLoopOptions TestLoopOptions(const std::atomic<bool>* stop) {
  AgentLoopOptions options;
  options.join_timeout = milliseconds(300);
  options.idle_timeout = milliseconds(150);
  options.max_silent_periods = 40;  // gives up about 6 s after the server is gone
  options.stop = stop;
  return options;
}

JoinRequest Request(NodeId node) {
  JoinRequest request;
  request.node = node;
  request.cluster = node % 2;
  request.scalars = {{"cores", 2.0}};
  request.texts = {{"host", "test-" + std::to_string(node)}};
  return request;
}

// the deterministic "learning" of the test agents: update = node x theta + round
std::optional<AgentReply> Scale(NodeId node, std::uint32_t round, std::span<const float> theta) {
  AgentReply reply;
  reply.content = Content::kDelta;
  for (float x : theta) reply.update.push_back(static_cast<float>(node) * x + static_cast<float>(round));
  reply.scalars = {{"weight", static_cast<double>(node)}};
  reply.evaluation = std::vector<Scalar>{{"return", static_cast<double>(node * 100 + round)}};
  return reply;
}

// an agent running RunAgentLoop in a thread, stopped and joined on destruction
class ThreadAgent {
 public:
  ThreadAgent(zmq::context_t& context, const std::string& endpoint, NodeId node,
              AgentCompute compute = {})
      : node_(node) {
    if (!compute) {
      compute = [node](const TaskAssignment&, std::uint32_t round, std::span<const float> theta) {
        return Scale(node, round, theta);
      };
    }
    thread_ = std::thread([this, &context, endpoint, compute] {
      ProtocolClient client(context, endpoint, node_, TestConfig());
      exit_ = RunAgentLoop(client, Request(node_), compute, TestLoopOptions(&stop_));
      done_ = true;
    });
  }
  ThreadAgent(const ThreadAgent&) = delete;
  ThreadAgent& operator=(const ThreadAgent&) = delete;
  ~ThreadAgent() { Join(); }
  AgentExit Join() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return exit_;
  }
  // waits (bounded) for the loop to end by itself
  bool WaitDone() {
    const auto end = std::chrono::steady_clock::now() + milliseconds(kTimeoutMs);
    while (!done_ && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    return done_;
  }
  AgentExit exit() const { return exit_; }

 private:
  NodeId node_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
  AgentExit exit_{AgentExit::kStopped};
  std::thread thread_;
};

std::vector<float> Theta(std::size_t size) {
  std::vector<float> theta(size);
  for (std::size_t i = 0; i < size; ++i) theta[i] = 0.25f * static_cast<float>(i) - 1.0f;
  return theta;
}

void CheckUpdates(const RoundResult& result, std::span<const float> theta) {
  for (const Message& report : result.reports) {
    const Tensor* update = report.FindTensor("update");
    REQUIRE(update != nullptr);
    REQUIRE(update->values.size() == theta.size());
    CHECK(report.content == Content::kDelta);
    for (std::size_t i = 0; i < theta.size(); ++i) {
      CHECK(update->values[i] ==
            static_cast<float>(report.sender) * theta[i] + static_cast<float>(result.round));
    }
  }
}

// waits (bounded) until `node` has joined `joins` times
bool WaitForJoins(ProtocolServer& server, NodeId node, std::uint32_t joins) {
  const auto end = std::chrono::steady_clock::now() + milliseconds(kTimeoutMs);
  while (std::chrono::steady_clock::now() < end) {
    const Member* member = server.FindMember(node);
    if (member != nullptr && member->joins >= joins) return true;
    server.Poll(milliseconds(20));
  }
  return false;
}

TEST_SUITE("network/protocol") {
  TEST_CASE("hello, assignment, push and report helpers round-trip through the wire format") {
    const Message hello = MakeHello(Request(4), 17);
    const auto decoded_bytes = Encode(hello);
    Message decoded;
    REQUIRE(Decode(decoded_bytes, decoded) == DecodeStatus::kOk);
    const auto request = ParseHello(decoded);
    REQUIRE(request.has_value());
    CHECK(request->node == 4);
    CHECK(request->cluster == 0);
    REQUIRE(request->scalars.size() == 1);
    CHECK(request->scalars[0].name == "cores");
    REQUIRE(request->texts.size() == 1);
    CHECK(request->texts[0].value == "test-4");

    TaskAssignment assignment;
    assignment.scalars = {{"task", 3.0}};
    assignment.texts = {{"env", "nav2d"}};
    const Message assigned = MakeTaskAssignment(hello, 5, assignment);
    CHECK(assigned.sequence == 17);
    CHECK(assigned.receiver == 4);
    const TaskAssignment parsed = ParseTaskAssignment(assigned);
    REQUIRE(parsed.scalars.size() == 1);
    CHECK(parsed.scalars[0].value == 3.0);
    CHECK(parsed.texts[0].value == "nav2d");

    const Message ack = MakeReportAck(MakeUpdateReport(4, 2, Content::kGradient, Theta(3)),
                                      ReportVerdict::kStale);
    CHECK(ack.FindScalar("accepted") == 0.0);
    CHECK(ack.FindText("verdict")->value == "stale");
    CHECK(ParseReportVerdict("not_member") == ReportVerdict::kNotMember);
    CHECK_FALSE(ParseReportVerdict("maybe").has_value());
  }

  TEST_CASE("a hello with a reserved capability name or a foreign protocol is refused") {
    JoinRequest request = Request(1);
    request.scalars.push_back({"cluster", 1.0});
    CHECK_THROWS_AS(MakeHello(request, 1), std::invalid_argument);
    Message hello = MakeHello(Request(1), 1);
    hello.scalars[0].value = 2.0;  // protocol 2
    CHECK_FALSE(ParseHello(hello).has_value());
    hello = MakeHello(Request(1), 1);
    hello.scalars[1].value = -1.0;  // cluster
    CHECK_FALSE(ParseHello(hello).has_value());
  }

  TEST_CASE("RoundCollector accepts one report per expected node and names every rejection") {
    RoundCollector collector(MessageKind::kUpdateReport, 7, {3, 1, 2});
    CHECK_FALSE(collector.done());
    CHECK(collector.Offer(MakeUpdateReport(1, 7, Content::kGradient, Theta(2))) ==
          ReportVerdict::kAccepted);
    CHECK(collector.Offer(MakeUpdateReport(1, 7, Content::kGradient, Theta(2))) ==
          ReportVerdict::kDuplicate);
    CHECK(collector.Offer(MakeUpdateReport(2, 6, Content::kGradient, Theta(2))) ==
          ReportVerdict::kStale);
    CHECK(collector.Offer(MakeUpdateReport(2, 8, Content::kGradient, Theta(2))) ==
          ReportVerdict::kFuture);
    CHECK(collector.Offer(MakeUpdateReport(9, 7, Content::kGradient, Theta(2))) ==
          ReportVerdict::kUnexpected);
    CHECK(collector.Offer(MakeEvaluationReport(2, 7, {})) == ReportVerdict::kUnexpected);
    CHECK(collector.Offer(MakeUpdateReport(3, 7, Content::kGradient, Theta(2))) ==
          ReportVerdict::kAccepted);
    collector.Drop(2);
    CHECK(collector.done());
    CHECK(collector.Offer(MakeUpdateReport(2, 7, Content::kGradient, Theta(2))) ==
          ReportVerdict::kStale);
    const RoundResult result = collector.Result(false);
    CHECK(result.arrived == std::vector<NodeId>{3, 1});
    CHECK(result.missing == std::vector<NodeId>{2});
    REQUIRE(result.reports.size() == 2);
    CHECK(result.reports[0].sender == 3);
    CHECK_THROWS_AS(RoundCollector(MessageKind::kHello, 1, {}), std::invalid_argument);
  }

  TEST_CASE("agents join, get their tasks, and report every round over tcp") {
    zmq::context_t context;
    ProtocolServer server(context, "tcp://127.0.0.1:*", TestConfig());
    server.SetJoinHandler([](const JoinRequest& request) -> std::optional<TaskAssignment> {
      TaskAssignment assignment;
      assignment.scalars = {{"task", 10.0 * request.node}};
      assignment.texts = {{"env", "nav2d"}};
      return assignment;
    });
    std::vector<double> tasks(4, 0.0);
    std::vector<std::unique_ptr<ThreadAgent>> agents;
    for (NodeId node = 1; node <= 3; ++node) {
      agents.push_back(std::make_unique<ThreadAgent>(
          context, server.endpoint(), node,
          [node, &tasks](const TaskAssignment& assignment, std::uint32_t round,
                         std::span<const float> theta) {
            tasks[node] = assignment.scalars.at(0).value;
            return Scale(node, round, theta);
          }));
    }
    REQUIRE(server.WaitForMembers(3, kLongDeadline));
    CHECK(server.member_ids() == std::vector<NodeId>{1, 2, 3});
    CHECK(server.FindMember(2)->request.texts.at(0).value == "test-2");

    const std::vector<float> theta = Theta(50);
    for (std::uint32_t round = 1; round <= 2; ++round) {
      const auto members = server.member_ids();
      CHECK(server.StartRound(round, theta, members).empty());
      const RoundResult updates = server.CollectUpdates(kLongDeadline);
      CHECK(updates.complete());
      CHECK_FALSE(updates.timed_out);
      CHECK(updates.arrived == members);
      CheckUpdates(updates, theta);
      const RoundResult evaluations = server.CollectEvaluations(kLongDeadline);
      CHECK(evaluations.arrived == members);
      for (const Message& report : evaluations.reports) {
        CHECK(report.FindScalar("return") == report.sender * 100.0 + round);
      }
    }
    CHECK_THROWS_AS(server.StartRound(2, theta, server.member_ids()), std::invalid_argument);
    server.Dismiss(server.member_ids());
    for (auto& agent : agents) {
      REQUIRE(agent->WaitDone());
      CHECK(agent->exit() == AgentExit::kDismissed);
    }
    CHECK(tasks[3] == 30.0);
    CHECK(server.stats().joins == 3);
    CHECK(server.stats().count(ReportVerdict::kAccepted) == 12);
    CHECK(server.member_ids().empty());
  }

  TEST_CASE("a refused join ends the agent loop with refused and is counted") {
    zmq::context_t context;
    ProtocolServer server(context, "tcp://127.0.0.1:*", TestConfig());
    server.SetJoinHandler([](const JoinRequest&) { return std::optional<TaskAssignment>(); });
    ThreadAgent agent(context, server.endpoint(), 5);
    server.Poll(milliseconds(200));
    REQUIRE(agent.WaitDone());
    CHECK(agent.exit() == AgentExit::kRefused);
    CHECK(server.stats().refused_joins == 1);
    CHECK(server.member_ids().empty());
  }

  TEST_CASE("late, duplicate, future and non-member reports are rejected, counted and acked") {
    zmq::context_t context;
    ProtocolServer server(context, "tcp://127.0.0.1:*", TestConfig());
    ProtocolClient client(context, server.endpoint(), 1, TestConfig());
    ProtocolClient outsider(context, server.endpoint(), 2, TestConfig());
    std::thread join_thread([&server] { server.WaitForMembers(1, kLongDeadline); });
    TaskAssignment assignment;
    std::string reason;
    const JoinStatus joined = client.Join(Request(1), assignment, reason, kLongDeadline);
    join_thread.join();
    REQUIRE(joined == JoinStatus::kJoined);

    auto verdict_of = [&](ProtocolClient& from) {
      Message ack;
      REQUIRE(from.Receive(ack, kLongDeadline) == ReceiveStatus::kOk);
      REQUIRE(ack.kind == MessageKind::kAck);
      return std::string(ack.FindText("verdict")->value);
    };
    const std::vector<float> theta = Theta(4);
    const std::vector<NodeId> one{1};
    REQUIRE(server.StartRound(1, theta, one).empty());
    Message push;
    REQUIRE(client.Receive(push, kLongDeadline) == ReceiveStatus::kOk);
    CHECK(push.kind == MessageKind::kModelPush);
    CHECK(client.last_round() == 1);

    REQUIRE(client.ReportUpdate(2, Content::kGradient, theta) == SendStatus::kOk);  // future
    REQUIRE(client.ReportUpdate(1, Content::kGradient, theta) == SendStatus::kOk);  // accepted
    const RoundResult result = server.CollectUpdates(kLongDeadline);
    CHECK(result.arrived == one);
    CHECK(verdict_of(client) == "future");
    CHECK(verdict_of(client) == "accepted");

    REQUIRE(client.ReportUpdate(1, Content::kGradient, theta) == SendStatus::kOk);  // late
    REQUIRE(outsider.ReportUpdate(1, Content::kGradient, theta) == SendStatus::kOk);
    REQUIRE(server.StartRound(2, theta, one).empty());
    REQUIRE(client.Receive(push, kLongDeadline) == ReceiveStatus::kOk);
    REQUIRE(client.ReportUpdate(2, Content::kGradient, theta) == SendStatus::kOk);
    REQUIRE(client.ReportUpdate(2, Content::kGradient, theta) == SendStatus::kOk);  // duplicate
    CHECK(server.CollectUpdates(kLongDeadline).arrived == one);
    server.Poll(milliseconds(100));
    // in arrival order: the late round-1 report is stale (its round was collected), then the
    // round-2 report, then its duplicate
    CHECK(verdict_of(client) == "stale");
    CHECK(verdict_of(client) == "accepted");
    CHECK(verdict_of(client) == "duplicate");
    CHECK(verdict_of(outsider) == "not_member");
    const ProtocolStats& stats = server.stats();
    CHECK(stats.count(ReportVerdict::kAccepted) == 2);
    CHECK(stats.count(ReportVerdict::kStale) == 1);
    CHECK(stats.count(ReportVerdict::kDuplicate) == 1);
    CHECK(stats.count(ReportVerdict::kFuture) == 1);
    CHECK(stats.count(ReportVerdict::kNotMember) == 1);
  }

  TEST_CASE("an agent closed mid-round is recorded missing and rejoins for the next round") {
    zmq::context_t context;
    ProtocolServer server(context, "tcp://127.0.0.1:*", TestConfig());
    std::vector<std::unique_ptr<ThreadAgent>> agents;
    for (NodeId node = 1; node <= 3; ++node) {
      AgentCompute compute;
      if (node == 2) {
        // node 2 dies on receiving the model: its loop returns and its socket closes
        compute = [](const TaskAssignment&, std::uint32_t, std::span<const float>) {
          return std::optional<AgentReply>();
        };
      }
      agents.push_back(std::make_unique<ThreadAgent>(context, server.endpoint(), node, compute));
    }
    REQUIRE(server.WaitForMembers(3, kLongDeadline));
    const std::vector<float> theta = Theta(8);
    REQUIRE(server.StartRound(1, theta, server.member_ids()).empty());
    const RoundResult first = server.CollectUpdates(kShortDeadline);
    CHECK(first.timed_out);
    CHECK(first.arrived == std::vector<NodeId>{1, 3});
    CHECK(first.missing == std::vector<NodeId>{2});
    CheckUpdates(first, theta);
    REQUIRE(agents[1]->WaitDone());
    CHECK(agents[1]->exit() == AgentExit::kStopped);
    CHECK(server.stats().missed_reports == 1);

    // the same node id comes back and takes part in the next round
    agents[1] = std::make_unique<ThreadAgent>(context, server.endpoint(), 2);
    REQUIRE(WaitForJoins(server, 2, 2));
    REQUIRE(server.StartRound(2, theta, server.member_ids()).empty());
    const RoundResult second = server.CollectUpdates(kLongDeadline);
    CHECK(second.complete());
    CHECK(second.arrived == std::vector<NodeId>{1, 2, 3});
    CheckUpdates(second, theta);
    CHECK(server.stats().rejoins == 1);
    server.Dismiss(server.member_ids());
  }

  TEST_CASE("agents reconnect to a restarted server on the same tcp port and go on") {
    zmq::context_t context;
    auto server = std::make_unique<ProtocolServer>(context, "tcp://127.0.0.1:*", TestConfig());
    const std::string endpoint = server->endpoint();
    ThreadAgent agent1(context, endpoint, 1);
    ThreadAgent agent2(context, endpoint, 2);
    REQUIRE(server->WaitForMembers(2, kLongDeadline));
    const std::vector<float> theta = Theta(16);
    REQUIRE(server->StartRound(1, theta, server->member_ids()).empty());
    CHECK(server->CollectUpdates(kLongDeadline).complete());

    // the server process "restarts": a new server, knowing nobody, on the same port; the
    // agents' idle heartbeats get not_member answers and they join again
    server.reset();
    // the old listener closes asynchronously: binding the port again may take a few tries
    const auto bind_end = std::chrono::steady_clock::now() + kLongDeadline;
    while (!server) {
      try {
        server = std::make_unique<ProtocolServer>(context, endpoint, TestConfig());
      } catch (const zmq::error_t& error) {
        REQUIRE(error.num() == EADDRINUSE);
        REQUIRE(std::chrono::steady_clock::now() < bind_end);
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
    REQUIRE(server->WaitForMembers(2, kLongDeadline));
    REQUIRE(server->StartRound(2, theta, server->member_ids()).empty());
    const RoundResult result = server->CollectUpdates(kLongDeadline);
    CHECK(result.complete());
    CHECK(result.arrived == std::vector<NodeId>{1, 2});
    CheckUpdates(result, theta);
    server->Dismiss(server->member_ids());
    REQUIRE(agent1.WaitDone());
    CHECK(agent1.exit() == AgentExit::kDismissed);
  }

  TEST_CASE("an agent process killed with SIGKILL mid-round is recorded missing") {
    // fork before this process starts any thread (ZeroMQ's I/O threads): a child forked from a
    // multithreaded process may find an allocator lock held by a thread that does not exist in
    // it (seen under AddressSanitizer, one run in seven); it learns the server's endpoint
    // through a pipe
    int endpoint_pipe[2];
    REQUIRE(::pipe(endpoint_pipe) == 0);
    constexpr NodeId kChildNode = 7;
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::alarm(20);  // a child that somehow survives the test still ends
      ::close(endpoint_pipe[1]);
      std::string child_endpoint;
      char buffer[256];
      ssize_t got = 0;
      while ((got = ::read(endpoint_pipe[0], buffer, sizeof buffer)) > 0) {
        child_endpoint.append(buffer, static_cast<std::size_t>(got));
      }
      if (child_endpoint.empty()) ::_exit(1);  // the parent failed before binding
      {
        zmq::context_t child_context;
        ProtocolClient client(child_context, child_endpoint, kChildNode, TestConfig());
        const AgentCompute stall = [&client](const TaskAssignment&, std::uint32_t,
                                             std::span<const float>) {
          // tell the server the model arrived, then "compute" forever
          (void)client.Heartbeat();
          ::pause();
          return std::optional<AgentReply>();
        };
        (void)RunAgentLoop(client, Request(kChildNode), stall, TestLoopOptions(nullptr));
      }
      ::_exit(0);
    }
    ::close(endpoint_pipe[0]);
    // reaps the child whatever happens to the test
    struct Reaper {
      pid_t pid;
      int status{0};
      bool reaped{false};
      ~Reaper() {
        if (!reaped) {
          ::kill(pid, SIGKILL);
          ::waitpid(pid, &status, 0);
        }
      }
    } reaper{child};

    zmq::context_t context;
    ProtocolServer server(context, "tcp://127.0.0.1:*", TestConfig());
    const std::string endpoint = server.endpoint();
    const bool sent = ::write(endpoint_pipe[1], endpoint.data(), endpoint.size()) ==
                      static_cast<ssize_t>(endpoint.size());
    ::close(endpoint_pipe[1]);
    REQUIRE(sent);
    ThreadAgent agent1(context, endpoint, 1);
    ThreadAgent agent2(context, endpoint, 2);
    REQUIRE(server.WaitForMembers(3, kLongDeadline));
    bool killed = false;
    server.SetObserver([&](const Message& message) {
      if (!killed && message.kind == MessageKind::kHeartbeat && message.sender == kChildNode &&
          message.round == 1) {
        killed = ::kill(child, SIGKILL) == 0;
      }
    });
    const std::vector<float> theta = Theta(32);
    REQUIRE(server.StartRound(1, theta, server.member_ids()).empty());
    const RoundResult result = server.CollectUpdates(milliseconds(800));
    CHECK(killed);
    CHECK(result.timed_out);
    CHECK(result.arrived == std::vector<NodeId>{1, 2});
    CHECK(result.missing == std::vector<NodeId>{kChildNode});
    CheckUpdates(result, theta);

    REQUIRE(::waitpid(child, &reaper.status, 0) == child);
    reaper.reaped = true;
    CHECK(WIFSIGNALED(reaper.status));
    CHECK(WTERMSIG(reaper.status) == SIGKILL);

    // the next round goes on without it
    const std::vector<NodeId> alive{1, 2};
    REQUIRE(server.StartRound(2, theta, alive).empty());
    CHECK(server.CollectUpdates(kLongDeadline).complete());
    server.Dismiss(alive);
  }
}

}  // namespace
}  // namespace metajoule::network
