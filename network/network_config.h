#pragma once
// The [network] table of an experiment: how the nodes of a run talk (transport, deadlines),
// link costs, topology and socket settings.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "network/channel.h"
#include "network/link.h"
#include "network/topology.h"

namespace metajoule::network {

/// How the meta-learner and the agents of an in-process run exchange their messages. Every
/// transport encodes and decodes each message with the link's tensor encoding and charges the
/// same emulated bits, so the three give bit-identical learning and ledger figures
/// (docs/protocol.md, "Runs").
enum class Transport : std::uint8_t {
  kEmulated,  ///< no sockets: each message is encoded and decoded in memory
  kInproc,    ///< ZeroMQ inproc:// sockets in one process (the default)
  kTcp,       ///< ZeroMQ tcp loopback sockets in one process
};
std::span<const std::pair<std::string_view, Transport>> EnumNames(Transport);
std::string_view ToString(Transport transport);

/// The links of one cluster where they differ from [network.links] (docs/links.md, "Per-cluster
/// overrides"). Config: one [[network.cluster_links]] table per cluster, e.g.
///   [[network.cluster_links]]
///   cluster = "arms_far"
///   uplink = { efficiency_kbit_per_j = 25, loss_probability = 0.1 }
struct ClusterLinksConfig {
  std::string cluster{};  ///< a [[clusters]] name
  LinkOverride uplink{};
  LinkOverride downlink{};
  LinkOverride sidelink{};

  /// The override of `kind`.
  const LinkOverride& Get(LinkKind kind) const;

  template <class V>
  void Visit(V& v) {
    v("cluster", cluster);
    v("uplink", uplink);
    v("downlink", downlink);
    v("sidelink", sidelink);
  }
};
/// Ranges of the given keys, and a cluster name (whether it names a cluster is checked with the
/// experiment's clusters).
std::vector<FieldError> Validate(const ClusterLinksConfig& config);

struct NetworkConfig {
  Transport transport{Transport::kInproc};
  /// How long the meta-learner waits for a round's reports before it closes the round with the
  /// ones that came, seconds (> 0); the others are recorded missing.
  double round_timeout_s{600.0};
  /// How long `serve` (and an in-process run) waits for the agents to join, seconds (> 0).
  double join_timeout_s{60.0};
  LinksConfig links{};
  TopologyConfig topology{};
  ChannelConfig channel{};
  /// Per-cluster overrides of `links`, at most one entry per cluster.
  std::vector<ClusterLinksConfig> cluster_links{};

  /// The link of `kind` of cluster `cluster`: links.Get(kind) with the cluster's overrides
  /// (none for an empty or unlisted name).
  LinkConfig Link(LinkKind kind, std::string_view cluster) const;
  /// True when `cluster` overrides any key of its `kind` link.
  bool Overrides(std::string_view cluster, LinkKind kind) const;

  template <class V>
  void Visit(V& v) {
    v("transport", transport);
    v("round_timeout_s", round_timeout_s);
    v("join_timeout_s", join_timeout_s);
    v("links", links);
    v("topology", topology);
    v("channel", channel);
    v("cluster_links", cluster_links);
  }
};

/// Field ranges of every part; keys are prefixed ("links.uplink.rate_bps"). Checks that need the
/// cluster sizes are in Validate(TopologyConfig, cluster_sizes).
std::vector<FieldError> Validate(const NetworkConfig& config);

}  // namespace metajoule::network
