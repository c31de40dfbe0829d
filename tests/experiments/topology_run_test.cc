// The meta methods on the sidelink topologies (DESIGN.md "Topologies"): a hierarchy (members ->
// cluster head over sidelinks, one aggregate per cluster over the uplink) learns what the star
// learns, and consensus over a mesh (no server) averages its agents' models.
#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <sqlite3.h>

#include <doctest/doctest.h>

#include "common/thread_pool.h"
#include "experiments/consensus_run.h"
#include "experiments/experiment_config.h"
#include "experiments/meta_run.h"
#include "experiments/population.h"
#include "experiments/runner.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/queries.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_experiment.h"

namespace metajoule::experiments {
namespace {

// Hierarchical rounds differ from star rounds only by the float32 rounding of each cluster's
// weighted sum on the wire (and the order of the server's sum over clusters): relative 2^-24 per
// entry per round, which moves returns by far less than this over a few rounds (relative to
// 1 + |return|).
constexpr double kHierarchyReturnTolerance = 1e-6;  // measured: 2e-9 (fomaml), 1e-8 (fedavg)

// two clusters of different families (two meta-models), lossless links
ExperimentConfig Tiny(const std::filesystem::path& output_dir, std::vector<std::string> extra) {
  const std::string text = R"(
[experiment]
name = "tiny-topology"
seed = 5
methods = ["fomaml", "fedavg"]

[training]
rounds = 3

[agents]
policy = { hidden_sizes = [8] }

[meta]
inner_episodes = 2
outer_episodes = 2

[evaluation]
held_out_tasks = 0
)";
  return test::ParseTwoClusterExperiment(text, "tiny-topology.toml", output_dir,
                                         std::move(extra));
}

// (link, phase) -> (events, bits on air) of one ledger run's transfers
using CommKey = std::pair<std::string, std::string>;
std::map<CommKey, std::pair<std::int64_t, std::int64_t>> Comm(const ledger::LedgerStore& store,
                                                                std::int64_t run) {
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(store.handle(),
                             "SELECT link, phase, COUNT(*), SUM(bits_on_air) FROM events WHERE "
                             "run = ? AND kind = 'comm' GROUP BY link, phase",
                             -1, &statement, nullptr) == SQLITE_OK);
  sqlite3_bind_int64(statement, 1, run);
  std::map<CommKey, std::pair<std::int64_t, std::int64_t>> rows;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    const auto text = [&](int column) {
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, column)));
    };
    rows[{text(0), text(1)}] = {sqlite3_column_int64(statement, 2),
                                sqlite3_column_int64(statement, 3)};
  }
  sqlite3_finalize(statement);
  return rows;
}

// every evaluation of a run: (round, node, step) -> return
std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, double> Evaluations(
    const ledger::LedgerStore& store, std::int64_t run) {
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(store.handle(),
                             "SELECT round, node, adapt_step, return_value FROM evaluations "
                             "WHERE run = ?",
                             -1, &statement, nullptr) == SQLITE_OK);
  sqlite3_bind_int64(statement, 1, run);
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, double> rows;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    rows[{sqlite3_column_int64(statement, 0), sqlite3_column_int64(statement, 1),
          sqlite3_column_int64(statement, 2)}] = sqlite3_column_double(statement, 3);
  }
  sqlite3_finalize(statement);
  return rows;
}

struct Outcome {
  RunSummary summary;
  std::vector<std::map<CommKey, std::pair<std::int64_t, std::int64_t>>> comm;
  std::vector<std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, double>> evaluations;
  std::string log;
};

Outcome Run(const ExperimentConfig& config) {
  std::ostringstream out;
  Outcome outcome;
  outcome.summary = RunExperiment(config, out);
  outcome.log = out.str();
  const ledger::LedgerStore store((outcome.summary.folder / "ledger.sqlite").string(), {},
                                  ledger::OpenMode::kReadOnly);
  for (const MethodSummary& method : outcome.summary.methods) {
    outcome.comm.push_back(Comm(store, method.ledger_run));
    outcome.evaluations.push_back(Evaluations(store, method.ledger_run));
  }
  return outcome;
}

std::int64_t Bits(const std::map<CommKey, std::pair<std::int64_t, std::int64_t>>& comm,
                  const std::string& link, const std::string& phase = "transfer") {
  const auto it = comm.find({link, phase});
  return it == comm.end() ? 0 : it->second.second;
}
std::int64_t Count(const std::map<CommKey, std::pair<std::int64_t, std::int64_t>>& comm,
                   const std::string& link, const std::string& phase = "transfer") {
  const auto it = comm.find({link, phase});
  return it == comm.end() ? 0 : it->second.first;
}

// consensus run directly, to see every agent's model
struct ConsensusOutcome {
  MetaRunResult result;
  ledger::EnergyBreakdown energy;
  std::map<CommKey, std::pair<std::int64_t, std::int64_t>> comm;
};

ConsensusOutcome RunConsensusOnly(const ExperimentConfig& config, const test::TempDir& dir) {
  const ledger::EnergyModel model(EnergyConfigOf(config));
  const Population population(config);
  ThreadPool pool(2);
  ledger::LedgerStore store(dir.File("consensus.sqlite"), config.ledger.store);
  const ledger::MeterSelection selection =
      ledger::SelectMeter(config.ledger.energy.meter, {}, [](const std::string&) {});
  const ledger::Meter meter(selection);
  ledger::RunInfo info;
  info.name = config.experiment.name;
  info.method = "consensus";
  info.seed = config.experiment.seed;
  ledger::RunRecorder recorder(store, model, info, selection);
  for (const auto& node : population.nodes) recorder.AddNode(node);
  std::ostringstream out;
  ConsensusOutcome outcome;
  outcome.result = RunConsensus(config, population, pool, recorder, meter, out);
  recorder.Finish();
  outcome.energy = ledger::QueryBreakdown(store, recorder.run());
  outcome.comm = Comm(store, recorder.run());
  return outcome;
}

// largest distance of an agent's model from the first agent's, relative to its norm
double Spread(const std::vector<Eigen::VectorXd>& models) {
  double spread = 0.0;
  for (const Eigen::VectorXd& m : models) {
    spread = std::max(spread, (m - models.front()).norm() / models.front().norm());
  }
  return spread;
}

TEST_SUITE("experiments/topology_run") {
  TEST_CASE("a hierarchy learns what the star learns, with sidelink legs and one uplink per cluster") {
    const test::TempDir dir;
    const Outcome star = Run(Tiny(dir.path(), {"network.transport=\"emulated\""}));
    const Outcome tree = Run(Tiny(dir.path(), {"network.topology.kind=\"hierarchical\""}));
    REQUIRE(star.summary.methods.size() == 2);
    REQUIRE(tree.summary.methods.size() == 2);
    const int rounds = 3;
    for (std::size_t m = 0; m < 2; ++m) {
      CAPTURE(star.summary.methods[m].method);
      const double a = star.summary.methods[m].mean_return;
      const double b = tree.summary.methods[m].mean_return;
      CHECK(std::abs(a - b) <= kHierarchyReturnTolerance * (1.0 + std::abs(a)));
      // every evaluation of every round and agent, within the same tolerance
      REQUIRE(star.evaluations[m].size() == tree.evaluations[m].size());
      double largest = 0.0;
      for (const auto& [key, value] : star.evaluations[m]) {
        REQUIRE(tree.evaluations[m].count(key) == 1);
        largest = std::max(largest, std::abs(tree.evaluations[m].at(key) - value) /
                                        (1.0 + std::abs(value)));
        CHECK(std::abs(tree.evaluations[m].at(key) - value) <=
              kHierarchyReturnTolerance * (1.0 + std::abs(value)));
      }
      MESSAGE("largest relative return difference hierarchy - star: " << largest);
      // star: 5 reports and 5 unicast pushes per round; no sidelink
      CHECK(Count(star.comm[m], "uplink") == 5 * rounds);
      CHECK(Count(star.comm[m], "downlink") == 5 * rounds);
      CHECK(Count(star.comm[m], "sidelink") == 0);
      // hierarchy: one push and one aggregate per cluster, 3 + 1 members relayed to and
      // reporting over the sidelink
      CHECK(Count(tree.comm[m], "uplink") == 2 * rounds);
      CHECK(Count(tree.comm[m], "downlink") == 2 * rounds);
      CHECK(Count(tree.comm[m], "sidelink") == 2 * 3 * rounds);
      CHECK(Bits(tree.comm[m], "uplink") < Bits(star.comm[m], "uplink"));
      CHECK(Bits(tree.comm[m], "downlink") < Bits(star.comm[m], "downlink"));
      CHECK(tree.summary.methods[m].sidelink_j > 0.0);
      CHECK(tree.summary.methods[m].uplink_j < star.summary.methods[m].uplink_j);
      CHECK(Count(tree.comm[m], "uplink", "other") == 0);  // nothing missing
    }
  }

  TEST_CASE("a hierarchy with one global model sums the clusters' aggregates at the server") {
    const test::TempDir dir;
    const std::vector<std::string> global{"meta.per_cluster=false",
                                          "clusters[1].task.family=\"reach2d\"",
                                          "experiment.methods=[\"fedavg\"]",
                                          "network.transport=\"emulated\""};
    std::vector<std::string> tree_set = global;
    tree_set.push_back("network.topology.kind=\"hierarchical\"");
    const Outcome star = Run(Tiny(dir.path(), global));
    const Outcome tree = Run(Tiny(dir.path(), tree_set));
    const double a = star.summary.methods[0].mean_return;
    CHECK(std::abs(tree.summary.methods[0].mean_return - a) <=
          kHierarchyReturnTolerance * (1.0 + std::abs(a)));
    for (const auto& [key, value] : star.evaluations[0]) {
      REQUIRE(tree.evaluations[0].count(key) == 1);
      CHECK(std::abs(tree.evaluations[0].at(key) - value) <=
            kHierarchyReturnTolerance * (1.0 + std::abs(value)));
    }
    CHECK(Count(tree.comm[0], "uplink") == 2 * 3);  // two aggregates per round
  }

  TEST_CASE("a lossy sidelink drops member reports the same way for the same seed") {
    const test::TempDir dir;
    const std::vector<std::string> lossy{"network.topology.kind=\"hierarchical\"",
                                         "network.transport=\"emulated\"",
                                         "experiment.methods=[\"fedavg\"]",
                                         "network.links.sidelink.loss_probability=0.5",
                                         "network.links.sidelink.max_attempts=1"};
    const Outcome a = Run(Tiny(dir.path(), lossy));
    const Outcome b = Run(Tiny(dir.path(), lossy));
    std::vector<std::string> other_seed = lossy;
    other_seed.push_back("experiment.seed=6");
    const Outcome c = Run(Tiny(dir.path(), other_seed));
    CHECK(a.comm == b.comm);
    CHECK(a.evaluations == b.evaluations);
    CHECK(a.summary.methods[0].mean_return == b.summary.methods[0].mean_return);
    CHECK(a.comm != c.comm);
    // the lost member reports are marked missing on the sidelink (and counted in the log)
    const std::int64_t missing = Count(a.comm[0], "sidelink", "other");
    CHECK(missing > 0);
    CHECK(Bits(a.comm[0], "sidelink", "other") == 0);
    CHECK(a.log.find("messages lost") != std::string::npos);
  }

  TEST_CASE("a hierarchy over inproc sockets gives the emulated exchange's figures") {
    const test::TempDir dir;
    const std::vector<std::string> base{"network.topology.kind=\"hierarchical\"",
                                        "experiment.methods=[\"reptile\"]",
                                        "network.links.uplink.loss_probability=0.3",
                                        "network.links.sidelink.loss_probability=0.3",
                                        "network.links.sidelink.max_attempts=2"};
    std::vector<std::string> emulated = base;
    emulated.push_back("network.transport=\"emulated\"");
    const Outcome a = Run(Tiny(dir.path(), emulated));
    const Outcome b = Run(Tiny(dir.path(), base));
    CHECK(a.comm == b.comm);
    CHECK(a.evaluations == b.evaluations);
    CHECK(a.summary.methods[0].mean_return == b.summary.methods[0].mean_return);
  }

  TEST_CASE("consensus on a full lossless mesh leaves every agent with the same model") {
    const test::TempDir dir;
    const ExperimentConfig config =
        Tiny(dir.path(), {"experiment.methods=[\"consensus\"]", "network.topology.kind=\"mesh\"",
                          "network.topology.mesh=\"full\"", "meta.per_cluster=true"});
    const ConsensusOutcome outcome = RunConsensusOnly(config, dir);
    REQUIRE(outcome.result.agent_models.size() == 5);
    REQUIRE(outcome.result.groups.size() == 2);
    for (const std::vector<std::size_t>& group : outcome.result.groups) {
      std::vector<Eigen::VectorXd> models;
      for (const std::size_t k : group) models.push_back(outcome.result.agent_models[k]);
      CHECK(Spread(models) < 1e-12);
    }
    CHECK(std::isfinite(outcome.result.last_return));
    // only sidelinks and compute: one transfer per directed edge inside a cluster per round
    CHECK(outcome.energy.uplink_j == 0.0);
    CHECK(outcome.energy.downlink_j == 0.0);
    CHECK(outcome.energy.sidelink_j > 0.0);
    CHECK(outcome.energy.compute_j > 0.0);
    CHECK(Count(outcome.comm, "sidelink") == (3 * 2 + 2 * 1) * 3);
    CHECK(outcome.comm.size() == 1);
  }

  TEST_CASE("consensus on a ring draws its agents' models together") {
    const test::TempDir dir;
    // one family for all, one model for every agent, a ring of five
    const std::vector<std::string> ring{
        "experiment.methods=[\"consensus\"]", "network.topology.kind=\"mesh\"",
        "network.topology.mesh=\"ring\"", "meta.per_cluster=false",
        "clusters[1].task.family=\"reach2d\""};
    const ConsensusOutcome outcome = RunConsensusOnly(Tiny(dir.path(), ring), dir);
    REQUIRE(outcome.result.agent_models.size() == 5);
    CHECK(Count(outcome.comm, "sidelink") == 10 * 3);
    // the same agents when (nearly) every model is lost: each trains alone and drifts away
    std::vector<std::string> cut = ring;
    cut.push_back("network.links.sidelink.loss_probability=0.999999");
    cut.push_back("network.links.sidelink.max_attempts=1");
    const test::TempDir other;
    const ConsensusOutcome alone = RunConsensusOnly(Tiny(dir.path(), cut), other);
    const double spread = Spread(outcome.result.agent_models);
    const double drift = Spread(alone.result.agent_models);
    MESSAGE("ring spread after 3 rounds: " << spread << ", without mixing: " << drift);
    CHECK(spread > 0.0);
    CHECK(spread < 0.75 * drift);
  }

  TEST_CASE("impossible method and topology pairs are config errors naming the key and method") {
    const test::TempDir dir;
    auto error_of = [&](std::vector<std::string> extra) -> std::string {
      try {
        Tiny(dir.path(), std::move(extra));
      } catch (const ConfigError& error) {
        return error.what();
      }
      return "";
    };
    const std::string mesh_maml = error_of({"network.topology.kind=\"mesh\""});
    CHECK(mesh_maml.find("network.topology.kind") != std::string::npos);
    CHECK(mesh_maml.find("\"fomaml\" needs a server") != std::string::npos);
    const std::string star_consensus = error_of({"experiment.methods=[\"consensus\"]"});
    CHECK(star_consensus.find("network.topology.kind") != std::string::npos);
    CHECK(star_consensus.find("\"consensus\" runs on a mesh") != std::string::npos);
    const std::string tree_consensus = error_of(
        {"experiment.methods=[\"consensus\"]", "network.topology.kind=\"hierarchical\""});
    CHECK(tree_consensus.find("got \"hierarchical\"") != std::string::npos);
    CHECK(error_of({"network.topology.kind=\"hierarchical\"", "meta.outer=\"trpo\""})
              .find("meta.outer") != std::string::npos);
    // star too: the reports carry gradients, not the batches the TRPO step needs
    CHECK(error_of({"meta.outer=\"trpo\""}).find("in-process meta study only") !=
          std::string::npos);
    // a mesh that the cluster sizes make impossible
    CHECK(error_of({"experiment.methods=[\"consensus\"]", "network.topology.kind=\"mesh\"",
                    "network.topology.mesh=\"k_nearest\"", "network.topology.k=5"})
              .find("network.topology.k") != std::string::npos);
    CHECK(error_of({"experiment.methods=[\"consensus\", \"scratch\"]",
                    "network.topology.kind=\"mesh\""}) == "");
  }
}

}  // namespace
}  // namespace metajoule::experiments
