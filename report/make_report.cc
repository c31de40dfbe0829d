#include "report/make_report.h"

#include <chrono>
#include <fstream>
#include <stdexcept>

namespace metajoule::report {
namespace {

namespace fs = std::filesystem;

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void WriteText(const fs::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  if (!file.flush()) throw std::runtime_error(path.string() + ": cannot write");
}

}  // namespace

ReportOutput MakeReport(const std::filesystem::path& source, const ReportOptions& options,
                        const TargetResolver& resolve_target) {
  RequireGnuplot(options.gnuplot);  // fail before reading anything
  const auto start = std::chrono::steady_clock::now();
  ReportOutput out;

  auto step = std::chrono::steady_clock::now();
  const ReportInput input = ReadSource(source);
  out.timings.read_s = Since(step);

  step = std::chrono::steady_clock::now();
  out.report = Analyse(input, resolve_target(input), options.analysis);
  out.timings.analyse_s = Since(step);

  step = std::chrono::steady_clock::now();
  const GnuplotScript script = BuildGnuplotScript(out.report, options.gnuplot);
  WriteGnuplotFiles(script, options.out_dir);
  out.figures = script.figures;
  out.timings.script_s = Since(step);

  out.timings.gnuplot_s = RunGnuplot(options.out_dir, options.gnuplot);

  step = std::chrono::steady_clock::now();
  if (options.html) {
    out.html_file = options.out_dir / "report.html";
    WriteText(out.html_file, RenderHtml(out.report, out.figures, options.out_dir));
  }
  if (options.markdown) {
    out.markdown_file = options.out_dir / "report.md";
    WriteText(out.markdown_file, RenderMarkdown(out.report, out.figures));
  }
  out.timings.pages_s = Since(step);
  out.timings.total_s = Since(start);
  return out;
}

}  // namespace metajoule::report
