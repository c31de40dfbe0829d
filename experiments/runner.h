#pragma once
// Runs an experiment: every listed method on the same clusters, tasks and seed, each as one run
// in the run folder's ledger (DESIGN.md "The run, as data flows"). Every figure printed at the
// end is read back from the ledger.

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

#include "experiments/experiment_config.h"

namespace metajoule::experiments {

/// The ledger figures of one method's run. Energies in J, carbon in gCO2e.
struct MethodSummary {
  std::string method;
  std::int64_t ledger_run{0};
  double compute_j{0.0};
  double uplink_j{0.0};
  double downlink_j{0.0};
  double sidelink_j{0.0};
  double gco2e{0.0};
  double mean_return{0.0};  ///< mean episode return over every agent's last evaluation
  double wall_seconds{0.0};
  double ledger_seconds{0.0};  ///< time spent recording into the ledger, summed over threads
  double total_j() const { return compute_j + uplink_j + downlink_j + sidelink_j; }
};

struct RunSummary {
  std::filesystem::path folder;
  std::vector<MethodSummary> methods;
};

/// Runs `config` and writes its run folder; progress and the final table go to `out`.
/// Throws ConfigError for what only shows when the run is wired (e.g. an unknown device), and
/// std::runtime_error for failures while running (the ledger keeps every committed record).
RunSummary RunExperiment(const ExperimentConfig& config, std::ostream& out);

}  // namespace metajoule::experiments
