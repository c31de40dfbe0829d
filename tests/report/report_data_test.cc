#include "report/report_data.h"

#include <cmath>
#include <fstream>
#include <stdexcept>

#include <doctest/doctest.h>

#include "common/error.h"
#include "ledger/ledger_error.h"
#include "tests/report/fixture.h"
#include "tests/support/temp_dir.h"

namespace metajoule::report {
namespace {

const RunData& FindRun(const FolderData& folder, const std::string& method, bool held_out = false) {
  for (const RunData& run : folder.runs) {
    if (run.method == method && run.held_out == held_out) return run;
  }
  FAIL("no run " << method);
  return folder.runs.front();
}

const RunTarget& FindTarget(const Report& report, const std::string& method) {
  for (const RunTarget& t : report.run_targets) {
    if (t.method == method) return t;
  }
  FAIL("no target row " << method);
  return report.run_targets.front();
}

TEST_SUITE("report/report_data") {
  TEST_CASE("every run's per-round energy and returns equal the ledger's own queries") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const FolderData folder = ReadLedger(dir.path() / "ledger.sqlite");
    REQUIRE(folder.runs.size() == 4);
    const ledger::LedgerStore store((dir.path() / "ledger.sqlite").string(), {},
                                    ledger::OpenMode::kReadOnly);
    for (const RunData& run : folder.runs) {
      CAPTURE(run.method);
      // per round: the split sums to ledger::QueryEnergyByRound
      const auto by_round = ledger::QueryEnergyByRound(store, run.id);
      REQUIRE(by_round.size() == run.rounds.size());
      for (std::size_t i = 0; i < by_round.size(); ++i) {
        CHECK(run.rounds[i].round == by_round[i].round);
        CHECK(run.rounds[i].energy.total_j() == doctest::Approx(by_round[i].energy_j).epsilon(1e-12));
      }
      // whole run: ledger::QueryBreakdown
      const ledger::EnergyBreakdown b = ledger::QueryBreakdown(store, run.id);
      const EnergySplit total = run.total();
      CHECK(total.compute_j == doctest::Approx(b.compute_j).epsilon(1e-12));
      CHECK(total.uplink_j == doctest::Approx(b.uplink_j).epsilon(1e-12));
      CHECK(total.downlink_j == doctest::Approx(b.downlink_j).epsilon(1e-12));
      CHECK(total.sidelink_j == doctest::Approx(b.sidelink_j).epsilon(1e-12));
      CHECK(run.gco2e() == doctest::Approx(b.gco2e).epsilon(1e-12));
      // carbon: ledger::QueryCarbonByLocation
      const auto carbon = ledger::QueryCarbonByLocation(store, run.id);
      REQUIRE(carbon.size() == run.carbon.size());
      for (std::size_t i = 0; i < carbon.size(); ++i) {
        CHECK(run.carbon[i].location == carbon[i].location);
        CHECK(run.carbon[i].gco2e == carbon[i].gco2e);
      }
    }
    // returns at the largest step: ledger::QueryReturns
    const RunData& maml = FindRun(folder, "maml");
    const auto returns = ledger::QueryReturns(store, maml.id, "maml", 1);
    REQUIRE(maml.returns.size() == returns.size());
    for (std::size_t i = 0; i < returns.size(); ++i) {
      CHECK(maml.returns[i].round == returns[i].round);
      CHECK(maml.returns[i].value == returns[i].value);
    }
    // hand-computed figures of the fixture
    CHECK(maml.total().compute_j == 120.0);
    CHECK(maml.total().uplink_j == 6.0);
    CHECK(maml.total().downlink_j == 6.0);
    CHECK(maml.agents == 2);
    CHECK(maml.tasks == 2);
    const RunData& held = FindRun(folder, "maml", true);
    CHECK(held.name == "q:held-out");
    CHECK(held.returns.size() == 3);
    CHECK(held.returns[2].value == -12.0);  // step 2 in round 2
    CHECK(FindRun(folder, "consensus").total().sidelink_j == 4.0);
  }

  TEST_CASE("energy-to-target and its split equal ledger::QueryEnergyToTarget") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const ReportInput input = ReadSource(dir.path());
    CHECK(input.kind == SourceKind::kRun);
    const Report report = Analyse(input, {test::kTarget, "test"});
    CHECK(report.methods == std::vector<std::string>{"scratch", "maml", "consensus"});
    const ledger::LedgerStore store((dir.path() / "ledger.sqlite").string(), {},
                                    ledger::OpenMode::kReadOnly);
    for (const RunTarget& t : report.run_targets) {
      CAPTURE(t.method);
      const auto expected = ledger::QueryEnergyToTarget(store, t.run, test::kTarget);
      REQUIRE(expected.size() == 1);
      CHECK(t.result.reached == expected[0].reached);
      CHECK(t.result.round == expected[0].round);
      CHECK(t.result.value == expected[0].value);
      CHECK(t.result.energy_j == doctest::Approx(expected[0].energy_j).epsilon(1e-12));
      CHECK(t.split.total_j() == doctest::Approx(t.result.energy_j).epsilon(1e-12));
    }
    const RunTarget& maml = FindTarget(report, "maml");
    CHECK(maml.result.round == 2);
    CHECK(maml.split.compute_j == 80.0);
    CHECK(maml.split.uplink_j == 4.0);
    CHECK(maml.split.downlink_j == 4.0);
    CHECK(maml.split.sidelink_j == 0.0);
    CHECK(FindTarget(report, "scratch").result.energy_j == 60.0);
    CHECK(FindTarget(report, "consensus").split.sidelink_j == 2.0);
  }

  TEST_CASE("curves plot each round's return against the energy of rounds up to it") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const Report report = Analyse(ReadSource(dir.path()), {test::kTarget, "test"});
    const Curve* maml = nullptr;
    const Curve* held = nullptr;
    for (const Curve& c : report.curves) {
      if (c.method == "maml") (c.held_out ? held : maml) = &c;
    }
    REQUIRE(maml);
    REQUIRE(held);
    REQUIRE(maml->points.size() == 3);
    CHECK(maml->points[0].cumulative_j == 44.0);
    CHECK(maml->points[1].cumulative_j == 88.0);
    CHECK(maml->points[2].cumulative_j == 132.0);
    CHECK(maml->points[2].value == 0.0);
    // the deployment continues the training bill: 132 + 14, + 10, + 10
    REQUIRE(held->points.size() == 3);
    CHECK(held->points[0].cumulative_j == 146.0);
    CHECK(held->points[2].cumulative_j == 166.0);
  }

  TEST_CASE("lifecycle costs and break-even follow the held-out and scratch runs") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const Report report = Analyse(ReadSource(dir.path()), {test::kTarget, "test"});
    REQUIRE(report.lifecycle.size() == 1);
    const LifecycleRow& row = report.lifecycle.front();
    CHECK(row.method == "maml");
    CHECK(row.costs.meta_j == 132.0);
    CHECK(row.costs.adapt_j == 17.0);
    CHECK(row.costs.scratch_j == 30.0);
    CHECK(row.adapt_reached);
    CHECK(row.scratch_reached);
    CHECK(row.agents == 2.0);
    CHECK(row.break_even == ledger::BreakEvenTasks({132.0, 17.0, 30.0}));
    CHECK(row.break_even.value() == doctest::Approx(132.0 / 13.0));
    CHECK(row.break_even_count == 11);
  }

  TEST_CASE("without a target the bars show whole runs and the lifecycle is left out") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const Report report = Analyse(ReadSource(dir.path()), {std::nullopt, "none"});
    CHECK(report.lifecycle.empty());
    CHECK(FindTarget(report, "maml").result.energy_j == 132.0);
    CHECK_FALSE(FindTarget(report, "maml").result.reached);
    CHECK(FindTarget(report, "maml").best_return == 0.0);
    REQUIRE_FALSE(report.notes.empty());
    CHECK(report.notes.front().find("No target") != std::string::npos);
    // the map then ranks by best return: scratch and maml both reach 0, scratch comes first
    for (const TradeoffCell& cell : report.tradeoff.cells) {
      CHECK_FALSE(cell.by_energy);
      CHECK(cell.winner == "scratch");
    }
  }

  TEST_CASE("repricing at the recorded efficiencies gives the recorded energy") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const FolderData folder = ReadLedger(dir.path() / "ledger.sqlite");
    const RunData& maml = FindRun(folder, "maml");
    const RunTarget same = RepricedTarget(maml, test::kTarget, 1.0, 2.0);
    CHECK(same.result.energy_j == 88.0);
    // UL at half the efficiency costs twice as much: 80 + 8 + 4
    const RunTarget half = RepricedTarget(maml, test::kTarget, 0.5, 2.0);
    CHECK(half.split.uplink_j == 8.0);
    CHECK(half.result.energy_j == 92.0);
    CHECK(half.result.round == 2);  // what is learned does not change
    const RunTarget sl = RepricedTarget(FindRun(folder, "consensus"), test::kTarget, 1.0, 0.02);
    CHECK(sl.split.sidelink_j == 200.0);  // 4000 bits / 20 bit/J
  }

  TEST_CASE("the repriced trade-off map picks the cheapest method per link setting") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    AnalysisOptions options;
    options.whatif_kbit_per_j = {0.01, 1.0, 2.0};
    const Report report = Analyse(ReadSource(dir.path()), {test::kTarget, "test"}, options);
    const Tradeoff& map = report.tradeoff;
    CHECK(map.repriced);
    REQUIRE(map.recorded_uplink.has_value());
    CHECK(*map.recorded_uplink == doctest::Approx(1.0));
    CHECK(*map.recorded_sidelink == doctest::Approx(2.0));
    REQUIRE(map.cells.size() == 9);
    // SL 2 kbit/J: consensus, 12 J
    const TradeoffCell& fast = map.cells[1 * 3 + 2];
    CHECK(fast.winner == "consensus");
    CHECK(fast.by_energy);
    CHECK(fast.figure == 12.0);
    // SL 0.01 kbit/J: consensus costs 10 + 400 J; scratch's 60 J wins
    CHECK(map.cells[1 * 3 + 0].winner == "scratch");
    // the what-if is stated on the page
    bool noted = false;
    for (const std::string& note : report.notes) noted = noted || note.find("what-if") != std::string::npos;
    CHECK(noted);
  }

  TEST_CASE("cells.csv parses quoted fields and rejects malformed files with their line") {
    const auto cells = ParseCellsCsv(
        "cell,status,run_folder,overrides\r\n"
        "c0,done,runs/a,\"experiment.methods=[\"\"maml\"\",\"\"scratch\"\"];experiment.seed=2\"\n"
        "\n"
        "c1,failed,runs/b,\n",
        "cells.csv");
    REQUIRE(cells.size() == 2);
    CHECK(cells[0].overrides == "experiment.methods=[\"maml\",\"scratch\"];experiment.seed=2");
    CHECK(cells[1].status == "failed");
    CHECK(ParseOverrides(cells[0].overrides, "x").at("experiment.seed") == "2");

    const auto message = [](std::string_view text) {
      try {
        ParseCellsCsv(text, "b/cells.csv");
      } catch (const ConfigError& error) {
        return std::string(error.what());
      }
      return std::string("no error");
    };
    CHECK(message("cell,state,run_folder,overrides\n").find("b/cells.csv:1:1") != std::string::npos);
    CHECK(message("cell,status,run_folder,overrides\nc0,done,a\n").find("b/cells.csv:2:1") !=
          std::string::npos);
    CHECK(message("cell,status,run_folder,overrides\nc0,done,a,\nc1,running,b,\n")
              .find("b/cells.csv:3:1: status: expected done, failed or pending") != std::string::npos);
    CHECK(message("cell,status,run_folder,overrides\nc0,done,\"a,\n").find("not closed") !=
          std::string::npos);
    CHECK_THROWS_AS(ParseOverrides("a=1;=2", "x"), ConfigError);
  }

  TEST_CASE("a batch maps each cell to its UL and SL overrides and lists the cells left out") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path() / "runs" / "a");
    test::WriteFixtureLedger(dir.path() / "runs" / "b");
    std::ofstream(dir.path() / "cells.csv")
        << "cell,status,run_folder,overrides\n"
           "c0,done,runs/a,network.links.uplink.efficiency_kbit_per_j=1;"
           "network.links.sidelink.efficiency_kbit_per_j=2\n"
           "c1,done,runs/b,network.links.uplink.efficiency_kbit_per_j=1;"
           "network.links.sidelink.efficiency_kbit_per_j=0.5;experiment.seed=2\n"
           "c2,failed,runs/c,\n"
           "c3,done,runs/missing,\n";
    const ReportInput input = ReadSource(dir.path());
    CHECK(input.kind == SourceKind::kBatch);
    REQUIRE(input.folders.size() == 2);
    CHECK(input.folders[1].sidelink_kbit_per_j == 0.5);
    REQUIRE(input.left_out.size() == 2);
    CHECK(input.left_out[0].cell == "c2");
    CHECK(input.left_out[1].cell == "c3");
    CHECK(input.left_out[1].reason.find("runs/missing/ledger.sqlite") != std::string::npos);

    const Report report = Analyse(input, {test::kTarget, "test"});
    CHECK(report.overrides.at("c1").find("experiment.seed=2") != std::string::npos);
    const Tradeoff& map = report.tradeoff;
    CHECK_FALSE(map.repriced);
    CHECK(map.uplink_values == std::vector<double>{1.0});
    CHECK(map.sidelink_values == std::vector<double>{0.5, 2.0});
    REQUIRE(map.cells.size() == 2);
    CHECK(map.cells[0].folders == 1);
    // measured: both cells hold the same ledger (recorded at SL 2), so consensus wins in both
    CHECK(map.cells[0].winner == "consensus");
    // batch summaries: the mean over cells
    for (const MethodSummary& s : report.summaries) {
      CHECK(s.runs == 2);
      if (s.method == "maml") CHECK(s.mean_split.total_j() == 88.0);
    }
    REQUIRE(report.lifecycle.size() == 1);
    CHECK(report.lifecycle[0].folders == 2);
    CHECK(report.lifecycle[0].costs.adapt_j == 17.0);
  }

  TEST_CASE("absent or corrupt sources fail with an error naming the path") {
    metajoule::test::TempDir dir;
    CHECK_THROWS_WITH_AS(ReadSource(dir.path() / "nope"),
                         doctest::Contains("no such run folder or batch folder"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(ReadSource(dir.path()), doctest::Contains("neither a run folder"),
                         std::invalid_argument);
    std::ofstream(dir.path() / "ledger.sqlite") << "this is not a database, just text";
    try {
      ReadSource(dir.path());
      FAIL("a corrupt ledger was read");
    } catch (const ledger::LedgerCorruptError& error) {
      CHECK(std::string(error.what()).find((dir.path() / "ledger.sqlite").string()) == 0);
    }
    // a valid but empty ledger
    std::filesystem::remove(dir.path() / "ledger.sqlite");
    { ledger::LedgerStore store((dir.path() / "ledger.sqlite").string()); }
    CHECK_THROWS_WITH_AS(ReadSource(dir.path()), doctest::Contains("holds no runs"),
                         std::invalid_argument);
    // a batch whose every cell is unreadable
    metajoule::test::TempDir batch;
    std::ofstream(batch.path() / "cells.csv") << "cell,status,run_folder,overrides\nc0,done,x,\n";
    CHECK_THROWS_WITH_AS(ReadSource(batch.path()), doctest::Contains("no cell of the batch"),
                         std::runtime_error);
  }
}

}  // namespace
}  // namespace metajoule::report
