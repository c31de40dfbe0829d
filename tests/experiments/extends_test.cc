#include "experiments/extends.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "experiments/experiment_config.h"
#include "tests/support/temp_dir.h"

namespace metajoule::experiments {
namespace {

void Write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path);
  out << text;
}

// The message of the ConfigError that `load` throws ("" when it throws none).
template <class F>
std::string ErrorOf(F&& load) {
  try {
    load();
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

// A complete small experiment: two clusters, links at 50 kbit/J.
constexpr const char* kBase = R"([experiment]
name = "base"
seed = 4
methods = ["random", "scratch"]

[training]
rounds = 7

[network.links.uplink]
efficiency_kbit_per_j = 50
rate_bps = 2e6

[[clusters]]
name = "a"
agents = 3
task = { family = "reach2d" }

[[clusters]]
name = "b"
agents = 2
task = { family = "nav2d" }
)";

TEST_SUITE("experiments/extends") {
  TEST_CASE("the extending file's values win and tables merge key by key") {
    test::TempDir dir;
    Write(dir.path() / "base.toml", kBase);
    Write(dir.path() / "child.toml", R"(extends = "base.toml"
[experiment]
name = "child"
[network.links.uplink]
efficiency_kbit_per_j = 200
)");
    const ExperimentConfig config = LoadExperiment(dir.File("child.toml"));
    CHECK(config.experiment.name == "child");
    CHECK(config.experiment.seed == 4);  // inherited from the same table
    CHECK(config.experiment.methods == std::vector<std::string>{"random", "scratch"});
    CHECK(config.training.rounds == 7);
    CHECK(config.network.links.uplink.efficiency_kbit_per_j == 200.0);
    CHECK(config.network.links.uplink.rate_bps == 2e6);  // a sibling key of the base survives
    REQUIRE(config.clusters.size() == 2);
    CHECK(config.clusters[1].name == "b");
  }

  TEST_CASE("arrays and arrays of tables replace the base's wholesale") {
    test::TempDir dir;
    Write(dir.path() / "base.toml", kBase);
    Write(dir.path() / "child.toml", R"(extends = "base.toml"
[experiment]
methods = ["maml"]
[[clusters]]
name = "only"
agents = 5
task = { family = "nav2d" }
)");
    const ExperimentConfig config = LoadExperiment(dir.File("child.toml"));
    CHECK(config.experiment.methods == std::vector<std::string>{"maml"});
    REQUIRE(config.clusters.size() == 1);
    CHECK(config.clusters[0].name == "only");
    CHECK(config.clusters[0].agents == 5);
  }

  TEST_CASE("chains resolve each base relative to the file that names it") {
    test::TempDir dir;
    Write(dir.path() / "common" / "base.toml", kBase);
    Write(dir.path() / "common" / "middle.toml", R"(extends = "base.toml"
[training]
rounds = 3
[experiment]
seed = 9
)");
    Write(dir.path() / "sweeps" / "leaf.toml", R"(extends = "../common/middle.toml"
[experiment]
seed = 11
)");
    const ExperimentConfig config = LoadExperiment(dir.File("sweeps/leaf.toml"));
    CHECK(config.experiment.seed == 11);
    CHECK(config.training.rounds == 3);
    CHECK(config.experiment.name == "base");
    CHECK(config.clusters.size() == 2);
  }

  TEST_CASE("an error in an inherited value names the base file, line and column") {
    test::TempDir dir;
    Write(dir.path() / "base.toml", R"([experiment]
name = "base"

[training]
rounds = 0

[[clusters]]
name = "a"
task = { family = "nav2d" }
)");
    Write(dir.path() / "child.toml", "extends = \"base.toml\"\n[experiment]\nseed = 2\n");
    const std::string error = ErrorOf([&] { LoadExperiment(dir.File("child.toml")); });
    CHECK(error == dir.File("base.toml") + ":5:10: training.rounds: must be >= 1, got 0");
  }

  TEST_CASE(
      "an error in the extending file names that file, and unknown keys in a base are caught") {
    test::TempDir dir;
    Write(dir.path() / "base.toml", kBase);
    Write(dir.path() / "child.toml", "extends = \"base.toml\"\n\n[training]\nrounds = -1\n");
    CHECK(ErrorOf([&] { LoadExperiment(dir.File("child.toml")); }) ==
          dir.File("child.toml") + ":4:10: training.rounds: must be >= 1, got -1");

    Write(dir.path() / "bad_base.toml", std::string(kBase) + "\n[sim]\nthreds = 2\n");
    Write(dir.path() / "child2.toml", "extends = \"bad_base.toml\"\n");
    const std::string error = ErrorOf([&] { LoadExperiment(dir.File("child2.toml")); });
    CHECK(error.find(dir.File("bad_base.toml") + ":24:1: sim.threds: unknown key") == 0);
  }

  TEST_CASE("a syntax error in a base file names the base file") {
    test::TempDir dir;
    Write(dir.path() / "base.toml", "[experiment]\nname = \n");
    Write(dir.path() / "child.toml", "extends = \"base.toml\"\n");
    const std::string error = ErrorOf([&] { LoadExperiment(dir.File("child.toml")); });
    CHECK(error.find(dir.File("base.toml") + ":2:") == 0);
  }

  TEST_CASE("a cycle of extends is an error that lists the chain") {
    test::TempDir dir;
    Write(dir.path() / "a.toml", "extends = \"b.toml\"\n");
    Write(dir.path() / "b.toml", "\nextends = \"c.toml\"\n");
    Write(dir.path() / "c.toml", "extends = \"a.toml\"\n");
    const std::string error = ErrorOf([&] { LoadExperiment(dir.File("a.toml")); });
    CHECK(error.find(dir.File("c.toml") + ":1:11: extends: ") == 0);
    CHECK(error.find("a.toml -> " + dir.File("b.toml") + " -> " + dir.File("c.toml") + " -> " +
                     dir.File("a.toml")) != std::string::npos);

    Write(dir.path() / "self.toml", "extends = \"self.toml\"\n");
    CHECK(ErrorOf([&] { LoadExperiment(dir.File("self.toml")); }).find("returns to a file") !=
          std::string::npos);
  }

  TEST_CASE("a missing base or a non-string extends is an error at the extends line") {
    test::TempDir dir;
    Write(dir.path() / "child.toml", "# variant\nextends = \"nowhere.toml\"\n");
    const std::string missing = ErrorOf([&] { LoadExperiment(dir.File("child.toml")); });
    CHECK(missing.find(dir.File("child.toml") + ":2:11: extends: cannot read the base file "
                                                "\"nowhere.toml\"") == 0);
    Write(dir.path() / "number.toml", "extends = 3\n");
    CHECK(ErrorOf([&] {
            LoadExperiment(dir.File("number.toml"));
          }).find(dir.File("number.toml") + ":1:11: extends: expected a string") == 0);
  }

  TEST_CASE("--set overrides apply on top of the merged files") {
    test::TempDir dir;
    Write(dir.path() / "base.toml", kBase);
    Write(dir.path() / "child.toml", "extends = \"base.toml\"\n[training]\nrounds = 2\n");
    const ExperimentConfig config =
        LoadExperiment(dir.File("child.toml"), {"training.rounds=9", "clusters[1].agents=6"});
    CHECK(config.training.rounds == 9);
    CHECK(config.clusters[1].agents == 6);
    CHECK(ErrorOf([&] {
            LoadExperiment(dir.File("child.toml"), {"extends=\"x.toml\""});
          }).find("--set: extends: unknown key") == 0);
  }

  TEST_CASE("ParseExperiment resolves extends relative to its source name") {
    test::TempDir dir;
    Write(dir.path() / "base.toml", kBase);
    const ExperimentConfig config = ParseExperiment(
        "extends = \"base.toml\"\n[experiment]\nseed = 21\n", dir.File("inline.toml"));
    CHECK(config.experiment.seed == 21);
    CHECK(config.experiment.name == "base");
  }

  TEST_CASE("MergeTables merges nested tables and replaces everything else") {
    toml::table base = toml::parse(R"(a = 1
b = [1, 2]
[t]
x = 1
y = 2
[t.u]
z = 3
)");
    toml::table overlay = toml::parse(R"(b = [3]
c = "new"
[t]
y = 20
[t.u]
w = 4
)");
    MergeTables(base, std::move(overlay));
    CHECK(base["a"].value<int>() == 1);
    REQUIRE(base["b"].as_array() != nullptr);
    CHECK(base["b"].as_array()->size() == 1);
    CHECK(base["b"][0].value<int>() == 3);
    CHECK(base["c"].value<std::string>() == "new");
    CHECK(base["t"]["x"].value<int>() == 1);
    CHECK(base["t"]["y"].value<int>() == 20);
    CHECK(base["t"]["u"]["z"].value<int>() == 3);
    CHECK(base["t"]["u"]["w"].value<int>() == 4);
  }
}

}  // namespace
}  // namespace metajoule::experiments
