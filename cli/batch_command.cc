#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "experiments/batch.h"
#include "experiments/sweep.h"

namespace metajoule::cli {
namespace {

namespace fs = std::filesystem;
using experiments::BatchFolder;
using experiments::BatchReport;
using experiments::Sweep;
using experiments::SweepCell;

struct Options {
  std::string file;
  int workers{0};
  bool slurm{false};
  std::string partition;
  std::string time;
  std::vector<std::string> sbatch_args;
  bool wait{false};
  bool dry_run{false};
  std::string cell;
  bool merge{false};
};

// The binary that is running: every cell runs as a child process of it.
fs::path SelfExecutable() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error)
    throw std::runtime_error("cannot find this program's path (/proc/self/exe): " +
                             error.message());
  return self;
}

experiments::SlurmOptions SlurmOptionsOf(const Options& options) {
  experiments::SlurmOptions slurm;
  slurm.partition = options.partition;
  slurm.time = options.time;
  slurm.sbatch_args = options.sbatch_args;
  slurm.workers = options.workers;
  return slurm;
}

// --dry-run: what would run, from the sweep alone; nothing is written.
int DryRun(const Sweep& sweep, const Options& options) {
  std::map<std::string, experiments::CellRecord> recorded;
  for (auto& row : experiments::ReadCellsCsv(sweep.folder / "cells.csv")) recorded[row.cell] = row;
  std::cout << "sweep " << sweep.settings.name << ": " << sweep.cells.size() << " cells of "
            << sweep.base.string() << "\nbatch folder: " << sweep.folder.string() << "\n";
  for (const auto& axis : sweep.axes) {
    std::cout << "axis " << axis.name << ": " << axis.points.size() << " values\n";
  }
  std::vector<int> pending;
  for (const SweepCell& cell : sweep.cells) {
    const auto it = recorded.find(cell.id);
    const bool same = it != recorded.end() && it->second.overrides == cell.OverridesText();
    const std::string status = same ? it->second.status : "pending";
    std::cout << "  " << cell.id << "  " << status << "  " << cell.label << "\n";
    if (status != "done") pending.push_back(cell.index);
  }
  if (!sweep.cells.empty()) {
    std::cout << "each cell runs: metajoule run " << sweep.base.string();
    for (const std::string& text : sweep.cells.front().SetArguments())
      std::cout << " --set '" << text << "'";
    std::cout << " --set 'experiment.output_dir=\".../runs/" << sweep.cells.front().id << "\"'  ("
              << sweep.cells.front().id << ")\n";
  }
  if (options.slurm && pending.empty()) {
    std::cout << "every cell is done: --slurm would submit nothing\n";
  } else if (options.slurm) {
    std::cout << "batch.sbatch would read:\n"
              << experiments::SbatchScript(sweep, pending, SlurmOptionsOf(options),
                                           SelfExecutable(), fs::current_path());
  }
  return kExitOk;
}

// --cell: one cell, as each Slurm array task runs it.
int RunOneCell(const Sweep& sweep, const Options& options) {
  const SweepCell* cell = sweep.FindCell(options.cell);
  if (cell == nullptr) {
    throw std::invalid_argument(
        "--cell: no cell \"" + options.cell + "\" in " + sweep.file.string() +
        " (it has c0000 to " + experiments::CellId(static_cast<int>(sweep.cells.size()) - 1) +
        ", or their indices 0 to " + std::to_string(sweep.cells.size() - 1) + ")");
  }
  const BatchFolder folder(sweep);
  for (const auto& row : folder.Records()) {
    if (row.cell == cell->id && folder.IsComplete(row)) {
      std::cout << cell->id << " is done already (" << row.run_folder << "); nothing to run\n";
      return kExitOk;
    }
  }
  std::cout << "cell " << cell->id << (cell->label.empty() ? "" : " (" + cell->label + ")") << "\n";
  const auto outcome = experiments::RunCell(sweep, *cell, folder, SelfExecutable());
  std::cout << cell->id << " " << outcome.status << " in " << std::fixed << std::setprecision(2)
            << outcome.seconds << " s";
  if (!outcome.run_folder.empty()) std::cout << "; run folder " << outcome.run_folder;
  std::cout << "\n";
  if (outcome.status == "done") return kExitOk;
  std::cout << "(" << outcome.reason << "); last lines of " << folder.log_file(*cell).string()
            << ":\n"
            << experiments::TailOfFile(folder.log_file(*cell), 20);
  return kExitRuntimeFailure;
}

// The merged table: summary.csv and stdout.
void Merge(const Sweep& sweep, const BatchFolder& folder) {
  const auto rows = experiments::MergeResults(sweep, folder, std::cerr);
  experiments::WriteSummaryCsv(folder.path() / "summary.csv", rows);
  int pending = 0;
  int failed = 0;
  for (const auto& row : folder.Records()) {
    if (folder.IsComplete(row)) continue;
    (row.status == "failed" ? failed : pending) += 1;
  }
  std::cout << "\n";
  experiments::PrintSummary(std::cout, rows);
  std::cout << "summary: " << (folder.path() / "summary.csv").string() << " (" << rows.size()
            << " rows from " << sweep.cells.size() - static_cast<std::size_t>(pending + failed)
            << " done cells";
  if (failed > 0) std::cout << "; " << failed << " failed";
  if (pending > 0) std::cout << "; " << pending << " pending";
  std::cout << ")\n";
}

int Finish(const Sweep& sweep, const BatchFolder& folder, const BatchReport& report) {
  Merge(sweep, folder);
  std::cout << "batch " << sweep.settings.name << ": " << report.done << " done, " << report.failed
            << " failed, " << report.skipped << " skipped (done earlier) in " << std::fixed
            << std::setprecision(1) << report.seconds << " s\n";
  if (report.ok()) return kExitOk;
  std::cout << "failed cells:";
  for (const std::string& id : report.failed_cells) std::cout << " " << id;
  std::cout << " (logs in " << (folder.path() / "logs").string()
            << "); run the batch again to retry them\n";
  return kExitRuntimeFailure;
}

}  // namespace

std::function<int()> ConfigureBatch(CLI::App& app) {
  auto options = std::make_shared<Options>();
  app.add_option("file", options->file, "sweep file (TOML, docs/batch.md)")->required();
  app.add_option("--workers", options->workers,
                 "cells at a time (local processes, or the Slurm array's throttle); default: "
                 "[sweep] workers, else every core")
      ->check(CLI::NonNegativeNumber);
  CLI::Option* slurm = app.add_flag("--slurm", options->slurm,
                                    "submit the cells as a Slurm job array (sbatch) instead of "
                                    "running them here");
  app.add_option("--partition", options->partition, "Slurm partition (overrides [slurm] partition)")
      ->needs(slurm);
  app.add_option("--time", options->time, "Slurm time limit per cell (overrides [slurm] time)")
      ->needs(slurm);
  app.add_option("--sbatch-arg", options->sbatch_args,
                 "one more #SBATCH option, e.g. --sbatch-arg=--qos=short (repeatable)")
      ->needs(slurm);
  app.add_flag("--wait", options->wait,
               "with --slurm: wait for the array to finish, then merge the results")
      ->needs(slurm);
  CLI::Option* dry_run = app.add_flag("--dry-run", options->dry_run,
                                      "list the cells (and the sbatch script with --slurm); run "
                                      "and write nothing");
  CLI::Option* merge = app.add_flag("--merge", options->merge,
                                    "run nothing: merge the done cells' ledgers into summary.csv");
  app.add_option("--cell", options->cell,
                 "run this one cell (id c0007 or index 7): what each Slurm array task runs")
      ->excludes(slurm)
      ->excludes(dry_run)
      ->excludes(merge);
  merge->excludes(dry_run);
  return [options] {
    const Sweep sweep = experiments::LoadSweep(options->file);
    if (options->dry_run) return DryRun(sweep, *options);
    if (!options->cell.empty()) return RunOneCell(sweep, *options);
    if (options->merge) {
      const BatchFolder folder(sweep);
      Merge(sweep, folder);
      return kExitOk;
    }
    if (options->slurm) {
      const BatchFolder folder(sweep);
      const auto slurm_options = SlurmOptionsOf(*options);
      const auto job =
          experiments::SubmitSlurm(sweep, folder, slurm_options, SelfExecutable(), std::cout);
      if (job.id.empty()) {
        Merge(sweep, folder);
        return kExitOk;
      }
      if (!options->wait) {
        std::cout << "when it has finished: metajoule batch " << options->file
                  << " --merge   (squeue -j " << job.id << " shows its tasks)\n";
        return kExitOk;
      }
      std::cout << "waiting for job " << job.id << " (Ctrl-C stops waiting, not the job)\n";
      return Finish(sweep, folder,
                    experiments::WaitForSlurm(sweep, folder, job, slurm_options, std::cout));
    }
    const auto report =
        experiments::RunLocalBatch(sweep, SelfExecutable(), options->workers, std::cout);
    return Finish(sweep, BatchFolder(sweep), report);
  };
}

}  // namespace metajoule::cli
