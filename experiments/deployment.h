#pragma once
// Deployment of a trained meta-model to held-out tasks (DESIGN.md "The run, as data flows":
// "after training: new agents get θ over DL and adapt in a few steps ─► energy-to-target").
// Each new agent receives its cluster's θ over the downlink and adapts with meta.eval's VPG
// steps (meta/evaluation.h AdaptOnTask); every transfer, step and return goes to a ledger run
// of its own, `<experiment>:held-out`, whose round s is adaptation step s (docs/config.md
// "[evaluation]").

#include <cstdint>
#include <optional>
#include <vector>

#include "agents/sim_env.h"
#include "common/thread_pool.h"
#include "experiments/experiment_config.h"
#include "experiments/meta_run.h"
#include "experiments/population.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/meters.h"
#include "ledger/queries.h"
#include "meta/task_env.h"

namespace metajoule::experiments {

/// The meta code's view of one agent's environment: a meta::TaskEnv over `env` (not owned;
/// `env` must outlive it), with its horizon as episode length and its simulator-call counter.
/// Shared by the held-out deployment and the replay recordings (experiments/run_episodes.h).
meta::TaskEnv TaskEnvOf(agents::SimRolloutEnv& env);

/// What the deployment run's ledger says, per adaptation step.
struct DeploymentSummary {
  std::int64_t ledger_run{0};
  int tasks{0};                      ///< held-out tasks the model reached over the downlink
  int unreachable{0};                ///< held-out tasks whose downlink push was lost
  std::vector<double> mean_return;   ///< step 0..S, mean over the reached tasks
  std::vector<double> energy_j;      ///< step 0..S, energy over every task (round s of the run)
  /// Energy-to-target over all tasks (ledger EnergyToTarget); set when a target is configured.
  std::optional<ledger::TargetResult> target{};
  /// Per-task energy-to-target E_adapt (J): target->energy_j / tasks.
  std::optional<double> adapt_j_per_task() const;
};

/// Deploys `trained` (from RunMeta on `population`) to `held_out` (Population::HeldOut) and
/// records it as a new run in `store`. A held-out task of cluster c gets the meta-model of
/// the group that trained on c (or the one global model).
DeploymentSummary DeployToHeldOut(const ExperimentConfig& config, meta::MetaMethod method,
                                  const Population& population, const MetaRunResult& trained,
                                  const Population& held_out, ThreadPool& pool,
                                  ledger::LedgerStore& store, const ledger::EnergyModel& model,
                                  const ledger::MeterSelection& meter_selection,
                                  const ledger::Meter& meter);

}  // namespace metajoule::experiments
