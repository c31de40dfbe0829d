#include "cli/report_command.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "cli/command.h"
#include "experiments/experiment_config.h"
#include "report/make_report.h"

namespace metajoule::cli {

report::Target ResolveReportTarget(const report::ReportInput& input, std::optional<double> flag) {
  if (flag) return {flag, "--target"};
  // each distinct stored config parsed once (a batch's cells usually differ only by overrides)
  std::map<std::string, std::optional<double>> parsed;
  std::string first_error;
  std::optional<double> value;
  std::string value_folder;
  bool any = false;
  for (const report::FolderData& folder : input.folders) {
    if (folder.config_text.empty()) continue;
    auto it = parsed.find(folder.config_text);
    if (it == parsed.end()) {
      std::optional<double> target;
      try {
        target = experiments::ParseExperiment(folder.config_text,
                                              (folder.folder / "ledger.sqlite").string() +
                                                  " (runs.config)")
                     .evaluation.target_return;
      } catch (const std::exception& error) {
        if (first_error.empty()) first_error = error.what();
        continue;
      }
      it = parsed.emplace(folder.config_text, target).first;
    }
    if (any && it->second != value) {
      const auto text = [](const std::optional<double>& v) {
        return v ? report::FormatNumber(*v) : std::string("unset");
      };
      throw std::invalid_argument(
          "the runs' configs disagree on evaluation.target_return: " + text(value) + " in " +
          value_folder + ", " + text(it->second) + " in " + folder.folder.string() +
          "; pass --target R");
    }
    any = true;
    value = it->second;
    value_folder = folder.folder.string();
  }
  if (value) return {value, "evaluation.target_return of the runs' stored config"};
  if (!any && !first_error.empty()) {
    return {std::nullopt, "no --target, and the runs' stored config could not be read: " + first_error};
  }
  return {std::nullopt, "no --target and no evaluation.target_return in the runs' config"};
}

std::function<int()> ConfigureReport(CLI::App& app) {
  struct Options {
    std::string source;
    std::string out;
    std::optional<double> target;
    std::string format{"both"};
    std::string gnuplot{"gnuplot"};
  };
  auto options = std::make_shared<Options>();
  app.add_option("source", options->source, "run folder (ledger.sqlite) or batch folder (cells.csv)")
      ->required();
  app.add_option("--out", options->out, "report folder (default: SOURCE/report)");
  app.add_option("--target", options->target,
                 "target return for energy-to-target (default: evaluation.target_return of the "
                 "runs' config)");
  app.add_option("--format", options->format, "pages to write: html, md or both")
      ->check(CLI::IsMember({"html", "md", "both"}))
      ->capture_default_str();
  app.add_option("--gnuplot", options->gnuplot, "gnuplot executable (Debian: gnuplot-nox)")
      ->capture_default_str();
  return [options] {
    if (options->target && !std::isfinite(*options->target)) {
      throw ConfigError({"--target"}, "", "expected a finite number");
    }
    report::ReportOptions report_options;
    report_options.out_dir = options->out.empty()
                                 ? std::filesystem::path(options->source) / "report"
                                 : std::filesystem::path(options->out);
    if (std::filesystem::is_regular_file(options->source) && options->out.empty()) {
      report_options.out_dir = std::filesystem::path(options->source).parent_path() / "report";
    }
    report_options.html = options->format != "md";
    report_options.markdown = options->format != "html";
    report_options.gnuplot.executable = options->gnuplot;
    const std::optional<double> flag = options->target;
    const report::ReportOutput out = report::MakeReport(
        options->source, report_options,
        [flag](const report::ReportInput& input) { return ResolveReportTarget(input, flag); });

    const report::Report& r = out.report;
    std::printf("report: %s, %d %s, target %s (%s)\n",
                r.kind == report::SourceKind::kBatch ? "batch" : "run folder", r.folders,
                r.folders == 1 ? "ledger" : "ledgers",
                r.target.value ? report::FormatNumber(*r.target.value).c_str() : "none",
                r.target.source.c_str());
    for (const report::LeftOutCell& cell : r.left_out) {
      std::fprintf(stderr, "warning: cell %s left out: %s\n", cell.cell.c_str(), cell.reason.c_str());
    }
    for (const report::FigureInfo& figure : out.figures) {
      std::printf("  %-18s %s\n", figure.name.c_str(),
                  figure.drawn ? "figures/*.png, *.svg" : figure.caption.c_str());
    }
    if (!out.html_file.empty()) std::printf("html: %s\n", out.html_file.c_str());
    if (!out.markdown_file.empty()) std::printf("markdown: %s\n", out.markdown_file.c_str());
    const report::ReportTimings& t = out.timings;
    std::printf("time: %.2f s (read %.2f, analyse %.2f, gnuplot %.2f, pages %.2f)\n", t.total_s,
                t.read_s, t.analyse_s, t.script_s + t.gnuplot_s, t.pages_s);
    return kExitOk;
  };
}

}  // namespace metajoule::cli
