#include "network/network_config.h"

#include <array>
#include <cmath>
#include <string>
#include <utility>

namespace metajoule::network {
namespace {

constexpr std::array<std::pair<std::string_view, Transport>, 3> kTransportNames{{
    {"emulated", Transport::kEmulated},
    {"inproc", Transport::kInproc},
    {"tcp", Transport::kTcp},
}};

}  // namespace

std::span<const std::pair<std::string_view, Transport>> EnumNames(Transport) {
  return kTransportNames;
}

std::string_view ToString(Transport transport) {
  for (const auto& [name, value] : kTransportNames) {
    if (value == transport) return name;
  }
  return "unknown";
}

const LinkOverride& ClusterLinksConfig::Get(LinkKind kind) const {
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

std::vector<FieldError> Validate(const ClusterLinksConfig& config) {
  std::vector<FieldError> errors;
  if (config.cluster.empty()) {
    errors.push_back({"cluster", "name the [[clusters]] entry these links belong to"});
  }
  for (const LinkKind kind : {LinkKind::kUplink, LinkKind::kDownlink, LinkKind::kSidelink}) {
    for (FieldError& error : Validate(config.Get(kind))) {
      errors.push_back({std::string(ToString(kind)) + "." + error.key, std::move(error.message)});
    }
    // the server's and the agents' sockets send every message in one encoding per link kind
    // (experiments/meta_exchange.cc): a cluster cannot have its own yet
    if (config.Get(kind).tensor_encoding) {
      errors.push_back({std::string(ToString(kind)) + ".tensor_encoding",
                        "a per-cluster tensor encoding is not supported (a link kind's sockets "
                        "send in one encoding for every cluster); set it in [network.links." +
                            std::string(ToString(kind)) + "]"});
    }
  }
  return errors;
}

LinkConfig NetworkConfig::Link(LinkKind kind, std::string_view cluster) const {
  LinkConfig link = links.Get(kind);
  if (cluster.empty()) return link;
  for (const ClusterLinksConfig& entry : cluster_links) {
    if (entry.cluster == cluster) link = Apply(link, entry.Get(kind));
  }
  return link;
}

bool NetworkConfig::Overrides(std::string_view cluster, LinkKind kind) const {
  if (cluster.empty()) return false;
  for (const ClusterLinksConfig& entry : cluster_links) {
    if (entry.cluster == cluster && !entry.Get(kind).empty()) return true;
  }
  return false;
}

std::vector<FieldError> Validate(const NetworkConfig& config) {
  std::vector<FieldError> errors;
  auto add = [&errors](const char* prefix, std::vector<FieldError> part) {
    for (FieldError& error : part) {
      errors.push_back({std::string(prefix) + "." + error.key, std::move(error.message)});
    }
  };
  auto positive = [&errors](const char* key, double value) {
    // at most a week, so that the deadline fits a millisecond count
    if (!(std::isfinite(value) && value > 0.0 && value <= 604800.0)) {
      errors.push_back({key, "must be a number of seconds in (0, 604800], got " +
                                 std::to_string(value)});
    }
  };
  positive("round_timeout_s", config.round_timeout_s);
  positive("join_timeout_s", config.join_timeout_s);
  add("links", Validate(config.links));
  add("topology", Validate(config.topology));
  add("channel", Validate(config.channel));
  for (std::size_t i = 0; i < config.cluster_links.size(); ++i) {
    const std::string key = "cluster_links[" + std::to_string(i) + "]";
    for (FieldError& error : Validate(config.cluster_links[i])) {
      errors.push_back({key + "." + error.key, std::move(error.message)});
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (config.cluster_links[j].cluster == config.cluster_links[i].cluster) {
        errors.push_back({key + ".cluster", "cluster \"" + config.cluster_links[i].cluster +
                                                "\" has links overridden twice (merge the two "
                                                "entries)"});
      }
    }
  }
  return errors;
}

}  // namespace metajoule::network
