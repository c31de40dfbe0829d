#include "report/gnuplot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

extern char** environ;

namespace metajoule::report {
namespace {

namespace fs = std::filesystem;

// Okabe & Ito's colour-blind-safe palette, one colour per method (cycled).
constexpr const char* kMethodColours[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                          "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
// compute, uplink, downlink, sidelink
constexpr const char* kKindColours[] = {"#5B6770", "#0072B2", "#E69F00", "#009E73"};
constexpr const char* kKindTitles[] = {"compute", "uplink (UL)", "downlink (DL)",
                                       "sidelink (SL)"};

std::string Colour(const Report& report, const std::string& method) {
  const auto it = std::find(report.methods.begin(), report.methods.end(), method);
  const std::size_t index =
      it == report.methods.end() ? report.methods.size() : static_cast<std::size_t>(it - report.methods.begin());
  return kMethodColours[index % std::size(kMethodColours)];
}

// 17 significant digits: a double reads back bit for bit
std::string Num(double value) {
  if (std::isnan(value)) return "NaN";
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// a double-quoted string field of a data file (gnuplot reads "..." as one column)
std::string DataString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c != '"' && c != '\n' && c != '\r') out.push_back(c);
  }
  return out + "\"";
}

std::string Terminals(const GnuplotOptions& options, const std::string& name, bool svg) {
  std::ostringstream out;
  if (svg) {
    out << "set terminal svg size " << options.width_px << "," << options.height_px
        << " noenhanced font " << GnuplotQuote(options.font) << " background rgb 'white'\n";
    out << "set output " << GnuplotQuote("figures/" + name + ".svg") << "\n";
  } else {
    out << "set terminal pngcairo size " << options.width_px << "," << options.height_px
        << " noenhanced font " << GnuplotQuote(options.font) << "\n";
    out << "set output " << GnuplotQuote("figures/" + name + ".png") << "\n";
  }
  return out.str();
}

// One figure: settings, a plot command, drawn to PNG then to SVG (replot).
void AddFigure(GnuplotScript& out, const GnuplotOptions& options, FigureInfo info,
               const std::string& settings, const std::string& plot, std::string data) {
  std::ostringstream s;
  s << "\n# ---- " << info.name << ": " << info.title << "\nreset\n"
    << Terminals(options, info.name, false) << "set encoding utf8\n"
    << settings << plot << "\n"
    << Terminals(options, info.name, true) << "replot\nunset output\n";
  out.script += s.str();
  out.data_files.push_back({"data/" + info.name + ".dat", std::move(data)});
  info.drawn = true;
  out.figures.push_back(std::move(info));
}

void LeaveOut(GnuplotScript& out, FigureInfo info, const std::string& reason) {
  info.drawn = false;
  info.caption = reason;
  out.figures.push_back(std::move(info));
}

std::string TargetText(const Report& report) {
  return report.target.value ? "target return " + FormatNumber(*report.target.value) : "no target";
}

// ---- figure 1: return against cumulative energy ---------------------------------------------

void ReturnsFigure(const Report& report, const GnuplotOptions& options, GnuplotScript& out) {
  FigureInfo info{"returns_energy", "Return against cumulative energy", "", "", false};
  info.source =
      "events: Σ energy_j per round, accumulated (ledger::QueryEnergyByRound); evaluations: "
      "mean return_value per round at the round's largest adapt_step (ledger::QueryReturns)";
  if (report.curves.empty()) {
    LeaveOut(out, info, "No evaluations in the ledger: there is no learning curve to draw.");
    return;
  }
  info.caption =
      "Each method's mean evaluation return after each round against the energy spent up to and "
      "including that round (compute and every link). Dashed: the held-out deployment of a meta "
      "method, continuing from its training bill." +
      std::string(report.kind == SourceKind::kBatch ? " One line per batch cell." : "");
  std::ostringstream data;
  std::ostringstream plot;
  double min_x = std::numeric_limits<double>::infinity();
  double max_x = 0.0;
  std::set<std::string> titled;
  const bool batch = report.kind == SourceKind::kBatch;
  plot << "plot ";
  for (std::size_t i = 0; i < report.curves.size(); ++i) {
    const Curve& curve = report.curves[i];
    data << "# curve " << i << ": " << curve.method << (curve.held_out ? " (held-out)" : "")
         << ", " << curve.folder << "\n# cumulative_j return round\n";
    for (const CurvePoint& p : curve.points) {
      data << Num(p.cumulative_j) << " " << Num(p.value) << " " << p.round << "\n";
      if (p.cumulative_j > 0) min_x = std::min(min_x, p.cumulative_j);
      if (!(p.cumulative_j > 0)) min_x = 0.0;
      max_x = std::max(max_x, p.cumulative_j);
    }
    data << "\n\n";
    const std::string key = curve.method + (curve.held_out ? " (held-out)" : "");
    std::string colour = Colour(report, curve.method);
    if (batch) colour = "#60" + colour.substr(1);  // translucent: many cells overlap
    if (i > 0) plot << ", \\\n     ";
    plot << "'data/returns_energy.dat' index " << i << " using 1:2 with "
         << (!batch ? "linespoints pt 7 ps 0.6 lw 2"
                    : curve.points.size() > 1 ? "lines lw 1.2"  // light: a batch has many lines
                                              : "points pt 7 ps 0.6") << " lc rgb '" << colour
         << "'" << (curve.held_out ? " dt 2" : "");
    if (titled.insert(key).second) {
      plot << " title " << GnuplotQuote(key);
    } else {
      plot << " notitle";
    }
  }
  std::ostringstream settings;
  settings << "set title " << GnuplotQuote("Return against cumulative energy (" + TargetText(report) + ")")
           << "\nset xlabel 'cumulative energy (J)'\nset ylabel 'mean evaluation return'\n"
              "set grid\nset key outside right top\nset offsets 0, 0, graph 0.04, graph 0.04\n";
  if (min_x > 0 && max_x / min_x > 100.0) settings << "set logscale x\n";
  if (report.target.value) {
    settings << "set arrow from graph 0, first " << Num(*report.target.value) << " to graph 1, first "
             << Num(*report.target.value) << " nohead dt 3 lw 1.5 lc rgb '#555555'\n"
             << "set label 'target' at graph 0.01, first " << Num(*report.target.value)
             << " offset 0,0.7 textcolor rgb '#555555'\n";
  }
  AddFigure(out, options, info, settings.str(), plot.str(), data.str());
}

// ---- figure 2: energy-to-target split by kind -----------------------------------------------

void EnergyFigure(const Report& report, const GnuplotOptions& options, GnuplotScript& out) {
  FigureInfo info{"energy_to_target", "", "", "", false};
  const bool batch = report.kind == SourceKind::kBatch;
  info.title = report.target.value ? "Energy to reach the target" : "Energy of each run";
  info.source =
      "events: Σ energy_j by kind and link over rounds <= r*, the first round whose mean return "
      "reaches the target (ledger::EnergyToTarget; the whole run when it never does: "
      "ledger::QueryBreakdown)";
  if (report.summaries.empty()) {
    LeaveOut(out, info, "No training runs in the ledger.");
    return;
  }
  info.caption = report.target.value
                     ? "Energy spent until the mean evaluation return first reaches the target, "
                       "split into compute, uplink, downlink and sidelink. A method that never "
                       "reaches it shows its whole run, marked 'not reached' (a lower bound)."
                     : "Without a target: each run's whole energy, split into compute, uplink, "
                       "downlink and sidelink.";
  if (batch) info.caption += " Batch: the mean over the cells that reached the target (k/n).";
  std::ostringstream data;
  data << "# method compute_j uplink_j downlink_j sidelink_j reached runs\n";
  for (const MethodSummary& s : report.summaries) {
    std::string label = s.method;
    if (report.target.value) {
      if (batch) {
        label += " (" + std::to_string(s.reached) + "/" + std::to_string(s.runs) + ")";
      } else if (s.reached == 0) {
        label += " (not reached)";
      }
    }
    data << DataString(label) << " " << Num(s.mean_split.compute_j) << " "
         << Num(s.mean_split.uplink_j) << " " << Num(s.mean_split.downlink_j) << " "
         << Num(s.mean_split.sidelink_j) << " " << s.reached << " " << s.runs << "\n";
  }
  std::ostringstream settings;
  settings << "set title " << GnuplotQuote(info.title + " (" + TargetText(report) + ")") << "\n"
           << "set style data histograms\nset style histogram rowstacked\n"
              "set style fill solid 0.9 border rgb '#333333'\nset boxwidth 0.6\n"
              "set ylabel 'energy (J)'\nset yrange [0:*]\nset grid ytics\n"
              "set key outside right top\n";
  if (report.summaries.size() > 3) settings << "set xtics rotate by -20\n";
  std::ostringstream plot;
  plot << "plot ";
  for (int k = 0; k < 4; ++k) {
    if (k > 0) plot << ", \\\n     ";
    plot << "'data/energy_to_target.dat' using " << (k + 2) << (k == 0 ? ":xtic(1)" : "")
         << " title " << GnuplotQuote(kKindTitles[k]) << " lc rgb '" << kKindColours[k] << "'";
  }
  AddFigure(out, options, info, settings.str(), plot.str(), data.str());
}

// ---- figure 3: lifecycle E(N) ----------------------------------------------------------------

void LifecycleFigure(const Report& report, const GnuplotOptions& options, GnuplotScript& out) {
  FigureInfo info{"lifecycle", "Lifecycle cost E(N) and break-even", "", "", false};
  info.source =
      "E_meta: Σ energy_j of the meta method's training run; E_adapt: energy-to-target of its "
      "held-out run (<name>:held-out) / its tasks; E_scratch: energy-to-target of the scratch "
      "run / its agents (ledger::MetaLifecycleJ, ScratchLifecycleJ, BreakEvenTasks)";
  if (report.lifecycle.empty()) {
    LeaveOut(out, info,
             report.target.value
                 ? "Left out: the ledger has no meta method with both a held-out deployment run "
                   "and a scratch run to compare against."
                 : "Left out: the lifecycle compares energies-to-target, and there is no target.");
    return;
  }
  info.caption =
      "E(N) = E_meta + N × E_adapt for each meta method against N × E_scratch for learning every "
      "task from scratch; the dots mark the break-even N* = E_meta / (E_scratch − E_adapt), "
      "beyond which meta-learning costs less.";
  double n_max = 10.0;
  for (const LifecycleRow& row : report.lifecycle) {
    n_max = std::max(n_max, 1.2 * row.agents);
    if (row.break_even && *row.break_even < 1e7) n_max = std::max(n_max, 2.0 * *row.break_even);
  }
  n_max = std::ceil(n_max);
  std::ostringstream data;
  std::ostringstream plot;
  plot << "plot ";
  int index = 0;
  std::set<double> scratch_drawn;
  std::ostringstream points;
  bool any_point = false;
  for (const LifecycleRow& row : report.lifecycle) {
    const std::string colour = Colour(report, row.method);
    data << "# " << row.method << ": E_meta + N E_adapt (N, J)\n"
         << "0 " << Num(ledger::MetaLifecycleJ(row.costs, 0.0)) << "\n"
         << Num(n_max) << " " << Num(ledger::MetaLifecycleJ(row.costs, n_max)) << "\n\n\n";
    if (index > 0) plot << ", \\\n     ";
    plot << "'data/lifecycle.dat' index " << index++ << " using 1:2 with lines lw 2.5 lc rgb '"
         << colour << "' title " << GnuplotQuote(row.method + ": E_meta + N E_adapt");
    if (scratch_drawn.insert(row.costs.scratch_j).second) {
      data << "# scratch against " << row.method << ": N E_scratch (N, J)\n"
           << "0 0\n"
           << Num(n_max) << " " << Num(ledger::ScratchLifecycleJ(row.costs, n_max)) << "\n\n\n";
      plot << ", \\\n     'data/lifecycle.dat' index " << index++
           << " using 1:2 with lines lw 2.5 dt 2 lc rgb '" << Colour(report, "scratch")
           << "' title "
           << GnuplotQuote(scratch_drawn.size() == 1 ? "scratch: N E_scratch"
                                                     : "scratch: N E_scratch (vs " + row.method + ")");
    }
    if (row.break_even && *row.break_even <= n_max) {
      any_point = true;
      points << Num(*row.break_even) << " " << Num(ledger::MetaLifecycleJ(row.costs, *row.break_even))
             << " " << DataString("N* = " + FormatNumber(*row.break_even)) << "\n";
    }
  }
  if (any_point) {
    data << "# break-even points (N*, E(N*), label)\n" << points.str() << "\n\n";
    plot << ", \\\n     'data/lifecycle.dat' index " << index
         << " using 1:2 with points pt 7 ps 1.6 lc rgb 'black' title 'break-even N*', \\\n"
            "     'data/lifecycle.dat' index "
         << index << " using 1:2:3 with labels offset 0,1.2 notitle";
  }
  std::ostringstream settings;
  settings << "set title " << GnuplotQuote(info.title + " (" + TargetText(report) + ")") << "\n"
           << "set xlabel 'tasks served N'\nset ylabel 'energy (J)'\nset grid\n"
              "set key outside right top\nset xrange [0:" << Num(n_max) << "]\nset yrange [0:*]\n";
  const double agents = report.lifecycle.front().agents;
  if (agents > 0) {
    settings << "set arrow from first " << Num(agents) << ", graph 0 to first " << Num(agents)
             << ", graph 1 nohead dt 3 lc rgb '#777777'\nset label "
             << GnuplotQuote("N = the run's agents") << " at first " << Num(agents)
             << ", graph 0.04 offset 0.5,0 textcolor rgb '#555555'\n";
  }
  AddFigure(out, options, info, settings.str(), plot.str(), data.str());
}

// ---- figure 4: carbon per location -----------------------------------------------------------

void CarbonFigure(const Report& report, const GnuplotOptions& options, GnuplotScript& out) {
  FigureInfo info{"carbon", "Carbon per grid location", "", "", false};
  info.source =
      "events: Σ gco2e per node, grouped by the node's location (ledger::QueryCarbonByLocation)";
  if (report.carbon.locations.empty()) {
    LeaveOut(out, info, "No events in the ledger.");
    return;
  }
  info.caption =
      "Grams of CO2-equivalent per grid location of the nodes that spent the energy, one bar per "
      "method (its held-out deployment included)." +
      std::string(report.kind == SourceKind::kBatch ? " Batch: summed over the cells." : "");
  std::ostringstream data;
  data << "# location";
  for (const std::string& method : report.carbon.methods) data << " " << DataString(method);
  data << "  (gCO2e)\n";
  for (std::size_t l = 0; l < report.carbon.locations.size(); ++l) {
    data << DataString(report.carbon.locations[l]);
    for (const double g : report.carbon.gco2e[l]) data << " " << Num(g);
    data << "\n";
  }
  std::ostringstream settings;
  settings << "set title " << GnuplotQuote(info.title) << "\n"
           << "set style data histograms\nset style histogram clustered gap 1\n"
              "set style fill solid 0.9 border rgb '#333333'\n"
              "set ylabel 'gCO2e'\nset yrange [0:*]\nset grid ytics\nset key outside right top\n";
  std::ostringstream plot;
  plot << "plot ";
  for (std::size_t m = 0; m < report.carbon.methods.size(); ++m) {
    if (m > 0) plot << ", \\\n     ";
    plot << "'data/carbon.dat' using " << (m + 2) << (m == 0 ? ":xtic(1)" : "") << " title "
         << GnuplotQuote(report.carbon.methods[m]) << " lc rgb '"
         << Colour(report, report.carbon.methods[m]) << "'";
  }
  AddFigure(out, options, info, settings.str(), plot.str(), data.str());
}

// ---- figure 5: trade-off map -----------------------------------------------------------------

std::string AxisTics(const std::vector<double>& values) {
  std::string tics = "(";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) tics += ", ";
    tics += GnuplotQuote(FormatNumber(values[i])) + " " + std::to_string(i);
  }
  return tics + ")";
}

void TradeoffFigure(const Report& report, const GnuplotOptions& options, GnuplotScript& out) {
  const Tradeoff& map = report.tradeoff;
  FigureInfo info{"tradeoff", "Winning method over UL and SL efficiency", "", "", false};
  info.source =
      map.repriced
          ? "events: bits_on_air per round and link, repriced as bits / (EE × 1000) at each grid "
            "point; energy-to-target by ledger::EnergyToTarget on the recorded returns"
          : "the batch's cells (cells.csv overrides " + std::string(kUplinkKey) + " and " +
                std::string(kSidelinkKey) + "); energy-to-target per cell as in the energy figure";
  if (map.cells.empty() || report.methods.empty()) {
    LeaveOut(out, info, "No training runs to compare.");
    return;
  }
  info.caption =
      std::string("The method with the lowest energy-to-target at each (uplink, sidelink) "
                  "efficiency; where no method reaches the target in every run at that point, the "
                  "one with the highest mean best return (cell text 'ret'). ") +
      (map.repriced ? "A what-if from the recorded bits on air: link efficiency prices a "
                      "transfer and does not change what is learned."
                    : "Measured: each point holds the batch cells run at that setting.");
  std::ostringstream data;
  data << "# ul_index sl_index rgb winner figure ul_kbit_per_j sl_kbit_per_j cells\n";
  std::set<std::string> winners;
  for (const TradeoffCell& cell : map.cells) {
    const auto u = static_cast<std::size_t>(&cell - map.cells.data()) / map.sidelink_values.size();
    const auto s = static_cast<std::size_t>(&cell - map.cells.data()) % map.sidelink_values.size();
    const bool known = std::find(report.methods.begin(), report.methods.end(), cell.winner) !=
                       report.methods.end();
    const std::string colour = known ? Colour(report, cell.winner) : "#DDDDDD";
    if (known) winners.insert(cell.winner);
    const std::string figure =
        !known ? "" : cell.by_energy ? FormatNumber(cell.figure) + " J" : "ret " + FormatNumber(cell.figure);
    data << u << " " << s << " " << std::stol(colour.substr(1), nullptr, 16) << " "
         << DataString(cell.winner) << " " << DataString(figure) << " "
         << Num(cell.uplink_kbit_per_j) << " " << Num(cell.sidelink_kbit_per_j) << " "
         << cell.folders << "\n";
  }
  std::ostringstream settings;
  settings << "set title "
           << GnuplotQuote(std::string("Winning method (") + TargetText(report) + "; " +
                           (map.repriced ? "repriced what-if" : "measured over the batch") + ")")
           << "\n"
           << "set xlabel 'uplink efficiency (kbit/J)'\nset ylabel 'sidelink efficiency (kbit/J)'\n"
           << "set xrange [-0.5:" << static_cast<double>(map.uplink_values.size()) - 0.5 << "]\n"
           << "set yrange [-0.5:" << static_cast<double>(map.sidelink_values.size()) - 0.5 << "]\n"
           << "set xtics " << AxisTics(map.uplink_values) << "\n"
           << "set ytics " << AxisTics(map.sidelink_values) << "\n"
           << "set key outside right top\nunset grid\n";
  // the run's own operating point, when it lies on the grid
  if (map.repriced) {
    const auto at = [](const std::vector<double>& axis, const std::optional<double>& v) -> int {
      if (!v) return -1;
      for (std::size_t i = 0; i < axis.size(); ++i) {
        if (std::abs(axis[i] - *v) <= 1e-6 * axis[i]) return static_cast<int>(i);
      }
      return -1;
    };
    const int u = at(map.uplink_values, map.recorded_uplink);
    const int s = at(map.sidelink_values, map.recorded_sidelink);
    if (u >= 0 && s >= 0) {
      settings << "set object 1 rectangle from " << u - 0.48 << "," << s - 0.48 << " to "
               << u + 0.48 << "," << s + 0.48
               << " front fillstyle empty border rgb 'black' lw 3\n";
    }
  }
  std::ostringstream plot;
  plot << "plot 'data/tradeoff.dat' using 1:2:(0.5):(0.5):3 with boxxyerror fs solid 0.85 "
          "noborder lc rgb variable notitle, \\\n"
          "     '' using 1:2:4 with labels offset 0,0.6 notitle, \\\n"
          "     '' using 1:2:5 with labels offset 0,-0.6 font ',9' notitle";
  for (const std::string& method : report.methods) {
    if (winners.count(method) == 0) continue;
    plot << ", \\\n     keyentry with boxes fs solid 0.85 lc rgb '" << Colour(report, method)
         << "' title " << GnuplotQuote(method);
  }
  if (map.repriced && map.recorded_uplink && map.recorded_sidelink) {
    plot << ", \\\n     keyentry with boxes fs empty lc rgb 'black' lw 3 title "
         << GnuplotQuote("this run's links");
  }
  AddFigure(out, options, info, settings.str(), plot.str(), data.str());
}

}  // namespace

std::string GnuplotQuote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') out.push_back('\'');
    if (c != '\n' && c != '\r') out.push_back(c);
  }
  return out + "'";
}

GnuplotScript BuildGnuplotScript(const Report& report, const GnuplotOptions& options) {
  GnuplotScript out;
  out.script =
      "# metajoule report: every figure, PNG (pngcairo) then SVG. Generated; run it with\n"
      "#   gnuplot report.gp\n"
      "# inside the report folder (paths are relative to it). docs/report.md explains each figure.\n";
  ReturnsFigure(report, options, out);
  EnergyFigure(report, options, out);
  LifecycleFigure(report, options, out);
  CarbonFigure(report, options, out);
  TradeoffFigure(report, options, out);
  return out;
}

void WriteGnuplotFiles(const GnuplotScript& script, const std::filesystem::path& out_dir) {
  std::error_code error;
  fs::create_directories(out_dir / "data", error);
  fs::create_directories(out_dir / "figures", error);
  if (error) throw std::runtime_error(out_dir.string() + ": cannot create folder: " + error.message());
  const auto write = [](const fs::path& path, const std::string& text) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << text;
    if (!file.flush()) throw std::runtime_error(path.string() + ": cannot write");
  };
  write(out_dir / "report.gp", script.script);
  for (const auto& [name, content] : script.data_files) write(out_dir / name, content);
}

std::filesystem::path FindExecutable(const std::string& name) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) {
    return access(name.c_str(), X_OK) == 0 ? fs::path(name) : fs::path();
  }
  const char* path_env = std::getenv("PATH");
  std::string_view dirs = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const std::size_t colon = std::min(dirs.find(':'), dirs.size());
    const std::string dir(dirs.substr(0, colon));
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    std::error_code error;
    if (fs::is_regular_file(candidate, error) && access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    dirs.remove_prefix(std::min(colon + 1, dirs.size()));
  }
  return {};
}

std::filesystem::path RequireGnuplot(const GnuplotOptions& options) {
  const fs::path executable = FindExecutable(options.executable);
  if (executable.empty()) {
    throw GnuplotError(
        "gnuplot not found ('" + options.executable +
        "'" + (options.executable.find('/') == std::string::npos ? " is not in PATH" : " does not exist or is not executable") +
        "): metajoule report draws its figures with gnuplot; install the Debian package "
        "gnuplot-nox (apt-get install gnuplot-nox, or scripts/setup)");
  }
  return executable;
}

double RunGnuplot(const std::filesystem::path& out_dir, const GnuplotOptions& options,
                  const std::string& script_name) {
  const fs::path executable = RequireGnuplot(options);
  const fs::path log = out_dir / "gnuplot.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addchdir_np(&actions, out_dir.c_str());
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "gnuplot.log",
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::string arg0 = executable.string();
  std::string arg1 = script_name;
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, executable.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    throw GnuplotError("cannot start " + executable.string() + " in " + out_dir.string() + ": " +
                       std::strerror(spawned) +
                       " (gnuplot comes with the Debian package gnuplot-nox)");
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw GnuplotError(std::string("waitpid: ") + std::strerror(errno));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    std::ostringstream text;
    text << in.rdbuf();
    std::string tail = text.str();
    if (tail.size() > 1500) tail = "..." + tail.substr(tail.size() - 1500);
    throw GnuplotError(executable.string() + " " + script_name + " failed in " + out_dir.string() +
                       (WIFEXITED(status) ? " (exit " + std::to_string(WEXITSTATUS(status)) + ")"
                                          : " (killed by a signal)") +
                       ":\n" + tail);
  }
  return seconds;
}

}  // namespace metajoule::report
