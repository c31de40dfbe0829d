#include "experiments/experiment_config.h"

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

  TEST_CASE("a missing file is a config error naming it") {
    CHECK_THROWS_WITH_AS(LoadExperiment("/nonexistent/exp.toml"),
                         doctest::Contains("/nonexistent/exp.toml"), ConfigError);
  }
}

}  // namespace
}  // namespace metajoule::experiments
