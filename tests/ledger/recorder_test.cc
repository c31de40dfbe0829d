#include "ledger/recorder.h"

#include <cmath>
#include <stdexcept>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "ledger/queries.h"
#include "tests/support/temp_dir.h"

namespace metajoule::ledger {
namespace {

constexpr double kRelTol = 1e-9;  // brief: totals match the closed form to 1e-9

double RelError(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

TEST_SUITE("ledger/recorder") {
  TEST_CASE("ledger totals equal the closed-form model applied to the recorded work") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"), StoreOptions{64, Durability::kNormal});
    EnergyModelConfig config;
    config.links.uplink.efficiency_kbit_per_j = 25.0;
    config.links.downlink.efficiency_kbit_per_j = 50.0;
    config.links.sidelink.efficiency_kbit_per_j = 200.0;
    const EnergyModel model(config);
    RunRecorder recorder(store, model, {.name = "closed-form", .method = "maml"},
                         SelectMeter(EnergySource::kModelled));
    recorder.AddNode({0, "agent", "c", "robot_board", "france"});
    recorder.AddNode({1, "agent", "c", "laptop", "poland"});
    recorder.AddNode({2, "server", "", "gpu_node", "germany"});

    // the closed form, summed independently of the ledger code
    double compute_j = 0, ul_j = 0, dl_j = 0, sl_j = 0, gco2e = 0;
    const double pue[] = {1.0, 1.0, 1.58};
    const double power[] = {10.0, 28.0, 400.0};
    const double steps_per_s[] = {5e3, 2e4, 4e4};
    const double flops_per_s[] = {5e9, 2e10, 5e12};
    const double intensity[] = {56.0, 662.0, 381.0};
    const LinkKind links[] = {LinkKind::kUplink, LinkKind::kDownlink, LinkKind::kSidelink};
    const double kbit_per_j[] = {25.0, 50.0, 200.0};
    for (std::int64_t round = 0; round < 40; ++round) {
      for (std::int32_t node = 0; node < 3; ++node) {
        const std::int64_t steps = 1000 + 37 * round + node;
        const double flops = 1e7 * static_cast<double>(round + 1);
        recorder.RecordCompute(node, round, Phase::kRollout, steps, flops, Measurement{});
        const double t = static_cast<double>(steps) / steps_per_s[node] + flops / flops_per_s[node];
        const double e = pue[node] * power[node] * t;
        compute_j += e;
        gco2e += e / 3.6e6 * intensity[node];

        const auto k = static_cast<std::size_t>((round + node) % 3);
        const std::int64_t bits = 100'000 + 8 * round;
        recorder.RecordTransfer(node, round, Phase::kTransfer, links[k], bits, bits - 512);
        const double c = static_cast<double>(bits) / (kbit_per_j[k] * 1000.0);
        (k == 0 ? ul_j : k == 1 ? dl_j : sl_j) += c;
        gco2e += c / 3.6e6 * intensity[node];
      }
    }
    recorder.Finish();

    const EnergyBreakdown b = QueryBreakdown(store, recorder.run());
    CHECK(b.events == 240);
    CHECK(RelError(b.compute_j, compute_j) <= kRelTol);
    CHECK(RelError(b.uplink_j, ul_j) <= kRelTol);
    CHECK(RelError(b.downlink_j, dl_j) <= kRelTol);
    CHECK(RelError(b.sidelink_j, sl_j) <= kRelTol);
    CHECK(RelError(b.total_j(), compute_j + ul_j + dl_j + sl_j) <= kRelTol);
    CHECK(RelError(b.gco2e, gco2e) <= kRelTol);

    const RunRecord run = store.Run(recorder.run());
    CHECK(run.info.energy_model == model.ToText());
    CHECK(run.info.meter_status == "ok");
  }

  TEST_CASE("an unavailable meter is recorded with the run and in every event's source") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    const EnergyModel model;
    std::vector<std::string> warnings;
    MeterOptions options;
    options.powercap_root = dir.File("no-powercap-here");
    const MeterSelection meter = SelectMeter(
        EnergySource::kRapl, options, [&](const std::string& w) { warnings.push_back(w); });
    RunRecorder recorder(store, model, {.name = "rapl-wanted"}, meter);
    recorder.AddNode({0, "agent", "", "", ""});
    const Event event = recorder.RecordCompute(0, 0, Phase::kLearn, 10, 1e6, Measurement{});
    recorder.Finish();
    CHECK(event.source == EnergySource::kModelled);
    REQUIRE(warnings.size() == 1);
    const RunRecord run = store.Run(recorder.run());
    CHECK(run.info.meter_requested == EnergySource::kRapl);
    CHECK(run.info.meter_status.find("unavailable") == 0);
    CHECK(*internal::QueryText(store.handle(), store.path(),
                               "SELECT energy_source FROM events") == "modelled");
    // empty names were stored resolved to the defaults
    CHECK(store.Nodes(recorder.run()).front().device == "robot_board");
  }

  TEST_CASE("a run truncated to its last whole round and continued equals one recorded straight through") {
    test::TempDir dir;
    const EnergyModel model;
    // rounds 1..6, three nodes, a flush at every round's end (as the runner does)
    const auto record_round = [](RunRecorder& recorder, LedgerStore& store, std::int64_t round) {
      for (std::int32_t node = 0; node < 3; ++node) {
        recorder.RecordCompute(node, round, Phase::kLearn, 1000 + 17 * node + round,
                               1.5e6 * (node + 1) + 0.1 * static_cast<double>(round), Measurement{});
        recorder.RecordTransfer(node, round, Phase::kTransfer,
                                node == 0 ? LinkKind::kDownlink : LinkKind::kUplink,
                                40'000 + 7 * round, 39'000, 1 + node % 2);
        recorder.RecordEvaluation({round, node, "t", "maml", 1, -20.0 + 0.37 * static_cast<double>(round) + node});
      }
      store.Flush();
    };
    const auto add_nodes = [](RunRecorder& recorder) {
      const char* locations[] = {"france", "poland", "world"};
      for (std::int32_t node = 0; node < 3; ++node) {
        recorder.AddNode({node, node == 0 ? "server" : "agent", "c", "", locations[node]});
      }
    };
    const StoreOptions options{4, Durability::kNormal};  // batches that split rounds

    LedgerStore straight_store(dir.File("straight.sqlite"), options);
    RunRecorder straight(straight_store, model, {.name = "r", .method = "maml"},
                         SelectMeter(EnergySource::kModelled));
    add_nodes(straight);
    for (std::int64_t round = 1; round <= 6; ++round) record_round(straight, straight_store, round);
    straight.Finish();

    std::int64_t run = 0;
    {
      // killed in round 5: part of it committed, no end
      LedgerStore store(dir.File("resumed.sqlite"), options);
      RunRecorder first(store, model, {.name = "r", .method = "maml"},
                        SelectMeter(EnergySource::kModelled));
      add_nodes(first);
      for (std::int64_t round = 1; round <= 4; ++round) record_round(first, store, round);
      first.RecordTransfer(1, 5, Phase::kTransfer, LinkKind::kUplink, 123, 100);
      first.RecordEvaluation({5, 1, "t", "maml", 1, 99.0});
      store.Flush();
      run = first.run();
    }
    LedgerStore store(dir.File("resumed.sqlite"), options);
    CHECK(store.Run(run).status == "running");
    CHECK(store.TruncateRun(run, 4) == 2);  // round 5's two rows
    RunRecorder resumed(store, model, run, SelectMeter(EnergySource::kModelled));
    CHECK(resumed.energy_so_far_j() == doctest::Approx(QueryBreakdown(store, run).total_j()));
    for (std::int64_t round = 5; round <= 6; ++round) record_round(resumed, store, round);
    resumed.Finish();

    CHECK(store.Run(run).status == "finished");
    for (const SummarySource source : {SummarySource::kTotals, SummarySource::kRows}) {
      const auto a = QueryRoundBreakdown(straight_store, straight.run(), source);
      const auto b = QueryRoundBreakdown(store, run, source);
      REQUIRE(a.size() == b.size());
      for (std::size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].round == b[i].round);
        CHECK(a[i].compute_j == b[i].compute_j);  // bit-identical, not approximately
        CHECK(a[i].uplink_j == b[i].uplink_j);
        CHECK(a[i].downlink_j == b[i].downlink_j);
        CHECK(a[i].uplink_bits == b[i].uplink_bits);
      }
      const auto ra = QueryLastStepReturns(straight_store, straight.run(), "maml", source);
      const auto rb = QueryLastStepReturns(store, run, "maml", source);
      REQUIRE(ra.size() == rb.size());
      for (std::size_t i = 0; i < ra.size(); ++i) CHECK(ra[i].value == rb[i].value);
      CHECK(QueryBreakdown(straight_store, straight.run(), source).events ==
            QueryBreakdown(store, run, source).events);
      CHECK(QueryCarbonByLocation(straight_store, straight.run(), source).size() ==
            QueryCarbonByLocation(store, run, source).size());
    }
    CHECK_THROWS_AS(store.TruncateRun(run + 7, 1), std::invalid_argument);
    CHECK_THROWS_AS(RunRecorder(store, model, run + 7, SelectMeter(EnergySource::kModelled)),
                    std::invalid_argument);
  }

  TEST_CASE("node threads may record concurrently without losing events") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"), StoreOptions{100, Durability::kNormal});
    const EnergyModel model;
    RunRecorder recorder(store, model, {.name = "threads"}, SelectMeter(EnergySource::kModelled));
    for (std::int32_t node = 0; node < 4; ++node) recorder.AddNode({node, "agent", "", "", ""});
    std::vector<std::thread> threads;
    for (std::int32_t node = 0; node < 4; ++node) {
      threads.emplace_back([&recorder, node] {
        for (std::int64_t round = 0; round < 1000; ++round) {
          recorder.RecordTransfer(node, round, Phase::kTransfer, LinkKind::kUplink, 50'000, 49'000);
        }
      });
    }
    for (auto& thread : threads) thread.join();
    recorder.Finish();
    const EnergyBreakdown b = QueryBreakdown(store, recorder.run());
    CHECK(b.events == 4000);
    CHECK(b.uplink_j == doctest::Approx(4000.0).epsilon(1e-12));  // 50 kbit at 50 kbit/J
  }

  TEST_CASE("a transfer records its receiver and pays the efficiency of its cluster's link") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    EnergyModelConfig config;  // 50 kbit/J on every base link
    config.cluster_links.push_back({"a", 25.0, 100.0, std::nullopt});
    const EnergyModel model(config);
    RunRecorder recorder(store, model, {.name = "peers"}, SelectMeter(EnergySource::kModelled));
    recorder.AddNode({0, "server", "", "edge_server", ""});
    recorder.AddNode({1, "agent", "a", "", ""});
    recorder.AddNode({2, "agent", "b", "", ""});
    recorder.AddNode({3, "cell", "a", "", ""});
    constexpr std::int64_t kBits = 1'000'000;
    // uplinks: the transmitter's cluster; downlinks from the server: the receiver's
    CHECK(recorder.RecordTransfer(1, 0, Phase::kTransfer, LinkKind::kUplink, kBits, kBits, 1, 0)
              .energy_j == kBits / 25e3);
    CHECK(recorder.RecordTransfer(2, 0, Phase::kTransfer, LinkKind::kUplink, kBits, kBits, 1, 0)
              .energy_j == kBits / 50e3);
    CHECK(recorder.RecordTransfer(0, 0, Phase::kTransfer, LinkKind::kDownlink, kBits, kBits, 1, 1)
              .energy_j == kBits / 100e3);
    CHECK(recorder.RecordTransfer(0, 0, Phase::kTransfer, LinkKind::kDownlink, kBits, kBits, 1, 3)
              .energy_j == kBits / 100e3);
    CHECK(recorder.RecordTransfer(0, 0, Phase::kTransfer, LinkKind::kDownlink, kBits, kBits, 1, 2)
              .energy_j == kBits / 50e3);
    // a cluster without a sidelink override pays the base sidelink
    CHECK(recorder.RecordTransfer(1, 0, Phase::kTransfer, LinkKind::kSidelink, kBits, kBits, 1, 2)
              .energy_j == kBits / 50e3);
    CHECK_THROWS_AS(
        recorder.RecordTransfer(0, 0, Phase::kTransfer, LinkKind::kDownlink, kBits, kBits, 1, 9),
        std::invalid_argument);
    recorder.Finish();
    CHECK(*internal::QueryText(store.handle(), store.path(),
                               "SELECT group_concat(node || '>' || coalesce(peer, '-'), ' ') FROM "
                               "(SELECT node, peer FROM events ORDER BY id)") ==
          "1>0 2>0 0>1 0>3 0>2 1>2");
  }

  TEST_CASE("recording for an unknown node or device is an error, not a silent default") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    const EnergyModel model;
    RunRecorder recorder(store, model, {.name = "r"}, SelectMeter(EnergySource::kModelled));
    CHECK_THROWS_WITH_AS(recorder.AddNode({0, "agent", "", "toaster", ""}),
                         doctest::Contains("valid profiles"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(recorder.RecordTransfer(5, 0, Phase::kTransfer, LinkKind::kUplink, 8, 8),
                         doctest::Contains("node 5 was never added"), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::ledger
