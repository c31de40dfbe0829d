// `metajoule study`: the meta-learning study of docs/meta.md ("Measured results") from the
// command line, so that its tables can be reproduced, and extended to other seeds, without
// writing C++: meta-train every method on one task cluster, then the evaluation protocol of Finn
// et al. 2017 on held-out tasks (returns after 0-3 adaptation steps, gaps closed, paired margins).

#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include "cli/command.h"
#include "experiments/meta_study.h"

namespace metajoule::cli {

std::function<int()> ConfigureStudy(CLI::App& app) {
  struct Options {
    std::string study;
    std::uint64_t seed{1};
    int test_tasks{0};
    int threads{0};
    bool no_oracle{false};
  };
  auto options = std::make_shared<Options>();
  // the settings docs/meta.md reports, by name
  static const std::map<std::string, experiments::MetaStudyConfig (*)()> kStudies = {
      {"nav2d", &experiments::Nav2dStudy},
      {"reach2d", &experiments::Reach2dStudy},
      {"reach2d-trpo", &experiments::Reach2dTrpoStudy}};
  app.add_option("study", options->study,
                 "nav2d (2-D navigation), reach2d (2-link arm, Adam outer step) or reach2d-trpo "
                 "(MAML-TRPO against pretrained)")
      ->required()
      ->check(CLI::IsMember({"nav2d", "reach2d", "reach2d-trpo"}));
  app.add_option("--seed", options->seed,
                 "the study's seed: training and held-out tasks, initialisation, every stream")
      ->capture_default_str();
  app.add_option("--test-tasks", options->test_tasks,
                 "held-out tasks evaluated (default: the study's own, 10)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--threads", options->threads,
                 "threads for contributions and evaluation (default: the study's, 2); results "
                 "do not depend on it")
      ->check(CLI::Range(1, 1000000));
  app.add_flag("--no-oracle", options->no_oracle,
               "skip the oracle (its row and the gaps closed are then missing)");
  return [options] {
    experiments::MetaStudyConfig config = kStudies.at(options->study)();
    config.seed = options->seed;
    if (options->test_tasks > 0) config.test_tasks = options->test_tasks;
    if (options->threads > 0) config.threads = options->threads;
    if (options->no_oracle) config.run_oracle = false;
    const experiments::MetaStudyResult result = experiments::RunMetaStudy(config, &std::cerr);
    std::cout << experiments::FormatMetaStudy(result) << std::flush;
    return kExitOk;
  };
}

}  // namespace metajoule::cli
