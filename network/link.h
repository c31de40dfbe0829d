#pragma once
// Emulation of wireless uplink (UL), downlink (DL) and sidelink (SL) costs on a virtual clock
// (docs/links.md). A transfer of a message is cut into packets; each packet is lost with a fixed
// probability per transmission and retransmitted up to a limit. The outcome is a TransferRecord:
// bits on air (headers and every retransmission included) are the ground truth that the ledger
// prices, E = bits_on_air / EE (DESIGN.md, "Energy model"); energy_j here is a convenience copy.

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "network/wire_format.h"

namespace metajoule::network {

/// Which wireless link a transfer uses.
enum class LinkKind : std::uint8_t {
  kUplink,    ///< agent (or cluster head) -> server
  kDownlink,  ///< server -> agent (or cluster head)
  kSidelink,  ///< device to device
};
std::span<const std::pair<std::string_view, LinkKind>> EnumNames(LinkKind);
std::string_view ToString(LinkKind kind);

/// Cost model of one link kind. Config table: [network.links.uplink] etc.
struct LinkConfig {
  /// Bit rate on air, bit/s (> 0).
  double rate_bps{10e6};
  /// Propagation plus protocol latency per transmission round, seconds (>= 0).
  double latency_s{0.005};
  /// Probability that one transmission of one packet is lost, in [0, 1).
  double loss_probability{0.0};
  /// Transmissions allowed per packet, first one included (>= 1); a packet lost every time makes
  /// the message undelivered.
  int max_attempts{4};
  /// Energy efficiency EE of the link, kbit/J (> 0); the papers' operating points are 25, 50, 200.
  double efficiency_kbit_per_j{50.0};
  /// Link-layer header bits added to every packet transmission (>= 0).
  int header_bits{0};
  /// Payload bytes per packet (>= 0); 0 sends each message as one packet.
  int mtu_bytes{0};
  /// True: one transmission serves every receiver (a DL broadcast is charged once per cell);
  /// false: one unicast per receiver.
  bool broadcast{false};
  /// How tensors are quantised on this link (float32, float16 or int8).
  TensorEncoding tensor_encoding{TensorEncoding::kFloat32};

  template <class V>
  void Visit(V& v) {
    v("rate_bps", rate_bps);
    v("latency_s", latency_s);
    v("loss_probability", loss_probability);
    v("max_attempts", max_attempts);
    v("efficiency_kbit_per_j", efficiency_kbit_per_j);
    v("header_bits", header_bits);
    v("mtu_bytes", mtu_bytes);
    v("broadcast", broadcast);
    v("tensor_encoding", tensor_encoding);
  }
};

/// The three link kinds of a run. Config table: [network.links].
struct LinksConfig {
  LinkConfig uplink{};
  LinkConfig downlink{.rate_bps = 50e6};
  LinkConfig sidelink{.rate_bps = 20e6, .latency_s = 0.002};

  /// The config of `kind`.
  const LinkConfig& Get(LinkKind kind) const;

  template <class V>
  void Visit(V& v) {
    v("uplink", uplink);
    v("downlink", downlink);
    v("sidelink", sidelink);
  }
};

/// A partial LinkConfig (docs/links.md, "Per-cluster overrides"): each key given replaces the
/// base link's value, the others keep it. Config table: an entry of [[network.cluster_links]].
struct LinkOverride {
  std::optional<double> rate_bps{};
  std::optional<double> latency_s{};
  std::optional<double> loss_probability{};
  std::optional<int> max_attempts{};
  std::optional<double> efficiency_kbit_per_j{};
  std::optional<int> header_bits{};
  std::optional<int> mtu_bytes{};
  std::optional<bool> broadcast{};
  std::optional<TensorEncoding> tensor_encoding{};

  /// True when no key is given.
  bool empty() const;

  template <class V>
  void Visit(V& v) {
    v("rate_bps", rate_bps);
    v("latency_s", latency_s);
    v("loss_probability", loss_probability);
    v("max_attempts", max_attempts);
    v("efficiency_kbit_per_j", efficiency_kbit_per_j);
    v("header_bits", header_bits);
    v("mtu_bytes", mtu_bytes);
    v("broadcast", broadcast);
    v("tensor_encoding", tensor_encoding);
  }
};

/// `base` with every key `override_config` gives replaced.
LinkConfig Apply(LinkConfig base, const LinkOverride& override_config);

/// Range checks; keys are relative to the struct ("rate_bps", "uplink.rate_bps").
std::vector<FieldError> Validate(const LinkConfig& config);
std::vector<FieldError> Validate(const LinksConfig& config);
/// The same ranges as LinkConfig, for the keys given.
std::vector<FieldError> Validate(const LinkOverride& config);

/// One transfer of one message over one link, as the ledger records it. Bits are exact integers
/// and the ground truth; airtime and energy are derived from them.
struct TransferRecord {
  std::uint32_t round{0};  ///< training round the transfer belongs to
  NodeId from_node{0};
  NodeId to_node{0};  ///< kAnyNode for a broadcast
  LinkKind link{LinkKind::kUplink};
  std::uint64_t payload_bits{0};  ///< 8 x the message bytes handed to the link
  std::uint64_t bits_on_air{0};   ///< payload and header bits of every transmission
  std::uint64_t packets{0};       ///< packets the message was cut into
  std::uint64_t attempts{0};      ///< packet transmissions, retransmissions included
  std::uint32_t receivers{1};     ///< receivers one transmission served (>1 for a broadcast)
  double start_s{0.0};            ///< virtual time the transfer started, seconds
  double airtime_s{0.0};          ///< bits_on_air / rate + rounds x latency, seconds
  double energy_j{0.0};           ///< bits_on_air / (EE x 1000), joules
  bool delivered{false};          ///< every packet reached (every) receiver
};

/// What one sender hands to a link.
struct TransferRequest {
  std::uint32_t round{0};
  NodeId from{0};
  NodeId to{0};                    ///< ignored by Broadcast
  std::uint64_t payload_bytes{0};  ///< the encoded message size (wire header included)
  double ready_s{0.0};             ///< virtual time the sender is ready, seconds
};

/// Per-receiver outcome of a broadcast, charged as one TransferRecord.
struct BroadcastResult {
  TransferRecord record;
  std::vector<NodeId> receivers;
  std::vector<bool> delivered;  ///< delivered[i]: receivers[i] got every packet
};

/// Joules to put `bits` on air at `efficiency_kbit_per_j` kbit/J: bits / (EE x 1000).
double CommunicationEnergyJ(std::uint64_t bits, double efficiency_kbit_per_j);

/// A link of one kind with a virtual clock: transfers over the same EmulatedLink are serialised
/// (one starts when both the sender is ready and the previous one has ended). Randomness comes
/// only from the rng argument, so records are deterministic per seed. Not thread-safe.
class EmulatedLink {
 public:
  /// @throws std::invalid_argument listing every FieldError of Validate(config).
  EmulatedLink(LinkKind kind, const LinkConfig& config);

  /// Sends one message to one receiver: packets = ceil(payload / mtu) (one when mtu_bytes is 0
  /// or the payload is empty); each packet is transmitted until it gets through or max_attempts
  /// is reached (one uniform draw per transmission while loss_probability > 0).
  TransferRecord Transfer(const TransferRequest& request, std::mt19937_64& rng);

  /// Sends one message once to every receiver (a broadcast): each packet is repeated until every
  /// receiver has it or max_attempts is reached; losses are independent per receiver. The record
  /// is charged once, with to_node = kAnyNode.
  BroadcastResult Broadcast(const TransferRequest& request, std::span<const NodeId> receivers,
                            std::mt19937_64& rng);

  LinkKind kind() const { return kind_; }
  const LinkConfig& config() const { return config_; }
  /// Virtual time at which the link is next free, seconds.
  double clock_s() const { return clock_s_; }

 private:
  bool Lost(std::mt19937_64& rng) const;
  TransferRecord Finish(const TransferRequest& request, std::uint64_t bits_on_air,
                        std::uint64_t packets, std::uint64_t attempts, std::uint64_t rounds);

  LinkKind kind_;
  LinkConfig config_;
  double clock_s_{0.0};
};

}  // namespace metajoule::network
