#pragma once
// The report's figures, drawn by gnuplot (Debian package gnuplot-nox) from generated data files
// and one generated script: every figure in PNG (pngcairo) and SVG, all in one gnuplot run.
//
//   <out>/report.gp           the script (readable; re-run it with `gnuplot report.gp` in <out>)
//   <out>/data/<figure>.dat   the numbers each figure plots, one file per figure
//   <out>/figures/<figure>.{png,svg}
//
// docs/report.md lists each figure and the ledger query behind it.

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "report/report_data.h"

namespace metajoule::report {

struct GnuplotOptions {
  /// The gnuplot executable: a name looked up in PATH, or a path.
  std::string executable{"gnuplot"};
  int width_px{960};
  int height_px{560};
  std::string font{"sans,11"};
};

/// One figure of the report.
struct FigureInfo {
  std::string name{};     ///< file stem: figures/<name>.png, .svg; data/<name>.dat
  std::string title{};
  std::string caption{};  ///< what it shows and how to read it
  std::string source{};   ///< the ledger rows or query behind it
  bool drawn{false};      ///< false: left out, `caption` says why
};

/// The generated script, its data files and the figures it draws.
struct GnuplotScript {
  std::string script{};
  std::vector<std::pair<std::string, std::string>> data_files{};  ///< relative path, content
  std::vector<FigureInfo> figures{};
};

/// Generates the script and the data files for `report` (pure, no I/O). Numbers in data files
/// are printed with 17 significant digits, so they read back bit for bit.
GnuplotScript BuildGnuplotScript(const Report& report, const GnuplotOptions& options = {});

/// Writes report.gp and data/*.dat under `out_dir` and creates out_dir/figures. Throws
/// std::runtime_error naming the file on a write failure.
void WriteGnuplotFiles(const GnuplotScript& script, const std::filesystem::path& out_dir);

/// gnuplot is missing, failed to start, or reported an error.
class GnuplotError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The gnuplot executable that RunGnuplot would start. Throws GnuplotError naming the Debian
/// package gnuplot-nox when options.executable is not found.
std::filesystem::path RequireGnuplot(const GnuplotOptions& options = {});

/// Runs `options.executable report.gp` in `out_dir` (output to out_dir/gnuplot.log) and returns
/// its wall time in seconds. Throws GnuplotError: when the executable is not found (the message
/// names the Debian package gnuplot-nox), cannot be started, or exits with an error (the message
/// holds the end of its log).
double RunGnuplot(const std::filesystem::path& out_dir, const GnuplotOptions& options = {},
                  const std::string& script_name = "report.gp");

/// The executable gnuplot would run as: `name` itself when it holds a '/', else the first match
/// in PATH; empty when there is none (or it is not executable).
std::filesystem::path FindExecutable(const std::string& name);

/// Gnuplot single-quoted string literal: 'text' with quotes doubled.
std::string GnuplotQuote(std::string_view text);

}  // namespace metajoule::report
