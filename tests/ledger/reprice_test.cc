#include "ledger/reprice.h"

#include <stdexcept>

#include <doctest/doctest.h>

#include "ledger/queries.h"
#include "ledger/recorder.h"
#include "tests/support/temp_dir.h"

namespace metajoule::ledger {
namespace {

// a run of 3 nodes × 30 rounds: rollouts, learning and transfers on all three links
std::int64_t RecordRun(LedgerStore& store, const EnergyModelConfig& config) {
  const EnergyModel model(config);
  RunRecorder recorder(store, model, {.name = "base", .method = "fedavg"},
                       SelectMeter(EnergySource::kModelled));
  recorder.AddNode({0, "agent", "c", "robot_board", "france"});
  recorder.AddNode({1, "agent", "c", "robot_board", "germany"});
  recorder.AddNode({2, "server", "", "edge_server", "world"});
  const LinkKind links[] = {LinkKind::kUplink, LinkKind::kDownlink, LinkKind::kSidelink};
  for (std::int64_t round = 0; round < 30; ++round) {
    for (std::int32_t node = 0; node < 3; ++node) {
      Measurement measured;
      measured.cpu_seconds = 0.01 * static_cast<double>(node + 1);
      measured.wall_seconds = 0.02;
      recorder.RecordCompute(node, round, Phase::kRollout, 500 + round, 3e6, measured);
      recorder.RecordTransfer(node, round, Phase::kTransfer,
                              links[static_cast<std::size_t>((node + round) % 3)],
                              160'000 + 123 * round, 160'000, 1);
    }
    recorder.RecordEvaluation({round, 0, "t", "fedavg", 1, static_cast<double>(round)});
  }
  recorder.Finish();
  return recorder.run();
}

TEST_SUITE("ledger/reprice") {
  TEST_CASE("repricing from 50 to 25 kbit/J doubles comm energy exactly and keeps compute") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    EnergyModelConfig at50;  // defaults: 50 kbit/J on every link
    const std::int64_t run = RecordRun(store, at50);
    const EnergyBreakdown before = QueryBreakdown(store, run);

    RepriceOptions options;
    options.energy.links.uplink.efficiency_kbit_per_j = 25.0;
    options.energy.links.downlink.efficiency_kbit_per_j = 25.0;
    options.energy.links.sidelink.efficiency_kbit_per_j = 25.0;
    const RepriceResult result = RepriceRun(store, run, options);
    CHECK(result.run != run);
    CHECK(result.events == 180);
    const EnergyBreakdown after = QueryBreakdown(store, result.run);
    CHECK(after.events == 180);
    CHECK(after.uplink_j == 2.0 * before.uplink_j);
    CHECK(after.downlink_j == 2.0 * before.downlink_j);
    CHECK(after.sidelink_j == 2.0 * before.sidelink_j);
    CHECK(after.compute_j == before.compute_j);
    CHECK(result.old_energy_j == doctest::Approx(before.total_j()).epsilon(1e-12));
    CHECK(result.new_energy_j == doctest::Approx(after.total_j()).epsilon(1e-12));
    // row by row: every comm event exactly doubled
    CHECK(internal::QueryInt64(store.handle(), store.path(),
                               "SELECT count(*) FROM events a JOIN events b ON a.run = 1 AND "
                               "b.run = 2 AND a.id + 180 = b.id WHERE a.kind = 'comm' AND "
                               "b.energy_j != 2 * a.energy_j") == 0);

    // and back up to 200 kbit/J: a quarter of the 50 kbit/J figures
    options.energy.links = LinksConfig{{200.0}, {200.0}, {200.0}};
    const RepriceResult at200 = RepriceRun(store, run, options);
    CHECK(QueryBreakdown(store, at200.run).comm_j() == doctest::Approx(before.comm_j() / 4));
    CHECK(QueryBreakdown(store, at200.run).uplink_j == before.uplink_j / 4);
  }

  TEST_CASE("per-cluster efficiencies reprice by the transfer's cluster or refuse when it is unknown") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    const std::int64_t run = RecordRun(store, EnergyModelConfig{});
    const EnergyBreakdown before = QueryBreakdown(store, run);
    RepriceOptions options;
    // node 2 (the server, outside every cluster) sent transfers with no recorded receiver
    options.energy.cluster_links.push_back({"c", 25.0, std::nullopt, std::nullopt});
    CHECK_THROWS_WITH_AS(RepriceRun(store, run, options),
                         doctest::Contains("cannot be attributed"), std::invalid_argument);
    CHECK(store.Runs().size() == 1);

    // with receivers recorded: cluster c's uplinks double, the rest stay
    const EnergyModel model{EnergyModelConfig{}};
    RunRecorder recorder(store, model, {.name = "peers"}, SelectMeter(EnergySource::kModelled));
    recorder.AddNode({0, "agent", "c", "robot_board", "france"});
    recorder.AddNode({1, "agent", "d", "robot_board", "france"});
    recorder.AddNode({2, "server", "", "edge_server", "world"});
    recorder.RecordTransfer(0, 0, Phase::kTransfer, LinkKind::kUplink, 70'001, 70'000, 1, 2);
    recorder.RecordTransfer(1, 0, Phase::kTransfer, LinkKind::kUplink, 90'001, 90'000, 1, 2);
    recorder.RecordTransfer(2, 0, Phase::kTransfer, LinkKind::kDownlink, 50'001, 50'000, 1, 0);
    recorder.Finish();
    const EnergyBreakdown live = QueryBreakdown(store, recorder.run());
    const RepriceResult result = RepriceRun(store, recorder.run(), options);
    const EnergyBreakdown after = QueryBreakdown(store, result.run);
    CHECK(after.uplink_j == 70'001 / 25e3 + 90'001 / 50e3);
    CHECK(after.downlink_j == live.downlink_j);
    CHECK(QueryBreakdown(store, result.run, SummarySource::kRows).uplink_j ==
          doctest::Approx(after.uplink_j).epsilon(1e-12));
    CHECK(internal::QueryInt64(store.handle(), store.path(),
                               "SELECT count(*) FROM events WHERE run = " +
                                   std::to_string(result.run) + " AND peer IS NULL") == 0);
    CHECK(before.events == 180);
  }

  TEST_CASE("the repriced copy points at its source and carries nodes and evaluations") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    const std::int64_t run = RecordRun(store, {});
    RepriceOptions options;
    options.new_name = "what-if";
    const RepriceResult result = RepriceRun(store, run, options);
    const RunRecord copy = store.Run(result.run);
    CHECK(copy.info.name == "what-if");
    CHECK(copy.repriced_from == run);
    CHECK(copy.info.method == "fedavg");
    CHECK(store.Nodes(result.run).size() == 3);
    // unchanged parameters reproduce the recorded figures
    CHECK(result.new_energy_j == doctest::Approx(result.old_energy_j).epsilon(1e-12));
    CHECK(QueryEnergyToTarget(store, result.run, 10.0).front().round == 10);
  }

  TEST_CASE("device and location maps move nodes to other hardware and grids") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    const std::int64_t run = RecordRun(store, {});
    RepriceOptions options;
    options.device_map = {{"robot_board", "laptop"}};
    options.location_map = {{"germany", "norway"}};
    const RepriceResult result = RepriceRun(store, run, options);
    const auto nodes = store.Nodes(result.run);
    CHECK(nodes[0].device == "laptop");
    CHECK(nodes[1].location == "norway");
    // the copy's totals: its repriced figures under its nodes' new locations
    const auto carbon = QueryCarbonByLocation(store, result.run);
    const auto carbon_rows = QueryCarbonByLocation(store, result.run, SummarySource::kRows);
    REQUIRE(carbon.size() == carbon_rows.size());
    for (std::size_t i = 0; i < carbon.size(); ++i) {
      CHECK(carbon[i].location == carbon_rows[i].location);
      CHECK(carbon[i].gco2e == doctest::Approx(carbon_rows[i].gco2e).epsilon(1e-12));
    }
    CHECK(carbon[1].location == "norway");
    CHECK(QueryBreakdown(store, result.run).total_j() ==
          doctest::Approx(QueryBreakdown(store, result.run, SummarySource::kRows).total_j())
              .epsilon(1e-12));
    CHECK(nodes[2].device == "edge_server");
    // node 0, round 0: 500 steps / 2e4 + 3e6 / 2e10 s at 28 W, PUE 1
    const double expected = 28.0 * (500.0 / 2e4 + 3e6 / 2e10);
    internal::Statement select(store.handle(), store.path(),
                               "SELECT energy_j FROM events WHERE run = ?1 AND node = 0 AND "
                               "round = 0 AND kind = 'compute'");
    select.BindInt64(1, result.run);
    REQUIRE(select.Step());
    CHECK(select.ColumnDouble(0) == doctest::Approx(expected).epsilon(1e-12));
  }

  TEST_CASE("cputime repricing uses recorded CPU seconds and records the new source") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    const std::int64_t run = RecordRun(store, {});
    RepriceOptions options;
    options.energy.meter = EnergySource::kCputime;
    options.in_place = true;
    const RepriceResult result = RepriceRun(store, run, options);
    CHECK(result.run == run);
    CHECK(store.Runs().size() == 1);
    // node 2 (edge_server: 150 W, PUE 1.5, speed 2): 0.03 s / 2 × 150 × 1.5
    sqlite3* db = store.handle();
    internal::Statement select(db, store.path(),
                               "SELECT energy_j, energy_source FROM events WHERE run = ?1 AND "
                               "node = 2 AND kind = 'compute' LIMIT 1");
    select.BindInt64(1, run);
    REQUIRE(select.Step());
    CHECK(select.ColumnDouble(0) == doctest::Approx(0.03 / 2.0 * 150.0 * 1.5).epsilon(1e-12));
    CHECK(select.ColumnText(1) == "cputime");
    // in place: the run's totals were recomputed with its rows
    CHECK(QueryBreakdown(store, run).compute_j ==
          doctest::Approx(QueryBreakdown(store, run, SummarySource::kRows).compute_j)
              .epsilon(1e-12));
    CHECK(*internal::QueryInt64(db, store.path(),
                                "SELECT count(*) FROM events WHERE kind = 'comm' AND "
                                "energy_source != 'modelled'") == 0);
  }

  TEST_CASE("bad reprice inputs are refused before the ledger changes") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    const std::int64_t run = RecordRun(store, {});
    RepriceOptions rapl;
    rapl.energy.meter = EnergySource::kRapl;
    CHECK_THROWS_WITH_AS(RepriceRun(store, run, rapl), doctest::Contains("rapl"),
                         std::invalid_argument);
    RepriceOptions bad_link;
    bad_link.energy.links.uplink.efficiency_kbit_per_j = 0.0;
    CHECK_THROWS_WITH_AS(RepriceRun(store, run, bad_link),
                         doctest::Contains("links.uplink.efficiency_kbit_per_j"),
                         std::invalid_argument);
    RepriceOptions bad_device;
    bad_device.device_map = {{"robot_board", "toaster"}};
    CHECK_THROWS_WITH_AS(RepriceRun(store, run, bad_device),
                         doctest::Contains("valid profiles"), std::invalid_argument);
    CHECK_THROWS_AS(RepriceRun(store, 99, {}), std::invalid_argument);
    CHECK(store.Runs().size() == 1);
  }
}

}  // namespace
}  // namespace metajoule::ledger
