// The `metajoule` binary: every subcommand comes from cli/command.cc's table.
#include <string>
#include <vector>

#include "cli/command.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return metajoule::cli::RunCli(args);
}
