#include "network/link.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

namespace metajoule::network {
namespace {

constexpr std::array<std::pair<std::string_view, LinkKind>, 3> kLinkNames{{
    {"uplink", LinkKind::kUplink},
    {"downlink", LinkKind::kDownlink},
    {"sidelink", LinkKind::kSidelink},
}};

void Prefix(std::string_view prefix, std::vector<FieldError> errors, std::vector<FieldError>& out) {
  for (FieldError& error : errors) {
    out.push_back({std::string(prefix) + "." + error.key, std::move(error.message)});
  }
}

// the packet sizes of a message: `full` packets of mtu bytes and one last packet of `last` bytes
struct Packets {
  std::uint64_t count{1};
  std::uint64_t full_bytes{0};
  std::uint64_t last_bytes{0};
  std::uint64_t Bytes(std::uint64_t index) const {
    return index + 1 == count ? last_bytes : full_bytes;
  }
};

Packets Packetise(std::uint64_t payload_bytes, int mtu_bytes) {
  if (mtu_bytes == 0 || payload_bytes == 0) return {1, payload_bytes, payload_bytes};
  const auto mtu = static_cast<std::uint64_t>(mtu_bytes);
  const std::uint64_t count = (payload_bytes + mtu - 1) / mtu;
  return {count, mtu, payload_bytes - (count - 1) * mtu};
}

}  // namespace

std::span<const std::pair<std::string_view, LinkKind>> EnumNames(LinkKind) { return kLinkNames; }

std::string_view ToString(LinkKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  return index < kLinkNames.size() ? kLinkNames[index].first : std::string_view("unknown");
}

const LinkConfig& LinksConfig::Get(LinkKind kind) const {
  switch (kind) {
    case LinkKind::kUplink:
      return uplink;
    case LinkKind::kDownlink:
      return downlink;
    case LinkKind::kSidelink:
      return sidelink;
  }
  MJL_DEMAND(false);
}

std::vector<FieldError> Validate(const LinkConfig& config) {
  std::vector<FieldError> errors;
  if (!(config.rate_bps > 0.0) || !std::isfinite(config.rate_bps)) {
    errors.push_back(
        {"rate_bps", "must be a finite number > 0, got " + std::to_string(config.rate_bps)});
  }
  if (!(config.latency_s >= 0.0) || !std::isfinite(config.latency_s)) {
    errors.push_back(
        {"latency_s", "must be a finite number >= 0, got " + std::to_string(config.latency_s)});
  }
  if (!(config.loss_probability >= 0.0 && config.loss_probability < 1.0)) {
    errors.push_back(
        {"loss_probability", "must be in [0, 1), got " + std::to_string(config.loss_probability)});
  }
  if (config.max_attempts < 1) {
    errors.push_back({"max_attempts", "must be >= 1, got " + std::to_string(config.max_attempts)});
  }
  if (!(config.efficiency_kbit_per_j > 0.0) || !std::isfinite(config.efficiency_kbit_per_j)) {
    errors.push_back({"efficiency_kbit_per_j", "must be a finite number > 0 (kbit/J), got " +
                                                   std::to_string(config.efficiency_kbit_per_j)});
  }
  if (config.header_bits < 0) {
    errors.push_back({"header_bits", "must be >= 0, got " + std::to_string(config.header_bits)});
  }
  if (config.mtu_bytes < 0) {
    errors.push_back({"mtu_bytes", "must be >= 0 (0 = one packet per message), got " +
                                       std::to_string(config.mtu_bytes)});
  }
  const auto encoding = static_cast<std::size_t>(config.tensor_encoding);
  if (encoding >= EnumNames(TensorEncoding{}).size()) {
    errors.push_back({"tensor_encoding", "unknown encoding; valid values: float32, float16, int8"});
  }
  return errors;
}

std::vector<FieldError> Validate(const LinksConfig& config) {
  std::vector<FieldError> errors;
  Prefix("uplink", Validate(config.uplink), errors);
  Prefix("downlink", Validate(config.downlink), errors);
  Prefix("sidelink", Validate(config.sidelink), errors);
  return errors;
}

bool LinkOverride::empty() const {
  return !rate_bps && !latency_s && !loss_probability && !max_attempts &&
         !efficiency_kbit_per_j && !header_bits && !mtu_bytes && !broadcast && !tensor_encoding;
}

LinkConfig Apply(LinkConfig base, const LinkOverride& override_config) {
  const LinkOverride& o = override_config;
  if (o.rate_bps) base.rate_bps = *o.rate_bps;
  if (o.latency_s) base.latency_s = *o.latency_s;
  if (o.loss_probability) base.loss_probability = *o.loss_probability;
  if (o.max_attempts) base.max_attempts = *o.max_attempts;
  if (o.efficiency_kbit_per_j) base.efficiency_kbit_per_j = *o.efficiency_kbit_per_j;
  if (o.header_bits) base.header_bits = *o.header_bits;
  if (o.mtu_bytes) base.mtu_bytes = *o.mtu_bytes;
  if (o.broadcast) base.broadcast = *o.broadcast;
  if (o.tensor_encoding) base.tensor_encoding = *o.tensor_encoding;
  return base;
}

std::vector<FieldError> Validate(const LinkOverride& config) {
  // every range of LinkConfig is per key, and the defaults are in range: the errors of the
  // defaults with the given keys applied are exactly those of the given keys
  return Validate(Apply(LinkConfig{}, config));
}

double CommunicationEnergyJ(std::uint64_t bits, double efficiency_kbit_per_j) {
  return static_cast<double>(bits) / (efficiency_kbit_per_j * 1000.0);
}

EmulatedLink::EmulatedLink(LinkKind kind, const LinkConfig& config) : kind_(kind), config_(config) {
  const auto errors = Validate(config);
  if (!errors.empty()) {
    std::string message = "EmulatedLink(" + std::string(ToString(kind)) + "): invalid config:";
    for (const FieldError& error : errors) message += " " + error.key + ": " + error.message + ";";
    throw std::invalid_argument(message);
  }
}

bool EmulatedLink::Lost(std::mt19937_64& rng) const {
  // a uniform double in [0, 1) from the top 53 bits, identical on every standard library
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return u < config_.loss_probability;
}

TransferRecord EmulatedLink::Finish(const TransferRequest& request, std::uint64_t bits_on_air,
                                    std::uint64_t packets, std::uint64_t attempts,
                                    std::uint64_t rounds) {
  TransferRecord record;
  record.round = request.round;
  record.from_node = request.from;
  record.to_node = request.to;
  record.link = kind_;
  record.payload_bits = request.payload_bytes * 8;
  record.bits_on_air = bits_on_air;
  record.packets = packets;
  record.attempts = attempts;
  record.start_s = std::max(request.ready_s, clock_s_);
  record.airtime_s = static_cast<double>(bits_on_air) / config_.rate_bps +
                     static_cast<double>(rounds) * config_.latency_s;
  record.energy_j = CommunicationEnergyJ(bits_on_air, config_.efficiency_kbit_per_j);
  clock_s_ = record.start_s + record.airtime_s;
  return record;
}

TransferRecord EmulatedLink::Transfer(const TransferRequest& request, std::mt19937_64& rng) {
  const Packets packets = Packetise(request.payload_bytes, config_.mtu_bytes);
  const auto header_bits = static_cast<std::uint64_t>(config_.header_bits);
  const auto max_attempts = static_cast<std::uint64_t>(config_.max_attempts);

  // lossless link: closed form, no draws
  if (config_.loss_probability == 0.0) {
    TransferRecord record = Finish(request, request.payload_bytes * 8 + packets.count * header_bits,
                                   packets.count, packets.count, 1);
    record.delivered = true;
    return record;
  }

  // each packet: transmissions until one gets through, at most max_attempts; the message is
  // sent in rounds (selective repeat), so the rounds are the most attempts any packet needed
  std::uint64_t bits_on_air = 0;
  std::uint64_t attempts = 0;
  std::uint64_t rounds = 0;
  bool delivered = true;
  for (std::uint64_t i = 0; i < packets.count; ++i) {
    std::uint64_t tries = 0;
    bool through = false;
    while (!through && tries < max_attempts) {
      ++tries;
      through = !Lost(rng);
    }
    delivered = delivered && through;
    bits_on_air += tries * (packets.Bytes(i) * 8 + header_bits);
    attempts += tries;
    rounds = std::max(rounds, tries);
  }
  TransferRecord record = Finish(request, bits_on_air, packets.count, attempts, rounds);
  record.delivered = delivered;
  return record;
}

BroadcastResult EmulatedLink::Broadcast(const TransferRequest& request,
                                        std::span<const NodeId> receivers, std::mt19937_64& rng) {
  const Packets packets = Packetise(request.payload_bytes, config_.mtu_bytes);
  const auto header_bits = static_cast<std::uint64_t>(config_.header_bits);
  const auto max_attempts = static_cast<std::uint64_t>(config_.max_attempts);

  // each packet is repeated while some receiver still misses it
  std::vector<bool> delivered(receivers.size(), true);
  std::vector<bool> missing(receivers.size());
  std::uint64_t bits_on_air = 0;
  std::uint64_t attempts = 0;
  std::uint64_t rounds = 0;
  for (std::uint64_t i = 0; i < packets.count; ++i) {
    std::fill(missing.begin(), missing.end(), true);
    std::size_t still_missing = receivers.size();
    std::uint64_t tries = 0;
    do {
      ++tries;
      for (std::size_t r = 0; r < receivers.size(); ++r) {
        if (missing[r] && (config_.loss_probability == 0.0 || !Lost(rng))) {
          missing[r] = false;
          --still_missing;
        }
      }
    } while (still_missing > 0 && tries < max_attempts);
    for (std::size_t r = 0; r < receivers.size(); ++r) delivered[r] = delivered[r] && !missing[r];
    bits_on_air += tries * (packets.Bytes(i) * 8 + header_bits);
    attempts += tries;
    rounds = std::max(rounds, tries);
  }

  TransferRequest broadcast = request;
  broadcast.to = kAnyNode;
  BroadcastResult result;
  result.record = Finish(broadcast, bits_on_air, packets.count, attempts, rounds);
  result.record.receivers = static_cast<std::uint32_t>(receivers.size());
  result.record.delivered =
      std::all_of(delivered.begin(), delivered.end(), [](bool d) { return d; });
  result.receivers.assign(receivers.begin(), receivers.end());
  result.delivered = std::move(delivered);
  return result;
}

}  // namespace metajoule::network
