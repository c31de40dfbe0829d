#include "experiments/batch.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "experiments/sweep.h"
#include "tests/support/temp_dir.h"

namespace metajoule::experiments {
namespace {

namespace fs = std::filesystem;

// The metajoule binary (tests/CMakeLists.txt): every cell runs as its child process.
const fs::path kBinary = METAJOULE_BINARY;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path);
  out << text;
}

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A tiny experiment: 2 agents, 1 round, a run takes ~0.1 s.
constexpr const char* kTiny = R"([experiment]
name = "tiny"
seed = 1
methods = ["random", "scratch"]

[sim]
threads = 1

[rollout]
episodes = 1

[training]
rounds = 1

[agents]
episodes_per_update = 2
policy = { hidden_sizes = [8] }

[meta]
inner_episodes = 2
outer_episodes = 2

[[clusters]]
name = "a"
agents = 2
task = { family = "nav2d" }
)";

struct Fixture {
  test::TempDir dir;
  Fixture() { Write(dir.path() / "tiny.toml", kTiny); }
  // a sweep over the tiny experiment whose batch folder lies in the temp folder
  Sweep Load(const std::string& body, const std::string& name = "s") {
    Write(dir.path() / (name + ".toml"), "[sweep]\nname = \"" + name +
                                             "\"\nbase = \"tiny.toml\"\noutput_dir = \"" +
                                             dir.File("out") + "\"\n" + body);
    return LoadSweep(dir.File(name + ".toml"));
  }
};

// Kills (SIGKILL) the `metajoule run` process whose command line names `path`; true when one
// was found. The batch's children are found through /proc, as an operator would with pgrep.
bool KillRunNaming(const fs::path& path) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::string pid = entry.path().filename().string();
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), ::isdigit)) continue;
    std::string command_line = ReadText(entry.path() / "cmdline");
    std::replace(command_line.begin(), command_line.end(), '\0', ' ');
    if (command_line.find(" run ") != std::string::npos &&
        command_line.find(path.string()) != std::string::npos) {
      return ::kill(std::stoi(pid), SIGKILL) == 0;
    }
  }
  return false;
}

std::map<std::string, CellRecord> ByCell(const std::vector<CellRecord>& rows) {
  std::map<std::string, CellRecord> out;
  for (const CellRecord& row : rows) out[row.cell] = row;
  return out;
}

TEST_SUITE("experiments/batch") {
  TEST_CASE("a local batch runs every cell as a child process and merges their ledgers") {
    Fixture f;
    const Sweep sweep = f.Load("[grid]\n\"experiment.seed\" = [1, 2, 3]\n");
    std::ostringstream out;
    const BatchReport report = RunLocalBatch(sweep, kBinary, 2, out);
    INFO(out.str());
    CHECK(report.ok());
    CHECK(report.done == 3);
    CHECK(report.skipped == 0);
    CHECK(out.str().find("3 to run with 2 workers") != std::string::npos);

    const BatchFolder folder(sweep);
    const std::string csv = ReadText(folder.cells_csv());
    CHECK(csv.rfind("cell,status,run_folder,overrides\n", 0) == 0);
    const auto rows = folder.Records();
    REQUIRE(rows.size() == 3);
    for (const CellRecord& row : rows) {
      CHECK(row.status == "done");
      CHECK(row.run_folder.rfind("runs/" + row.cell + "/tiny/", 0) == 0);
      CHECK(fs::exists(folder.path() / row.run_folder / "ledger.sqlite"));
      CHECK(fs::exists(folder.path() / "logs" / (row.cell + ".log")));
    }
    CHECK(rows[1].overrides == "experiment.seed=2");
    CHECK(ReadText(folder.path() / "logs" / "c0001.log").find("run: tiny (seed 2") !=
          std::string::npos);

    std::ostringstream warnings;
    const auto summary = MergeResults(sweep, folder, warnings);
    CHECK(warnings.str().empty());
    REQUIRE(summary.size() == 6);  // 3 cells x 2 methods
    CHECK(summary[0].cell == "c0000");
    CHECK(summary[0].method == "random");
    CHECK(summary[1].method == "scratch");
    CHECK(summary[1].run == "tiny");
    CHECK(summary[5].overrides == "experiment.seed=3");
    for (const SummaryRow& row : summary) {
      CHECK(row.run_status == "finished");
      CHECK(row.compute_j > 0.0);
      CHECK(row.gco2e > 0.0);
      CHECK(std::isfinite(row.mean_return));
    }
    CHECK(summary[0].mean_return != summary[2].mean_return);  // seeds differ

    WriteSummaryCsv(folder.path() / "summary.csv", summary);
    const std::string summary_csv = ReadText(folder.path() / "summary.csv");
    CHECK(summary_csv.rfind(std::string(kSummaryCsvHeader) + "\n", 0) == 0);
    CHECK(std::count(summary_csv.begin(), summary_csv.end(), '\n') == 7);
    std::ostringstream table;
    PrintSummary(table, summary);
    CHECK(table.str().find("seed=3") != std::string::npos);
  }

  TEST_CASE("a second invocation skips done cells and reruns cells whose overrides changed") {
    Fixture f;
    const Sweep sweep = f.Load("[grid]\n\"experiment.seed\" = [1, 2]\n");
    std::ostringstream first;
    REQUIRE(RunLocalBatch(sweep, kBinary, 2, first).done == 2);
    const auto before = ByCell(BatchFolder(sweep).Records());

    std::ostringstream second;
    const BatchReport again = RunLocalBatch(sweep, kBinary, 2, second);
    CHECK(again.skipped == 2);
    CHECK(again.done == 0);
    CHECK(ByCell(BatchFolder(sweep).Records())["c0001"].run_folder ==
          before.at("c0001").run_folder);

    // a done cell whose ledger went missing runs again
    fs::remove(BatchFolder(sweep).path() / before.at("c0000").run_folder / "ledger.sqlite");
    std::ostringstream third;
    const BatchReport repaired = RunLocalBatch(sweep, kBinary, 2, third);
    CHECK(repaired.skipped == 1);
    CHECK(repaired.done == 1);

    // the same ids with other overrides: every cell is pending again
    const Sweep changed =
        f.Load("[grid]\n\"experiment.seed\" = [1, 2]\n[set]\n\"rollout.episodes\" = 2\n");
    for (const CellRecord& row : BatchFolder(changed).Records()) CHECK(row.status == "pending");
    std::ostringstream fourth;
    CHECK(RunLocalBatch(changed, kBinary, 2, fourth).done == 2);
    // the earlier run folder was made with the old overrides: `run --resume` refuses it and the
    // cell starts afresh
    const std::string log = ReadText(BatchFolder(changed).log_file(changed.cells[1]));
    CHECK(log.find("# resuming the earlier attempt in ") != std::string::npos);
    CHECK(log.find("resolves to another config than the run's") != std::string::npos);
    CHECK(log.find("# the earlier attempt cannot be resumed (above): the cell starts afresh") !=
          std::string::npos);
    const fs::path config = BatchFolder(changed).path() /
                            ByCell(BatchFolder(changed).Records())["c0001"].run_folder /
                            "config.toml";
    CHECK(ReadText(config).find("[rollout]\nepisodes = 2\n") != std::string::npos);
  }

  TEST_CASE("a cell killed mid-run is resumed by the next invocation from its checkpoints") {
    Fixture f;
    const std::string body = R"([grid]
"experiment.seed" = [3]
[set]
"experiment.methods" = ["scratch"]
"training.rounds" = 400
)";
    const Sweep sweep = f.Load(body, "killed");
    const BatchFolder folder(sweep);
    std::ostringstream first;
    BatchReport killed;
    std::thread batch([&] { killed = RunLocalBatch(sweep, kBinary, 1, first); });
    // once a round is checkpointed, the cell's run process is killed as a time limit would
    const fs::path runs = folder.runs_dir(sweep.cells[0]);
    bool kill_sent = false;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!kill_sent && std::chrono::steady_clock::now() < give_up) {
      std::error_code error;
      for (const auto& entry : fs::recursive_directory_iterator(runs, error)) {
        if (entry.path().filename() == "scratch.ckpt") kill_sent = KillRunNaming(folder.path());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    batch.join();
    INFO(first.str());
    REQUIRE(kill_sent);
    REQUIRE(killed.failed == 1);
    CHECK(first.str().find("c0000 failed (killed by signal 9") != std::string::npos);
    const std::string run_folder = ByCell(folder.Records())["c0000"].run_folder;
    CHECK(!run_folder.empty());

    std::ostringstream second;
    const BatchReport resumed = RunLocalBatch(sweep, kBinary, 1, second);
    INFO(second.str());
    CHECK(resumed.done == 1);
    CHECK(ByCell(folder.Records())["c0000"].run_folder == run_folder);  // the same run, continued
    const std::string log = ReadText(folder.log_file(sweep.cells[0]));
    CHECK(log.find("# killed by signal 9") != std::string::npos);  // the first attempt's log stays
    CHECK(log.find("# resuming the earlier attempt in ") != std::string::npos);
    CHECK(log.find("scratch: resumed ledger run 1 (running) after round ") != std::string::npos);

    // the same cell run straight through: the same figures
    const Sweep straight = f.Load(body, "straight");
    std::ostringstream third;
    REQUIRE(RunLocalBatch(straight, kBinary, 1, third).done == 1);
    std::ostringstream warnings;
    const auto a = MergeResults(sweep, folder, warnings);
    const auto b = MergeResults(straight, BatchFolder(straight), warnings);
    CHECK(warnings.str().empty());
    REQUIRE(a.size() == 1);
    REQUIRE(b.size() == 1);
    CHECK(a[0].mean_return == b[0].mean_return);
    CHECK(a[0].compute_j == b[0].compute_j);
    CHECK(a[0].total_j() == b[0].total_j());
    CHECK(a[0].run_status == "finished");
  }

  TEST_CASE("a cell that fails at run time is reported with its log and retried by the next run") {
    Fixture f;
    // fomaml with an uplink that loses almost everything: no contribution arrives, the
    // meta-update is rejected and the run stops (meta.max_rejected_steps = 1)
    const Sweep sweep = f.Load(R"([grid]
"network.links.uplink.loss_probability" = [0.0, 0.99]
[set]
"experiment.methods" = ["fomaml"]
"training.rounds" = 3
"meta.max_rejected_steps" = 1
"network.links.uplink.max_attempts" = 1
)");
    std::ostringstream out;
    const BatchReport report = RunLocalBatch(sweep, kBinary, 2, out);
    INFO(out.str());
    CHECK(!report.ok());
    CHECK(report.done == 1);
    CHECK(report.failed == 1);
    CHECK(report.failed_cells == std::vector<std::string>{"c0001"});
    CHECK(out.str().find("c0001 failed (exit code 1); log: ") != std::string::npos);
    CHECK(out.str().find("  | error: fomaml: 1 consecutive meta-updates rejected") !=
          std::string::npos);

    const BatchFolder folder(sweep);
    const auto rows = ByCell(folder.Records());
    CHECK(rows.at("c0000").status == "done");
    CHECK(rows.at("c0001").status == "failed");
    CHECK(!rows.at("c0001").run_folder.empty());  // the partial ledger stays for inspection
    CHECK(ReadText(folder.log_file(sweep.cells[1])).find("# exit code 1 after") !=
          std::string::npos);

    // the summary leaves the failed cell out: c0000's training and held-out runs only
    std::ostringstream warnings;
    const auto summary = MergeResults(sweep, folder, warnings);
    REQUIRE(summary.size() == 2);
    CHECK(summary[0].cell == "c0000");
    CHECK(summary[0].run == "tiny");
    CHECK(summary[0].uplink_j > 0.0);
    CHECK(summary[1].cell == "c0000");
    CHECK(summary[1].method == "fomaml");

    std::ostringstream again;
    const BatchReport retry = RunLocalBatch(sweep, kBinary, 2, again);
    CHECK(retry.skipped == 1);
    CHECK(retry.failed == 1);
  }

  TEST_CASE("a cell whose program cannot start fails without stopping the batch") {
    Fixture f;
    const Sweep sweep = f.Load("[grid]\n\"experiment.seed\" = [1, 2]\n");
    std::ostringstream out;
    const BatchReport report = RunLocalBatch(sweep, f.dir.path() / "no-such-binary", 1, out);
    CHECK(report.failed == 2);
    CHECK(out.str().find("could not start: No such file or directory") != std::string::npos);
  }

  TEST_CASE("cells.csv reads back what was written and tolerates concurrent updates") {
    Fixture f;
    const fs::path file = f.dir.path() / "cells.csv";
    const std::vector<CellRecord> rows = {
        {"c0000", "done", "runs/c0000/x/1", "experiment.methods=[\"a\", \"b\"];training.rounds=2"},
        {"c0001", "pending", "", "agents.policy={ hidden_sizes = [8] }"}};
    WriteCellsCsv(file, rows);
    CHECK(ReadText(file) ==
          "cell,status,run_folder,overrides\n"
          "c0000,done,runs/c0000/x/1,\"experiment.methods=[\"\"a\"\", "
          "\"\"b\"\"];training.rounds=2\"\n"
          "c0001,pending,,agents.policy={ hidden_sizes = [8] }\n");
    const auto back = ReadCellsCsv(file);
    REQUIRE(back.size() == 2);
    CHECK(back[0].overrides == rows[0].overrides);
    CHECK(back[1].run_folder.empty());
    CHECK(ReadCellsCsv(f.dir.path() / "missing.csv").empty());

    Write(f.dir.path() / "bad.csv", "id,state\nc0000,done\n");
    CHECK_THROWS_WITH_AS(ReadCellsCsv(f.dir.path() / "bad.csv"),
                         doctest::Contains("bad.csv:1: expected the header"), std::runtime_error);

    // many writers at once (Slurm tasks, local workers): no update is lost
    const Sweep sweep = f.Load("[grid]\n\"experiment.seed\" = [1, 2, 3, 4, 5, 6, 7, 8]\n");
    const BatchFolder folder(sweep);
    std::vector<std::thread> threads;
    for (const SweepCell& cell : sweep.cells) {
      threads.emplace_back([&folder, &cell] {
        folder.Update({cell.id, "failed", "runs/" + cell.id, cell.OverridesText()});
      });
    }
    for (std::thread& thread : threads) thread.join();
    for (const CellRecord& row : folder.Records()) CHECK(row.status == "failed");
  }

  TEST_CASE("the job array script runs one cell per task with a throttle") {
    CHECK(ArraySpec({0, 1, 2, 3}, 2) == "0-3%2");
    CHECK(ArraySpec({0, 2, 3, 4, 7}, 0) == "0,2-4,7");
    CHECK(ArraySpec({5}, 0) == "5");

    Fixture f;
    const Sweep sweep = f.Load(R"(workers = 2
[grid]
"experiment.seed" = [1, 2, 3]
[slurm]
partition = "cpu"
time = "00:10:00"
mem = "1G"
sbatch_args = ["--qos=short"]
)");
    SlurmOptions options;
    options.time = "00:05:00";  // the command line wins over [slurm]
    options.sbatch_args = {"--account=lab"};
    const std::string script =
        SbatchScript(sweep, {0, 2}, options, "/opt/metajoule/bin/metajoule", "/home/me/work");
    CHECK(script.rfind("#!/bin/bash\n", 0) == 0);
    CHECK(script.find("#SBATCH --array=0,2%2\n") != std::string::npos);
    CHECK(script.find("#SBATCH --output=" + (sweep.folder / "logs" / "slurm-%A_%a.out").string() +
                      "\n") != std::string::npos);
    CHECK(script.find("#SBATCH --chdir=/home/me/work\n") != std::string::npos);
    CHECK(script.find("#SBATCH --partition=cpu\n") != std::string::npos);
    CHECK(script.find("#SBATCH --time=00:05:00\n") != std::string::npos);
    CHECK(script.find("#SBATCH --mem=1G\n") != std::string::npos);
    CHECK(script.find("#SBATCH --qos=short\n#SBATCH --account=lab\n") != std::string::npos);
    CHECK(script.find("exec /opt/metajoule/bin/metajoule batch " + sweep.file.string() +
                      " --cell \"$SLURM_ARRAY_TASK_ID\"\n") != std::string::npos);
  }

  TEST_CASE("--slurm without sbatch on PATH names the Debian packages") {
    Fixture f;
    const Sweep sweep = f.Load("[grid]\n\"experiment.seed\" = [1, 2]\n");
    const BatchFolder folder(sweep);
    const std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
    setenv("PATH", f.dir.File("empty-bin").c_str(), 1);
    std::ostringstream out;
    CHECK_THROWS_WITH_AS(SubmitSlurm(sweep, folder, {}, kBinary, out),
                         doctest::Contains("sbatch is not on PATH"), std::runtime_error);
    try {
      SubmitSlurm(sweep, folder, {}, kBinary, out);
    } catch (const std::runtime_error& error) {
      CHECK(std::string(error.what()).find("slurm-wlm") != std::string::npos);
    }
    setenv("PATH", path.c_str(), 1);
    CHECK(!fs::exists(folder.path() / "batch.sbatch"));
  }
}

}  // namespace
}  // namespace metajoule::experiments
