// `metajoule batch` on the command line: the parts that run no cell (cells run as child processes
// of the metajoule binary; tests/experiments/batch_test.cc covers them).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "tests/support/temp_dir.h"

namespace metajoule::cli {
namespace {

void Write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// Runs the CLI with stdout and stderr captured.
int Run(std::vector<std::string> args, std::string* output = nullptr) {
  std::ostringstream captured;
  std::streambuf* old_out = std::cout.rdbuf(captured.rdbuf());
  std::streambuf* old_err = std::cerr.rdbuf(captured.rdbuf());
  const int code = RunCli(args);
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  if (output != nullptr) *output = captured.str();
  return code;
}

struct Fixture {
  test::TempDir dir;
  Fixture() {
    Write(dir.path() / "tiny.toml",
          "[experiment]\nname = \"tiny\"\n[[clusters]]\nname = \"a\"\nagents = 2\n"
          "task = { family = \"nav2d\" }\n");
    Write(dir.path() / "sweep.toml", "[sweep]\nbase = \"tiny.toml\"\noutput_dir = \"" +
                                         dir.File("out") +
                                         "\"\n[grid]\n\"experiment.seed\" = [1, 2]\n");
  }
};

TEST_SUITE("cli/batch_command") {
  TEST_CASE("batch --dry-run lists the cells and the job array script and writes nothing") {
    Fixture f;
    std::string output;
    CHECK(Run({"batch", f.dir.File("sweep.toml"), "--dry-run", "--slurm"}, &output) == kExitOk);
    CHECK(output.find("sweep sweep: 2 cells") != std::string::npos);
    CHECK(output.find("c0001  pending  seed=2") != std::string::npos);
    CHECK(output.find("#SBATCH --array=0-1\n") != std::string::npos);
    CHECK(!std::filesystem::exists(f.dir.path() / "out"));
  }

  TEST_CASE("batch usage and sweep errors exit with 2") {
    Fixture f;
    std::string output;
    CHECK(Run({"batch"}, &output) == kExitUsageOrConfig);
    CHECK(Run({"batch", f.dir.File("sweep.toml"), "--wait"}, &output) == kExitUsageOrConfig);
    CHECK(Run({"batch", f.dir.File("sweep.toml"), "--cell", "3", "--slurm"}, &output) ==
          kExitUsageOrConfig);
    CHECK(Run({"batch", f.dir.File("sweep.toml"), "--cell", "c0009"}, &output) ==
          kExitUsageOrConfig);
    CHECK(output.find("--cell: no cell \"c0009\"") != std::string::npos);
    Write(f.dir.path() / "bad.toml",
          "[sweep]\nbase = \"tiny.toml\"\n[grid]\n\"sim.thread\" = [1]\n");
    CHECK(Run({"batch", f.dir.File("bad.toml")}, &output) == kExitUsageOrConfig);
    CHECK(output.find("bad.toml:4:17: sim.thread: unknown key") != std::string::npos);
  }
}

}  // namespace
}  // namespace metajoule::cli
