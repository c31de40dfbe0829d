#pragma once
// The report benchmark behind `metajoule bench report` (issue #8 target: a report for a batch of
// 100 runs in <= 10 s), and the synthetic run folders it reports on.
//
// A synthetic run folder is a ledger written through ledger::RunRecorder, shaped like `run`'s:
// one run per method (random, scratch, maml, consensus) plus maml's held-out deployment run
// (`<name>:held-out`, round s = adaptation step s), with deterministic learning curves, compute
// events, broadcast downlink, per-agent uplink (maml) and sidelink (consensus) transfers priced
// at the given link efficiencies. The figures are invented; the shapes are real.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "report/make_report.h"

namespace metajoule::report {

struct SyntheticRunOptions {
  std::string name{"synthetic"};
  std::uint64_t seed{1};
  int agents{8};
  int rounds{20};
  int held_out_tasks{4};
  double uplink_kbit_per_j{50.0};
  double downlink_kbit_per_j{50.0};
  double sidelink_kbit_per_j{50.0};
  std::string config_text{};  ///< stored as runs.config
};

/// Writes `folder`/ledger.sqlite (the folder is created). Returns the number of events.
std::int64_t WriteSyntheticRunFolder(const std::filesystem::path& folder,
                                     const SyntheticRunOptions& options);

/// The return of the synthetic curves that the methods reach (maml, consensus, scratch) and
/// random never does.
inline constexpr double kSyntheticTarget = -15.0;

/// Writes a batch folder: `cells` run folders over a grid of UL × SL efficiencies (and seeds)
/// and cells.csv in the batch format (`cell,status,run_folder,overrides`). Returns the events.
std::int64_t WriteSyntheticBatch(const std::filesystem::path& batch, int cells,
                                 const SyntheticRunOptions& base);

struct ReportBenchmarkOptions {
  int cells{100};
  int agents{8};
  int rounds{20};
  std::filesystem::path directory{};  ///< empty: a fresh temp dir, removed afterwards
  bool keep_files{false};
  GnuplotOptions gnuplot{};
  std::string config_text{};  ///< stored in every synthetic run (the CLI passes a real config)
};

struct ReportBenchmarkResult {
  int cells{0};
  std::int64_t events{0};
  double generate_s{0.0};
  ReportTimings timings{};
  /// Baseline 1: the same ledgers read with bare SQLite (open, per-round sums and mean returns
  /// of every run, close), no report code.
  double raw_sqlite_s{0.0};
  /// Baseline 2: gnuplot drawing one trivial plot to PNG and SVG (process start, cairo, fonts).
  double bare_gnuplot_s{0.0};
  int figures_drawn{0};
  std::uintmax_t html_bytes{0};
  std::filesystem::path directory{};
};

/// Generates the batch, then times MakeReport on it and the two baselines.
ReportBenchmarkResult RunReportBenchmark(const ReportBenchmarkOptions& options,
                                         const TargetResolver& resolve_target);

std::string FormatReportBenchmark(const ReportBenchmarkResult& result);

}  // namespace metajoule::report
