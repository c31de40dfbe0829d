// `metajoule run --resume`: a run killed (SIGKILL, in a forked child) after a round's ledger
// rows were committed but before its checkpoint was written, then resumed, ends with the same
// figures as an uninterrupted run of the same config: the same tables, the same per-round
// ledger totals and returns, and no duplicated rows.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "common/error.h"
#include "experiments/checkpoint.h"
#include "experiments/experiment_config.h"
#include "experiments/run_folder.h"
#include "experiments/runner.h"
#include "ledger/ledger_store.h"
#include "ledger/queries.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_experiment.h"

namespace metajoule::experiments {
namespace {

// One simulation thread: rows reach the ledger in one order, so sums agree to the bit.
ExperimentConfig StarExperiment(const std::filesystem::path& output_dir,
                                std::vector<std::string> extra = {}) {
  const std::string text = R"(
[experiment]
name = "resume"
seed = 9
methods = ["random", "scratch", "maml", "reptile"]

[rollout]
episodes = 2

[training]
rounds = 4

[agents]
episodes_per_update = 3
policy = { hidden_sizes = [8] }

[meta]
inner_episodes = 3
outer_episodes = 3
eval = { adaptation_steps = 2, episodes = 2 }

[evaluation]
held_out_tasks = 1
target_return = -40.0
)";
  return test::ParseTwoClusterExperiment(text, "resume.toml", output_dir, std::move(extra),
                                         /*threads=*/1, /*arms=*/2, /*points=*/2);
}

ExperimentConfig ConsensusExperiment(const std::filesystem::path& output_dir) {
  const std::string text = R"(
[experiment]
name = "resume-consensus"
seed = 4
methods = ["consensus"]

[training]
rounds = 4

[agents]
policy = { hidden_sizes = [8] }

[meta]
outer_episodes = 3

[network.topology]
kind = "mesh"
mesh = "ring"

[evaluation]
held_out_tasks = 1
)";
  return test::ParseTwoClusterExperiment(text, "resume-consensus.toml", output_dir, {},
                                         /*threads=*/1, /*arms=*/2, /*points=*/2);
}

// Runs `config` into `folder` in a forked child that SIGKILLs itself when `method` is about to
// checkpoint `round` (its rows of that round committed). Returns true when the child died so.
bool RunAndKill(const ExperimentConfig& config, const RunFolder& folder, const std::string& method,
                int round) {
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    RunHooks hooks;
    hooks.folder = folder;
    hooks.before_checkpoint = [&](const std::string& m, int r) {
      if (m == method && r == round) ::raise(SIGKILL);
    };
    std::ostringstream ignored;
    try {
      RunExperiment(config, ignored, hooks);
    } catch (...) {
      ::_exit(3);
    }
    ::_exit(0);  // ran to the end: the kill point was never reached
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

RunSummary Resume(const ExperimentConfig& config, const RunFolder& folder, std::string* log) {
  RunHooks hooks;
  hooks.folder = folder;
  hooks.resume = true;
  std::ostringstream out;
  RunSummary summary = RunExperiment(config, out, hooks);
  if (log != nullptr) *log = out.str();
  return summary;
}

// Every figure of the final tables and of the ledger, method by method.
void CheckSameFigures(const RunSummary& straight, const RunSummary& resumed) {
  const ledger::LedgerStore a((straight.folder / "ledger.sqlite").string(), {},
                              ledger::OpenMode::kReadOnly);
  const ledger::LedgerStore b((resumed.folder / "ledger.sqlite").string(), {},
                              ledger::OpenMode::kReadOnly);
  REQUIRE(straight.methods.size() == resumed.methods.size());
  for (std::size_t i = 0; i < straight.methods.size(); ++i) {
    const MethodSummary& s = straight.methods[i];
    const MethodSummary& r = resumed.methods[i];
    CAPTURE(s.method);
    CHECK(r.method == s.method);
    CHECK(r.mean_return == s.mean_return);
    CHECK(r.compute_j == s.compute_j);
    CHECK(r.uplink_j == s.uplink_j);
    CHECK(r.downlink_j == s.downlink_j);
    CHECK(r.sidelink_j == s.sidelink_j);
    CHECK(r.gco2e == s.gco2e);
    CHECK(r.energy_to_target_per_task_j == s.energy_to_target_per_task_j);
    CHECK(r.lifecycle_j == s.lifecycle_j);
    CHECK(r.break_even_tasks == s.break_even_tasks);
    REQUIRE(r.deployment.has_value() == s.deployment.has_value());
    if (s.deployment) {
      CHECK(r.deployment->mean_return == s.deployment->mean_return);
      CHECK(r.deployment->energy_j == s.deployment->energy_j);
      CHECK(r.deployment->tasks == s.deployment->tasks);
    }
    // per round: the same energy split, bits and returns, and no row twice
    const auto rounds_a = ledger::QueryRoundBreakdown(a, s.ledger_run);
    const auto rounds_b = ledger::QueryRoundBreakdown(b, r.ledger_run);
    REQUIRE(rounds_a.size() == rounds_b.size());
    for (std::size_t k = 0; k < rounds_a.size(); ++k) {
      CAPTURE(rounds_a[k].round);
      CHECK(rounds_b[k].round == rounds_a[k].round);
      CHECK(rounds_b[k].compute_j == rounds_a[k].compute_j);
      CHECK(rounds_b[k].uplink_j == rounds_a[k].uplink_j);
      CHECK(rounds_b[k].downlink_j == rounds_a[k].downlink_j);
      CHECK(rounds_b[k].sidelink_j == rounds_a[k].sidelink_j);
      CHECK(rounds_b[k].uplink_bits == rounds_a[k].uplink_bits);
    }
    const auto returns_a = ledger::QueryLastStepReturns(a, s.ledger_run, s.method);
    const auto returns_b = ledger::QueryLastStepReturns(b, r.ledger_run, r.method);
    REQUIRE(returns_a.size() == returns_b.size());
    for (std::size_t k = 0; k < returns_a.size(); ++k) {
      CHECK(returns_b[k].round == returns_a[k].round);
      CHECK(returns_b[k].value == returns_a[k].value);
    }
    // the totals tables and the rows agree (no duplicated or orphaned rows)
    CHECK(ledger::QueryBreakdown(b, r.ledger_run, ledger::SummarySource::kRows).total_j() ==
          doctest::Approx(ledger::QueryBreakdown(b, r.ledger_run).total_j()).epsilon(1e-12));
  }
}

TEST_SUITE("experiments/resume") {
  TEST_CASE("a run killed mid-method and resumed ends with the uninterrupted run's figures") {
    test::TempDir dir;
    const ExperimentConfig config = StarExperiment(dir.path());
    std::ostringstream ignored;
    const RunSummary straight = RunExperiment(config, ignored);

    // killed in scratch's third round, then in reptile's: every kind of state is restored,
    // and maml's finished deployment is redone and the old one superseded
    for (const auto& [method, round] : {std::pair<std::string, int>{"scratch", 3},
                                        std::pair<std::string, int>{"reptile", 2}}) {
      CAPTURE(method);
      const RunFolder folder = CreateRunFolder(config);
      REQUIRE(RunAndKill(config, folder, method, round));
      const Checkpoint checkpoint = ReadCheckpoint(CheckpointPath(folder.path, method));
      CHECK(checkpoint.round == round - 1);  // the kill came before round `round`'s checkpoint
      std::string log;
      const RunSummary resumed = Resume(config, folder, &log);
      CHECK(log.find("  " + method + ": resumed ledger run") != std::string::npos);
      CHECK(log.find("after round " + std::to_string(round - 1)) != std::string::npos);
      CheckSameFigures(straight, resumed);

      const ledger::LedgerStore store(folder.ledger_file().string(), {},
                                      ledger::OpenMode::kReadOnly);
      int superseded = 0;
      for (const ledger::RunRecord& record : store.Runs()) {
        if (record.status == "superseded") {
          ++superseded;
          CHECK(record.info.method == "maml");
        } else {
          CHECK(record.status == "finished");
        }
      }
      CHECK(superseded == (method == "reptile" ? 1 : 0));
      // resuming a finished run changes no figure
      CheckSameFigures(straight, Resume(config, folder, nullptr));
    }
  }

  TEST_CASE("consensus resumes every agent's model") {
    test::TempDir dir;
    const ExperimentConfig config = ConsensusExperiment(dir.path());
    std::ostringstream ignored;
    const RunSummary straight = RunExperiment(config, ignored);
    const RunFolder folder = CreateRunFolder(config);
    REQUIRE(RunAndKill(config, folder, "consensus", 3));
    CheckSameFigures(straight, Resume(config, folder, nullptr));
  }

  TEST_CASE("a killed run resumes only with its own config") {
    test::TempDir dir;
    const ExperimentConfig config = StarExperiment(dir.path());
    const RunFolder folder = CreateRunFolder(config);
    REQUIRE(RunAndKill(config, folder, "scratch", 2));
    const ExperimentConfig other = StarExperiment(dir.path(), {"experiment.seed=10"});
    try {
      Resume(other, folder, nullptr);
      FAIL("expected a ConfigError");
    } catch (const ConfigError& error) {
      const std::string what = error.what();
      CHECK(what.find(folder.config_file().string()) == 0);
      CHECK(what.find("another config") != std::string::npos);
      CHECK(what.find("seed = 10") != std::string::npos);
    }
    // a checkpoint ahead of the ledger (rows lost with the power) is refused, naming the file
    Checkpoint ahead = ReadCheckpoint(CheckpointPath(folder.path, "scratch"));
    const Checkpoint kept = ahead;
    ahead.round += 5;
    WriteCheckpoint(CheckpointPath(folder.path, "scratch"), ahead);
    CHECK_THROWS_WITH_AS(Resume(config, folder, nullptr),
                         doctest::Contains("holds rows only through round"), ConfigError);
    WriteCheckpoint(CheckpointPath(folder.path, "scratch"), kept);
    // a checkpoint that belongs to another ledger run is refused, naming the file
    Checkpoint foreign = ReadCheckpoint(CheckpointPath(folder.path, "scratch"));
    foreign.ledger_run += 100;
    WriteCheckpoint(CheckpointPath(folder.path, "scratch"), foreign);
    CHECK_THROWS_WITH_AS(Resume(config, folder, nullptr),
                         doctest::Contains("scratch.ckpt: belongs to ledger run"), ConfigError);
  }
}

}  // namespace
}  // namespace metajoule::experiments
