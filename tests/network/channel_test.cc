#include "network/channel.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <thread>

namespace metajoule::network {
namespace {

using std::chrono::milliseconds;

// every wait in these tests is bounded, so a lost message fails the test instead of hanging it
constexpr int kTimeoutMs = 3000;

ChannelConfig TestConfig() {
  ChannelConfig config;
  config.receive_timeout_ms = kTimeoutMs;
  config.send_timeout_ms = kTimeoutMs;
  return config;
}

Message Hello(NodeId sender, std::uint32_t sequence) {
  Message message;
  message.kind = MessageKind::kHello;
  message.sender = sender;
  message.receiver = 0;
  message.sequence = sequence;
  message.scalars = {{"cluster", 2.0}};
  return message;
}

Message ModelPush(std::size_t size, std::uint32_t sequence) {
  Message message;
  message.kind = MessageKind::kModelPush;
  message.content = Content::kModel;
  message.sequence = sequence;
  message.tensors = {{"theta", std::vector<float>(size)}};
  for (std::size_t i = 0; i < size; ++i) {
    message.tensors[0].values[i] = std::sin(static_cast<float>(i));
  }
  return message;
}

Message Ack(const Message& request) {
  Message reply;
  reply.kind = MessageKind::kAck;
  reply.receiver = request.sender;
  reply.round = request.round;
  reply.sequence = request.sequence;
  return reply;
}

// one server and one client exchange, with malformed frames in between that the server must
// count and skip
void ExchangeWithMalformedFrames(zmq::context_t& context, const std::string& bind_endpoint) {
  ChannelServer server(context, bind_endpoint, TestConfig());
  ChannelClient client(context, server.endpoint(), TestConfig());

  REQUIRE(client.Send(Hello(7, 1)) == SendStatus::kOk);
  Incoming incoming;
  REQUIRE(server.Receive(incoming) == ReceiveStatus::kOk);
  CHECK(incoming.message.kind == MessageKind::kHello);
  CHECK(incoming.message.sender == 7);
  CHECK(incoming.message.FindScalar("cluster") == 2.0);
  CHECK(server.PeerOf(7) == incoming.peer);

  // garbage, a truncated message, a corrupted one, then a valid one
  const std::vector<std::uint8_t> garbage{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd',
                                          '!', '!', '!', '!', '!', '!', '!', '!', '!', '!', '!',
                                          '!', '!', '!', '!', '!', '!', '!', '!', '!', '!'};
  auto valid = Encode(Hello(7, 2));
  const std::span<const std::uint8_t> truncated(valid.data(), valid.size() - 1);
  auto corrupted = valid;
  corrupted[10] ^= 0x01;
  REQUIRE(client.SendEncoded(garbage) == SendStatus::kOk);
  REQUIRE(client.SendEncoded(truncated) == SendStatus::kOk);
  REQUIRE(client.SendEncoded(corrupted) == SendStatus::kOk);
  REQUIRE(client.Send(Hello(7, 3)) == SendStatus::kOk);
  REQUIRE(server.Receive(incoming) == ReceiveStatus::kOk);
  CHECK(incoming.message.sequence == 3);
  CHECK(server.rejections().count(DecodeStatus::kBadMagic) == 1);
  CHECK(server.rejections().count(DecodeStatus::kTruncated) == 1);
  CHECK(server.rejections().count(DecodeStatus::kBadChecksum) == 1);
  CHECK(server.rejections().rejected() == 3);
  CHECK(server.rejections().accepted() == 2);

  // the node keeps working: a model push goes down, an ack comes back up
  REQUIRE(server.SendTo(7, ModelPush(1000, 4)) == SendStatus::kOk);
  Message pushed;
  REQUIRE(client.Receive(pushed) == ReceiveStatus::kOk);
  CHECK(pushed.kind == MessageKind::kModelPush);
  CHECK(pushed.tensors[0].values == ModelPush(1000, 4).tensors[0].values);
  REQUIRE(client.Send(Ack(pushed)) == SendStatus::kOk);
  REQUIRE(server.Receive(incoming) == ReceiveStatus::kOk);
  CHECK(incoming.message.kind == MessageKind::kAck);
  CHECK(incoming.message.sequence == 4);
}

TEST_SUITE("network/channel") {
  TEST_CASE(
      "over inproc a malformed message is rejected and counted while the node keeps working") {
    zmq::context_t context;
    ExchangeWithMalformedFrames(context, "inproc://channel-test-inproc");
  }

  TEST_CASE(
      "over tcp loopback a malformed message is rejected and counted while the node keeps "
      "working") {
    zmq::context_t context;
    ExchangeWithMalformedFrames(context, "tcp://127.0.0.1:*");
  }

  TEST_CASE("a frame that is not one message is counted as bad framing") {
    zmq::context_t context;
    ChannelServer server(context, "inproc://channel-test-framing", TestConfig());
    zmq::socket_t raw(context, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::linger, 1000);
    raw.connect(server.endpoint());
    const auto valid = Encode(Hello(1, 1));
    raw.send(zmq::buffer(valid), zmq::send_flags::sndmore);
    raw.send(zmq::buffer(valid), zmq::send_flags::none);
    raw.send(zmq::buffer(valid), zmq::send_flags::none);
    Incoming incoming;
    REQUIRE(server.Receive(incoming) == ReceiveStatus::kOk);
    CHECK(server.rejections().count(DecodeStatus::kBadFraming) == 1);
    CHECK(server.rejections().accepted() == 1);
  }

  TEST_CASE("Request returns the reply with its sequence and keeps other messages for later") {
    zmq::context_t context;
    ChannelServer server(context, "inproc://channel-test-request", TestConfig());
    ChannelClient client(context, server.endpoint(), TestConfig());
    std::thread server_thread([&server] {
      Incoming incoming;
      REQUIRE(server.Receive(incoming) == ReceiveStatus::kOk);
      Message heartbeat;
      heartbeat.sequence = 99;
      CHECK(server.Send(incoming.peer, heartbeat) == SendStatus::kOk);
      CHECK(server.Send(incoming.peer, Ack(incoming.message)) == SendStatus::kOk);
    });
    Message reply;
    REQUIRE(client.Request(Hello(3, 42), reply) == ReceiveStatus::kOk);
    server_thread.join();
    CHECK(reply.kind == MessageKind::kAck);
    CHECK(reply.sequence == 42);
    Message later;
    REQUIRE(client.Receive(later, milliseconds(0)) == ReceiveStatus::kOk);
    CHECK(later.kind == MessageKind::kHeartbeat);
    CHECK(later.sequence == 99);
  }

  TEST_CASE("a receive with nothing to read times out") {
    zmq::context_t context;
    ChannelServer server(context, "inproc://channel-test-timeout", TestConfig());
    ChannelClient client(context, server.endpoint(), TestConfig());
    Incoming incoming;
    const auto start = std::chrono::steady_clock::now();
    CHECK(server.Receive(incoming, milliseconds(50)) == ReceiveStatus::kTimeout);
    CHECK(std::chrono::steady_clock::now() - start >= milliseconds(45));
    Message message;
    CHECK(client.Request(Hello(1, 1), message, milliseconds(20)) == ReceiveStatus::kTimeout);
  }

  TEST_CASE("sending to an unknown peer or node is unreachable and not lost silently") {
    zmq::context_t context;
    ChannelServer server(context, "inproc://channel-test-unreachable", TestConfig());
    CHECK(server.Send("nobody", Hello(0, 1)) == SendStatus::kUnreachable);
    CHECK(server.SendTo(12, Hello(0, 1)) == SendStatus::kUnreachable);
    CHECK_FALSE(server.PeerOf(12).has_value());
  }

  TEST_CASE("the client rejects and counts malformed replies too") {
    zmq::context_t context;
    ChannelServer server(context, "inproc://channel-test-client-rejects", TestConfig());
    ChannelClient client(context, server.endpoint(), TestConfig(), "agent-5");
    REQUIRE(client.Send(Hello(5, 1)) == SendStatus::kOk);
    Incoming incoming;
    REQUIRE(server.Receive(incoming) == ReceiveStatus::kOk);
    CHECK(incoming.peer == "agent-5");
    auto bad = Encode(Ack(incoming.message));
    bad[4] = 7;  // version 7
    REQUIRE(server.SendEncoded(incoming.peer, bad) == SendStatus::kOk);
    REQUIRE(server.Send(incoming.peer, Ack(incoming.message)) == SendStatus::kOk);
    Message reply;
    REQUIRE(client.Receive(reply) == ReceiveStatus::kOk);
    CHECK(reply.kind == MessageKind::kAck);
    CHECK(client.rejections().count(DecodeStatus::kBadVersion) == 1);
  }

  TEST_CASE("one encoded model is shared by every receiver and quantised per channel") {
    zmq::context_t context;
    ChannelConfig config = TestConfig();
    config.tensor_encoding = TensorEncoding::kFloat16;
    ChannelServer server(context, "inproc://channel-test-shared", config);
    std::vector<std::unique_ptr<ChannelClient>> clients;
    Incoming incoming;
    for (NodeId node = 1; node <= 3; ++node) {
      clients.push_back(std::make_unique<ChannelClient>(context, server.endpoint(), TestConfig()));
      REQUIRE(clients.back()->Send(Hello(node, 1)) == SendStatus::kOk);
      REQUIRE(server.Receive(incoming) == ReceiveStatus::kOk);
    }
    const Message model = ModelPush(100, 5);
    zmq::message_t encoded = EncodeToZmq(model, TensorEncoding::kFloat32);
    for (NodeId node = 1; node <= 3; ++node) {
      REQUIRE(server.SendShared(*server.PeerOf(node), encoded) == SendStatus::kOk);
    }
    for (auto& client : clients) {
      Message received;
      REQUIRE(client->Receive(received) == ReceiveStatus::kOk);
      CHECK(received.tensors[0].values == model.tensors[0].values);
    }
    // the server's own Send quantises to float16
    REQUIRE(server.SendTo(2, model) == SendStatus::kOk);
    Message received;
    REQUIRE(clients[1]->Receive(received) == ReceiveStatus::kOk);
    for (std::size_t i = 0; i < 100; ++i) {
      CHECK(received.tensors[0].values[i] ==
            doctest::Approx(model.tensors[0].values[i]).epsilon(1.0 / 2048).scale(1e-4));
    }
  }

  TEST_CASE("a reply sent just before the server closes still arrives (linger is not 0)") {
    // the server lives in its own context, as another process would: it replies and tears its
    // socket and context down at once; the reply must still reach the client
    std::promise<std::string> bound;
    auto endpoint = bound.get_future();
    std::thread server_thread([&bound] {
      zmq::context_t server_context;
      ChannelServer server(server_context, "tcp://127.0.0.1:*", TestConfig());
      bound.set_value(server.endpoint());
      Incoming incoming;
      REQUIRE(server.Receive(incoming) == ReceiveStatus::kOk);
      REQUIRE(server.Send(incoming.peer, Ack(incoming.message)) == SendStatus::kOk);
    });
    zmq::context_t client_context;
    ChannelClient client(client_context, endpoint.get(), TestConfig());
    Message reply;
    const ReceiveStatus status = client.Request(Hello(1, 7), reply);
    server_thread.join();
    CHECK(status == ReceiveStatus::kOk);
    CHECK(reply.sequence == 7);
  }

  TEST_CASE("Validate rejects negative settings and bad limits") {
    ChannelConfig config;
    config.linger_ms = -1;
    config.spin_us = -5;
    config.limits.ack_bytes = 0;
    const auto errors = Validate(config);
    REQUIRE(errors.size() == 3);
    CHECK(errors[0].key == "linger_ms");
    CHECK(errors[1].key == "spin_us");
    CHECK(errors[2].key == "limits.ack_bytes");
    zmq::context_t context;
    CHECK_THROWS_AS(ChannelServer(context, "inproc://x", config), std::invalid_argument);
    CHECK(Validate(ChannelConfig{}).empty());
  }
}

}  // namespace
}  // namespace metajoule::network
