// Per-cluster link overrides in a run (docs/links.md, "Per-cluster overrides"): each transfer
// is emulated on and priced at the link of its cluster, and records its receiving endpoint
// (docs/ledger.md, "Endpoints").
#include "experiments/transfer_accounting.h"

#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <sqlite3.h>

#include <doctest/doctest.h>

#include "experiments/experiment_config.h"
#include "experiments/runner.h"
#include "ledger/ledger_store.h"
#include "ledger/queries.h"
#include "ledger/reprice.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_experiment.h"

namespace metajoule::experiments {
namespace {

// one meta method (one model per cluster), 2 rounds, in memory
ExperimentConfig Tiny(const std::filesystem::path& output_dir, std::vector<std::string> extra,
                      const std::string& tables = "") {
  const std::string text = R"(
[experiment]
name = "tiny-cluster-links"
seed = 3
methods = ["fomaml"]

[training]
rounds = 2

[agents]
policy = { hidden_sizes = [8] }

[meta]
inner_episodes = 2
outer_episodes = 2

[evaluation]
held_out_tasks = 0
)" + tables;
  extra.push_back("network.transport=\"emulated\"");
  return test::ParseTwoClusterExperiment(text, "tiny-cluster-links.toml", output_dir,
                                         std::move(extra));
}

// per (link, cluster of the link): events, joules, bits, attempts of the transfers
struct Comm {
  std::int64_t events{0};
  double energy_j{0.0};
  std::int64_t bits{0};
  std::int64_t attempts{0};
};
using CommKey = std::pair<std::string, std::string>;

std::map<CommKey, Comm> CommByCluster(const ledger::LedgerStore& store, std::int64_t run) {
  sqlite3_stmt* statement = nullptr;
  // the link's cluster: the transmitter's, else the receiver's (ledger::LinkCluster)
  REQUIRE(sqlite3_prepare_v2(
              store.handle(),
              "SELECT e.link, CASE WHEN t.cluster != '' THEN t.cluster ELSE r.cluster END, "
              "count(*), sum(e.energy_j), sum(e.bits_on_air), sum(e.attempts) FROM events e "
              "JOIN nodes t ON t.run = e.run AND t.node = e.node "
              "JOIN nodes r ON r.run = e.run AND r.node = e.peer "
              "WHERE e.run = ? AND e.kind = 'comm' AND e.phase = 'transfer' GROUP BY 1, 2",
              -1, &statement, nullptr) == SQLITE_OK);
  sqlite3_bind_int64(statement, 1, run);
  std::map<CommKey, Comm> rows;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    const auto text = [&](int column) {
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, column)));
    };
    rows[{text(0), text(1)}] = {sqlite3_column_int64(statement, 2),
                                sqlite3_column_double(statement, 3),
                                sqlite3_column_int64(statement, 4),
                                sqlite3_column_int64(statement, 5)};
  }
  sqlite3_finalize(statement);
  return rows;
}

std::int64_t Scalar(const ledger::LedgerStore& store, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  REQUIRE(sqlite3_prepare_v2(store.handle(), sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  const std::int64_t value = sqlite3_column_int64(statement, 0);
  sqlite3_finalize(statement);
  return value;
}

struct Outcome {
  std::filesystem::path ledger;
  std::int64_t run{0};
  std::map<CommKey, Comm> comm;
};

Outcome Run(const ExperimentConfig& config) {
  std::ostringstream out;
  const RunSummary summary = RunExperiment(config, out);
  REQUIRE(summary.methods.size() == 1);
  Outcome outcome;
  outcome.ledger = summary.folder / "ledger.sqlite";
  outcome.run = summary.methods[0].ledger_run;
  const ledger::LedgerStore store(outcome.ledger.string(), {}, ledger::OpenMode::kReadOnly);
  outcome.comm = CommByCluster(store, outcome.run);
  return outcome;
}

const Comm& At(const std::map<CommKey, Comm>& comm, const std::string& link,
               const std::string& cluster) {
  const auto it = comm.find({link, cluster});
  REQUIRE_MESSAGE(it != comm.end(), link << " of cluster " << cluster);
  return it->second;
}

TEST_SUITE("experiments/transfer_accounting") {
  TEST_CASE("halving one cluster's uplink efficiency doubles exactly its uplink energy") {
    const test::TempDir dir;
    const Outcome base = Run(Tiny(dir.path(), {}));
    const Outcome half = Run(Tiny(dir.path(), {}, R"(
[[network.cluster_links]]
cluster = "a"
uplink = { efficiency_kbit_per_j = 25 }
)"));
    const Comm& a0 = At(base.comm, "uplink", "a");
    const Comm& a1 = At(half.comm, "uplink", "a");
    CHECK(a0.events == 3 * 2);
    CHECK(a1.events == a0.events);
    CHECK(a1.bits == a0.bits);  // the efficiency moves no bit
    CHECK(a1.energy_j == 2.0 * a0.energy_j);  // bits / 25e3 = 2 x bits / 50e3, exactly
    // the other cluster's uplink and every downlink are unchanged
    CHECK(At(half.comm, "uplink", "b").energy_j == At(base.comm, "uplink", "b").energy_j);
    CHECK(At(half.comm, "downlink", "a").energy_j == At(base.comm, "downlink", "a").energy_j);
    CHECK(At(half.comm, "downlink", "b").energy_j == At(base.comm, "downlink", "b").energy_j);

    // repricing the base run with the override gives the live figures, and the totals tables
    // still sum to the rows
    ledger::LedgerStore store(base.ledger.string());
    ExperimentConfig with = Tiny(dir.path(), {}, R"(
[[network.cluster_links]]
cluster = "a"
uplink = { efficiency_kbit_per_j = 25 }
)");
    ledger::RepriceOptions options;
    options.energy = EnergyConfigOf(with);
    const ledger::RepriceResult repriced = ledger::RepriceRun(store, base.run, options);
    const std::map<CommKey, Comm> comm = CommByCluster(store, repriced.run);
    CHECK(At(comm, "uplink", "a").energy_j == a1.energy_j);
    CHECK(At(comm, "uplink", "b").energy_j == At(half.comm, "uplink", "b").energy_j);
    const ledger::EnergyBreakdown rows =
        ledger::QueryBreakdown(store, repriced.run, ledger::SummarySource::kRows);
    const ledger::EnergyBreakdown totals =
        ledger::QueryBreakdown(store, repriced.run, ledger::SummarySource::kTotals);
    CHECK(totals.uplink_j == doctest::Approx(rows.uplink_j).epsilon(1e-12));
    CHECK(totals.events == rows.events);
    const ledger::LedgerStore live(half.ledger.string(), {}, ledger::OpenMode::kReadOnly);
    CHECK(rows.uplink_j ==
          doctest::Approx(ledger::QueryBreakdown(live, half.run, ledger::SummarySource::kRows)
                              .uplink_j)
              .epsilon(1e-12));
  }

  TEST_CASE("a lossy uplink override changes the attempts of that cluster only") {
    const test::TempDir dir;
    const Outcome base = Run(Tiny(dir.path(), {}));
    const Outcome lossy = Run(Tiny(dir.path(), {}, R"(
[[network.cluster_links]]
cluster = "b"
uplink = { loss_probability = 0.5, max_attempts = 8 }
)"));
    const Comm& b = At(lossy.comm, "uplink", "b");
    CHECK(At(base.comm, "uplink", "b").attempts == At(base.comm, "uplink", "b").events);
    CHECK(b.attempts > b.events);  // retransmissions (p = 0.5 over 4 reports: 1 - 2^-4 sure)
    CHECK(b.bits > At(base.comm, "uplink", "b").bits);
    const Comm& a0 = At(base.comm, "uplink", "a");
    const Comm& a1 = At(lossy.comm, "uplink", "a");
    CHECK(a1.attempts == a0.attempts);
    CHECK(a1.attempts == a1.events);
    CHECK(a1.bits == a0.bits);
  }

  TEST_CASE("every transfer records its receiver: agents, the server, heads and cells") {
    const test::TempDir dir;
    SUBCASE("star with a downlink broadcast: uplinks to the server, each cluster's cell") {
      const Outcome run = Run(Tiny(dir.path(), {"network.links.downlink.broadcast=true"}));
      const ledger::LedgerStore store(run.ledger.string(), {}, ledger::OpenMode::kReadOnly);
      const std::string where = " FROM events WHERE run = " + std::to_string(run.run);
      CHECK(Scalar(store, "SELECT count(*)" + where + " AND kind = 'comm' AND peer IS NULL") ==
            0);
      CHECK(Scalar(store, "SELECT count(*)" + where + " AND kind = 'compute' AND peer IS NOT "
                          "NULL") == 0);
      CHECK(Scalar(store, "SELECT count(*)" + where + " AND link = 'uplink' AND peer != 0") == 0);
      // one broadcast per cluster (one model each) to that cluster's cell: nodes 6 (a), 7 (b)
      CHECK(Scalar(store, "SELECT count(*)" + where + " AND link = 'downlink'") == 2 * 2);
      CHECK(Scalar(store, "SELECT count(*) FROM events e JOIN nodes n ON n.run = e.run AND "
                          "n.node = e.peer WHERE e.run = " +
                              std::to_string(run.run) +
                              " AND e.link = 'downlink' AND n.role = 'cell' AND n.node = 6 + "
                              "(n.cluster = 'b')") == 2 * 2);
    }
    SUBCASE("star with unicasts: each downlink names its agent") {
      const Outcome run = Run(Tiny(dir.path(), {}));
      const ledger::LedgerStore store(run.ledger.string(), {}, ledger::OpenMode::kReadOnly);
      CHECK(Scalar(store, "SELECT count(DISTINCT peer) FROM events WHERE run = " +
                              std::to_string(run.run) + " AND link = 'downlink'") == 5);
      CHECK(Scalar(store, "SELECT count(*) FROM nodes WHERE role = 'cell'") == 0);
    }
    SUBCASE("hierarchical: members report to their head over the sidelink") {
      const Outcome run = Run(Tiny(dir.path(), {"network.topology.kind=\"hierarchical\""}));
      const ledger::LedgerStore store(run.ledger.string(), {}, ledger::OpenMode::kReadOnly);
      const std::string r = std::to_string(run.run);
      // heads are nodes 1 (a) and 4 (b); every sidelink is head <-> member of one cluster
      CHECK(Scalar(store, "SELECT count(*) FROM events WHERE run = " + r +
                              " AND link = 'sidelink' AND node NOT IN (1, 4) AND peer NOT IN "
                              "(1, 4)") == 0);
      CHECK(Scalar(store, "SELECT count(*) FROM events WHERE run = " + r +
                              " AND link = 'sidelink' AND node IN (2, 3, 5)") == 3 * 2);
      CHECK(Scalar(store, "SELECT count(*) FROM events e JOIN nodes t ON t.run = e.run AND "
                          "t.node = e.node JOIN nodes p ON p.run = e.run AND p.node = e.peer "
                          "WHERE e.run = " +
                              r + " AND e.link = 'sidelink' AND t.cluster != p.cluster") == 0);
      CHECK(Scalar(store, "SELECT count(*) FROM events WHERE run = " + r +
                              " AND link = 'uplink' AND (node NOT IN (1, 4) OR peer != 0)") ==
            0);
    }
  }
}

}  // namespace
}  // namespace metajoule::experiments
