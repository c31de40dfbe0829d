#pragma once
// `metajoule batch`: the cells of a sweep (experiments/sweep.h), each run as a child process
// `metajoule run BASE --set ...`, locally with a worker limit or as a Slurm job array; their
// ledgers merge into one table (docs/batch.md).
//
// The batch folder <output_dir>/<sweep name>/ holds
//   cells.csv      cell,status,run_folder,overrides   (status: done | failed | pending)
//   logs/<cell>.log   the child's stdout and stderr (and the command line that ran it)
//   runs/<cell>/      the cell's run folder(s): runs/<cell>/<experiment>/<UTC time>-<seed>/
//   summary.csv    the merged table, one row per cell and method
//   batch.sbatch   the job array script (Slurm only), logs/slurm-<job>_<task>.out its output
// cells.csv is read and rewritten under an exclusive lock (flock on .cells.lock), so the tasks
// of a Slurm array can update it at the same time. A cell whose status is done and whose run
// folder still holds its ledger is skipped by the next invocation (a batch is resumable); any
// other cell runs again from an empty runs/<cell>/.

#include <filesystem>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "experiments/sweep.h"

namespace metajoule::experiments {

/// A row of cells.csv.
struct CellRecord {
  std::string cell;        ///< the cell id, "c0007"
  std::string status;      ///< "done", "failed" or "pending"
  std::string run_folder;  ///< relative to the batch folder; empty when the run made none
  std::string overrides;   ///< SweepCell::OverridesText()
};

/// The first line of cells.csv (other tools read the file: keep it).
inline constexpr std::string_view kCellsCsvHeader = "cell,status,run_folder,overrides";
/// The first line of summary.csv.
inline constexpr std::string_view kSummaryCsvHeader =
    "cell,overrides,method,run,return,total_j,compute_j,uplink_j,downlink_j,sidelink_j,gco2e";

/// Reads cells.csv (RFC 4180 quoting). Throws std::runtime_error naming the file and line when
/// it is not a cells.csv; returns no rows when the file does not exist.
std::vector<CellRecord> ReadCellsCsv(const std::filesystem::path& file);
/// Writes cells.csv through a temporary file and a rename, so readers never see half a file.
void WriteCellsCsv(const std::filesystem::path& file, const std::vector<CellRecord>& rows);
/// One CSV field, quoted when it holds a comma, a quote or a line break.
std::string CsvField(std::string_view text);

/// The batch folder of a sweep on disk.
class BatchFolder {
 public:
  /// Creates the folder (with logs/ and runs/) when needed and brings cells.csv in line with
  /// the sweep: a cell keeps its recorded status only while its overrides are unchanged; other
  /// cells become pending. Throws std::runtime_error when the folder cannot be written.
  explicit BatchFolder(const Sweep& sweep);

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path cells_csv() const { return path_ / "cells.csv"; }
  std::filesystem::path log_file(const SweepCell& cell) const;
  std::filesystem::path runs_dir(const SweepCell& cell) const;

  /// The rows of cells.csv, read under the lock.
  std::vector<CellRecord> Records() const;
  /// Replaces the row of `record.cell` under the lock.
  void Update(const CellRecord& record) const;
  /// True when `record` is done and its run folder still holds ledger.sqlite.
  bool IsComplete(const CellRecord& record) const;

 private:
  std::filesystem::path path_;
};

/// What happened to one cell.
struct CellOutcome {
  std::string status;      ///< "done" or "failed"
  std::string run_folder;  ///< relative to the batch folder; may be empty when failed
  std::string reason;      ///< for a failed cell: "exit code 1", "killed by signal 9", ...
  double seconds{0.0};
};

/// Runs one cell: `executable run BASE --set ... --set experiment.output_dir=<runs/cell>` with
/// stdout and stderr in logs/<cell>.log, waits for it and records the outcome in cells.csv.
/// When an earlier attempt (killed, failed) left a run folder under runs/<cell>/, the cell is
/// resumed instead (`run --resume FOLDER BASE --set ...`, which also checks that the folder's
/// config is the one the cell resolves to now) and its log is appended to; a resume refused as
/// a config error (exit code 2) starts the cell afresh from an empty runs/<cell>/.
/// A cell is done when the child exits with 0 and left a ledger.
CellOutcome RunCell(const Sweep& sweep, const SweepCell& cell, const BatchFolder& folder,
                    const std::filesystem::path& executable);

/// The last `lines` lines of a text file ("" when it cannot be read).
std::string TailOfFile(const std::filesystem::path& file, int lines);

/// What a batch did.
struct BatchReport {
  int cells{0};
  int skipped{0};  ///< done by an earlier invocation
  int done{0};     ///< done now
  int failed{0};
  std::vector<std::string> failed_cells;
  double seconds{0.0};
  bool ok() const { return failed == 0; }
};

/// Runs every cell that is not complete, `workers` at a time (0: every core), printing one
/// line per cell to `out`, and for a failed cell the path and last lines of its log.
BatchReport RunLocalBatch(const Sweep& sweep, const std::filesystem::path& executable, int workers,
                          std::ostream& out);

/// One row of the merged table: one ledger run of one cell (a method's training run, and for
/// the meta methods also its held-out adaptation run), read from the cell's ledger.
struct SummaryRow {
  std::string cell;
  std::string label;
  std::string overrides;
  std::string method;
  std::string run;          ///< the ledger's runs.name ("quickstart", "quickstart:held-out")
  std::string run_status;   ///< the ledger's runs.status ("finished", "failed", ...)
  double mean_return{0.0};  ///< mean evaluation return of the last evaluated round (NaN: none)
  double compute_j{0.0};
  double uplink_j{0.0};
  double downlink_j{0.0};
  double sidelink_j{0.0};
  double gco2e{0.0};
  double total_j() const { return compute_j + uplink_j + downlink_j + sidelink_j; }
};

/// Reads the ledger of every done cell, in cell order. A ledger that cannot be read is reported
/// on `warnings` and left out.
std::vector<SummaryRow> MergeResults(const Sweep& sweep, const BatchFolder& folder,
                                     std::ostream& warnings);
void WriteSummaryCsv(const std::filesystem::path& file, const std::vector<SummaryRow>& rows);
void PrintSummary(std::ostream& out, const std::vector<SummaryRow>& rows);

/// The Slurm side of a batch.
struct SlurmOptions {
  std::string partition{};                 ///< overrides [slurm] partition when not empty
  std::string time{};                      ///< overrides [slurm] time when not empty
  std::vector<std::string> sbatch_args{};  ///< added to [slurm] sbatch_args
  int workers{0};            ///< the array's %throttle; 0: [sweep] workers, 0 there: none
  double poll_seconds{1.0};  ///< how often a waiting batch reads cells.csv
};

/// "0-3,5,7-8%2": Slurm's --array list of `indices` (sorted), with a throttle when > 0.
std::string ArraySpec(const std::vector<int>& indices, int throttle);

/// The job array script: one task per index, each running
/// `executable batch SWEEP --cell $SLURM_ARRAY_TASK_ID` in `workdir`, its output in
/// logs/slurm-<job>_<task>.out of the batch folder.
std::string SbatchScript(const Sweep& sweep, const std::vector<int>& indices,
                         const SlurmOptions& options, const std::filesystem::path& executable,
                         const std::filesystem::path& workdir);

/// A submitted job array.
struct SlurmJob {
  std::string id;            ///< empty when nothing was pending
  std::vector<int> indices;  ///< the cells it runs
};

/// Writes batch.sbatch for every cell that is not complete and submits it with
/// `sbatch --parsable`. Throws std::runtime_error when sbatch is missing (naming the Debian
/// packages) or refuses the job (with its message).
SlurmJob SubmitSlurm(const Sweep& sweep, const BatchFolder& folder, const SlurmOptions& options,
                     const std::filesystem::path& executable, std::ostream& out);

/// Waits until every cell of `job` has left pending (polling cells.csv) or the job has left
/// the queue (squeue); cells still pending then are marked failed. Prints each finished cell.
BatchReport WaitForSlurm(const Sweep& sweep, const BatchFolder& folder, const SlurmJob& job,
                         const SlurmOptions& options, std::ostream& out);

/// The full path of `program` on PATH; empty when it is not there.
std::filesystem::path FindOnPath(std::string_view program);

}  // namespace metajoule::experiments
