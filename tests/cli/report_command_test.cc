#include "cli/report_command.h"

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "cli/command.h"
#include "experiments/experiment_config.h"
#include "tests/report/fixture.h"
#include "tests/support/temp_dir.h"

namespace metajoule::cli {
namespace {

std::string ConfigWithTarget(const char* target_line) {
  const experiments::ExperimentConfig config = experiments::ParseExperiment(
      std::string("[experiment]\nname = \"q\"\n[evaluation]\n") + target_line +
          "\n[[clusters]]\nname = \"c\"\nagents = 2\n[clusters.task]\nfamily = \"reach2d\"\n",
      "test");
  return experiments::ResolvedToml(config);
}

report::ReportInput Folders(const std::vector<std::string>& configs) {
  report::ReportInput input;
  for (const std::string& text : configs) {
    report::FolderData folder;
    folder.folder = "cell" + std::to_string(input.folders.size());
    folder.config_text = text;
    input.folders.push_back(folder);
  }
  return input;
}

TEST_SUITE("cli/report_command") {
  TEST_CASE("the report target comes from --target, else from the runs' stored config") {
    const std::string with = ConfigWithTarget("target_return = -12.5");
    const std::string without = ConfigWithTarget("held_out_tasks = 2");
    const report::Target flag = ResolveReportTarget(Folders({with}), -3.0);
    CHECK(flag.value == -3.0);
    CHECK(flag.source == "--target");
    const report::Target stored = ResolveReportTarget(Folders({with, with}), std::nullopt);
    CHECK(stored.value == -12.5);
    CHECK(stored.source.find("evaluation.target_return") != std::string::npos);
    const report::Target none = ResolveReportTarget(Folders({without}), std::nullopt);
    CHECK_FALSE(none.value.has_value());
    CHECK(none.source.find("no --target") != std::string::npos);
    CHECK_THROWS_WITH_AS(ResolveReportTarget(Folders({with, without}), std::nullopt),
                         doctest::Contains("pass --target"), std::invalid_argument);
    const report::Target unreadable =
        ResolveReportTarget(Folders({"not = [toml"}), std::nullopt);
    CHECK_FALSE(unreadable.value.has_value());
    CHECK(unreadable.source.find("could not be read") != std::string::npos);
  }

  TEST_CASE("report exit codes: 0 ok, 2 bad source, 1 missing gnuplot") {
    metajoule::test::TempDir dir;
    report::test::WriteFixtureLedger(dir.path() / "run",
                                     ConfigWithTarget("target_return = -15.0"));
    const std::string run = (dir.path() / "run").string();
    const std::string out = (dir.path() / "out").string();
    CHECK(RunCli(std::vector<std::string>{"report", (dir.path() / "absent").string()}) ==
          kExitUsageOrConfig);
    CHECK(RunCli(std::vector<std::string>{"report", run, "--format", "pdf"}) == kExitUsageOrConfig);
    CHECK(RunCli(std::vector<std::string>{"report", run, "--gnuplot",
                                          (dir.path() / "no-gnuplot").string()}) ==
          kExitRuntimeFailure);
    CHECK(RunCli(std::vector<std::string>{"report", run, "--out", out, "--format", "md"}) == kExitOk);
    CHECK(std::filesystem::exists(dir.path() / "out" / "report.md"));
    CHECK_FALSE(std::filesystem::exists(dir.path() / "out" / "report.html"));
  }
}

}  // namespace
}  // namespace metajoule::cli
