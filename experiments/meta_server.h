#pragma once
// `metajoule serve`: the meta-learner as a process of its own, its agents other processes
// (`metajoule agent`, experiments/meta_agent.h) on this machine or others (DESIGN.md "Who uses
// it", 3). The server binds a ProtocolServer, assigns each joining node its place in the
// experiment (the resolved config as TOML text and its agent index: the agent rebuilds the
// population from the same seed), runs the file's meta methods round by round, and records
// every event, the agents' included, in its one ledger, in a run folder as `run` writes it.

#include <cstddef>
#include <iosfwd>
#include <string>

#include "experiments/experiment_config.h"
#include "experiments/meta_exchange.h"
#include "experiments/runner.h"
#include "network/curve.h"

namespace metajoule::experiments {

struct ServeOptions {
  /// Endpoint to bind, e.g. tcp://*:5555.
  std::string bind;
  /// Agents to wait for before the first round; 0 waits for every agent of the experiment.
  std::size_t agents_expected{0};
  /// CURVE (encryption and client keys) or none.
  network::ServerSecurity security{};
  /// Called around each round (tests inject faults here).
  ServerRoundHooks hooks{};
  /// Called once the server is bound, with the endpoint actually bound (the tcp port resolved).
  std::function<void(const std::string& endpoint)> on_bound{};
  /// Called about every 100 ms while the server waits for its agents to join; it may throw to
  /// stop waiting (`run --slurm`: the agents' srun step ended before they joined).
  std::function<void()> while_joining{};
};

/// Serves the meta methods of `config` (the others need no server and are skipped, with a note)
/// to remote agents: waits up to network.join_timeout_s for the agents, runs every round (a
/// report missing after network.round_timeout_s is recorded missing), then dismisses the agents.
/// Progress and the summary table go to `out`.
/// @throws ConfigError for a bad option (agents_expected above the experiment's agents, a config
/// too long to assign), std::runtime_error when too few agents join or the run fails.
RunSummary ServeExperiment(const ExperimentConfig& config, const ServeOptions& options,
                           std::ostream& out);

}  // namespace metajoule::experiments
