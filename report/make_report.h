#pragma once
// `metajoule report`, end to end: read the ledgers, analyse, draw every figure with one gnuplot
// run, write the pages. The target return is resolved by the caller (the CLI reads it from the
// runs' stored config, which only experiments/ can parse).

#include <filesystem>
#include <functional>

#include "report/gnuplot.h"
#include "report/html.h"
#include "report/report_data.h"

namespace metajoule::report {

struct ReportOptions {
  std::filesystem::path out_dir{};  ///< created when missing
  bool html{true};
  bool markdown{true};
  GnuplotOptions gnuplot{};
  AnalysisOptions analysis{};
};

/// Wall seconds of each step.
struct ReportTimings {
  double read_s{0.0};      ///< ReadSource: every ledger
  double analyse_s{0.0};   ///< Analyse (with the target resolution)
  double script_s{0.0};    ///< BuildGnuplotScript + WriteGnuplotFiles
  double gnuplot_s{0.0};   ///< the one gnuplot run
  double pages_s{0.0};     ///< HTML and Markdown
  double total_s{0.0};
};

struct ReportOutput {
  Report report{};
  std::vector<FigureInfo> figures{};
  std::filesystem::path html_file{};      ///< empty when not written
  std::filesystem::path markdown_file{};  ///< empty when not written
  ReportTimings timings{};
};

/// Resolves the target from what was read (e.g. the runs' stored config).
using TargetResolver = std::function<Target(const ReportInput&)>;

/// Writes the report of `source` (a run folder or a batch folder) into options.out_dir:
/// report.html, report.md, report.gp, data/, figures/. Checks for gnuplot first, so a missing
/// gnuplot fails before any ledger is read. Throws as ReadSource, RunGnuplot, RenderHtml.
ReportOutput MakeReport(const std::filesystem::path& source, const ReportOptions& options,
                        const TargetResolver& resolve_target);

}  // namespace metajoule::report
