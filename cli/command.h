#pragma once
// The `metajoule` command table: one explicit list (STYLE.md section 7), from which the help
// text is generated, so names cannot drift out of sync.

#include <functional>
#include <span>
#include <string_view>

#include <CLI/CLI.hpp>

namespace metajoule::cli {

/// Exit codes of every command (and of the binary).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeFailure = 1;
inline constexpr int kExitUsageOrConfig = 2;

/// One subcommand. `configure` adds the command's options to its CLI11 sub-app and returns the
/// action that runs the command once the command line has been parsed; the action returns an
/// exit code and may throw (ConfigError -> 2, anything else -> 1).
struct Command {
  std::string_view name;
  std::string_view summary;
  std::function<int()> (*configure)(CLI::App& app);
};

/// Every subcommand, in the order `metajoule --help` lists them.
std::span<const Command> Commands();

/// Parses `args` (without the program name) and runs the chosen command; returns its exit code.
/// Every exception stops here: config and usage errors print "error: ..." and return 2, runtime
/// failures return 1.
int RunCli(std::span<const std::string> args);

// The commands, one file each (cli/<name>_command.cc).
std::function<int()> ConfigureVersion(CLI::App& app);
std::function<int()> ConfigureCheck(CLI::App& app);
std::function<int()> ConfigureRun(CLI::App& app);
std::function<int()> ConfigureServe(CLI::App& app);
std::function<int()> ConfigureAgent(CLI::App& app);
std::function<int()> ConfigureKeys(CLI::App& app);
std::function<int()> ConfigureBatch(CLI::App& app);
std::function<int()> ConfigureBench(CLI::App& app);
std::function<int()> ConfigureStudy(CLI::App& app);
std::function<int()> ConfigureLedger(CLI::App& app);
std::function<int()> ConfigureReport(CLI::App& app);
std::function<int()> ConfigureReplay(CLI::App& app);

}  // namespace metajoule::cli
