#include "report/make_report.h"

#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "report/benchmark.h"
#include "tests/report/fixture.h"
#include "tests/support/temp_dir.h"

namespace metajoule::report {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TargetResolver Fixed(std::optional<double> value) {
  return [value](const ReportInput&) { return Target{value, "test"}; };
}

void CheckFigures(const ReportOutput& out, const fs::path& dir) {
  for (const FigureInfo& figure : out.figures) {
    CAPTURE(figure.name);
    if (!figure.drawn) continue;
    const std::string png = Read(dir / "figures" / (figure.name + ".png"));
    REQUIRE(png.size() > 1000);
    CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
    const std::string svg = Read(dir / "figures" / (figure.name + ".svg"));
    CHECK(svg.find("<svg") != std::string::npos);
    CHECK(svg.find("</svg>") != std::string::npos);
  }
}

TEST_SUITE("report/make_report") {
  TEST_CASE("a run folder's report has PNG and SVG figures and a self-contained HTML page") {
    metajoule::test::TempDir dir;
    test::WriteFixtureLedger(dir.path() / "run");
    ReportOptions options;
    options.out_dir = dir.path() / "out";
    const ReportOutput out = MakeReport(dir.path() / "run", options, Fixed(test::kTarget));
    REQUIRE(out.figures.size() == 5);
    for (const FigureInfo& f : out.figures) CHECK(f.drawn);
    CheckFigures(out, options.out_dir);
    const std::string html = Read(out.html_file);
    CHECK(html.find("<!DOCTYPE html>") == 0);
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("data:image/png;base64,iVBORw0KGgo") != std::string::npos);
    CHECK(html.find("src=\"figures/") == std::string::npos);  // nothing outside the page
    CHECK(html.find("<?xml") == std::string::npos);
    const std::string md = Read(out.markdown_file);
    CHECK(md.find("figures/tradeoff.png") != std::string::npos);
    CHECK(fs::exists(options.out_dir / "report.gp"));
    CHECK(fs::exists(options.out_dir / "data" / "returns_energy.dat"));
    CHECK(out.timings.gnuplot_s > 0.0);
  }

  TEST_CASE("a batch's report draws the measured trade-off map") {
    metajoule::test::TempDir dir;
    SyntheticRunOptions base;
    base.agents = 2;
    base.rounds = 8;
    CHECK(WriteSyntheticBatch(dir.path() / "batch", 6, base) > 0);
    ReportOptions options;
    options.out_dir = dir.path() / "out";
    options.markdown = false;
    const ReportOutput out =
        MakeReport(dir.path() / "batch", options, Fixed(kSyntheticTarget));
    CHECK(out.report.kind == SourceKind::kBatch);
    CHECK(out.report.folders == 6);
    CHECK_FALSE(out.report.tradeoff.repriced);
    CHECK(out.report.tradeoff.uplink_values.size() == 5);
    CHECK(out.report.tradeoff.sidelink_values.size() == 2);
    CheckFigures(out, options.out_dir);
    CHECK(out.markdown_file.empty());
    CHECK(Read(out.html_file).find("Cells") != std::string::npos);
  }

  TEST_CASE("a missing gnuplot fails before reading anything and names the package") {
    metajoule::test::TempDir dir;
    ReportOptions options;
    options.out_dir = dir.path() / "out";
    options.gnuplot.executable = (dir.path() / "no-gnuplot").string();
    bool read = false;
    CHECK_THROWS_WITH_AS(MakeReport(dir.path() / "absent", options,
                                    [&read](const ReportInput&) {
                                      read = true;
                                      return Target{};
                                    }),
                         doctest::Contains("gnuplot-nox"), GnuplotError);
    CHECK_FALSE(read);
    CHECK_FALSE(fs::exists(options.out_dir));
  }
}

}  // namespace
}  // namespace metajoule::report
