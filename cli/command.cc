#include "cli/command.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace metajoule::cli {

std::span<const Command> Commands() {
  static const Command kCommands[] = {
      {"run", "run an experiment file: every listed method, recorded in a new run folder's ledger",
       &ConfigureRun},
      {"batch", "run a sweep's cells in parallel here or as a Slurm job array; merge their ledgers",
       &ConfigureBatch},
      {"serve", "serve an experiment's meta methods to remote agents (metajoule agent) over tcp",
       &ConfigureServe},
      {"agent", "one robot process: join a server, take the assigned task, answer its rounds",
       &ConfigureAgent},
      {"keys", "write a CURVE key pair (public and secret key files) for serve and agent",
       &ConfigureKeys},
      {"check", "load and validate an experiment file, print the resolved config",
       &ConfigureCheck},
      {"ledger", "inspect a run's ledger: list runs, export CSV, reprice energy and carbon",
       &ConfigureLedger},
      {"report", "figures and a self-contained HTML page from a run folder or a batch",
       &ConfigureReport},
      {"replay", "replay recorded episodes in a window, or headless to .mp4, .gif or PNG frames",
       &ConfigureReplay},
      {"study", "the meta-learning study (docs/meta.md): meta-train, then adapt on held-out tasks",
       &ConfigureStudy},
      {"bench", "measure our hot paths against raw baselines in the same run", &ConfigureBench},
      {"version", "print the version, commit and library versions", &ConfigureVersion},
  };
  return kCommands;
}

int RunCli(std::span<const std::string> args) {
  CLI::App app{"metajoule: energy-aware multi-task reinforcement learning on networked robots",
               "metajoule"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "print help for every command");

  std::function<int()> action;
  for (const Command& command : Commands()) {
    CLI::App* sub = app.add_subcommand(std::string(command.name), std::string(command.summary));
    auto run = command.configure(*sub);
    sub->callback([&action, run] { action = run; });
  }

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? kExitOk : kExitUsageOrConfig;
  }

  try {
    return action ? action() : kExitUsageOrConfig;
  } catch (const ConfigError& error) {
    std::cerr << "error: " << error.what() << "\n";
    return kExitUsageOrConfig;
  } catch (const std::invalid_argument& error) {
    std::cerr << "error: " << error.what() << "\n";
    return kExitUsageOrConfig;
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return kExitRuntimeFailure;
  }
}

}  // namespace metajoule::cli
