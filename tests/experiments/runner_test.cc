#include "experiments/runner.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include <sqlite3.h>

#include <doctest/doctest.h>

#include "experiments/experiment_config.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/queries.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_experiment.h"

namespace metajoule::experiments {
namespace {

ExperimentConfig SmallExperiment(const std::filesystem::path& output_dir, int threads) {
  const std::string text = R"(
[experiment]
name = "tiny"
seed = 5
methods = ["random", "scratch"]

[rollout]
episodes = 2

[training]
rounds = 2

[agents]
episodes_per_update = 3
policy = { hidden_sizes = [16] }
)";
  return test::ParseTwoClusterExperiment(text, "tiny.toml", output_dir, {}, threads);
}

// Two clusters, meta methods only, small batches: 2 rounds on 5 agents.
ExperimentConfig SmallMetaExperiment(const std::filesystem::path& output_dir, int threads,
                                     std::vector<std::string> extra = {}) {
  const std::string text = R"(
[experiment]
name = "tiny-meta"
seed = 3
methods = ["maml", "reptile"]

[training]
rounds = 2

[agents]
policy = { hidden_sizes = [8] }

[meta]
inner_episodes = 3
outer_episodes = 3
eval = { adaptation_steps = 2, episodes = 3 }

[evaluation]
held_out_tasks = 1
)";
  return test::ParseTwoClusterExperiment(text, "tiny-meta.toml", output_dir, std::move(extra),
                                         threads);
}

// SUM(column) of a run's events matching `where`.
double SumEvents(const ledger::LedgerStore& store, std::int64_t run, const std::string& column,
                 const std::string& where) {
  sqlite3_stmt* statement = nullptr;
  const std::string sql = "SELECT COALESCE(SUM(" + column + "), 0) FROM events WHERE run = ? AND " + where;
  REQUIRE(sqlite3_prepare_v2(store.handle(), sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  sqlite3_bind_int64(statement, 1, run);
  REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
  const double value = sqlite3_column_double(statement, 0);
  sqlite3_finalize(statement);
  return value;
}

TEST_SUITE("experiments/runner") {
  TEST_CASE("a run writes its folder and a ledger whose energy equals the model on its work") {
    test::TempDir dir;
    const ExperimentConfig config = SmallExperiment(dir.path(), 2);
    std::ostringstream out;
    const RunSummary summary = RunExperiment(config, out);
    REQUIRE(summary.methods.size() == 2);
    CHECK(std::filesystem::exists(summary.folder / "config.toml"));
    CHECK(std::filesystem::exists(summary.folder / "ledger.sqlite"));
    CHECK(out.str().find("random") != std::string::npos);

    const ledger::LedgerStore store((summary.folder / "ledger.sqlite").string(), {},
                                    ledger::OpenMode::kReadOnly);
    const auto runs = store.Runs();
    REQUIRE(runs.size() == 2);
    CHECK(runs[0].status == "finished");
    CHECK(runs[0].info.method == "random");
    CHECK(runs[0].info.seed == 5);
    CHECK(store.Nodes(runs[0].id).size() == 6);  // the server and five agents

    // modelled compute energy: E = PUE x P x sim_steps / sim_steps_per_s (docs/ledger.md)
    const ledger::EnergyModel model(EnergyConfigOf(config));
    const ledger::DeviceProfile& board = model.Device("");
    std::int64_t sim_steps = 0;
    const ledger::EnergyBreakdown breakdown = ledger::QueryBreakdown(store, runs[0].id);
    CHECK(breakdown.events == 5);
    CHECK(breakdown.comm_j() == 0.0);
    // recompute the energy from the simulator calls the ledger stores (no policy FLOPs here)
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(store.handle(), "SELECT SUM(sim_steps) FROM events WHERE run = ?",
                               -1, &statement, nullptr) == SQLITE_OK);
    sqlite3_bind_int64(statement, 1, runs[0].id);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    sim_steps = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    CHECK(sim_steps > 0);
    const double expected =
        board.pue * board.active_power_w * static_cast<double>(sim_steps) / board.sim_steps_per_s;
    CHECK(breakdown.compute_j == doctest::Approx(expected).epsilon(1e-9));
  }

  TEST_CASE("scratch records a rollout and a learn event per agent and round") {
    test::TempDir dir;
    std::ostringstream out;
    const RunSummary summary = RunExperiment(SmallExperiment(dir.path(), 2), out);
    const ledger::LedgerStore store((summary.folder / "ledger.sqlite").string(), {},
                                    ledger::OpenMode::kReadOnly);
    const std::int64_t run = summary.methods[1].ledger_run;
    CHECK(store.Run(run).info.method == "scratch");
    CHECK(ledger::QueryBreakdown(store, run).events == 5 * 2 * 2);
    CHECK(summary.methods[1].compute_j > 0.0);
    CHECK(out.str().find("scratch round   2/2") != std::string::npos);
  }

  TEST_CASE("meta methods charge every push and report at bits on air over the link efficiency") {
    test::TempDir dir;
    std::ostringstream out;
    const ExperimentConfig config = SmallMetaExperiment(
        dir.path(), 2, {"network.links.uplink.efficiency_kbit_per_j=25"});
    const RunSummary summary = RunExperiment(config, out);
    REQUIRE(summary.methods.size() == 2);
    const ledger::LedgerStore store((summary.folder / "ledger.sqlite").string(), {},
                                    ledger::OpenMode::kReadOnly);
    for (const MethodSummary& method : summary.methods) {
      INFO(method.method);
      const std::int64_t run = method.ledger_run;
      // per round: one unicast push and one report per agent, a compute event per agent and an
      // aggregate per cluster model
      CHECK(ledger::QueryBreakdown(store, run).events == 2 * (5 + 5 + 5 + 2));
      const double ul_bits = SumEvents(store, run, "bits_on_air", "link = 'uplink'");
      const double dl_bits = SumEvents(store, run, "bits_on_air", "link = 'downlink'");
      CHECK(ul_bits > 0.0);
      CHECK(method.uplink_j == doctest::Approx(ul_bits / 25e3).epsilon(1e-12));
      CHECK(method.downlink_j == doctest::Approx(dl_bits / 50e3).epsilon(1e-12));
      CHECK(std::isfinite(method.mean_return));
    }
  }

  TEST_CASE("reports lost on a lossy uplink are dropped and the run goes on") {
    test::TempDir dir;
    std::ostringstream out;
    const RunSummary summary = RunExperiment(
        SmallMetaExperiment(dir.path(), 1, {"network.links.uplink.loss_probability=0.5",
                                            "network.links.uplink.max_attempts=1"}),
        out);
    CHECK(out.str().find("messages lost") != std::string::npos);
    CHECK(summary.methods.size() == 2);
  }

  TEST_CASE("meta methods give the same figures on 1 and 2 threads") {
    test::TempDir dir;
    std::ostringstream out;
    const RunSummary one = RunExperiment(SmallMetaExperiment(dir.path(), 1), out);
    const RunSummary two = RunExperiment(SmallMetaExperiment(dir.path(), 2), out);
    for (std::size_t m = 0; m < one.methods.size(); ++m) {
      CHECK(one.methods[m].mean_return == two.methods[m].mean_return);
      CHECK(one.methods[m].total_j() == two.methods[m].total_j());
    }
  }

  TEST_CASE("the same seed gives the same returns and energy on 1 and 2 threads") {
    test::TempDir dir;
    const RunSummary one = [&] {
      std::ostringstream out;
      return RunExperiment(SmallExperiment(dir.path(), 1), out);
    }();
    const RunSummary two = [&] {
      std::ostringstream out;
      return RunExperiment(SmallExperiment(dir.path(), 2), out);
    }();
    CHECK(one.folder != two.folder);
    for (std::size_t m = 0; m < one.methods.size(); ++m) {
      CHECK(one.methods[m].mean_return == two.methods[m].mean_return);
      CHECK(one.methods[m].compute_j == two.methods[m].compute_j);
    }
  }

  TEST_CASE("meta models are deployed to held-out tasks in a ledger run of their own") {
    test::TempDir dir;
    std::ostringstream out;
    // a target every method reaches at once, and one none reaches
    for (const double target : {-1e9, 1e9}) {
      const RunSummary summary = RunExperiment(
          SmallMetaExperiment(dir.path(), 2,
                              {"experiment.methods=[\"scratch\", \"maml\"]",
                               "evaluation.target_return=" + std::to_string(target)}),
          out);
      const ledger::LedgerStore store((summary.folder / "ledger.sqlite").string(), {},
                                      ledger::OpenMode::kReadOnly);
      const MethodSummary* maml = summary.Find("maml");
      const MethodSummary* scratch = summary.Find("scratch");
      REQUIRE(maml != nullptr);
      REQUIRE(scratch != nullptr);
      CHECK_FALSE(scratch->deployment.has_value());
      REQUIRE(maml->deployment.has_value());
      const DeploymentSummary& deployment = *maml->deployment;
      CHECK(deployment.ledger_run != maml->ledger_run);
      CHECK(deployment.tasks == 2);  // one per cluster
      REQUIRE(deployment.mean_return.size() == 3);
      REQUIRE(deployment.energy_j.size() == 3);
      // round s of the deployment run is adaptation step s: step 0 holds the two unicasts
      const ledger::EnergyBreakdown energy = ledger::QueryBreakdown(store, deployment.ledger_run);
      CHECK(energy.uplink_j == 0.0);
      CHECK(energy.downlink_j > 0.0);
      CHECK(deployment.energy_j[0] + deployment.energy_j[1] + deployment.energy_j[2] ==
            doctest::Approx(energy.total_j()).epsilon(1e-12));
      CHECK(SumEvents(store, deployment.ledger_run, "1", "link = 'downlink' AND round = 0") == 2);
      for (const double r : deployment.mean_return) CHECK(std::isfinite(r));

      REQUIRE(maml->target.has_value());
      REQUIRE(scratch->target.has_value());
      REQUIRE(maml->energy_to_target_per_task_j.has_value());
      REQUIRE(maml->lifecycle_j.has_value());
      const double n = static_cast<double>(summary.lifecycle_tasks);
      CHECK(summary.lifecycle_tasks == 5);
      if (target < 0) {
        // reached at step 0 / round 1: E_adapt is step 0's energy per task, and the lifecycle
        // and break-even follow DESIGN.md's E(N) = E_meta + N E_adapt against N E_scratch
        CHECK(maml->target->reached);
        CHECK(*maml->energy_to_target_per_task_j ==
              doctest::Approx(deployment.energy_j[0] / 2.0).epsilon(1e-12));
        CHECK(*maml->lifecycle_j ==
              doctest::Approx(maml->total_j() + n * *maml->energy_to_target_per_task_j));
        CHECK(*scratch->lifecycle_j == doctest::Approx(n * *scratch->energy_to_target_per_task_j));
        const ledger::LifecycleCosts costs{maml->total_j(), *maml->energy_to_target_per_task_j,
                                           *scratch->energy_to_target_per_task_j};
        CHECK(maml->break_even_tasks == ledger::BreakEvenTaskCount(costs));
        CHECK(out.str().find("break-even N") != std::string::npos);
      } else {
        // never reached: the whole deployment is a lower bound and no break-even is claimed
        CHECK_FALSE(maml->target->reached);
        CHECK(*maml->energy_to_target_per_task_j ==
              doctest::Approx(energy.total_j() / 2.0).epsilon(1e-12));
        CHECK_FALSE(maml->break_even_tasks.has_value());
        CHECK(out.str().find(">") != std::string::npos);
      }
    }
  }
}

}  // namespace
}  // namespace metajoule::experiments
