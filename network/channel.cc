#include "network/channel.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace metajoule::network {
namespace {

using Clock = std::chrono::steady_clock;

void CheckConfig(const char* who, const ChannelConfig& config) {
  const auto errors = Validate(config);
  if (errors.empty()) return;
  std::string message = std::string(who) + ": invalid config:";
  for (const FieldError& error : errors) message += " " + error.key + ": " + error.message + ";";
  throw std::invalid_argument(message);
}

// validates the config before the socket is made; returns the context to make it in
zmq::context_t& CheckedContext(const char* who, const ChannelConfig& config,
                               zmq::context_t& context) {
  CheckConfig(who, config);
  return context;
}

void ConfigureSocket(zmq::socket_t& socket, const ChannelConfig& config) {
  socket.set(zmq::sockopt::linger, config.linger_ms);
  socket.set(zmq::sockopt::sndhwm, config.high_water_mark);
  socket.set(zmq::sockopt::rcvhwm, config.high_water_mark);
  socket.set(zmq::sockopt::sndtimeo, config.send_timeout_ms);
  socket.set(zmq::sockopt::reconnect_ivl, config.reconnect_interval_ms);
  if (config.heartbeat_interval_ms > 0) {
    socket.set(zmq::sockopt::heartbeat_ivl, config.heartbeat_interval_ms);
    socket.set(zmq::sockopt::heartbeat_timeout, config.heartbeat_timeout_ms);
  }
}

// waits for the first frame of the next message: busy-polls for spin_us, then blocks up to
// timeout_ms (-1 forever); false on timeout
bool ReceiveFirstFrame(zmq::socket_t& socket, zmq::message_t& frame, int timeout_ms, int spin_us,
                       int& current_timeout_ms) {
  if (spin_us > 0) {
    const auto spin_end = Clock::now() + std::chrono::microseconds(spin_us);
    do {
      if (socket.recv(frame, zmq::recv_flags::dontwait)) return true;
    } while (Clock::now() < spin_end);
  }
  if (current_timeout_ms != timeout_ms) {
    socket.set(zmq::sockopt::rcvtimeo, timeout_ms);
    current_timeout_ms = timeout_ms;
  }
  return socket.recv(frame, zmq::recv_flags::none).has_value();
}

// the remaining frames of a multipart message arrive together with the first; this drops them
void DrainFrames(zmq::socket_t& socket, zmq::message_t& frame) {
  while (frame.more() && socket.recv(frame, zmq::recv_flags::dontwait)) {
  }
}

// calls `accept` on each arriving message until it accepts one or the timeout passes
template <class Accept>
ReceiveStatus ReceiveLoop(zmq::socket_t& socket, const ChannelConfig& config,
                          std::chrono::milliseconds timeout, int& current_timeout_ms,
                          Accept&& accept) {
  const bool forever = timeout.count() < 0;
  const auto deadline = Clock::now() + (forever ? std::chrono::milliseconds(0) : timeout);
  zmq::message_t frame;
  for (;;) {
    int wait_ms = -1;
    if (!forever) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      wait_ms = static_cast<int>(std::max<std::int64_t>(0, left.count()));
    }
    if (!ReceiveFirstFrame(socket, frame, wait_ms, config.spin_us, current_timeout_ms)) {
      return ReceiveStatus::kTimeout;
    }
    if (accept(frame)) return ReceiveStatus::kOk;
    if (!forever && Clock::now() >= deadline) return ReceiveStatus::kTimeout;
  }
}

std::span<const std::uint8_t> Bytes(const zmq::message_t& frame) {
  return {static_cast<const std::uint8_t*>(frame.data()), frame.size()};
}

SendStatus SendResult(const zmq::send_result_t& result) {
  return result ? SendStatus::kOk : SendStatus::kTimeout;
}

}  // namespace

std::vector<FieldError> Validate(const ChannelConfig& config) {
  std::vector<FieldError> errors;
  auto at_least = [&errors](const char* key, int value, int min) {
    if (value < min) {
      errors.push_back(
          {key, "must be >= " + std::to_string(min) + ", got " + std::to_string(value)});
    }
  };
  at_least("receive_timeout_ms", config.receive_timeout_ms, -1);
  at_least("send_timeout_ms", config.send_timeout_ms, -1);
  at_least("linger_ms", config.linger_ms, 0);
  at_least("high_water_mark", config.high_water_mark, 0);
  at_least("heartbeat_interval_ms", config.heartbeat_interval_ms, 0);
  at_least("heartbeat_timeout_ms", config.heartbeat_timeout_ms, 0);
  at_least("reconnect_interval_ms", config.reconnect_interval_ms, 0);
  at_least("spin_us", config.spin_us, 0);
  if (static_cast<std::size_t>(config.tensor_encoding) >= EnumNames(TensorEncoding{}).size()) {
    errors.push_back({"tensor_encoding", "unknown encoding; valid values: float32, float16, int8"});
  }
  for (FieldError& error : Validate(config.limits)) {
    errors.push_back({"limits." + error.key, std::move(error.message)});
  }
  return errors;
}

std::string_view ToString(SendStatus status) {
  switch (status) {
    case SendStatus::kOk:
      return "ok";
    case SendStatus::kTimeout:
      return "timeout";
    case SendStatus::kUnreachable:
      return "unreachable";
  }
  return "unknown";
}

std::string_view ToString(ReceiveStatus status) {
  return status == ReceiveStatus::kOk ? "ok" : "timeout";
}

zmq::message_t EncodeToZmq(const Message& message, TensorEncoding encoding) {
  zmq::message_t frame(EncodedSize(message, encoding));
  EncodeInto(message, encoding, {static_cast<std::uint8_t*>(frame.data()), frame.size()});
  return frame;
}

// ---- server ----

ChannelServer::ChannelServer(zmq::context_t& context, const std::string& bind_endpoint,
                             const ChannelConfig& config, const ServerSecurity& security)
    : config_(config),
      mechanism_(security.mechanism),
      socket_(CheckedContext("ChannelServer", config, context), zmq::socket_type::router) {
  CheckSecurity(security);
  ConfigureSocket(socket_, config_);
  if (mechanism_ == Mechanism::kCurve) {
    // the ZAP handler is bound before this socket is, so no connection gets in unchecked
    zap_ = internal::ZapHandlerFor(context);
    zap_domain_ =
        internal::RegisterDomain(*zap_, security.authorized_keys, security.allow_any_client);
    socket_.set(zmq::sockopt::zap_domain, zap_domain_);
    socket_.set(zmq::sockopt::curve_server, true);
    socket_.set(zmq::sockopt::curve_secretkey, security.keys.secret_key);
    // handshake failures that never reach ZAP (a plaintext client, a wrong server key) are
    // counted from the socket monitor
    const std::string monitor_endpoint =
        "inproc://metajoule-monitor-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    if (zmq_socket_monitor(socket_.handle(), monitor_endpoint.c_str(),
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0) {
      throw zmq::error_t();
    }
    monitor_.emplace(context, zmq::socket_type::pair);
    monitor_->set(zmq::sockopt::linger, 0);
    monitor_->connect(monitor_endpoint);
  }
  // sending to a peer that is gone fails (kUnreachable) instead of vanishing silently, and a
  // client reconnecting with the same routing id takes over its old slot
  socket_.set(zmq::sockopt::router_mandatory, true);
  socket_.set(zmq::sockopt::router_handover, true);
  socket_.bind(bind_endpoint);
  endpoint_ = socket_.get(zmq::sockopt::last_endpoint);
}

ChannelServer::~ChannelServer() {
  if (monitor_) {
    zmq_socket_monitor(socket_.handle(), nullptr, 0);
    monitor_.reset();
  }
  if (zap_) internal::UnregisterDomain(*zap_, zap_domain_);
}

void ChannelServer::DrainMonitor() {
  if (!monitor_) return;
  // each event is two frames: [uint16 event, uint32 value], [endpoint]
  zmq::message_t frame;
  while (monitor_->recv(frame, zmq::recv_flags::dontwait)) {
    if (frame.size() >= 2) {
      std::uint16_t event = 0;
      std::memcpy(&event, frame.data(), 2);
      if ((event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)) !=
          0) {
        ++handshake_failures_;
      }
    }
    while (frame.more() && monitor_->recv(frame, zmq::recv_flags::dontwait)) {
    }
  }
}

SecurityStats ChannelServer::security_stats() {
  if (!zap_) return {};
  DrainMonitor();
  SecurityStats stats = internal::DomainStats(*zap_, zap_domain_);
  stats.handshake_failures = handshake_failures_;
  return stats;
}

ReceiveStatus ChannelServer::Receive(Incoming& out) {
  return Receive(out, std::chrono::milliseconds(config_.receive_timeout_ms));
}

ReceiveStatus ChannelServer::Receive(Incoming& out, std::chrono::milliseconds timeout) {
  return ReceiveLoop(socket_, config_, timeout, current_timeout_ms_, [&](zmq::message_t& frame) {
    // a ROUTER delivers [routing id][payload]; anything else is bad framing
    out.peer.assign(static_cast<const char*>(frame.data()), frame.size());
    if (!frame.more() || !socket_.recv(frame, zmq::recv_flags::dontwait) || frame.more()) {
      DrainFrames(socket_, frame);
      rejections_.Record(DecodeStatus::kBadFraming);
      return false;
    }
    const DecodeStatus status = Decode(Bytes(frame), out.message, config_.limits);
    rejections_.Record(status);
    if (status != DecodeStatus::kOk) return false;
    peers_[out.message.sender] = out.peer;
    return true;
  });
}

SendStatus ChannelServer::SendFrames(const PeerId& peer, zmq::message_t& payload) {
  try {
    if (!socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore)) return SendStatus::kTimeout;
  } catch (const zmq::error_t& error) {
    if (error.num() == EHOSTUNREACH) return SendStatus::kUnreachable;
    throw;
  }
  return SendResult(socket_.send(payload, zmq::send_flags::none));
}

SendStatus ChannelServer::Send(const PeerId& peer, const Message& message) {
  zmq::message_t payload = EncodeToZmq(message, config_.tensor_encoding);
  return SendFrames(peer, payload);
}

SendStatus ChannelServer::SendTo(NodeId node, const Message& message) {
  const auto peer = peers_.find(node);
  if (peer == peers_.end()) return SendStatus::kUnreachable;
  return Send(peer->second, message);
}

SendStatus ChannelServer::SendEncoded(const PeerId& peer, std::span<const std::uint8_t> bytes) {
  zmq::message_t payload(bytes.data(), bytes.size());
  return SendFrames(peer, payload);
}

SendStatus ChannelServer::SendShared(const PeerId& peer, zmq::message_t& encoded) {
  zmq::message_t payload;
  payload.copy(encoded);
  return SendFrames(peer, payload);
}

std::optional<PeerId> ChannelServer::PeerOf(NodeId node) const {
  const auto peer = peers_.find(node);
  if (peer == peers_.end()) return std::nullopt;
  return peer->second;
}

// ---- client ----

ChannelClient::ChannelClient(zmq::context_t& context, const std::string& connect_endpoint,
                             const ChannelConfig& config, const std::string& routing_id,
                             const ClientSecurity& security)
    : config_(config),
      socket_(CheckedContext("ChannelClient", config, context), zmq::socket_type::dealer) {
  CheckSecurity(security);
  ConfigureSocket(socket_, config_);
  if (security.mechanism == Mechanism::kCurve) {
    socket_.set(zmq::sockopt::curve_serverkey, security.server_public_key);
    socket_.set(zmq::sockopt::curve_publickey, security.keys.public_key);
    socket_.set(zmq::sockopt::curve_secretkey, security.keys.secret_key);
  }
  if (!routing_id.empty()) socket_.set(zmq::sockopt::routing_id, routing_id);
  socket_.connect(connect_endpoint);
}

SendStatus ChannelClient::Send(const Message& message) {
  zmq::message_t payload = EncodeToZmq(message, config_.tensor_encoding);
  return SendResult(socket_.send(payload, zmq::send_flags::none));
}

SendStatus ChannelClient::SendEncoded(std::span<const std::uint8_t> bytes) {
  return SendResult(socket_.send(zmq::buffer(bytes.data(), bytes.size()), zmq::send_flags::none));
}

ReceiveStatus ChannelClient::Receive(Message& out) {
  return Receive(out, std::chrono::milliseconds(config_.receive_timeout_ms));
}

ReceiveStatus ChannelClient::Receive(Message& out, std::chrono::milliseconds timeout) {
  if (!pending_.empty()) {
    out = std::move(pending_.front());
    pending_.pop_front();
    return ReceiveStatus::kOk;
  }
  return ReceiveLoop(socket_, config_, timeout, current_timeout_ms_, [&](zmq::message_t& frame) {
    // a DEALER delivers the payload alone
    if (frame.more()) {
      DrainFrames(socket_, frame);
      rejections_.Record(DecodeStatus::kBadFraming);
      return false;
    }
    const DecodeStatus status = Decode(Bytes(frame), out, config_.limits);
    rejections_.Record(status);
    return status == DecodeStatus::kOk;
  });
}

ReceiveStatus ChannelClient::Request(const Message& request, Message& reply) {
  return Request(request, reply, std::chrono::milliseconds(config_.receive_timeout_ms));
}

ReceiveStatus ChannelClient::Request(const Message& request, Message& reply,
                                     std::chrono::milliseconds timeout) {
  if (Send(request) != SendStatus::kOk) return ReceiveStatus::kTimeout;
  const auto deadline = Clock::now() + timeout;
  // messages already queued are not replies to a request sent just now
  std::deque<Message> earlier = std::move(pending_);
  pending_.clear();
  ReceiveStatus status = ReceiveStatus::kTimeout;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    const auto wait = timeout.count() < 0 ? timeout : std::max(left, std::chrono::milliseconds(0));
    if (Receive(reply, wait) != ReceiveStatus::kOk) break;
    if (reply.sequence == request.sequence) {
      status = ReceiveStatus::kOk;
      break;
    }
    earlier.push_back(reply);
  }
  pending_ = std::move(earlier);
  return status;
}

}  // namespace metajoule::network
