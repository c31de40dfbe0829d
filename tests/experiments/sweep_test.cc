#include "experiments/sweep.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "common/error.h"
#include "experiments/toml_config.h"
#include "tests/support/temp_dir.h"

namespace metajoule::experiments {
namespace {

void Write(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path);
  out << text;
}

template <class F>
std::string ErrorOf(F&& load) {
  try {
    load();
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

constexpr const char* kBase = R"([experiment]
name = "tiny"
seed = 1
methods = ["random"]
output_dir = "out"

[training]
rounds = 2

[[clusters]]
name = "a"
agents = 2
task = { family = "nav2d" }
)";

// A temp folder with the base experiment as experiments/tiny.toml.
struct Fixture {
  test::TempDir dir;
  Fixture() { Write(dir.path() / "experiments" / "tiny.toml", kBase); }
  std::string Sweep(const std::string& text, const std::string& name = "sweep.toml") {
    Write(dir.path() / "sweeps" / name, text);
    return dir.File("sweeps/" + name);
  }
};

TEST_SUITE("experiments/sweep") {
  TEST_CASE("a grid expands in file order with the last axis fastest and stable ids and labels") {
    Fixture f;
    const std::string path = f.Sweep(R"([sweep]
name = "links"
base = "../experiments/tiny.toml"
workers = 2
[grid]
"experiment.seed" = [1, 2]
"network.links.uplink.efficiency_kbit_per_j" = [25, 50, 200]
[set]
"training.rounds" = 1
)");
    const Sweep sweep = LoadSweep(path);
    CHECK(sweep.settings.name == "links");
    CHECK(sweep.settings.workers == 2);
    CHECK(sweep.base == std::filesystem::path(f.dir.File("experiments/tiny.toml")));
    REQUIRE(sweep.axes.size() == 2);
    CHECK(sweep.axes[0].name == "experiment.seed");
    REQUIRE(sweep.cells.size() == 6);
    CHECK(sweep.cells[0].id == "c0000");
    CHECK(sweep.cells[0].label == "seed=1 efficiency_kbit_per_j=25");
    CHECK(sweep.cells[1].label == "seed=1 efficiency_kbit_per_j=50");
    CHECK(sweep.cells[5].id == "c0005");
    CHECK(sweep.cells[5].label == "seed=2 efficiency_kbit_per_j=200");
    CHECK(sweep.cells[4].OverridesText() ==
          "training.rounds=1;experiment.seed=2;network.links.uplink.efficiency_kbit_per_j=50");

    const ExperimentConfig config = LoadCell(sweep, sweep.cells[4]);
    CHECK(config.experiment.seed == 2);
    CHECK(config.training.rounds == 1);
    CHECK(config.network.links.uplink.efficiency_kbit_per_j == 50.0);

    // the same file gives the same cells
    const Sweep again = LoadSweep(path);
    REQUIRE(again.cells.size() == sweep.cells.size());
    for (std::size_t i = 0; i < sweep.cells.size(); ++i) {
      CHECK(again.cells[i].OverridesText() == sweep.cells[i].OverridesText());
    }
  }

  TEST_CASE(
      "the batch folder is the base's output_dir or sweep.output_dir, named after the sweep") {
    Fixture f;
    const Sweep by_base =
        LoadSweep(f.Sweep("[sweep]\nbase = \"../experiments/tiny.toml\"\n", "my-sweep.toml"));
    CHECK(by_base.settings.name == "my-sweep");  // the file's stem
    CHECK(by_base.folder == std::filesystem::absolute("out/my-sweep").lexically_normal());
    REQUIRE(by_base.cells.size() == 1);  // no grid: the base alone
    CHECK(by_base.cells[0].label.empty());

    const Sweep by_set = LoadSweep(f.Sweep(R"([sweep]
base = "../experiments/tiny.toml"
output_dir = "/tmp/elsewhere"
[set]
experiment.output_dir = "ignored-for-the-folder"
)"));
    CHECK(by_set.folder == std::filesystem::path("/tmp/elsewhere/sweep"));
    const Sweep via_set = LoadSweep(f.Sweep(R"([sweep]
base = "../experiments/tiny.toml"
[set]
"experiment.output_dir" = "/tmp/from-set"
)"));
    CHECK(via_set.folder == std::filesystem::path("/tmp/from-set/sweep"));
  }

  TEST_CASE("zip axes vary several keys together and methods give one method per cell") {
    Fixture f;
    const Sweep sweep = LoadSweep(f.Sweep(R"([sweep]
base = "../experiments/tiny.toml"
[grid]
experiment.methods = ["random", "scratch"]
[zip.links]
network.links.uplink.efficiency_kbit_per_j = [25, 200]
network.links.downlink.efficiency_kbit_per_j = [26, 201]
)"));
    REQUIRE(sweep.axes.size() == 2);
    CHECK(sweep.axes[1].name == "links");
    CHECK(sweep.axes[1].keys.size() == 2);
    REQUIRE(sweep.cells.size() == 4);
    CHECK(sweep.cells[0].label == "methods=random links=25");
    CHECK(sweep.cells[3].label == "methods=scratch links=200");
    CHECK(sweep.cells[3].OverridesText() ==
          "experiment.methods=[\"scratch\"];network.links.uplink.efficiency_kbit_per_j=200;"
          "network.links.downlink.efficiency_kbit_per_j=201");
    const ExperimentConfig config = LoadCell(sweep, sweep.cells[3]);
    CHECK(config.experiment.methods == std::vector<std::string>{"scratch"});
    CHECK(config.network.links.uplink.efficiency_kbit_per_j == 200.0);
    CHECK(config.network.links.downlink.efficiency_kbit_per_j == 201.0);
  }

  TEST_CASE("labels tell apart axes whose keys end alike") {
    Fixture f;
    const Sweep sweep = LoadSweep(f.Sweep(R"([sweep]
base = "../experiments/tiny.toml"
[grid]
"network.links.uplink.efficiency_kbit_per_j" = [25]
"network.links.downlink.efficiency_kbit_per_j" = [50]
"experiment.methods" = [["random", "scratch"]]
)"));
    REQUIRE(sweep.cells.size() == 1);
    CHECK(sweep.cells[0].label ==
          "uplink.efficiency_kbit_per_j=25 downlink.efficiency_kbit_per_j=50 "
          "methods=[\"random\", \"scratch\"]");
  }

  TEST_CASE("a bad grid key or value is named at its place in the sweep file") {
    Fixture f;
    const std::string bad_key = f.Sweep(R"([sweep]
base = "../experiments/tiny.toml"
[grid]
"experiment.sed" = [1, 2]
)");
    CHECK(ErrorOf([&] {
            LoadSweep(bad_key);
          }).find(bad_key + ":4:21: experiment.sed: unknown key; valid keys here:") == 0);

    const std::string bad_value = f.Sweep(R"([sweep]
base = "../experiments/tiny.toml"
[grid]
"experiment.seed" = [1, 2]
"training.rounds" = [5, 0]
)");
    CHECK(ErrorOf([&] { LoadSweep(bad_value); }) ==
          bad_value +
              ":5:25: training.rounds: must be >= 1, got 0 (sweep cell c0001: seed=1 rounds=0)");

    const std::string bad_type = f.Sweep(R"([sweep]
base = "../experiments/tiny.toml"
[set]
"training.rounds" = "many"
)");
    CHECK(ErrorOf([&] { LoadSweep(bad_type); }) ==
          bad_type + ":4:21: training.rounds: expected an integer (sweep cell c0000)");

    const std::string bad_method = f.Sweep(R"([sweep]
base = "../experiments/tiny.toml"
[grid]
"experiment.methods" = ["random", "mamll"]
)");
    CHECK(ErrorOf([&] {
            LoadSweep(bad_method);
          }).find(bad_method + ":4:35: experiment.methods[0]: unknown method \"mamll\"") == 0);
  }

  TEST_CASE("structural errors of the sweep file name file, line, column and key") {
    Fixture f;
    auto error_of = [&](const std::string& text) {
      const std::string path = f.Sweep(text);
      const std::string error = ErrorOf([&] { LoadSweep(path); });
      return error.substr(0, path.size()) == path ? error.substr(path.size())
                                                  : "(other file) " + error;
    };
    CHECK(error_of(
              "[sweep]\nbase = \"../experiments/tiny.toml\"\n[grid]\n\"experiment.seed\" = 3\n") ==
          ":4:21: experiment.seed: expected an array of values, one per cell ([grid] varies keys; "
          "[set] holds fixed values)");
    CHECK(error_of(
              "[sweep]\nbase = \"../experiments/tiny.toml\"\n[grid]\n\"experiment.seed\" = []\n") ==
          ":4:21: experiment.seed: list at least one value");
    CHECK(error_of(
              "[sweep]\nbase = \"../experiments/tiny.toml\"\n[zip.l]\na.b = [1, 2]\nc.d = [1]\n") ==
          ":5:7: c.d: has 1 values, but a.b in the same [zip.l] has 2; the keys of a zip vary "
          "together");
    CHECK(error_of("[sweep]\nbase = \"../experiments/tiny.toml\"\n[set]\n\"training.rounds\" = 3\n"
                   "[grid]\n\"training.rounds\" = [1]\n")
              .find(":6:21: training.rounds: set twice in the sweep (also at ") == 0);
    CHECK(error_of("[sweep]\nbase = \"../experiments/tiny.toml\"\n[grid]\n"
                   "\"experiment.output_dir\" = [\"a\"]\n")
              .find(":4:27: experiment.output_dir: the batch sets each cell's output_dir") == 0);
    CHECK(error_of("[sweep]\nbase = \"../experiments/tiny.toml\"\n[grids]\n")
              .find(":3:2: grids: unknown key") == 0);
    CHECK(error_of("[sweep]\nbase = \"../experiments/tiny.toml\"\nworker = 2\n")
              .find(":3:1: sweep.worker: unknown key; valid keys here: name, base, workers, "
                    "output_dir") == 0);
    CHECK(error_of("[sweep]\nbase = \"../experiments/tiny.toml\"\nworkers = -1\n") ==
          ":3:11: sweep.workers: must be >= 0 (0: every core), got -1");
    CHECK(error_of("[sweep]\nbase = \"../experiments/tiny.toml\"\n[slurm]\ncpus_per_task = 0\n") ==
          ":4:17: slurm.cpus_per_task: must be >= 1, got 0");
    CHECK(error_of("[sweep]\nbase = \"nowhere.toml\"\n")
              .find(":2:8: sweep.base: cannot read the experiment file") == 0);
    CHECK(error_of("[sweep]\nname = \"a b\"\nbase = \"../experiments/tiny.toml\"\n")
              .find(":2:8: sweep.name: may hold only letters") == 0);
    CHECK(error_of("[sweep]\nname = \"x\"\n") ==
          ": sweep.base: required: the experiment file every cell starts from");
  }

  TEST_CASE("an error of the base file itself names the base file and the cell") {
    Fixture f;
    Write(f.dir.path() / "experiments" / "broken.toml",
          "[experiment]\nname = \"b\"\n[training]\nrounds = 0\n");
    const std::string path = f.Sweep("[sweep]\nbase = \"../experiments/broken.toml\"\n");
    CHECK(ErrorOf([&] { LoadSweep(path); }) ==
          f.dir.File("experiments/broken.toml") +
              ":4:10: training.rounds: must be >= 1, got 0 (sweep cell c0000)");
  }

  TEST_CASE("a sweep may extend another sweep and base stays relative to the file that names it") {
    Fixture f;
    f.Sweep(R"([sweep]
base = "../experiments/tiny.toml"
[grid]
"experiment.seed" = [1, 2]
[set]
"training.rounds" = 1
)",
            "common.toml");
    Write(f.dir.path() / "sweeps" / "more" / "wider.toml", R"(extends = "../common.toml"
[sweep]
name = "wider"
[grid]
"experiment.seed" = [1, 2, 3, 4]
)");
    const Sweep sweep = LoadSweep(f.dir.File("sweeps/more/wider.toml"));
    CHECK(sweep.base == std::filesystem::path(f.dir.File("experiments/tiny.toml")));
    CHECK(sweep.cells.size() == 4);
    CHECK(sweep.cells[3].OverridesText() == "training.rounds=1;experiment.seed=4");
  }

  TEST_CASE("cells are found by id or index") {
    Fixture f;
    const Sweep sweep = LoadSweep(f.Sweep(
        "[sweep]\nbase = \"../experiments/tiny.toml\"\n[grid]\n\"experiment.seed\" = [1, 2, 3]\n"));
    REQUIRE(sweep.FindCell("c0002") != nullptr);
    CHECK(sweep.FindCell("c0002")->index == 2);
    REQUIRE(sweep.FindCell("1") != nullptr);
    CHECK(sweep.FindCell("1")->id == "c0001");
    CHECK(sweep.FindCell("3") == nullptr);
    CHECK(sweep.FindCell("-1") == nullptr);
    CHECK(sweep.FindCell("c9") == nullptr);
    CHECK(sweep.FindCell("1x") == nullptr);
    CHECK(CellId(12345) == "c12345");
  }

  TEST_CASE("values are written in TOML syntax that reads back the same") {
    CHECK(TomlValueText(25.0) == "25.0");
    CHECK(TomlValueText(0.1) == "0.1");
    CHECK(TomlValueText(1e-5) == "1e-05");
    CHECK(TomlStringText("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"");
    for (const double value : {0.1, 1.0 / 3.0, 6.02e23, -2.5e-300}) {
      const toml::table parsed = toml::parse("v = " + TomlValueText(value));
      CHECK(parsed["v"].value<double>() == value);
    }
    const toml::table parsed = toml::parse("v = " + TomlStringText("tab\there \"quoted\" \x01"));
    CHECK(parsed["v"].value<std::string>() == "tab\there \"quoted\" \x01");
  }

  TEST_CASE("docs/batch.md documents exactly the keys of the sweep file's tables") {
    std::ifstream in(std::string(METAJOULE_SOURCE_DIR) + "/docs/batch.md");
    std::stringstream text;
    text << in.rdbuf();
    const std::string doc = text.str();
    REQUIRE(!doc.empty());
    std::set<std::string> documented;
    const std::regex row(R"(^\| `((sweep|slurm)\.[a-z0-9_]+)` \|)", std::regex::multiline);
    for (auto it = std::sregex_iterator(doc.begin(), doc.end(), row); it != std::sregex_iterator();
         ++it) {
      documented.insert((*it)[1].str());
    }
    const std::vector<std::string> schema = ListKeys<SweepFileSections>();
    const std::set<std::string> schema_set(schema.begin(), schema.end());
    for (const std::string& key : schema) {
      INFO("sweep key missing from docs/batch.md: ", key);
      CHECK(documented.count(key) == 1);
    }
    for (const std::string& key : documented) {
      INFO("docs/batch.md documents a key the sweep loader rejects: ", key);
      CHECK(schema_set.count(key) == 1);
    }
  }
}

}  // namespace
}  // namespace metajoule::experiments
