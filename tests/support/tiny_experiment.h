#pragma once
// The tiny two-cluster experiments of the experiments and cli tests: a cluster of 2-link arms
// ("a", reach2d) and one of point robots ("b", nav2d), appended to each test's own tables, and
// the overrides that keep a test's runs in its temporary folder.

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "experiments/experiment_config.h"

namespace metajoule::test {

/// The [[clusters]] tables: `arms` reach2d agents in "a", `points` nav2d agents in "b".
inline std::string TwoClusters(int arms = 3, int points = 2) {
  return "\n[[clusters]]\nname = \"a\"\nagents = " + std::to_string(arms) +
         "\ntask = { family = \"reach2d\" }\n\n[[clusters]]\nname = \"b\"\nagents = " +
         std::to_string(points) + "\ntask = { family = \"nav2d\" }\n";
}

/// Parses `tables` + TwoClusters(arms, points) as `file_name`, with its runs written below
/// `output_dir`, `threads` simulation threads, then the `extra` --set overrides.
inline experiments::ExperimentConfig ParseTwoClusterExperiment(
    const std::string& tables, const std::string& file_name,
    const std::filesystem::path& output_dir, std::vector<std::string> extra = {},
    int threads = 2, int arms = 3, int points = 2) {
  std::vector<std::string> overrides = {"experiment.output_dir=\"" + output_dir.string() + "\"",
                                        "sim.threads=" + std::to_string(threads)};
  overrides.insert(overrides.end(), std::make_move_iterator(extra.begin()),
                   std::make_move_iterator(extra.end()));
  return experiments::ParseExperiment(tables + TwoClusters(arms, points), file_name, overrides);
}

}  // namespace metajoule::test
