#pragma once
// The episodes a run records for replay (docs/replay.md "Episodes of a run", docs/recording.md
// "Episodes in a run folder"). After a method has trained, the first recording.agents agents of
// each cluster play their trained policy on their own task (agents::RecordPolicyEpisode), and
// the recordings go to
//   <run>/episodes/<method>/agent-<node>-round-<last round>-step-<s>.mjrec
// - meta methods: the trained meta-model theta (step 0), then theta_s after each of the
//   meta.eval.adaptation_steps VPG steps on the agent's task (s = 1..S, meta::AdaptOnTask);
// - scratch: the agent's final parameters (step 0);
// - random: nothing (there is no trained model).
// Every draw comes from seed_stream::kReplay, so the same config and seed give byte-identical
// files, and the training's random streams are untouched. The recording's work is a replay
// artefact, not the method's energy: nothing of it goes to the ledger.

#include <cstddef>
#include <filesystem>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "agents/math/gaussian_policy.h"
#include "common/thread_pool.h"
#include "experiments/experiment_config.h"
#include "experiments/local_methods.h"
#include "experiments/meta_run.h"
#include "experiments/population.h"
#include "meta/meta_config.h"
#include "meta/task_env.h"

namespace metajoule::experiments {

/// The population indices of the agents [recording] records: the first recording.agents
/// agents of each cluster (every one of a smaller cluster), in population order. Empty when
/// recording.episodes is "none" or recording.agents is 0.
std::vector<std::size_t> RecordedAgents(const ExperimentConfig& config,
                                        const Population& population);

/// Records the meta-model episodes of `method` (trained by RunMeta on `population`) into
/// `run_folder`: per recorded agent, steps 0..S in round training.rounds. Returns the number
/// of files written.
int RecordMetaEpisodes(const ExperimentConfig& config, meta::MetaMethod method,
                       const Population& population, const MetaRunResult& trained,
                       const std::filesystem::path& run_folder, ThreadPool& pool);

/// Records each recorded agent's final scratch policy (step 0, round training.rounds). Returns
/// the number of files written.
int RecordScratchEpisodes(const ExperimentConfig& config, const Population& population,
                          const ScratchResult& trained, const std::filesystem::path& run_folder,
                          ThreadPool& pool);

/// The runner's call after method `method` has trained: records what it left (`meta` for a
/// meta method, `scratch` for scratch, neither for random) unless recording.episodes is "none",
/// and prints "episodes: N recordings in <run_folder>/episodes/<method>". Returns N.
int RecordMethodEpisodes(const ExperimentConfig& config, const std::string& method,
                         const Population& population, const MetaRunResult* meta,
                         meta::MetaMethod meta_method, const ScratchResult* scratch,
                         const std::filesystem::path& run_folder, ThreadPool& pool,
                         std::ostream& out);

}  // namespace metajoule::experiments
