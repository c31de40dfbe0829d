#include "ledger/queries.h"

#include <stdexcept>
#include <vector>

#include <doctest/doctest.h>

#include "ledger/recorder.h"
#include "tests/support/temp_dir.h"

namespace metajoule::ledger {
namespace {

// every summary query, from the totals and from the rows: the same figures (to a relative
// 1e-12: the two sum in different orders)
void CheckTotalsMatchRows(const LedgerStore& store, std::int64_t run) {
  const SummarySource totals = SummarySource::kTotals;
  const SummarySource rows = SummarySource::kRows;
  const auto same = [](double a, double b) { CHECK(a == doctest::Approx(b).epsilon(1e-12)); };
  const EnergyBreakdown bt = QueryBreakdown(store, run, totals);
  const EnergyBreakdown br = QueryBreakdown(store, run, rows);
  CHECK(bt.events == br.events);
  same(bt.compute_j, br.compute_j);
  same(bt.uplink_j, br.uplink_j);
  same(bt.downlink_j, br.downlink_j);
  same(bt.sidelink_j, br.sidelink_j);
  same(bt.gco2e, br.gco2e);
  const auto pt = QueryEnergyByPhase(store, run, totals);
  const auto pr = QueryEnergyByPhase(store, run, rows);
  REQUIRE(pt.size() == pr.size());
  for (std::size_t i = 0; i < pt.size(); ++i) {
    CHECK(pt[i].phase == pr[i].phase);
    same(pt[i].energy_j, pr[i].energy_j);
    same(pt[i].gco2e, pr[i].gco2e);
  }
  const auto lt = QueryCarbonByLocation(store, run, totals);
  const auto lr = QueryCarbonByLocation(store, run, rows);
  REQUIRE(lt.size() == lr.size());
  for (std::size_t i = 0; i < lt.size(); ++i) {
    CHECK(lt[i].location == lr[i].location);
    same(lt[i].energy_j, lr[i].energy_j);
    same(lt[i].gco2e, lr[i].gco2e);
  }
  const auto rt = QueryEnergyByRound(store, run, totals);
  const auto rr = QueryEnergyByRound(store, run, rows);
  REQUIRE(rt.size() == rr.size());
  for (std::size_t i = 0; i < rt.size(); ++i) {
    CHECK(rt[i].round == rr[i].round);
    same(rt[i].energy_j, rr[i].energy_j);
  }
  const auto st = QueryRoundBreakdown(store, run, totals);
  const auto sr = QueryRoundBreakdown(store, run, rows);
  REQUIRE(st.size() == sr.size());
  REQUIRE(st.size() == rr.size());
  for (std::size_t i = 0; i < st.size(); ++i) {
    CHECK(st[i].round == sr[i].round);
    same(st[i].compute_j, sr[i].compute_j);
    same(st[i].uplink_j, sr[i].uplink_j);
    same(st[i].downlink_j, sr[i].downlink_j);
    same(st[i].sidelink_j, sr[i].sidelink_j);
    same(st[i].uplink_bits, sr[i].uplink_bits);
    same(st[i].downlink_bits, sr[i].downlink_bits);
    same(st[i].sidelink_bits, sr[i].sidelink_bits);
    // the split adds up to the round's energy
    same(st[i].compute_j + st[i].uplink_j + st[i].downlink_j + st[i].sidelink_j, rr[i].energy_j);
  }
  for (const std::string method : {"", "maml", "reptile"}) {
    const auto ft = QueryLastStepReturns(store, run, method, totals);
    const auto fr = QueryLastStepReturns(store, run, method, rows);
    REQUIRE(ft.size() == fr.size());
    for (std::size_t i = 0; i < ft.size(); ++i) {
      CHECK(ft[i].round == fr[i].round);
      same(ft[i].value, fr[i].value);
    }
  }
  for (const double target : {-1e9, -15.0, 1e9}) {
    const auto tt = QueryEnergyToTarget(store, run, target, {}, totals);
    const auto tr = QueryEnergyToTarget(store, run, target, {}, rows);
    REQUIRE(tt.size() == tr.size());
    for (std::size_t i = 0; i < tt.size(); ++i) {
      CHECK(tt[i].method == tr[i].method);
      CHECK(tt[i].adapt_step == tr[i].adapt_step);
      CHECK(tt[i].reached == tr[i].reached);
      CHECK(tt[i].round == tr[i].round);
      same(tt[i].value, tr[i].value);
      same(tt[i].energy_j, tr[i].energy_j);
      for (std::int32_t step = 0; step <= tt[i].adapt_step; ++step) {
        const auto qt = QueryReturns(store, run, tt[i].method, step, totals);
        const auto qr = QueryReturns(store, run, tt[i].method, step, rows);
        REQUIRE(qt.size() == qr.size());
        for (std::size_t r = 0; r < qt.size(); ++r) {
          CHECK(qt[r].round == qr[r].round);
          same(qt[r].value, qr[r].value);
        }
      }
    }
  }
}

TEST_SUITE("ledger/queries") {
  TEST_CASE("lifecycle cost and break-even match a hand computation") {
    // E_meta = 1000 J, E_adapt = 10 J, E_scratch = 60 J: N* = 1000 / 50 = 20
    const LifecycleCosts costs{1000.0, 10.0, 60.0};
    CHECK(MetaLifecycleJ(costs, 5) == 1050.0);
    CHECK(ScratchLifecycleJ(costs, 5) == 300.0);
    CHECK(BreakEvenTasks(costs) == 20.0);
    CHECK(BreakEvenTaskCount(costs) == 20);  // 1000 + 200 = 1200 = 20 × 60
    CHECK(MetaLifecycleJ(costs, 20) == ScratchLifecycleJ(costs, 20));
    // N* = 1000 / 30 = 33.3...: 34 tasks are needed
    CHECK(BreakEvenTaskCount({1000.0, 30.0, 60.0}) == 34);
    CHECK(BreakEvenTasks({1000.0, 30.0, 60.0}).value() == doctest::Approx(100.0 / 3.0));
  }

  TEST_CASE("meta-learning never breaks even when adapting costs as much as scratch") {
    CHECK_FALSE(BreakEvenTasks({1000.0, 60.0, 60.0}).has_value());
    CHECK_FALSE(BreakEvenTaskCount({1000.0, 70.0, 60.0}).has_value());
    CHECK(BreakEvenTasks({0.0, 70.0, 60.0}) == 0.0);
    CHECK(BreakEvenTaskCount({0.0, 10.0, 60.0}) == 1);
    CHECK_THROWS_AS(MetaLifecycleJ({-1.0, 0.0, 0.0}, 1), std::invalid_argument);
  }

  TEST_CASE("EnergyToTarget sums energy up to the first round that reaches the target") {
    const std::vector<RoundEnergy> energy = {{0, 5.0}, {1, 7.0}, {2, 11.0}, {3, 13.0}};
    const std::vector<RoundReturn> returns = {{0, -50.0}, {1, -20.0}, {2, -9.0}, {3, -8.0}};
    const TargetResult hit = EnergyToTarget(energy, returns, -10.0);
    CHECK(hit.reached);
    CHECK(hit.round == 2);
    CHECK(hit.value == -9.0);
    CHECK(hit.energy_j == 23.0);
    const TargetResult miss = EnergyToTarget(energy, returns, 0.0);
    CHECK_FALSE(miss.reached);
    CHECK(miss.round == -1);
    CHECK(miss.value == -8.0);
    CHECK(miss.energy_j == 36.0);
    const std::vector<RoundReturn> unsorted = {{2, 0.0}, {1, 0.0}};
    CHECK_THROWS_AS(EnergyToTarget(energy, unsorted, 0.0), std::invalid_argument);
  }

  TEST_CASE("queries report energy-to-target per method, the link breakdown and carbon per location") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    EnergyModelConfig config;
    DeviceProfile unit{"unit", 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, "test"};  // 1 J per sim step
    config.devices.push_back(unit);
    config.default_device = "unit";
    config.links.uplink.efficiency_kbit_per_j = 1.0;  // 1000 bit/J
    const EnergyModel model(config);
    RunRecorder recorder(store, model, {.name = "q", .method = "maml"},
                         SelectMeter(EnergySource::kModelled));
    recorder.AddNode({0, "agent", "", "unit", "france"});
    recorder.AddNode({1, "agent", "", "unit", "poland"});
    for (std::int64_t round = 0; round < 4; ++round) {
      recorder.RecordCompute(0, round, Phase::kRollout, 10, 0.0, Measurement{});   // 10 J
      recorder.RecordCompute(1, round, Phase::kLearn, 30, 0.0, Measurement{});     // 30 J
      recorder.RecordTransfer(1, round, Phase::kTransfer, LinkKind::kUplink, 2000, 1900);  // 2 J
      recorder.RecordEvaluation({round, 0, "t0", "maml", 1, -40.0 + 10.0 * static_cast<double>(round)});
      recorder.RecordEvaluation({round, 1, "t1", "maml", 1, -20.0 + 10.0 * static_cast<double>(round)});
      recorder.RecordEvaluation({round, 0, "t0", "maml", 0, -100.0});
      recorder.RecordEvaluation({round, 0, "t0", "pretrained", 1, -5.0});
    }
    recorder.Finish();
    const std::int64_t run = recorder.run();

    const EnergyBreakdown b = QueryBreakdown(store, run);
    CHECK(b.compute_j == 160.0);
    CHECK(b.uplink_j == 8.0);
    CHECK(b.downlink_j == 0.0);
    CHECK(b.total_j() == 168.0);

    // mean maml return at step 1: -30, -20, -10, 0 -> reaches -15 in round 2 (3 rounds × 42 J)
    const auto targets = QueryEnergyToTarget(store, run, -15.0);
    REQUIRE(targets.size() == 2);
    CHECK(targets[0].method == "maml");
    CHECK(targets[0].adapt_step == 1);
    CHECK(targets[0].reached);
    CHECK(targets[0].round == 2);
    CHECK(targets[0].energy_j == 126.0);
    CHECK(targets[1].method == "pretrained");
    CHECK(targets[1].round == 0);
    CHECK(targets[1].energy_j == 42.0);
    const auto at_step0 = QueryEnergyToTarget(store, run, -15.0, 0);
    CHECK_FALSE(at_step0[0].reached);
    CHECK(at_step0[0].energy_j == 168.0);
    const auto all = QueryEnergyToTargetAll(store, -15.0);
    REQUIRE(all.size() == 1);  // the run's own method only
    CHECK(all[0].result.method == "maml");

    const auto carbon = QueryCarbonByLocation(store, run);
    REQUIRE(carbon.size() == 2);
    CHECK(carbon[0].location == "france");
    CHECK(carbon[0].energy_j == 40.0);
    CHECK(carbon[0].gco2e == doctest::Approx(40.0 / 3.6e6 * 56.0).epsilon(1e-12));
    CHECK(carbon[1].location == "poland");
    CHECK(carbon[1].energy_j == 128.0);
    CHECK(carbon[1].gco2e == doctest::Approx(128.0 / 3.6e6 * 662.0).epsilon(1e-12));

    const auto phases = QueryEnergyByPhase(store, run);
    REQUIRE(phases.size() == 3);
    CHECK(phases[0].phase == "learn");
    CHECK(phases[0].energy_j == 120.0);

    // the same figures from the rows
    CheckTotalsMatchRows(store, run);
    CHECK(QueryBreakdown(store, run, SummarySource::kRows).total_j() == 168.0);
  }

  TEST_CASE("every summary query gives the same figures from the totals as from the rows") {
    test::TempDir dir;
    // batches of 5 rows: most totals rows are summed over several commits
    LedgerStore store(dir.File("ledger.sqlite"), StoreOptions{5, Durability::kNormal});
    const EnergyModel model;
    std::vector<std::int64_t> runs;
    for (const char* method : {"maml", "reptile"}) {
      RunRecorder recorder(store, model, {.name = "q", .method = method},
                           SelectMeter(EnergySource::kModelled));
      const char* locations[] = {"france", "poland", "world", "norway"};
      for (std::int32_t node = 0; node < 6; ++node) {
        recorder.AddNode({node, node == 0 ? "server" : "agent", "c", "robot_board",
                          locations[node % 4]});
      }
      const LinkKind links[] = {LinkKind::kUplink, LinkKind::kDownlink, LinkKind::kSidelink};
      for (std::int64_t round = 1; round <= 12; ++round) {
        for (std::int32_t node = 0; node < 6; ++node) {
          recorder.RecordCompute(node, round, node == 0 ? Phase::kAggregate : Phase::kLearn,
                                 100 + 7 * node + round, 1e6 * node, Measurement{});
          recorder.RecordTransfer(node, round, Phase::kTransfer,
                                  links[static_cast<std::size_t>((node + round) % 3)],
                                  10'000 + 13 * round, 9'000);
          for (std::int32_t step = 0; step < 2; ++step) {
            recorder.RecordEvaluation({round, node, "t", method, step,
                                       -30.0 + 2.5 * static_cast<double>(round) + step +
                                           0.1 * node});
          }
        }
      }
      recorder.Finish();
      runs.push_back(recorder.run());
    }
    for (const std::int64_t run : runs) {
      CAPTURE(run);
      CheckTotalsMatchRows(store, run);
    }
    CHECK(QueryEnergyToTarget(store, runs[0], -15.0).front().round == 6);
    // the largest step of each round: -30 + 2.5 r + 1 + mean(0.1 node) over nodes 0..5
    const auto last = QueryLastStepReturns(store, runs[0], "maml");
    REQUIRE(last.size() == 12);
    CHECK(last[0].round == 1);
    CHECK(last[0].value == doctest::Approx(-26.25).epsilon(1e-12));
    CHECK(QueryLastStepReturns(store, runs[0], "reptile").empty());  // not this run's method
  }
}

}  // namespace
}  // namespace metajoule::ledger
