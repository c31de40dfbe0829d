#pragma once
// The [network] table of an experiment: link costs, topology and transport settings.

#include <vector>

#include "common/error.h"
#include "network/channel.h"
#include "network/link.h"
#include "network/topology.h"

namespace metajoule::network {

struct NetworkConfig {
  LinksConfig links{};
  TopologyConfig topology{};
  ChannelConfig channel{};

  template <class V>
  void Visit(V& v) {
    v("links", links);
    v("topology", topology);
    v("channel", channel);
  }
};

/// Field ranges of every part; keys are prefixed ("links.uplink.rate_bps"). Checks that need the
/// cluster sizes are in Validate(TopologyConfig, cluster_sizes).
std::vector<FieldError> Validate(const NetworkConfig& config);

}  // namespace metajoule::network
