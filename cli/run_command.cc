#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/slurm_run.h"
#include "experiments/experiment_config.h"
#include "experiments/runner.h"

namespace metajoule::cli {

std::function<int()> ConfigureRun(CLI::App& app) {
  struct Options {
    std::string file;
    std::vector<std::string> overrides;
    bool slurm{false};
    SlurmRunOptions slurm_options;
    bool no_curve{false};
  };
  auto options = std::make_shared<Options>();
  app.add_option("file", options->file, "experiment file (TOML)")->required();
  app.add_option("--set", options->overrides, "override a key: a.b.c=value (TOML syntax)");
  CLI::Option* slurm =
      app.add_flag("--slurm", options->slurm,
                   "inside a Slurm allocation (salloc/sbatch): serve the meta methods here and "
                   "run the agents as one srun step over the allocation's tasks (docs/scale.md)");
  app.add_flag("--slurm-dry-run", options->slurm_options.dry_run,
               "with --slurm: print the plan (server address, each task's agents, the srun "
               "command line); start nothing")
      ->needs(slurm);
  app.add_option("--slurm-port", options->slurm_options.port,
                 "with --slurm: the server's tcp port (default: any free port)")
      ->check(CLI::Range(1, 65535))
      ->needs(slurm);
  app.add_option("--slurm-server-address", options->slurm_options.server_host,
                 "with --slurm: the address the agents connect to (default: this node's name, "
                 "SLURMD_NODENAME)")
      ->needs(slurm);
  app.add_flag("--slurm-no-curve", options->no_curve,
               "with --slurm: no CURVE (by default keys are made for the run, the traffic is "
               "encrypted and only the run's agents are admitted)")
      ->needs(slurm);
  app.add_option("--srun-arg", options->slurm_options.srun_args,
                 "with --slurm: one more srun option, e.g. --srun-arg=--cpus-per-task=2 "
                 "(repeatable)")
      ->needs(slurm);
  return [options] {
    const auto config = experiments::LoadExperiment(options->file, options->overrides);
    if (options->slurm) {
      options->slurm_options.curve = !options->no_curve;
      return RunOnSlurm(config, options->slurm_options, std::cout);
    }
    experiments::RunExperiment(config, std::cout);
    return kExitOk;
  };
}

}  // namespace metajoule::cli
