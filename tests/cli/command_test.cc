#include "cli/command.h"

#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace metajoule::cli {
namespace {

int Run(std::vector<std::string> args) { return RunCli(args); }

TEST_SUITE("cli/command") {
  TEST_CASE("command names are unique and every command has a summary") {
    std::set<std::string_view> names;
    for (const Command& command : Commands()) {
      CHECK(names.insert(command.name).second);
      CHECK(!command.summary.empty());
    }
    CHECK(names.count("run") == 1);
    CHECK(names.count("check") == 1);
    CHECK(names.count("version") == 1);
  }

  TEST_CASE("exit codes: 0 ok, 2 usage or config error") {
    CHECK(Run({"version"}) == kExitOk);
    CHECK(Run({"--help"}) == kExitOk);
    CHECK(Run({}) == kExitUsageOrConfig);
    CHECK(Run({"no-such-command"}) == kExitUsageOrConfig);
    CHECK(Run({"check"}) == kExitUsageOrConfig);
    CHECK(Run({"check", "/nonexistent.toml"}) == kExitUsageOrConfig);
    // --set with --resume only checks a FILE's overrides against the run: without FILE, refused
    CHECK(Run({"run", "--resume", METAJOULE_SOURCE_DIR, "--set", "training.rounds=2"}) ==
          kExitUsageOrConfig);
    CHECK(Run({"study", "no-such-study"}) == kExitUsageOrConfig);
    CHECK(Run({"study", "nav2d", "--test-tasks", "0"}) == kExitUsageOrConfig);
  }

  TEST_CASE("check accepts the shipped quickstart experiment") {
    CHECK(Run({"check", std::string(METAJOULE_SOURCE_DIR) + "/experiments/quickstart.toml"}) ==
          kExitOk);
  }
}

}  // namespace
}  // namespace metajoule::cli
