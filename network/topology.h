#pragma once
// Who talks to whom, over which link kind (DESIGN.md "Topologies"):
//  - star: every agent <-> the server, uplink and downlink;
//  - hierarchical: agents -> their cluster head over sidelinks, cluster head <-> server over
//    uplink/downlink (the head is the cluster's first agent, which also learns);
//  - mesh: agents only, over sidelinks: a ring, fully connected, k nearest neighbours in a
//    seeded unit square, or a seeded Erdos-Renyi random graph.
// Node ids are stable across topologies: the server is node 0 (absent from a mesh) and agents
// are 1..N in cluster order.

#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "network/link.h"
#include "network/wire_format.h"

namespace metajoule::network {

/// The server's node id in star and hierarchical topologies.
inline constexpr NodeId kServerNode = 0;

enum class TopologyKind : std::uint8_t { kStar, kHierarchical, kMesh };
std::span<const std::pair<std::string_view, TopologyKind>> EnumNames(TopologyKind);

/// The graph of a mesh topology.
enum class MeshKind : std::uint8_t {
  kRing,      ///< agent i <-> agent i+1 (mod N)
  kFull,      ///< every pair
  kKNearest,  ///< each agent <-> its k nearest (positions uniform in the unit square)
  kRandom,    ///< each pair independently with edge_probability
};
std::span<const std::pair<std::string_view, MeshKind>> EnumNames(MeshKind);

/// Config table: [network.topology].
struct TopologyConfig {
  TopologyKind kind{TopologyKind::kStar};
  MeshKind mesh{MeshKind::kRing};
  /// Neighbours per agent for k_nearest (the union is taken, so degrees can exceed k).
  int k{2};
  /// Probability of each edge of a random mesh.
  double edge_probability{0.5};
  /// A mesh that is not connected is an error (consensus would never mix).
  bool require_connected{true};

  template <class V>
  void Visit(V& v) {
    v("kind", kind);
    v("mesh", mesh);
    v("k", k);
    v("edge_probability", edge_probability);
    v("require_connected", require_connected);
  }
};

/// Field ranges only (keys "k", "edge_probability").
std::vector<FieldError> Validate(const TopologyConfig& config);
/// Field ranges plus what the cluster sizes make impossible (no agents, a mesh of one agent,
/// k >= number of agents, a random mesh with p = 0 that must be connected).
std::vector<FieldError> Validate(const TopologyConfig& config, std::span<const int> cluster_sizes);

enum class NodeRole : std::uint8_t { kServer, kClusterHead, kAgent };

struct TopologyNode {
  NodeId id{0};
  NodeRole role{NodeRole::kAgent};
  int cluster{-1};  ///< index into the cluster sizes; -1 for the server
  double x{0.0};    ///< position in the unit square (k_nearest meshes only)
  double y{0.0};
};

/// A directed edge: messages from `from` to `to` travel over `link`.
struct Edge {
  NodeId from{0};
  NodeId to{0};
  LinkKind link{LinkKind::kUplink};
  bool operator==(const Edge&) const = default;
};

/// A built topology: nodes, directed edges, and per-node outgoing edges.
class Topology {
 public:
  Topology(TopologyKind kind, std::vector<TopologyNode> nodes, std::vector<Edge> edges);

  TopologyKind kind() const { return kind_; }
  const std::vector<TopologyNode>& nodes() const { return nodes_; }
  const std::vector<Edge>& edges() const { return edges_; }
  bool has_server() const { return kind_ != TopologyKind::kMesh; }
  std::size_t num_agents() const { return num_agents_; }

  /// Edges leaving `node` (empty for an unknown id).
  std::span<const Edge> OutEdges(NodeId node) const;
  /// The nodes `node` sends to, in edge order.
  std::vector<NodeId> Neighbours(NodeId node) const;
  /// The cluster head of every cluster, in cluster order (hierarchical only; empty otherwise).
  std::vector<NodeId> ClusterHeads() const;
  /// True when every node reaches every other one, edges taken as undirected.
  bool IsConnected() const;

 private:
  TopologyKind kind_;
  std::vector<TopologyNode> nodes_;
  std::vector<Edge> edges_;
  std::vector<std::vector<Edge>> out_;  // indexed by node id
  std::size_t num_agents_{0};
};

/// Builds the topology for clusters of `cluster_sizes` agents. Only k_nearest and random meshes
/// draw from `rng`, so the same seed gives the same graph.
/// @throws std::invalid_argument listing the errors of Validate(config, cluster_sizes), or when
/// require_connected is set and the drawn mesh is not connected.
Topology BuildTopology(const TopologyConfig& config, std::span<const int> cluster_sizes,
                       std::mt19937_64& rng);

}  // namespace metajoule::network
