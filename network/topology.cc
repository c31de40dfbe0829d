#include "network/topology.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>

namespace metajoule::network {
namespace {

constexpr std::array<std::pair<std::string_view, TopologyKind>, 3> kTopologyNames{{
    {"star", TopologyKind::kStar},
    {"hierarchical", TopologyKind::kHierarchical},
    {"mesh", TopologyKind::kMesh},
}};

constexpr std::array<std::pair<std::string_view, MeshKind>, 4> kMeshNames{{
    {"ring", MeshKind::kRing},
    {"full", MeshKind::kFull},
    {"k_nearest", MeshKind::kKNearest},
    {"random", MeshKind::kRandom},
}};

// a uniform double in [0, 1) from the top 53 bits, identical on every standard library
double Uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// both directions of an undirected sidelink edge set
void AddSidelinks(const std::set<std::pair<NodeId, NodeId>>& pairs, std::vector<Edge>& edges) {
  for (const auto& [a, b] : pairs) {
    edges.push_back({a, b, LinkKind::kSidelink});
    edges.push_back({b, a, LinkKind::kSidelink});
  }
}

std::set<std::pair<NodeId, NodeId>> MeshPairs(const TopologyConfig& config,
                                              std::vector<TopologyNode>& agents,
                                              std::mt19937_64& rng) {
  std::set<std::pair<NodeId, NodeId>> pairs;
  const std::size_t n = agents.size();
  auto add = [&pairs](NodeId a, NodeId b) {
    if (a != b) pairs.insert({std::min(a, b), std::max(a, b)});
  };
  switch (config.mesh) {
    case MeshKind::kRing:
      for (std::size_t i = 0; i < n; ++i) add(agents[i].id, agents[(i + 1) % n].id);
      break;
    case MeshKind::kFull:
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = i + 1; j < n; ++j) add(agents[i].id, agents[j].id);
      }
      break;
    case MeshKind::kKNearest: {
      for (TopologyNode& agent : agents) {
        agent.x = Uniform(rng);
        agent.y = Uniform(rng);
      }
      std::vector<std::size_t> order(n);
      for (std::size_t i = 0; i < n; ++i) {
        // the k others closest to agent i, ties broken by id
        std::iota(order.begin(), order.end(), std::size_t{0});
        auto distance = [&](std::size_t j) {
          return std::hypot(agents[j].x - agents[i].x, agents[j].y - agents[i].y);
        };
        std::erase(order, i);
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return distance(a) < distance(b); });
        order.resize(static_cast<std::size_t>(config.k));
        for (std::size_t j : order) add(agents[i].id, agents[j].id);
        order.resize(n);
      }
      break;
    }
    case MeshKind::kRandom:
      for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = i + 1; j < n; ++j) {
          if (Uniform(rng) < config.edge_probability) add(agents[i].id, agents[j].id);
        }
      }
      break;
  }
  return pairs;
}

}  // namespace

std::span<const std::pair<std::string_view, TopologyKind>> EnumNames(TopologyKind) {
  return kTopologyNames;
}
std::span<const std::pair<std::string_view, MeshKind>> EnumNames(MeshKind) { return kMeshNames; }

std::vector<FieldError> Validate(const TopologyConfig& config) {
  std::vector<FieldError> errors;
  if (config.k < 1) errors.push_back({"k", "must be >= 1, got " + std::to_string(config.k)});
  if (!(config.edge_probability >= 0.0 && config.edge_probability <= 1.0)) {
    errors.push_back(
        {"edge_probability", "must be in [0, 1], got " + std::to_string(config.edge_probability)});
  }
  return errors;
}

std::vector<FieldError> Validate(const TopologyConfig& config, std::span<const int> cluster_sizes) {
  std::vector<FieldError> errors = Validate(config);
  long long agents = 0;
  for (int size : cluster_sizes) {
    if (size < 1) {
      errors.push_back({"kind", "every cluster needs at least one agent, got a cluster of " +
                                    std::to_string(size)});
    }
    agents += size;
  }
  if (cluster_sizes.empty()) errors.push_back({"kind", "a topology needs at least one cluster"});
  if (config.kind == TopologyKind::kMesh) {
    if (agents < 2) {
      errors.push_back({"kind", "a mesh needs at least 2 agents, got " + std::to_string(agents)});
    } else if (config.mesh == MeshKind::kKNearest && config.k >= agents) {
      errors.push_back({"k", "must be < the number of agents (" + std::to_string(agents) +
                                 "), got " + std::to_string(config.k)});
    } else if (config.mesh == MeshKind::kRandom && config.require_connected &&
               config.edge_probability == 0.0) {
      errors.push_back({"edge_probability",
                        "a random mesh with no edges cannot be connected (require_connected)"});
    }
  }
  return errors;
}

Topology::Topology(TopologyKind kind, std::vector<TopologyNode> nodes, std::vector<Edge> edges)
    : kind_(kind), nodes_(std::move(nodes)), edges_(std::move(edges)) {
  NodeId max_id = 0;
  for (const TopologyNode& node : nodes_) {
    max_id = std::max(max_id, node.id);
    if (node.role != NodeRole::kServer) ++num_agents_;
  }
  out_.resize(static_cast<std::size_t>(max_id) + 1);
  for (const Edge& edge : edges_) {
    MJL_DEMAND(edge.from <= max_id && edge.to <= max_id);
    out_[edge.from].push_back(edge);
  }
}

std::span<const Edge> Topology::OutEdges(NodeId node) const {
  if (node >= out_.size()) return {};
  return out_[node];
}

std::vector<NodeId> Topology::Neighbours(NodeId node) const {
  std::vector<NodeId> neighbours;
  for (const Edge& edge : OutEdges(node)) neighbours.push_back(edge.to);
  return neighbours;
}

std::vector<NodeId> Topology::ClusterHeads() const {
  std::vector<NodeId> heads;
  for (const TopologyNode& node : nodes_) {
    if (node.role == NodeRole::kClusterHead) heads.push_back(node.id);
  }
  return heads;
}

bool Topology::IsConnected() const {
  if (nodes_.empty()) return true;
  // undirected breadth-first search from the first node
  std::vector<std::vector<NodeId>> undirected(out_.size());
  for (const Edge& edge : edges_) {
    undirected[edge.from].push_back(edge.to);
    undirected[edge.to].push_back(edge.from);
  }
  std::vector<bool> seen(out_.size(), false);
  std::vector<NodeId> frontier{nodes_.front().id};
  seen[nodes_.front().id] = true;
  std::size_t reached = 1;
  while (!frontier.empty()) {
    const NodeId node = frontier.back();
    frontier.pop_back();
    for (NodeId next : undirected[node]) {
      if (!seen[next]) {
        seen[next] = true;
        ++reached;
        frontier.push_back(next);
      }
    }
  }
  return reached == nodes_.size();
}

Topology BuildTopology(const TopologyConfig& config, std::span<const int> cluster_sizes,
                       std::mt19937_64& rng) {
  const auto errors = Validate(config, cluster_sizes);
  if (!errors.empty()) {
    std::string message = "BuildTopology: impossible topology:";
    for (const FieldError& error : errors) message += " " + error.key + ": " + error.message + ";";
    throw std::invalid_argument(message);
  }

  // agents 1..N in cluster order; the first agent of a cluster heads it in a hierarchy
  std::vector<TopologyNode> agents;
  NodeId next_id = 1;
  for (std::size_t c = 0; c < cluster_sizes.size(); ++c) {
    for (int i = 0; i < cluster_sizes[c]; ++i) {
      const bool head = config.kind == TopologyKind::kHierarchical && i == 0;
      agents.push_back(
          {next_id++, head ? NodeRole::kClusterHead : NodeRole::kAgent, static_cast<int>(c)});
    }
  }

  std::vector<Edge> edges;
  switch (config.kind) {
    case TopologyKind::kStar:
      for (const TopologyNode& agent : agents) {
        edges.push_back({agent.id, kServerNode, LinkKind::kUplink});
        edges.push_back({kServerNode, agent.id, LinkKind::kDownlink});
      }
      break;
    case TopologyKind::kHierarchical: {
      NodeId head = 0;
      for (const TopologyNode& agent : agents) {
        if (agent.role == NodeRole::kClusterHead) {
          head = agent.id;
          edges.push_back({head, kServerNode, LinkKind::kUplink});
          edges.push_back({kServerNode, head, LinkKind::kDownlink});
        } else {
          edges.push_back({agent.id, head, LinkKind::kSidelink});
          edges.push_back({head, agent.id, LinkKind::kSidelink});
        }
      }
      break;
    }
    case TopologyKind::kMesh:
      AddSidelinks(MeshPairs(config, agents, rng), edges);
      break;
  }

  std::vector<TopologyNode> nodes;
  if (config.kind != TopologyKind::kMesh) {
    nodes.push_back({kServerNode, NodeRole::kServer, -1});
  }
  nodes.insert(nodes.end(), agents.begin(), agents.end());
  Topology topology(config.kind, std::move(nodes), std::move(edges));
  if (config.kind == TopologyKind::kMesh && config.require_connected && !topology.IsConnected()) {
    throw std::invalid_argument(
        "BuildTopology: the drawn mesh is not connected; raise k or edge_probability, use "
        "another seed, or set require_connected = false");
  }
  return topology;
}

}  // namespace metajoule::network
