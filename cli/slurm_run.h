#pragma once
// `metajoule run FILE --slurm`: the process side of experiments/slurm_launch.h. Serves the
// run's meta methods here (as `metajoule serve`) and starts its agents as one srun step of the
// allocation, with CURVE keys made for the run (docs/scale.md, "One run over a Slurm
// allocation").

#include <iosfwd>
#include <string>
#include <vector>

#include "experiments/experiment_config.h"

namespace metajoule::cli {

struct SlurmRunOptions {
  bool dry_run{false};        ///< print the plan, start nothing
  int port{0};                ///< the server's tcp port; 0: any free port
  std::string server_host{};  ///< the address agents connect to; empty: this node's name
  bool curve{true};           ///< encrypt and authenticate with keys made for the run
  std::vector<std::string> srun_args{};  ///< more srun options
};

/// Runs `config` over the Slurm allocation this process is in. Returns the exit code.
/// @throws ConfigError outside an allocation or without srun; std::runtime_error when the run
/// fails (agents that never join, an srun step that ends before the run), naming the agents'
/// log.
int RunOnSlurm(const experiments::ExperimentConfig& config, const SlurmRunOptions& options,
               std::ostream& out);

}  // namespace metajoule::cli
