#include "experiments/experiment_config.h"

#include <algorithm>
#include <string>

#include <doctest/doctest.h>

namespace metajoule::experiments {
namespace {

constexpr std::string_view kValid = R"(
[experiment]
name = "two-clusters"
seed = 7

[sim]
threads = 2

[[clusters]]
name = "left"
agents = 3
task = { family = "reach2d", goal_low = [-0.2, 0.1], goal_high = [-0.1, 0.2] }

[[clusters]]
name = "right"
agents = 2
[clusters.task]
family = "nav2d"
payload_mass = [0.0, 0.5]
)";

// Parses `text` and returns the ConfigError message ("" if it loads).
std::string ErrorOf(std::string_view text, const std::vector<std::string>& overrides = {}) {
  try {
    ParseExperiment(text, "exp.toml", overrides);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST_SUITE("experiments/experiment_config") {
  TEST_CASE("a valid file loads, with defaults for missing keys") {
    const ExperimentConfig config = ParseExperiment(kValid, "exp.toml");
    CHECK(config.experiment.name == "two-clusters");
    CHECK(config.experiment.seed == 7);
    CHECK(config.sim.threads == 2);
    REQUIRE(config.clusters.size() == 2);
    CHECK(config.clusters[0].agents == 3);
    CHECK(config.clusters[0].task.goal_low == std::vector<double>{-0.2, 0.1});
    CHECK(config.clusters[1].task.family == "nav2d");
    CHECK(config.clusters[1].task.payload_mass[1] == 0.5);
    CHECK(config.clusters[1].task.gain_scale[0] == 1.0);  // default kept
    CHECK(config.rollout.episodes == 2);
  }

  TEST_CASE("an unknown key names file, line, column and the full key") {
    const std::string text = std::string(kValid) + "\n[rollout]\nepisodez = 3\n";
    CHECK(ErrorOf(text) == "exp.toml:22:1: rollout.episodez: unknown key; valid keys here: episodes");
  }

  TEST_CASE("a value out of range names the key inside an array of tables") {
    std::string text(kValid);
    text.replace(text.find("agents = 2"), 10, "agents = 0");
    CHECK(ErrorOf(text) == "exp.toml:16:10: clusters[1].agents: must be >= 1, got 0");
  }

  TEST_CASE("an unknown task family lists the valid ones") {
    std::string text(kValid);
    text.replace(text.find("\"nav2d\""), 7, "\"swim\"");
    const std::string error = ErrorOf(text);
    CHECK(error.find("exp.toml:18:10: clusters[1].task.family: unknown task family \"swim\"") == 0);
    CHECK(error.find("valid families: reach2d, ") != std::string::npos);
  }

  TEST_CASE("a wrong type is reported at the value") {
    std::string text(kValid);
    text.replace(text.find("threads = 2"), 11, "threads = \"two\"");
    CHECK(ErrorOf(text) == "exp.toml:7:11: sim.threads: expected an integer");
  }

  TEST_CASE("a TOML syntax error keeps the parser's position") {
    CHECK(ErrorOf("[experiment]\nname = \n").find("exp.toml:2:") == 0);
  }

  TEST_CASE("--set overrides go through the same validation") {
    const auto config = ParseExperiment(kValid, "exp.toml", {"sim.threads=1", "rollout.episodes=5",
                                                           "clusters[0].agents=9"});
    CHECK(config.sim.threads == 1);
    CHECK(config.rollout.episodes == 5);
    CHECK(config.clusters[0].agents == 9);
    CHECK(ErrorOf(kValid, {"sim.threads=-1"}) == "--set: sim.threads: must be >= 0 (0 = every core)");
    CHECK(ErrorOf(kValid, {"sim.treads=1"}).find("--set: sim.treads: unknown key") == 0);
    CHECK(ErrorOf(kValid, {"experiment.name=bare"}).find("--set: experiment.name: cannot read") == 0);
    CHECK(ErrorOf(kValid, {"novalue"}) == "--set: novalue: expected key=value");
  }

  TEST_CASE("a file without clusters is rejected") {
    CHECK(ErrorOf("[experiment]\nname = \"x\"\n").find("clusters: at least one") != std::string::npos);
  }

  TEST_CASE("the resolved config reads back to the same config") {
    const ExperimentConfig config = ParseExperiment(kValid, "exp.toml");
    const std::string resolved = ResolvedToml(config);
    const ExperimentConfig again = ParseExperiment(resolved, "resolved.toml");
    CHECK(ResolvedToml(again) == resolved);
    CHECK(resolved.find("gain_scale = [ 1.0, 1.0 ]") != std::string::npos);
  }

  TEST_CASE("per-cluster link overrides replace only the keys they give") {
    const std::string text = std::string(kValid) +
                             "\n[[network.cluster_links]]\ncluster = \"right\"\n"
                             "uplink = { efficiency_kbit_per_j = 25, loss_probability = 0.1 }\n";
    const ExperimentConfig config = ParseExperiment(text, "exp.toml");
    const network::LinkConfig right = config.network.Link(network::LinkKind::kUplink, "right");
    CHECK(right.efficiency_kbit_per_j == 25.0);
    CHECK(right.loss_probability == 0.1);
    CHECK(right.rate_bps == config.network.links.uplink.rate_bps);  // kept
    CHECK(config.network.Link(network::LinkKind::kUplink, "left").efficiency_kbit_per_j == 50.0);
    CHECK(config.network.Link(network::LinkKind::kDownlink, "right").efficiency_kbit_per_j ==
          50.0);
    CHECK(config.network.Overrides("right", network::LinkKind::kUplink));
    CHECK_FALSE(config.network.Overrides("right", network::LinkKind::kDownlink));
    // the ledger prices the right cluster's uplink at 25 kbit/J, the rest at the base figure
    const ledger::EnergyModelConfig energy = EnergyConfigOf(config);
    REQUIRE(energy.cluster_links.size() == 1);
    CHECK(energy.cluster_links[0].cluster == "right");
    CHECK(energy.cluster_links[0].uplink_kbit_per_j == 25.0);
    CHECK_FALSE(energy.cluster_links[0].downlink_kbit_per_j.has_value());
    // and the resolved config reads back to the same overrides
    const std::string resolved = ResolvedToml(config);
    CHECK(ResolvedToml(ParseExperiment(resolved, "resolved.toml")) == resolved);
  }

  TEST_CASE("bad per-cluster link overrides name file, line, column and key") {
    // the line of the appended block's n-th line (1-based)
    const auto line = [](int n) {
      return std::to_string(std::count(kValid.begin(), kValid.end(), '\n') + 1 + n);
    };
    const std::string head = std::string(kValid) + "[[network.cluster_links]]\n";
    CHECK(ErrorOf(head + "cluster = \"middle\"\n") ==
          "exp.toml:" + line(1) +
              ":11: network.cluster_links[0].cluster: unknown cluster \"middle\"; clusters: "
              "left, right");
    CHECK(ErrorOf(head + "cluster = \"left\"\nuplink = { loss_probability = 1.5 }\n") ==
          "exp.toml:" + line(2) +
              ":31: network.cluster_links[0].uplink.loss_probability: must be in [0, 1), got "
              "1.500000");
    CHECK(ErrorOf(head + "cluster = \"left\"\nsidelink = { rate = 5 }\n")
              .starts_with("exp.toml:" + line(2) +
                           ":14: network.cluster_links[0].sidelink.rate: unknown key"));
    CHECK(ErrorOf(head + "cluster = \"left\"\ndownlink = { tensor_encoding = \"int8\" }\n")
              .starts_with("exp.toml:" + line(2) +
                           ":32: network.cluster_links[0].downlink.tensor_encoding: a per-cluster "
                           "tensor encoding is not supported"));
    CHECK(ErrorOf(head + "cluster = \"left\"\n[[network.cluster_links]]\ncluster = \"left\"\n")
              .find("network.cluster_links[1].cluster: cluster \"left\" has links overridden "
                    "twice") != std::string::npos);
    CHECK(ErrorOf(head + "uplink = { max_attempts = 2 }\n")
              .find("network.cluster_links[0].cluster: name the [[clusters]] entry") !=
          std::string::npos);
    // --set reaches them too
    CHECK(ErrorOf(head + "cluster = \"left\"\n",
                  {"network.cluster_links[0].uplink.efficiency_kbit_per_j=-1"})
              .starts_with("--set: network.cluster_links[0].uplink.efficiency_kbit_per_j: must be "
                           "a finite number > 0"));
  }

  TEST_CASE("a missing file is a config error naming it") {
    CHECK_THROWS_WITH_AS(LoadExperiment("/nonexistent/exp.toml"),
                         doctest::Contains("/nonexistent/exp.toml"), ConfigError);
  }
}

}  // namespace
}  // namespace metajoule::experiments
