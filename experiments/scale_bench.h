#pragma once
// The one-machine scale benchmark behind `metajoule bench scale` (issue #9 "One machine, many
// agents"): runs one experiment per (method, agent count) through the public RunExperiment, with
// clusters of reaching arms, and measures the time of one training round, the process's memory
// and its threads. Each size runs in its own child process (fork), so every memory figure starts
// from the same baseline and no size inherits another's heap. docs/scale.md records the figures.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "experiments/experiment_config.h"

namespace metajoule::experiments {

/// What to run. Agent counts are split into clusters of `cluster_size` agents (the last cluster
/// takes the remainder), every cluster on `family` with its default goal box.
struct ScaleBenchOptions {
  std::vector<int> agents{8, 32, 128, 512};
  std::vector<std::string> methods{"scratch", "fomaml"};
  std::string family{"reach2d"};
  int cluster_size{32};
  /// Training rounds per run; the first absorbs first-touch costs, the round time is the median
  /// of the intervals between rounds 1..rounds (>= 2).
  int rounds{3};
  /// Episodes per learner update (scratch: agents.episodes_per_update; meta methods:
  /// meta.inner_episodes and meta.outer_episodes). 20 is the default of both.
  int episodes{20};
  int threads{0};  ///< sim.threads; 0 = every core
  std::int64_t seed{1};
  std::string directory{};  ///< run folders go here; empty = a fresh temp dir, removed after
  /// Run each size in a child process (the default); false runs them in this process, in order,
  /// where memory figures then include what earlier sizes left in the allocator.
  bool fork{true};
};

/// Figures of one (method, agent count) run.
struct ScaleBenchRow {
  std::string method{};
  int agents{0};
  int clusters{0};
  int pool_threads{0};     ///< threads of the run's pool (sim.threads resolved)
  int process_threads{0};  ///< threads of the process while training (/proc/self/status Threads)
  int timed_rounds{0};
  double round_seconds{0.0};       ///< median interval between consecutive rounds
  double per_agent_ms{0.0};        ///< round_seconds / agents, in ms
  double ratio_to_first{0.0};      ///< per_agent_ms / that of the smallest size of the method
  /// CPU time of the process (every thread, getrusage) per round and agent, in ms: unlike wall
  /// time it does not grow when other processes share the cores
  double cpu_per_agent_ms{0.0};
  double cpu_ratio_to_first{0.0};  ///< cpu_per_agent_ms / that of the smallest size
  double rss_before_mb{0.0};       ///< VmRSS before RunExperiment
  double rss_training_mb{0.0};     ///< largest VmRSS seen at a round boundary
  double peak_mb{0.0};             ///< max(VmHWM at the end of the run, rss_training)
  double rss_per_agent_mb{0.0};    ///< (rss_training - rss_before) / agents
  double peak_per_agent_mb{0.0};   ///< (peak - rss_before) / agents
  /// (peak - peak of the next smaller size) / (agents - its agents): the marginal memory of
  /// one more agent, free of the run's fixed costs (pool, ledger, worlds); 0 for the smallest.
  double marginal_mb{0.0};
};

/// The experiment the benchmark runs for `method` on `agents` agents (validated).
ExperimentConfig ScaleBenchConfig(const ScaleBenchOptions& options, const std::string& method,
                                  int agents, const std::string& output_dir);

/// Runs every method at every agent count (ascending), one child process per run; a line per
/// finished run goes to `progress` when given.
/// Throws std::invalid_argument for bad options (non-positive sizes, rounds < 2, an unknown
/// method or family), std::runtime_error when a run fails (with its message).
std::vector<ScaleBenchRow> RunScaleBenchmark(const ScaleBenchOptions& options,
                                             std::ostream* progress = nullptr);

/// An aligned table of the rows, with the targets of issue #9 (per-agent round time at the
/// largest size within 1.2x of the smallest; memory <= 4 MB per agent).
std::string FormatScaleBenchmark(const ScaleBenchOptions& options,
                                 const std::vector<ScaleBenchRow>& rows);

}  // namespace metajoule::experiments
