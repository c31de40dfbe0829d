#pragma once
// Sweep files: a grid of experiment variants that `metajoule batch` runs (docs/batch.md is the
// reference). A sweep names a base experiment file and the --set overrides that make each cell:
//
//   [sweep]
//   name = "links"
//   base = "quickstart.toml"      # relative to this file
//   workers = 2
//   [grid]                        # every combination; keys are --set keys
//   "experiment.seed" = [1, 2, 3]
//   "network.links.uplink.efficiency_kbit_per_j" = [25, 50, 200]
//   [zip.links]                   # keys that vary together: one axis
//   "network.links.uplink.efficiency_kbit_per_j" = [25, 200]
//   "network.links.downlink.efficiency_kbit_per_j" = [25, 200]
//   [set]                         # the same overrides for every cell
//   "training.rounds" = 5
//   [slurm]
//   partition = "cpu"
//
// Each cell is the base file plus [set] plus one value of every axis, loaded through the same
// validation as `metajoule run --set`; an error names the sweep file's line and column of the
// offending value, its key and the cell. Cells are numbered in a fixed order (the axes in file
// order, the last axis varying fastest), so ids ("c0007") are stable while the sweep file is.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "experiments/experiment_config.h"

namespace metajoule::experiments {

/// [sweep]: what the sweep is and where it writes.
struct SweepSection {
  std::string name{};  ///< names the batch folder; empty: the sweep file's stem
  std::string base{};  ///< the experiment file, relative to the file that sets this key (required)
  /// Cells at a time: local processes, or the Slurm array's %throttle. 0: every core locally,
  /// no throttle on Slurm.
  int workers{0};
  /// The batch folder's parent; empty: the base experiment's experiment.output_dir.
  std::string output_dir{};
  template <class V>
  void Visit(V& v) {
    v("name", name);
    v("base", base);
    v("workers", workers);
    v("output_dir", output_dir);
  }
};
std::vector<FieldError> Validate(const SweepSection& section);

/// [slurm]: the job array's resources (`metajoule batch --slurm`); the command line's
/// --partition, --time and --sbatch-arg take precedence.
struct SlurmSection {
  std::string partition{};  ///< #SBATCH --partition; empty: the cluster's default
  std::string time{};  ///< #SBATCH --time per cell, e.g. "01:00:00"; empty: the partition's default
  int cpus_per_task{1};  ///< #SBATCH --cpus-per-task; match it with sim.threads
  std::string mem{};     ///< #SBATCH --mem, e.g. "2G"; empty: the cluster's default
  std::vector<std::string> sbatch_args{};  ///< further sbatch options, one #SBATCH line each
  template <class V>
  void Visit(V& v) {
    v("partition", partition);
    v("time", time);
    v("cpus_per_task", cpus_per_task);
    v("mem", mem);
    v("sbatch_args", sbatch_args);
  }
};
std::vector<FieldError> Validate(const SlurmSection& section);

/// The whole sweep file's fixed part (for the docs check); [grid], [zip] and [set] hold --set
/// keys of the experiment schema.
struct SweepFileSections {
  SweepSection sweep{};
  SlurmSection slurm{};
  template <class V>
  void Visit(V& v) {
    v("sweep", sweep);
    v("slurm", slurm);
  }
};

/// One `--set key=value` of a cell, with the place in the sweep file it comes from.
struct SweepOverride {
  std::string key;
  std::string value;  ///< TOML syntax, as `--set` reads it (strings quoted)
  SourceLocation where{};
  std::string Text() const { return key + "=" + value; }
};

/// One axis of the grid: a [grid] key, or a [zip.<name>] table whose keys vary together.
struct SweepAxis {
  std::string name;               ///< the key, or the zip table's name
  std::vector<std::string> keys;  ///< the --set keys it varies
  /// points[i]: the overrides of the axis' i-th value (one per key).
  std::vector<std::vector<SweepOverride>> points;
  std::vector<std::string> labels;  ///< short text of each point, for cell labels
};

/// One cell of the sweep: the base experiment with these overrides.
struct SweepCell {
  int index{0};
  std::string id;     ///< "c0007": CellId(index)
  std::string label;  ///< "seed=2 uplink.efficiency_kbit_per_j=50": the grid values, short
  std::vector<SweepOverride> overrides;  ///< [set] first, then one value of every axis
  /// The --set arguments, "key=value" each.
  std::vector<std::string> SetArguments() const;
  /// "key=value;key=value": the overrides column of cells.csv and summary.csv.
  std::string OverridesText() const;
};

/// A loaded and fully validated sweep.
struct Sweep {
  std::filesystem::path file;  ///< the sweep file, absolute
  SweepSection settings{};     ///< [sweep], name filled in
  SlurmSection slurm{};
  std::filesystem::path base;        ///< the base experiment file, absolute
  std::filesystem::path folder;      ///< the batch folder <output_dir>/<name>, absolute
  std::vector<SweepOverride> fixed;  ///< [set]
  std::vector<SweepAxis> axes;
  std::vector<SweepCell> cells;
  /// The cell named by its id ("c0007") or its index ("7"); nullptr when there is none.
  const SweepCell* FindCell(std::string_view id_or_index) const;
};

/// "c0007" for index 7 (at least four digits).
std::string CellId(int index);

/// The TOML text of a value as `--set` reads it: strings quoted and escaped, arrays as
/// "[1, 2]", tables inline. Floats round-trip exactly.
std::string TomlValueText(double value);
std::string TomlStringText(std::string_view value);

/// Loads the sweep file `path` (`extends` is honoured, as in experiment files), expands its
/// cells and validates every cell by loading the base experiment with its overrides. Throws
/// ConfigError "file:line:col: key: message": unknown keys, a [grid] value that is not a
/// non-empty array, [zip] arrays of unequal length, a key set twice, and every error the
/// experiment loader reports for a cell (named at the sweep's value, with the cell's id).
Sweep LoadSweep(const std::string& path);

/// Loads the experiment of one cell (the checks of LoadSweep, for that cell only).
ExperimentConfig LoadCell(const Sweep& sweep, const SweepCell& cell);

}  // namespace metajoule::experiments
