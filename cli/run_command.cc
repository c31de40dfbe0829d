#include <filesystem>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/slurm_run.h"
#include "common/error.h"
#include "experiments/experiment_config.h"
#include "experiments/run_folder.h"
#include "experiments/runner.h"

namespace metajoule::cli {
namespace {

// `run --resume FOLDER [FILE [--set ...]]`: the folder's own config.toml (the resolved
// experiment it started with); a FILE given too, with its overrides, must resolve to the same
// text (a batch resumes its cells this way, so an edited base file or sweep is refused).
int ResumeRun(const std::string& file, const std::vector<std::string>& overrides,
              const std::string& folder) {
  if (file.empty() && !overrides.empty()) {
    throw std::invalid_argument(
        "run: --set with --resume needs the experiment FILE the overrides apply to");
  }
  const experiments::RunFolder run{folder};
  if (!std::filesystem::exists(run.config_file()) || !std::filesystem::exists(run.ledger_file())) {
    throw ConfigError({folder}, "",
                      "not a run folder (it needs config.toml and ledger.sqlite, as `metajoule "
                      "run` leaves them)");
  }
  const auto config = experiments::LoadExperiment(run.config_file().string(), {});
  if (!file.empty()) {
    const auto given = experiments::LoadExperiment(file, overrides);
    if (experiments::ResolvedToml(given) != experiments::ResolvedToml(config)) {
      throw ConfigError({file}, "",
                        "resolves to another config than the run's " +
                            run.config_file().string() +
                            (overrides.empty() ? "" : " (with the --set overrides)") +
                            "; --resume continues a run with its own config only");
    }
  }
  experiments::RunHooks hooks;
  hooks.folder = run;
  hooks.resume = true;
  experiments::RunExperiment(config, std::cout, hooks);
  return kExitOk;
}

}  // namespace

std::function<int()> ConfigureRun(CLI::App& app) {
  struct Options {
    std::string file;
    std::vector<std::string> overrides;
    bool slurm{false};
    SlurmRunOptions slurm_options;
    bool no_curve{false};
    std::string resume;
  };
  auto options = std::make_shared<Options>();
  CLI::Option* file = app.add_option("file", options->file, "experiment file (TOML)");
  app.add_option("--set", options->overrides, "override a key: a.b.c=value (TOML syntax)");
  CLI::Option* resume = app.add_option(
      "--resume", options->resume,
      "continue the killed or failed run in this run folder from its last checkpoints, with its "
      "own config.toml (a FILE given too, with any --set, must resolve to the same config; "
      "docs/resume.md)");
  resume->check(CLI::ExistingDirectory);
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
  slurm->excludes(resume);
  return [options, file, resume] {
    if (resume->count() > 0) return ResumeRun(options->file, options->overrides, options->resume);
    if (file->count() == 0) {
      throw std::invalid_argument("run: give an experiment file (or --resume RUN_FOLDER)");
    }
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
