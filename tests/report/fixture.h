#pragma once
// A small hand-computable ledger for the report tests, written through ledger::RunRecorder.
//
// Device "unit": 1 J per simulator step. Links: UL 1 kbit/J, DL 1 kbit/J, SL 2 kbit/J (1000,
// 1000 and 2000 bit/J). Node 0 is the server (france); agents 1 (france) and 2 (poland).
//
//   run 1 scratch, rounds 1..4: 10 steps per agent (20 J/round); return -40 + 10 r
//         (-30, -20, -10, 0): target -15 reached at round 3, 60 J; per agent 30 J.
//   run 2 maml, rounds 1..3: 20 steps per agent (40 J), DL 2000 bits (2 J), UL 1000 bits per
//         agent (2 J): 44 J/round; step 1 returns -30 + 10 r (-20, -10, 0), step 0 -50:
//         target reached at round 2, 88 J = 80 compute + 4 UL + 4 DL.
//   run 3 "q:held-out" maml, rounds 0..2 (adaptation steps): round 0 DL 2000 bits per task
//         (4 J) + 5 steps per task (10 J), rounds 1, 2: 10 J; returns -30, -18, -12 at
//         adapt_step = round: target reached at step 2, 34 J over 2 tasks: E_adapt = 17 J.
//   run 4 consensus, rounds 1..2: 5 steps per agent (10 J), SL 2000 bits per agent (2 J):
//         12 J/round; returns -14, -13: reached at round 1, 12 J = 10 compute + 2 SL.
//
// Lifecycle (target -15): E_meta = 132 J, E_adapt = 17 J, E_scratch = 30 J: N* = 132 / 13.

#include <filesystem>
#include <string>

#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/meters.h"
#include "ledger/recorder.h"

namespace metajoule::report::test {

inline constexpr double kTarget = -15.0;

inline ledger::EnergyModelConfig FixtureEnergy() {
  ledger::EnergyModelConfig config;
  config.devices.push_back({"unit", 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, "test"});
  config.default_device = "unit";
  config.links.uplink.efficiency_kbit_per_j = 1.0;
  config.links.downlink.efficiency_kbit_per_j = 1.0;
  config.links.sidelink.efficiency_kbit_per_j = 2.0;
  return config;
}

/// prefix + number, appended (GCC 12 reports a false -Wrestrict for Numbered("t", k))
inline std::string Numbered(const char* prefix, int k) {
  std::string name = prefix;
  name += std::to_string(k);
  return name;
}

/// Writes the fixture ledger into `folder`/ledger.sqlite (the folder is created).
inline void WriteFixtureLedger(const std::filesystem::path& folder,
                               const std::string& config_text = "") {
  using ledger::LinkKind;
  using ledger::Phase;
  std::filesystem::create_directories(folder);
  ledger::LedgerStore store((folder / "ledger.sqlite").string());
  const ledger::EnergyModel model(FixtureEnergy());
  const auto meter = ledger::SelectMeter(ledger::EnergySource::kModelled);
  const auto nodes = [](ledger::RunRecorder& r) {
    r.AddNode({0, "server", "", "unit", "france"});
    r.AddNode({1, "agent", "a", "unit", "france"});
    r.AddNode({2, "agent", "a", "unit", "poland"});
  };
  const ledger::Measurement none{};
  {
    ledger::RunRecorder r(store, model, {.name = "q", .method = "scratch", .config_text = config_text},
                          meter);
    nodes(r);
    for (int round = 1; round <= 4; ++round) {
      for (int k = 1; k <= 2; ++k) {
        r.RecordCompute(k, round, Phase::kLearn, 10, 0.0, none);
        r.RecordEvaluation({round, k, Numbered("t", k), "scratch", 0, -40.0 + 10.0 * round});
      }
    }
    r.Finish();
  }
  {
    ledger::RunRecorder r(store, model, {.name = "q", .method = "maml", .config_text = config_text},
                          meter);
    nodes(r);
    for (int round = 1; round <= 3; ++round) {
      r.RecordTransfer(0, round, Phase::kTransfer, LinkKind::kDownlink, 2000, 1900);
      for (int k = 1; k <= 2; ++k) {
        r.RecordCompute(k, round, Phase::kLearn, 20, 0.0, none);
        r.RecordTransfer(k, round, Phase::kTransfer, LinkKind::kUplink, 1000, 900);
        r.RecordEvaluation({round, k, Numbered("t", k), "maml", 0, -50.0});
        r.RecordEvaluation({round, k, Numbered("t", k), "maml", 1, -30.0 + 10.0 * round});
      }
    }
    r.Finish();
  }
  {
    ledger::RunRecorder r(store, model,
                          {.name = "q:held-out", .method = "maml", .config_text = config_text}, meter);
    r.AddNode({0, "server", "", "unit", "france"});
    r.AddNode({10, "agent", "a", "unit", "france"});
    r.AddNode({11, "agent", "a", "unit", "france"});
    const double returns[] = {-30.0, -18.0, -12.0};
    for (int step = 0; step <= 2; ++step) {
      for (int t = 0; t < 2; ++t) {
        if (step == 0) r.RecordTransfer(0, 0, Phase::kTransfer, LinkKind::kDownlink, 2000, 1900);
        r.RecordCompute(10 + t, step, Phase::kLearn, 5, 0.0, none);
        r.RecordEvaluation({step, 10 + t, Numbered("h", t), "maml", step, returns[step]});
      }
    }
    r.Finish();
  }
  {
    ledger::RunRecorder r(store, model,
                          {.name = "q", .method = "consensus", .config_text = config_text}, meter);
    nodes(r);
    for (int round = 1; round <= 2; ++round) {
      for (int k = 1; k <= 2; ++k) {
        r.RecordCompute(k, round, Phase::kLearn, 5, 0.0, none);
        r.RecordTransfer(k, round, Phase::kTransfer, LinkKind::kSidelink, 2000, 1900);
        r.RecordEvaluation({round, k, Numbered("t", k), "consensus", 0, -15.0 + round});
      }
    }
    r.Finish();
  }
}

}  // namespace metajoule::report::test
