#include "report/gnuplot.h"

#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "tests/report/fixture.h"
#include "tests/support/temp_dir.h"

namespace metajoule::report {
namespace {

const std::string& DataFile(const GnuplotScript& script, const std::string& name) {
  for (const auto& [path, content] : script.data_files) {
    if (path == "data/" + name + ".dat") return content;
  }
  FAIL("no data file " << name);
  return script.script;
}

TEST_SUITE("report/gnuplot") {
  TEST_CASE("the script draws every figure to PNG and SVG from its data file") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const Report report = Analyse(ReadSource(dir.path()), {test::kTarget, "test"});
    const GnuplotScript script = BuildGnuplotScript(report);
    REQUIRE(script.figures.size() == 5);
    for (const FigureInfo& figure : script.figures) {
      CAPTURE(figure.name);
      CHECK(figure.drawn);
      CHECK(!figure.source.empty());
      CHECK(script.script.find("set output 'figures/" + figure.name + ".png'") != std::string::npos);
      CHECK(script.script.find("set output 'figures/" + figure.name + ".svg'") != std::string::npos);
      CHECK(script.script.find("'data/" + figure.name + ".dat'") != std::string::npos);
    }
    CHECK(script.script.find("set terminal pngcairo") != std::string::npos);
    CHECK(script.script.find("set terminal svg") != std::string::npos);
    CHECK(script.script.find("set style histogram rowstacked") != std::string::npos);
  }

  TEST_CASE("the energy bars' data file holds the energy-to-target split exactly") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const Report report = Analyse(ReadSource(dir.path()), {test::kTarget, "test"});
    std::istringstream data(DataFile(BuildGnuplotScript(report), "energy_to_target"));
    std::string line;
    std::getline(data, line);  // header comment
    for (const MethodSummary& s : report.summaries) {
      REQUIRE(std::getline(data, line));
      CAPTURE(line);
      const std::size_t close = line.find('"', 1);
      CHECK(line.substr(1, close - 1) == s.method);
      std::istringstream numbers(line.substr(close + 1));
      double compute = 0, ul = 0, dl = 0, sl = 0;
      numbers >> compute >> ul >> dl >> sl;
      CHECK(compute == s.mean_split.compute_j);
      CHECK(ul == s.mean_split.uplink_j);
      CHECK(dl == s.mean_split.downlink_j);
      CHECK(sl == s.mean_split.sidelink_j);
    }
    // the lifecycle lines: E(N) = 132 + 17 N, N × 30, and the break-even point
    const GnuplotScript script = BuildGnuplotScript(report);
    const std::string& lifecycle = DataFile(script, "lifecycle");
    CHECK(lifecycle.find("\n0 132\n") != std::string::npos);
    CHECK(lifecycle.find("N* = 10.15") != std::string::npos);
  }

  TEST_CASE("without a target the lifecycle figure is left out and says why") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path());
    const Report report = Analyse(ReadSource(dir.path()), {std::nullopt, "none"});
    const GnuplotScript script = BuildGnuplotScript(report);
    bool found = false;
    for (const FigureInfo& figure : script.figures) {
      if (figure.name != "lifecycle") continue;
      found = true;
      CHECK_FALSE(figure.drawn);
      CHECK(figure.caption.find("no target") != std::string::npos);
    }
    CHECK(found);
    CHECK(script.script.find("figures/lifecycle") == std::string::npos);
  }

  TEST_CASE("gnuplot strings double their quotes") {
    CHECK(GnuplotQuote("it's") == "'it''s'");
    CHECK(GnuplotQuote("a\nb") == "'ab'");
  }

  TEST_CASE("a missing gnuplot is an error naming the Debian package") {
    metajoule::test::TempDir dir;
    GnuplotOptions options;
    options.executable = "metajoule-no-such-gnuplot";
    CHECK_THROWS_WITH_AS(RunGnuplot(dir.path(), options), doctest::Contains("gnuplot-nox"),
                         GnuplotError);
    options.executable = (dir.path() / "bin" / "gnuplot").string();
    CHECK_THROWS_WITH_AS(RequireGnuplot(options),
                         doctest::Contains("install the Debian package gnuplot-nox"), GnuplotError);
    CHECK(FindExecutable("metajoule-no-such-gnuplot").empty());
  }

  TEST_CASE("a gnuplot error is reported with gnuplot's own message") {
    metajoule::test::TempDir dir;
    std::ofstream(dir.path() / "bad.gp") << "plot 'no-such-file.dat' using 1:2\n";
    if (FindExecutable("gnuplot").empty()) return;  // covered by the missing-gnuplot case
    try {
      RunGnuplot(dir.path(), {}, "bad.gp");
      FAIL("gnuplot accepted a plot of a missing file");
    } catch (const GnuplotError& error) {
      CHECK(std::string(error.what()).find("no-such-file.dat") != std::string::npos);
    }
  }
}

}  // namespace
}  // namespace metajoule::report
