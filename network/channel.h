#pragma once
// A thin cppzmq transport for typed messages (docs/wire-format.md) between one server (ROUTER)
// and many clients (DEALER), over inproc://, ipc:// or tcp://. Every received frame is decoded
// and checked; malformed ones are dropped, counted per reason in rejections(), and the receive
// goes on waiting, so a bad peer cannot stop a node. Expected outcomes (timeouts, unknown peers,
// full queues) are return values. Sockets are not thread-safe: use each ChannelServer or
// ChannelClient from one thread. ZeroMQ reconnects tcp peers by itself; a client that must keep
// its identity across reconnects passes a routing id.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>
#include <zmq.hpp>

#include "common/error.h"
#include "network/curve.h"
#include "network/wire_format.h"

namespace metajoule::network {

/// Socket settings shared by servers and clients. Config table: [network.channel].
struct ChannelConfig {
  /// Default wait of Receive/Request, milliseconds (-1 waits forever; tests always set one).
  int receive_timeout_ms{5000};
  /// How long a send may block on a full queue before it gives up, milliseconds (-1: forever).
  int send_timeout_ms{5000};
  /// How long closing a socket may wait to flush queued messages, milliseconds. Not 0: with 0, a
  /// node that replies and closes at once loses its last reply (machine notes section 4).
  int linger_ms{1000};
  /// Messages queued per peer and direction before sends block (ZMQ_SNDHWM / ZMQ_RCVHWM; 0 means
  /// unbounded).
  int high_water_mark{1000};
  /// ZMTP heartbeat interval on tcp, milliseconds (0 = off); a silent peer is dropped after
  /// heartbeat_timeout_ms.
  int heartbeat_interval_ms{0};
  int heartbeat_timeout_ms{0};
  /// Wait before ZeroMQ retries a broken tcp connection, milliseconds.
  int reconnect_interval_ms{100};
  /// Busy-poll this long before blocking in a receive, microseconds (0 = never). Cuts inproc
  /// round trips from ~40 to a few microseconds on an idle core; hurts tcp on a busy machine.
  int spin_us{0};
  /// Quantisation of the tensors this side sends.
  TensorEncoding tensor_encoding{TensorEncoding::kFloat32};
  /// Largest payload accepted per message kind.
  WireLimits limits{};

  template <class V>
  void Visit(V& v) {
    v("receive_timeout_ms", receive_timeout_ms);
    v("send_timeout_ms", send_timeout_ms);
    v("linger_ms", linger_ms);
    v("high_water_mark", high_water_mark);
    v("heartbeat_interval_ms", heartbeat_interval_ms);
    v("heartbeat_timeout_ms", heartbeat_timeout_ms);
    v("reconnect_interval_ms", reconnect_interval_ms);
    v("spin_us", spin_us);
    v("tensor_encoding", tensor_encoding);
    v("limits", limits);
  }
};
std::vector<FieldError> Validate(const ChannelConfig& config);

/// The outcome of a send.
enum class SendStatus : std::uint8_t {
  kOk,
  kTimeout,      ///< the peer's queue stayed full for send_timeout_ms
  kUnreachable,  ///< no connected peer with that routing id (or node id)
};
std::string_view ToString(SendStatus status);

/// The outcome of a receive.
enum class ReceiveStatus : std::uint8_t {
  kOk,
  kTimeout,  ///< nothing valid arrived in time (malformed frames may have been counted)
};
std::string_view ToString(ReceiveStatus status);

/// ZeroMQ routing id of a client as the server sees it (opaque bytes).
using PeerId = std::string;

/// A message received by a server, with the peer to reply to.
struct Incoming {
  PeerId peer;
  Message message;
};

/// Encodes `message` straight into a zmq message buffer (no further copy when it is sent). The
/// result can be sent to many peers with SendShared, which shares the buffer instead of copying.
/// @throws std::invalid_argument as EncodeInto.
zmq::message_t EncodeToZmq(const Message& message, TensorEncoding encoding);

/// The server side: one ROUTER socket bound to an endpoint.
class ChannelServer {
 public:
  /// Binds to `bind_endpoint` ("tcp://127.0.0.1:*", "inproc://name", "ipc:///tmp/x").
  /// @throws std::invalid_argument for an invalid config; zmq::error_t if binding fails.
  /// With `security.mechanism == kCurve` the socket is a CURVE server: connections are
  /// encrypted, and only clients whose public key is in security.authorized_keys get in (checked
  /// by the ZAP handler of `context`, started on first use; docs/protocol.md, "Security").
  /// @throws std::invalid_argument for an invalid config or security (CheckSecurity).
  ChannelServer(zmq::context_t& context, const std::string& bind_endpoint,
                const ChannelConfig& config = {}, const ServerSecurity& security = {});
  ~ChannelServer();
  ChannelServer(const ChannelServer&) = delete;
  ChannelServer& operator=(const ChannelServer&) = delete;

  /// The endpoint actually bound (tcp port resolved), for clients to connect to.
  const std::string& endpoint() const { return endpoint_; }

  /// Waits up to `timeout` (default: the config's) for the next valid message. The sender's
  /// NodeId is remembered so that SendTo(node) can reach it.
  ReceiveStatus Receive(Incoming& out);
  ReceiveStatus Receive(Incoming& out, std::chrono::milliseconds timeout);

  /// Encodes `message` (config tensor_encoding) into a zmq buffer and sends it to `peer`.
  SendStatus Send(const PeerId& peer, const Message& message);
  /// Sends to the peer that last sent a valid message with sender == node.
  SendStatus SendTo(NodeId node, const Message& message);
  /// Sends already encoded bytes (one copy). The bytes are not checked.
  SendStatus SendEncoded(const PeerId& peer, std::span<const std::uint8_t> bytes);
  /// Sends an EncodeToZmq buffer, sharing it rather than copying (for pushing one model to many).
  SendStatus SendShared(const PeerId& peer, zmq::message_t& encoded);

  /// The routing id of `node`, if it has sent a valid message.
  std::optional<PeerId> PeerOf(NodeId node) const;
  /// Valid and malformed frames received so far, per reason.
  const RejectionStats& rejections() const { return rejections_; }
  /// Authorised and refused connection attempts so far (all zero without CURVE). Reads the
  /// socket monitor's pending events first.
  SecurityStats security_stats();
  Mechanism mechanism() const { return mechanism_; }
  const ChannelConfig& config() const { return config_; }
  /// The socket itself, e.g. to poll it together with others.
  zmq::socket_t& socket() { return socket_; }

 private:
  SendStatus SendFrames(const PeerId& peer, zmq::message_t& payload);
  void DrainMonitor();

  ChannelConfig config_;
  Mechanism mechanism_{Mechanism::kNull};
  // the context's ZAP handler, shared with the other CURVE servers of the context (ZeroMQ
  // allows one per context); declared before socket_ so that it outlives it
  std::shared_ptr<internal::ZapHandler> zap_;
  std::string zap_domain_;
  zmq::socket_t socket_;
  // receives the handshake-failure events of socket_ (CURVE only)
  std::optional<zmq::socket_t> monitor_;
  std::uint64_t handshake_failures_{0};
  std::string endpoint_;
  RejectionStats rejections_;
  std::unordered_map<NodeId, PeerId> peers_;
  int current_timeout_ms_{-2};
};

/// The client side: one DEALER socket connected to a server.
class ChannelClient {
 public:
  /// Connects to `connect_endpoint`; a non-empty `routing_id` keeps the client's identity at the
  /// server across reconnects. Connecting does not wait for the server to exist.
  /// @throws std::invalid_argument for an invalid config; zmq::error_t for a malformed endpoint.
  /// With `security.mechanism == kCurve` the client authenticates with security.keys and checks
  /// the server against security.server_public_key; a server that refuses the key never sees
  /// the client's messages (sends queue up, receives time out).
  /// @throws std::invalid_argument for an invalid config or security (CheckSecurity).
  ChannelClient(zmq::context_t& context, const std::string& connect_endpoint,
                const ChannelConfig& config = {}, const std::string& routing_id = {},
                const ClientSecurity& security = {});
  ChannelClient(const ChannelClient&) = delete;
  ChannelClient& operator=(const ChannelClient&) = delete;

  /// Encodes `message` (config tensor_encoding) into a zmq buffer and sends it.
  SendStatus Send(const Message& message);
  /// Sends already encoded bytes (one copy). The bytes are not checked.
  SendStatus SendEncoded(std::span<const std::uint8_t> bytes);

  /// Waits up to `timeout` (default: the config's) for the next valid message.
  ReceiveStatus Receive(Message& out);
  ReceiveStatus Receive(Message& out, std::chrono::milliseconds timeout);

  /// Sends `request` and waits for the reply carrying the same sequence number. Other messages
  /// arriving meanwhile are kept, in order, for later Receive calls. kTimeout if no reply came
  /// (the caller may resend; the server may then see the request twice).
  ReceiveStatus Request(const Message& request, Message& reply);
  ReceiveStatus Request(const Message& request, Message& reply, std::chrono::milliseconds timeout);

  const RejectionStats& rejections() const { return rejections_; }
  const ChannelConfig& config() const { return config_; }
  /// Changes the quantisation of the tensors sent from now on (e.g. once a task assignment has
  /// named the uplink's encoding).
  void set_tensor_encoding(TensorEncoding encoding) { config_.tensor_encoding = encoding; }
  zmq::socket_t& socket() { return socket_; }

 private:
  ChannelConfig config_;
  zmq::socket_t socket_;
  RejectionStats rejections_;
  std::deque<Message> pending_;
  int current_timeout_ms_{-2};
};

}  // namespace metajoule::network
