#pragma once
// Runs an experiment: every listed method on the same clusters, tasks and seed, each as one run
// in the run folder's ledger (DESIGN.md "The run, as data flows"). Every figure printed at the
// end is read back from the ledger.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "common/thread_pool.h"
#include "experiments/checkpoint.h"
#include "experiments/deployment.h"
#include "experiments/experiment_config.h"
#include "experiments/meta_run.h"
#include "experiments/population.h"
#include "experiments/run_folder.h"
#include "ledger/meters.h"
#include "ledger/queries.h"
#include "ledger/recorder.h"

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
  int checkpoints{0};             ///< checkpoints written (training.checkpoint_every)
  double checkpoint_seconds{0.0};  ///< wall time of their ledger commits and file writes
  double total_j() const { return compute_j + uplink_j + downlink_j + sidelink_j; }
  /// Copies the energy split and carbon of the method's ledger run.
  void SetEnergy(const ledger::EnergyBreakdown& breakdown) {
    compute_j = breakdown.compute_j;
    uplink_j = breakdown.uplink_j;
    downlink_j = breakdown.downlink_j;
    sidelink_j = breakdown.sidelink_j;
    gco2e = breakdown.gco2e;
  }

  /// Meta methods with evaluation.held_out_tasks > 0: the deployment to held-out tasks.
  std::optional<DeploymentSummary> deployment{};
  /// With evaluation.target_return: where the method reaches it (meta methods: the deployment
  /// run, over adaptation steps; scratch: its training run, over rounds).
  std::optional<ledger::TargetResult> target{};
  /// Energy for one more task to reach the target (J): E_adapt for meta methods (downlink and
  /// adaptation), E_scratch for scratch. A lower bound when target->reached is false.
  std::optional<double> energy_to_target_per_task_j{};
  /// Lifecycle energy of serving `lifecycle_tasks` tasks (J): E_meta + N E_adapt for meta
  /// methods (E_meta = total_j()), N E_scratch for scratch.
  std::optional<double> lifecycle_j{};
  /// The smallest N from which this meta method's lifecycle costs no more than scratch's
  /// (ledger::BreakEvenTaskCount); unset when it never pays off or scratch was not run.
  std::optional<std::int64_t> break_even_tasks{};
};

struct RunSummary {
  std::filesystem::path folder;
  std::int64_t lifecycle_tasks{0};  ///< N of the lifecycle figures: the run's agents
  std::vector<MethodSummary> methods;
  const MethodSummary* Find(const std::string& method) const;
};

/// What a caller changes in a run (`metajoule serve`: remote agents, meta methods only, a run
/// folder made before the agents join). The defaults are `metajoule run`'s.
struct RunHooks {
  /// The run folder, when the caller has made it (CreateRunFolder); default: a new one.
  std::optional<RunFolder> folder{};
  /// Trains one meta method; default: RunMeta in this process over config.network.transport.
  std::function<MetaRunResult(meta::MetaMethod method, Population& population, ThreadPool& pool,
                              ledger::RunRecorder& recorder, const ledger::Meter& meter,
                              std::ostream& out, MethodCheckpoints* checkpoints)>
      train_meta{};
  /// Which of config.experiment.methods run; the others are skipped with a line
  /// "  <method>: <skip_note>". Default: all.
  std::function<bool(const std::string& method)> runs_method{};
  std::string skip_note{};
  /// `metajoule run --resume` (docs/resume.md): continue the run in `folder` (which must be
  /// set). Each method's latest ledger run is truncated to the round of its checkpoint and
  /// continued from the restored state (from its start without one); a method without a
  /// ledger run starts fresh; held-out deployments are redone (the old ones are marked
  /// "superseded"). The config must be the one the run started with (ConfigError otherwise).
  bool resume{false};
  /// Called after a checkpoint's ledger commit and before the checkpoint file is written
  /// (tests kill the process here to leave rows after the last checkpoint).
  std::function<void(const std::string& method, int round)> before_checkpoint{};
};

/// Runs `config` and writes its run folder; progress and the final table go to `out`.
/// Throws ConfigError for what only shows when the run is wired (e.g. an unknown device), and
/// std::runtime_error for failures while running (the ledger keeps every committed record).
RunSummary RunExperiment(const ExperimentConfig& config, std::ostream& out,
                         const RunHooks& hooks = {});

}  // namespace metajoule::experiments
