#include "network/topology.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "network/network_config.h"

namespace metajoule::network {
namespace {

std::size_t CountLinks(const Topology& topology, LinkKind link) {
  return static_cast<std::size_t>(std::count_if(topology.edges().begin(), topology.edges().end(),
                                                [link](const Edge& e) { return e.link == link; }));
}

// every edge has its reverse (meshes and sidelinks are symmetric)
bool IsSymmetric(const Topology& topology) {
  for (const Edge& edge : topology.edges()) {
    const auto back = topology.OutEdges(edge.to);
    if (std::find(back.begin(), back.end(), Edge{edge.to, edge.from, edge.link}) == back.end()) {
      return false;
    }
  }
  return true;
}

TopologyConfig Mesh(MeshKind mesh) {
  TopologyConfig config;
  config.kind = TopologyKind::kMesh;
  config.mesh = mesh;
  return config;
}

TEST_SUITE("network/topology") {
  TEST_CASE("a star links every agent to the server over uplink and downlink") {
    std::mt19937_64 rng(1);
    const std::vector<int> clusters{3, 2};
    const Topology star = BuildTopology(TopologyConfig{}, clusters, rng);
    CHECK(star.has_server());
    CHECK(star.nodes().size() == 6);
    CHECK(star.num_agents() == 5);
    CHECK(star.OutEdges(kServerNode).size() == 5);
    for (NodeId agent = 1; agent <= 5; ++agent) {
      REQUIRE(star.OutEdges(agent).size() == 1);
      CHECK(star.OutEdges(agent)[0] == Edge{agent, kServerNode, LinkKind::kUplink});
    }
    CHECK(CountLinks(star, LinkKind::kUplink) == 5);
    CHECK(CountLinks(star, LinkKind::kDownlink) == 5);
    CHECK(CountLinks(star, LinkKind::kSidelink) == 0);
    CHECK(star.nodes()[4].cluster == 1);
    CHECK(star.IsConnected());
    CHECK(star.ClusterHeads().empty());
  }

  TEST_CASE(
      "a hierarchy sends agents to their cluster head over sidelinks and heads to the server") {
    std::mt19937_64 rng(1);
    TopologyConfig config;
    config.kind = TopologyKind::kHierarchical;
    const std::vector<int> clusters{3, 1, 2};
    const Topology tree = BuildTopology(config, clusters, rng);
    CHECK(tree.ClusterHeads() == std::vector<NodeId>{1, 4, 5});
    CHECK(tree.Neighbours(kServerNode) == std::vector<NodeId>{1, 4, 5});
    CHECK(tree.Neighbours(2) == std::vector<NodeId>{1});
    CHECK(tree.OutEdges(2)[0].link == LinkKind::kSidelink);
    CHECK(tree.Neighbours(1) == std::vector<NodeId>{0, 2, 3});
    CHECK(tree.Neighbours(4) == std::vector<NodeId>{0});
    CHECK(CountLinks(tree, LinkKind::kUplink) == 3);
    CHECK(CountLinks(tree, LinkKind::kSidelink) == 2 * 3);
    CHECK(tree.IsConnected());
  }

  TEST_CASE("a ring mesh gives every agent two sidelink neighbours and no server") {
    std::mt19937_64 rng(1);
    const std::vector<int> clusters{4, 2};
    const Topology ring = BuildTopology(Mesh(MeshKind::kRing), clusters, rng);
    CHECK_FALSE(ring.has_server());
    CHECK(ring.nodes().size() == 6);
    for (NodeId agent = 1; agent <= 6; ++agent) CHECK(ring.OutEdges(agent).size() == 2);
    CHECK(ring.OutEdges(kServerNode).empty());
    CHECK(ring.edges().size() == 12);
    CHECK(CountLinks(ring, LinkKind::kSidelink) == 12);
    CHECK(IsSymmetric(ring));
    CHECK(ring.IsConnected());

    const std::vector<int> two{2};
    CHECK(BuildTopology(Mesh(MeshKind::kRing), two, rng).edges().size() == 2);
  }

  TEST_CASE("a full mesh links every pair") {
    std::mt19937_64 rng(1);
    const std::vector<int> clusters{5};
    const Topology full = BuildTopology(Mesh(MeshKind::kFull), clusters, rng);
    for (NodeId agent = 1; agent <= 5; ++agent) CHECK(full.OutEdges(agent).size() == 4);
    CHECK(full.edges().size() == 20);
  }

  TEST_CASE("a k-nearest mesh gives every agent at least k symmetric neighbours") {
    std::mt19937_64 rng(2);
    TopologyConfig config = Mesh(MeshKind::kKNearest);
    config.k = 3;
    const std::vector<int> clusters{10, 10};
    const Topology mesh = BuildTopology(config, clusters, rng);
    for (NodeId agent = 1; agent <= 20; ++agent) {
      CHECK(mesh.OutEdges(agent).size() >= 3);
      CHECK(mesh.OutEdges(agent).size() <= 19);
    }
    CHECK(IsSymmetric(mesh));
    // the nearest other agent of agent 1 is one of its neighbours
    const auto& nodes = mesh.nodes();
    NodeId nearest = 0;
    double best = 1e9;
    for (const auto& node : nodes) {
      const double d = std::hypot(node.x - nodes[0].x, node.y - nodes[0].y);
      if (node.id != 1 && d < best) {
        best = d;
        nearest = node.id;
      }
    }
    const auto neighbours = mesh.Neighbours(1);
    CHECK(std::find(neighbours.begin(), neighbours.end(), nearest) != neighbours.end());
  }

  TEST_CASE("a random mesh is the same for the same seed and different for another") {
    TopologyConfig config = Mesh(MeshKind::kRandom);
    config.edge_probability = 0.4;
    const std::vector<int> clusters{12};
    std::mt19937_64 a(3);
    std::mt19937_64 b(3);
    std::mt19937_64 c(4);
    const auto first = BuildTopology(config, clusters, a).edges();
    CHECK(first == BuildTopology(config, clusters, b).edges());
    CHECK(first != BuildTopology(config, clusters, c).edges());
    config.edge_probability = 1.0;
    CHECK(BuildTopology(config, clusters, a).edges().size() == 12 * 11);
  }

  TEST_CASE("impossible topologies are rejected with the key at fault") {
    std::mt19937_64 rng(5);
    auto keys = [](const TopologyConfig& config, std::vector<int> clusters) {
      std::vector<std::string> out;
      for (const auto& error : Validate(config, clusters)) out.push_back(error.key);
      return out;
    };
    CHECK(keys(Mesh(MeshKind::kRing), {1}) == std::vector<std::string>{"kind"});
    CHECK(keys(TopologyConfig{}, {}) == std::vector<std::string>{"kind"});
    CHECK(keys(TopologyConfig{}, {2, 0}) == std::vector<std::string>{"kind"});
    TopologyConfig k_nearest = Mesh(MeshKind::kKNearest);
    k_nearest.k = 4;
    CHECK(keys(k_nearest, {2, 2}) == std::vector<std::string>{"k"});
    k_nearest.k = 0;
    CHECK(keys(k_nearest, {2, 2}) == std::vector<std::string>{"k"});
    TopologyConfig random = Mesh(MeshKind::kRandom);
    random.edge_probability = 0.0;
    CHECK(keys(random, {3}) == std::vector<std::string>{"edge_probability"});
    random.edge_probability = 1.5;
    CHECK(keys(random, {3}) == std::vector<std::string>{"edge_probability"});
    const std::vector<int> one{1};
    CHECK_THROWS_AS(BuildTopology(Mesh(MeshKind::kFull), one, rng), std::invalid_argument);
  }

  TEST_CASE("NetworkConfig validation prefixes the keys of every part") {
    NetworkConfig config;
    CHECK(Validate(config).empty());
    config.links.downlink.efficiency_kbit_per_j = 0.0;
    config.topology.k = 0;
    config.channel.linger_ms = -1;
    const auto errors = Validate(config);
    REQUIRE(errors.size() == 3);
    CHECK(errors[0].key == "links.downlink.efficiency_kbit_per_j");
    CHECK(errors[1].key == "topology.k");
    CHECK(errors[2].key == "channel.linger_ms");
  }

  TEST_CASE("a disconnected random mesh is an error unless allowed") {
    TopologyConfig config = Mesh(MeshKind::kRandom);
    config.edge_probability = 0.01;
    const std::vector<int> clusters{30};
    std::mt19937_64 rng(6);
    CHECK_THROWS_AS(BuildTopology(config, clusters, rng), std::invalid_argument);
    config.require_connected = false;
    CHECK_FALSE(BuildTopology(config, clusters, rng).IsConnected());
  }
}

}  // namespace
}  // namespace metajoule::network
