#include "network/benchmark.h"

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "common/statistics.h"
#include "network/agent_host.h"
#include "network/channel.h"
#include "network/crc32.h"
#include "network/protocol.h"
#include "network/wire_format.h"

namespace metajoule::network {
namespace {

using Clock = std::chrono::steady_clock;

// The CPUs of the push runs: the forked sender on one, the receiver on another, when pinning is
// asked for and at least two are allowed; restores the receiver's affinity when destroyed.
class PushPinning {
 public:
  explicit PushPinning(bool pin) {
    if (!pin || sched_getaffinity(0, sizeof(saved_), &saved_) != 0) return;
    for (int cpu = 0; cpu < CPU_SETSIZE && receiver_cpu_ < 0; ++cpu) {
      if (!CPU_ISSET(cpu, &saved_)) continue;
      if (sender_cpu_ < 0) {
        sender_cpu_ = cpu;
      } else {
        receiver_cpu_ = cpu;
      }
    }
    if (receiver_cpu_ < 0) sender_cpu_ = -1;
  }
  ~PushPinning() {
    if (pinned()) sched_setaffinity(0, sizeof(saved_), &saved_);
  }
  PushPinning(const PushPinning&) = delete;
  PushPinning& operator=(const PushPinning&) = delete;

  bool pinned() const { return receiver_cpu_ >= 0; }
  // call in the sender process before its context exists
  void PinSender() const { Pin(sender_cpu_); }
  // call in the receiving process before its context exists
  void PinReceiver() const { Pin(receiver_cpu_); }

 private:
  static void Pin(int cpu) {
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof(set), &set);
  }

  cpu_set_t saved_{};
  int sender_cpu_{-1};
  int receiver_cpu_{-1};
};

double Seconds(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

Message ModelPush(std::size_t parameters, std::uint32_t sequence) {
  Message message;
  message.kind = MessageKind::kModelPush;
  message.content = Content::kModel;
  message.sequence = sequence;
  message.tensors.push_back({"theta", std::vector<float>(parameters)});
  auto& values = message.tensors[0].values;
  for (std::size_t i = 0; i < parameters; ++i) values[i] = std::sin(0.001f * static_cast<float>(i));
  return message;
}

// A peer process: forked before any ZeroMQ context of the pair exists, it waits for the
// endpoint on a pipe, runs `body` with its own context, and exits without running the parent's
// destructors.
class ForkedPeer {
 public:
  template <class Body>
  explicit ForkedPeer(Body&& body) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("bench network: pipe failed");
    std::fflush(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("bench network: fork failed");
    if (pid_ == 0) {
      close(fds[1]);
      std::string endpoint;
      char buffer[256];
      ssize_t n = 0;
      while ((n = read(fds[0], buffer, sizeof(buffer))) > 0) {
        endpoint.append(buffer, static_cast<std::size_t>(n));
      }
      int code = 0;
      try {
        if (!endpoint.empty()) body(endpoint);
      } catch (...) {
        code = 1;
      }
      _exit(code);
    }
    close(fds[0]);
    pipe_ = fds[1];
  }
  ~ForkedPeer() {
    Start("");
    Wait();
  }
  ForkedPeer(const ForkedPeer&) = delete;
  ForkedPeer& operator=(const ForkedPeer&) = delete;

  /// Hands the peer the endpoint to connect to; it starts then.
  void Start(const std::string& endpoint) {
    if (pipe_ < 0) return;
    std::size_t written = 0;
    while (written < endpoint.size()) {
      const ssize_t n = write(pipe_, endpoint.data() + written, endpoint.size() - written);
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    close(pipe_);
    pipe_ = -1;
  }
  /// Waits for the peer to exit; true when it exited 0.
  bool Wait() {
    if (pid_ <= 0) return false;
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

 private:
  pid_t pid_{-1};
  int pipe_{-1};
};

// raw PUSH/PULL over tcp loopback, the sender in another process: the ceiling the channel is
// compared with
double RawPushPull(const NetworkBenchmarkOptions& options, const PushPinning& pinning) {
  ForkedPeer sender([&](const std::string& endpoint) {
    pinning.PinSender();
    zmq::context_t context;
    zmq::socket_t push(context, zmq::socket_type::push);
    push.set(zmq::sockopt::sndhwm, options.push_high_water_mark);
    push.set(zmq::sockopt::linger, -1);  // every message reaches the receiver
    push.connect(endpoint);
    const std::vector<std::uint8_t> buffer(options.push_bytes, 0x5A);
    for (int i = 0; i <= options.pushes; ++i) {
      push.send(zmq::message_t(buffer.data(), buffer.size()), zmq::send_flags::none);
    }
  });
  pinning.PinReceiver();
  zmq::context_t context;
  zmq::socket_t pull(context, zmq::socket_type::pull);
  pull.set(zmq::sockopt::rcvhwm, options.push_high_water_mark);
  pull.set(zmq::sockopt::linger, 0);
  pull.set(zmq::sockopt::rcvtimeo, 10000);
  pull.bind("tcp://127.0.0.1:*");
  sender.Start(pull.get(zmq::sockopt::last_endpoint));
  zmq::message_t message;
  if (!pull.recv(message)) return 0.0;  // the first message waits for the connection: untimed
  const auto start = Clock::now();
  std::size_t bytes = 0;
  for (int i = 0; i < options.pushes; ++i) {
    if (!pull.recv(message)) break;
    bytes += message.size();
  }
  const auto end = Clock::now();
  sender.Wait();
  return static_cast<double>(bytes) / Seconds(start, end) / 1e9;
}

// encoded, checked and decoded model pushes over the channel, tcp loopback, the client in
// another process
double ChannelPush(const NetworkBenchmarkOptions& options, const PushPinning& pinning) {
  ChannelConfig config;
  config.high_water_mark = options.push_high_water_mark;
  config.receive_timeout_ms = 10000;
  const Message push = ModelPush(options.push_bytes / 4, 0);
  ForkedPeer client_process([&](const std::string& endpoint) {
    pinning.PinSender();
    zmq::context_t context;
    ChannelClient client(context, endpoint, config);
    client.socket().set(zmq::sockopt::linger, -1);  // every message reaches the server
    for (int i = 0; i <= options.pushes; ++i) {
      if (client.Send(push) != SendStatus::kOk) throw std::runtime_error("send failed");
    }
  });
  pinning.PinReceiver();
  zmq::context_t context;
  config.linger_ms = 0;
  ChannelServer server(context, "tcp://127.0.0.1:*", config);
  client_process.Start(server.endpoint());
  Incoming incoming;
  if (server.Receive(incoming) != ReceiveStatus::kOk) return 0.0;  // untimed: connection set-up
  const auto start = Clock::now();
  std::size_t bytes = 0;
  for (int i = 0; i < options.pushes; ++i) {
    if (server.Receive(incoming) != ReceiveStatus::kOk) break;
    bytes += incoming.message.tensors[0].values.size() * sizeof(float);
  }
  const auto end = Clock::now();
  client_process.Wait();
  return static_cast<double>(bytes) / Seconds(start, end) / 1e9;
}

LatencyUs Summarise(std::vector<double> us) {
  LatencyUs latency;
  if (us.empty()) return latency;
  latency.mean = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size());
  std::sort(us.begin(), us.end());
  latency.p50 = us[us.size() / 2];
  latency.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  return latency;
}

// a meta round's transport: pushes to hosted agents that answer at once, and the collection
LatencyUs MetaRound(const NetworkBenchmarkOptions& options) {
  ChannelConfig config;
  config.receive_timeout_ms = 10000;
  zmq::context_t context;
  ProtocolServer server(context, "inproc://metajoule-bench-meta-round", config);
  std::vector<JoinRequest> requests(static_cast<std::size_t>(options.round_agents));
  for (std::size_t k = 0; k < requests.size(); ++k) requests[k].node = static_cast<NodeId>(k + 1);
  AgentHost host(context, server.endpoint(), requests, config);
  std::vector<Scalar> scalars;
  for (int i = 0; i < 11; ++i) {
    std::string name = "s";  // appended, not concatenated: GCC 12 -Wrestrict false positive
    name += std::to_string(i);
    scalars.push_back({std::move(name), 1.0});
  }
  std::thread thread([&] {
    host.Run([&](std::span<const HostedPush> pushes, std::span<std::optional<Message>> reports) {
      for (std::size_t i = 0; i < pushes.size(); ++i) {
        reports[i] = MakeUpdateReport(kAnyNode, pushes[i].push->round, Content::kGradient,
                                      pushes[i].push->tensors[0].values, scalars);
      }
    });
  });
  std::vector<double> us;
  if (server.WaitForMembers(requests.size(), std::chrono::seconds(10))) {
    const Message model = ModelPush(options.round_parameters, 0);
    std::vector<PushGroup> groups(static_cast<std::size_t>(std::max(1, options.round_groups)));
    for (std::size_t k = 0; k < requests.size(); ++k) {
      groups[k % groups.size()].nodes.push_back(requests[k].node);
    }
    for (PushGroup& group : groups) {
      group.theta = model.tensors[0].values;
      group.scalars = {{"method", 1.0}, {"round", 1.0}};
    }
    for (int r = 1; r <= options.rounds + 10; ++r) {
      const auto start = Clock::now();
      (void)server.StartRound(static_cast<std::uint32_t>(r), groups);
      const RoundResult result = server.CollectUpdates(std::chrono::seconds(10));
      if (result.timed_out) break;
      if (r > 10) us.push_back(Seconds(start, Clock::now()) * 1e6);
    }
  }
  server.Dismiss(server.member_ids());
  thread.join();
  return Summarise(std::move(us));
}

// model push request + ack reply over inproc
LatencyUs RoundTrip(const NetworkBenchmarkOptions& options, int spin_us) {
  ChannelConfig config;
  config.receive_timeout_ms = 10000;
  config.spin_us = spin_us;
  zmq::context_t context;
  ChannelServer server(context, "inproc://metajoule-bench-round-trip", config);
  ChannelClient client(context, server.endpoint(), config);
  const int total = options.warmup + options.round_trips;

  std::thread server_thread([&] {
    Incoming incoming;
    Message ack;
    ack.kind = MessageKind::kAck;
    for (int i = 0; i < total; ++i) {
      if (server.Receive(incoming) != ReceiveStatus::kOk) return;
      ack.sequence = incoming.message.sequence;
      (void)server.Send(incoming.peer, ack);
    }
  });
  Message push = ModelPush(options.round_trip_parameters, 0);
  Message reply;
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(options.round_trips));
  for (int i = 0; i < total; ++i) {
    push.sequence = static_cast<std::uint32_t>(i);
    const auto start = Clock::now();
    if (client.Request(push, reply) != ReceiveStatus::kOk) break;
    if (i >= options.warmup) us.push_back(Seconds(start, Clock::now()) * 1e6);
  }
  server_thread.join();
  return Summarise(std::move(us));
}

}  // namespace

double Throughputs::median() const { return runs.empty() ? 0.0 : Median(runs); }

double Throughputs::best() const {
  return runs.empty() ? 0.0 : *std::max_element(runs.begin(), runs.end());
}

NetworkBenchmarkReport RunNetworkBenchmark(const NetworkBenchmarkOptions& options) {
  NetworkBenchmarkReport report;
  report.options = options;

  // codec speed, per tensor encoding
  const Message push = ModelPush(options.push_bytes / 4, 0);
  const double float_bytes = static_cast<double>(push.tensors[0].values.size() * sizeof(float));
  constexpr std::array<TensorEncoding, 3> kEncodings{
      TensorEncoding::kFloat32, TensorEncoding::kFloat16, TensorEncoding::kInt8};
  for (std::size_t e = 0; e < kEncodings.size(); ++e) {
    std::vector<std::uint8_t> bytes(EncodedSize(push, kEncodings[e]));
    auto start = Clock::now();
    for (int i = 0; i < options.codec_repetitions; ++i) EncodeInto(push, kEncodings[e], bytes);
    report.encode_gbps[e] =
        float_bytes * options.codec_repetitions / Seconds(start, Clock::now()) / 1e9;
    Message decoded;
    start = Clock::now();
    for (int i = 0; i < options.codec_repetitions; ++i) (void)Decode(bytes, decoded);
    report.decode_gbps[e] =
        float_bytes * options.codec_repetitions / Seconds(start, Clock::now()) / 1e9;
  }
  {
    const std::vector<std::uint8_t> bytes = Encode(push);
    std::uint32_t crc = 0;
    const auto start = Clock::now();
    for (int i = 0; i < options.codec_repetitions; ++i) crc = Crc32(bytes, crc);
    report.crc32_gbps = static_cast<double>(bytes.size()) * options.codec_repetitions /
                        Seconds(start, Clock::now()) / 1e9;
    report.crc32_path = internal::ToString(internal::Crc32BestPath());
    if (crc == 0) report.crc32_gbps = 0.0;  // keeps the loop from being optimised away
  }

  {
    const PushPinning pinning(options.pin_cpus);
    report.pinned = pinning.pinned();
    for (int run = 0; run < std::max(1, options.push_runs); ++run) {
      // raw first in even runs, channel first in odd ones
      if (run % 2 == 0) report.raw_push_pull.runs.push_back(RawPushPull(options, pinning));
      report.channel_push.runs.push_back(ChannelPush(options, pinning));
      if (run % 2 == 1) report.raw_push_pull.runs.push_back(RawPushPull(options, pinning));
    }
  }
  report.round_trip = RoundTrip(options, 0);
  report.round_trip_spin = RoundTrip(options, options.spin_us);
  report.round = MetaRound(options);
  return report;
}

std::string FormatNetworkBenchmark(const NetworkBenchmarkReport& report) {
  const auto& o = report.options;
  const auto runs = [](const Throughputs& t) {
    std::string text;
    for (double gbps : t.runs) {
      char value[16];
      std::snprintf(value, sizeof(value), " %.2f", gbps);
      text += value;
    }
    return text;
  };
  const double best_ratio = report.raw_push_pull.best() > 0.0
                                ? report.channel_push.best() / report.raw_push_pull.best()
                                : 0.0;
  char buffer[4096];
  std::snprintf(
      buffer, sizeof(buffer),
      "network benchmark\n"
      "  model push %zu B over tcp loopback from a forked process, %zu alternating runs of %d "
      "pushes, HWM %d (%s):\n"
      "    raw zmq PUSH/PULL            median %6.2f  best %6.2f GB/s   runs:%s\n"
      "    channel (encode+CRC+decode)  median %6.2f  best %6.2f GB/s   runs:%s   (target >= 2 GB/s)\n"
      "    channel / raw                median %6.2f  best %6.2f x\n"
      "  inproc push/reply round trip, %zu parameters (%d round trips):\n"
      "    blocking     mean %7.1f us  p50 %7.1f us  p99 %7.1f us   (target <= 50 us)\n"
      "    spin %4d us mean %7.1f us  p50 %7.1f us  p99 %7.1f us\n"
      "  codec, %zu B tensor (float32 GB/s):\n"
      "    float32  encode %7.2f  decode %7.2f\n"
      "    float16  encode %7.2f  decode %7.2f\n"
      "    int8     encode %7.2f  decode %7.2f\n"
      "    crc32    %7.2f GB/s (%s)\n"
      "  meta round transport, %d agents on one AgentHost thread, %d models of %zu "
      "float32 values, inproc (%d rounds):\n"
      "    push + reports + collect  mean %7.1f us  p50 %7.1f us  p99 %7.1f us per round\n",
      o.push_bytes, report.raw_push_pull.runs.size(), o.pushes, o.push_high_water_mark,
      report.pinned ? "sender and receiver pinned to one CPU each" : "not pinned",
      report.raw_push_pull.median(), report.raw_push_pull.best(),
      runs(report.raw_push_pull).c_str(), report.channel_push.median(), report.channel_push.best(),
      runs(report.channel_push).c_str(), report.push_ratio(), best_ratio, o.round_trip_parameters,
      o.round_trips, report.round_trip.mean, report.round_trip.p50, report.round_trip.p99,
      o.spin_us, report.round_trip_spin.mean, report.round_trip_spin.p50,
      report.round_trip_spin.p99, o.push_bytes, report.encode_gbps[0], report.decode_gbps[0],
      report.encode_gbps[1], report.decode_gbps[1], report.encode_gbps[2], report.decode_gbps[2],
      report.crc32_gbps, report.crc32_path.c_str(), o.round_agents, o.round_groups,
      o.round_parameters, o.rounds, report.round.mean, report.round.p50, report.round.p99);
  return buffer;
}

}  // namespace metajoule::network
