#pragma once
// The folder a run leaves behind (DESIGN.md "Files a run leaves behind"):
//   <output_dir>/<experiment.name>/<UTC time>-<seed>/
//     config.toml     the fully resolved experiment (also stored in the ledger)
//     ledger.sqlite   the source of truth for every printed figure (docs/ledger.md)

#include <filesystem>
#include <string>

#include "experiments/experiment_config.h"

namespace metajoule::experiments {

struct RunFolder {
  std::filesystem::path path;
  std::filesystem::path config_file() const { return path / "config.toml"; }
  std::filesystem::path ledger_file() const { return path / "ledger.sqlite"; }
};

/// Creates a new, empty run folder for `config` and writes config.toml into it. The folder name
/// is "<UTC time YYYYmmddTHHMMSSZ>-<seed>", with "-2", "-3", ... appended when it exists already.
/// Throws std::runtime_error when the folder cannot be created or written.
RunFolder CreateRunFolder(const ExperimentConfig& config);

}  // namespace metajoule::experiments
