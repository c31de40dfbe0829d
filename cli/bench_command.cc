#include <iostream>

#include "cli/command.h"

namespace metajoule::cli {

std::function<int()> ConfigureBench(CLI::App& app) {
  app.require_subcommand(0, 1);
  return [] {
    std::cerr << "bench: no benchmarks yet\n";
    return kExitRuntimeFailure;
  };
}

}  // namespace metajoule::cli
