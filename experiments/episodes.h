#pragma once
// Recorded episodes in a run folder (docs/recording.md, "Episodes in a run folder"):
//   <run>/episodes/<method>/agent-<node>-round-<round>-step-<adapt_step>.mjrec
// <node> is the agent's ledger node id (agents are nodes 1..N, node 0 is the server), <round>
// the ledger's round number, <adapt_step> the number of adaptation steps taken from the model
// the round started with (0: before adaptation). `metajoule replay RUN --agent K ...` finds
// them with FindRunEpisode.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sim/recording.h"

namespace metajoule::experiments {

/// One recording file of a run folder, as named.
struct RunEpisode {
  std::string method;
  int agent{0};  ///< ledger node id
  int round{0};
  int step{0};   ///< adaptation steps
  std::filesystem::path path;
  /// "maml agent 3 round 10 step 1"
  std::string Describe() const;
};

/// <run_folder>/episodes/<method>/agent-<agent>-round-<round>-step-<step>.mjrec. Throws
/// std::invalid_argument for a method name that is not a plain file name ([A-Za-z0-9_-]+) or a
/// negative number.
std::filesystem::path RunEpisodePath(const std::filesystem::path& run_folder,
                                     const std::string& method, int agent, int round, int step);

/// Writes `recording` under RunEpisodePath (creating the folders) and returns the path. An
/// existing file of the same name is replaced. Throws ConfigError naming the path on I/O errors
/// (sim::WriteRecording), std::invalid_argument as RunEpisodePath.
std::filesystem::path WriteRunEpisode(const std::filesystem::path& run_folder,
                                      const std::string& method, int agent, int round, int step,
                                      const sim::EpisodeRecording& recording);

/// Every recording of the run folder, sorted by method, agent, round, step. Files in
/// episodes/<method>/ whose names do not follow the pattern are ignored. Throws ConfigError
/// "<run_folder>: ..." when the folder has no episodes/ folder.
std::vector<RunEpisode> ListRunEpisodes(const std::filesystem::path& run_folder);

/// The recording of `agent` at adaptation step `step`: of `method` (omitted: the only method
/// that recorded episodes), in `round` (omitted: the latest round recorded for that agent and
/// step). Throws ConfigError "<run_folder>: --key: ..." naming the option at fault and listing
/// the valid choices (methods, agents, rounds, steps).
RunEpisode FindRunEpisode(const std::filesystem::path& run_folder,
                          const std::optional<std::string>& method, int agent,
                          std::optional<int> round, int step);

/// Energy of the ledger run of `method` in the run folder's ledger.sqlite over rounds <= `round`
/// (J, every node and link), or nullopt when there is no ledger or no run of that method. Reads
/// the ledger only (the latest run of that method if there are several).
std::optional<double> RunEnergyThroughRound(const std::filesystem::path& run_folder,
                                            const std::string& method, int round);

}  // namespace metajoule::experiments
