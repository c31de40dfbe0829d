#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "experiments/experiment_config.h"
#include "experiments/runner.h"

namespace metajoule::cli {

std::function<int()> ConfigureRun(CLI::App& app) {
  struct Options {
    std::string file;
    std::vector<std::string> overrides;
  };
  auto options = std::make_shared<Options>();
  app.add_option("file", options->file, "experiment file (TOML)")->required();
  app.add_option("--set", options->overrides, "override a key: a.b.c=value (TOML syntax)");
  return [options] {
    const auto config = experiments::LoadExperiment(options->file, options->overrides);
    experiments::RunExperiment(config, std::cout);
    return kExitOk;
  };
}

}  // namespace metajoule::cli
