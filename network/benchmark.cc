#include "network/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "network/channel.h"
#include "network/crc32.h"
#include "network/wire_format.h"

namespace metajoule::network {
namespace {

using Clock = std::chrono::steady_clock;

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

// raw PUSH/PULL over tcp loopback: the ceiling the channel is compared with
double RawPushPull(const NetworkBenchmarkOptions& options) {
  zmq::context_t receiver_context;
  zmq::context_t sender_context;
  zmq::socket_t pull(receiver_context, zmq::socket_type::pull);
  pull.set(zmq::sockopt::rcvhwm, 100);
  pull.set(zmq::sockopt::linger, 1000);
  pull.bind("tcp://127.0.0.1:*");
  const std::string endpoint = pull.get(zmq::sockopt::last_endpoint);
  const std::vector<std::uint8_t> buffer(options.push_bytes, 0x5A);

  std::thread sender([&] {
    zmq::socket_t push(sender_context, zmq::socket_type::push);
    push.set(zmq::sockopt::sndhwm, 100);
    push.set(zmq::sockopt::linger, 1000);
    push.connect(endpoint);
    for (int i = 0; i <= options.pushes; ++i) {
      push.send(zmq::message_t(buffer.data(), buffer.size()), zmq::send_flags::none);
    }
  });
  zmq::message_t message;
  (void)pull.recv(message);  // the first message waits for the connection: untimed
  const auto start = Clock::now();
  std::size_t bytes = 0;
  for (int i = 0; i < options.pushes; ++i) {
    (void)pull.recv(message);
    bytes += message.size();
  }
  const auto end = Clock::now();
  sender.join();
  return static_cast<double>(bytes) / Seconds(start, end) / 1e9;
}

// encoded, checked and decoded model pushes over the channel, tcp loopback
double ChannelPush(const NetworkBenchmarkOptions& options) {
  ChannelConfig config;
  config.high_water_mark = 100;
  config.receive_timeout_ms = 10000;
  zmq::context_t server_context;
  zmq::context_t client_context;
  ChannelServer server(server_context, "tcp://127.0.0.1:*", config);
  const Message push = ModelPush(options.push_bytes / 4, 0);

  std::thread client_thread([&] {
    ChannelClient client(client_context, server.endpoint(), config);
    for (int i = 0; i <= options.pushes; ++i) (void)client.Send(push);
  });
  Incoming incoming;
  (void)server.Receive(incoming);  // untimed: connection set-up
  const auto start = Clock::now();
  std::size_t bytes = 0;
  for (int i = 0; i < options.pushes; ++i) {
    if (server.Receive(incoming) != ReceiveStatus::kOk) break;
    bytes += incoming.message.tensors[0].values.size() * sizeof(float);
  }
  const auto end = Clock::now();
  client_thread.join();
  return static_cast<double>(bytes) / Seconds(start, end) / 1e9;
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
  LatencyUs latency;
  if (us.empty()) return latency;
  latency.mean = std::accumulate(us.begin(), us.end(), 0.0) / static_cast<double>(us.size());
  std::sort(us.begin(), us.end());
  latency.p50 = us[us.size() / 2];
  latency.p99 = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  return latency;
}

}  // namespace

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
    report.crc32_accelerated = internal::Crc32IsAccelerated();
    if (crc == 0) report.crc32_gbps = 0.0;  // keeps the loop from being optimised away
  }

  report.raw_push_pull_gbps = RawPushPull(options);
  report.channel_push_gbps = ChannelPush(options);
  report.round_trip = RoundTrip(options, 0);
  report.round_trip_spin = RoundTrip(options, options.spin_us);
  return report;
}

std::string FormatNetworkBenchmark(const NetworkBenchmarkReport& report) {
  const auto& o = report.options;
  char buffer[2048];
  std::snprintf(buffer, sizeof(buffer),
                "network benchmark\n"
                "  model push %zu B over tcp loopback (%d pushes):\n"
                "    raw zmq PUSH/PULL            %7.2f GB/s\n"
                "    channel (encode+CRC+decode)  %7.2f GB/s   (target >= 2 GB/s)\n"
                "  inproc push/reply round trip, %zu parameters (%d round trips):\n"
                "    blocking     mean %7.1f us  p50 %7.1f us  p99 %7.1f us   (target <= 50 us)\n"
                "    spin %4d us mean %7.1f us  p50 %7.1f us  p99 %7.1f us\n"
                "  codec, %zu B tensor (float32 GB/s):\n"
                "    float32  encode %7.2f  decode %7.2f\n"
                "    float16  encode %7.2f  decode %7.2f\n"
                "    int8     encode %7.2f  decode %7.2f\n"
                "    crc32    %7.2f GB/s (%s)\n",
                o.push_bytes, o.pushes, report.raw_push_pull_gbps, report.channel_push_gbps,
                o.round_trip_parameters, o.round_trips, report.round_trip.mean,
                report.round_trip.p50, report.round_trip.p99, o.spin_us,
                report.round_trip_spin.mean, report.round_trip_spin.p50, report.round_trip_spin.p99,
                o.push_bytes, report.encode_gbps[0], report.decode_gbps[0], report.encode_gbps[1],
                report.decode_gbps[1], report.encode_gbps[2], report.decode_gbps[2],
                report.crc32_gbps, report.crc32_accelerated ? "pclmulqdq" : "tables");
  return buffer;
}

}  // namespace metajoule::network
