#include "report/benchmark.h"

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>
#include <system_error>

#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/meters.h"
#include "ledger/recorder.h"

namespace metajoule::report {
namespace {

namespace fs = std::filesystem;
using ledger::LinkKind;
using ledger::Phase;

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A learning curve that starts at -60 and reaches kSyntheticTarget (-15) after about
// `rounds_to_target` rounds: R(r) = -60 + 50 (1 - exp(-r ln10 / T)), plus uniform noise.
double SyntheticReturn(int round, double rounds_to_target, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> noise(-0.5, 0.5);
  return -60.0 + 50.0 * (1.0 - std::exp(-round * std::log(10.0) / rounds_to_target)) + noise(rng);
}

struct Method {
  const char* name;
  double rounds_to_target;
  std::int64_t sim_steps;  // per agent and round
};

}  // namespace

std::int64_t WriteSyntheticRunFolder(const std::filesystem::path& folder,
                                     const SyntheticRunOptions& options) {
  std::error_code error;
  fs::create_directories(folder, error);
  if (error) throw std::runtime_error(folder.string() + ": cannot create: " + error.message());
  ledger::LedgerStore store((folder / "ledger.sqlite").string());
  ledger::EnergyModelConfig energy;
  energy.links.uplink.efficiency_kbit_per_j = options.uplink_kbit_per_j;
  energy.links.downlink.efficiency_kbit_per_j = options.downlink_kbit_per_j;
  energy.links.sidelink.efficiency_kbit_per_j = options.sidelink_kbit_per_j;
  const ledger::EnergyModel model(energy);
  const ledger::MeterSelection meter = ledger::SelectMeter(ledger::EnergySource::kModelled);
  const char* locations[] = {"germany", "norway"};
  std::int64_t events = 0;

  const auto begin = [&](const std::string& name, const std::string& method) {
    ledger::RunInfo info;
    info.name = name;
    info.method = method;
    info.config_text = options.config_text;
    info.seed = static_cast<std::int64_t>(options.seed);
    info.host = "synthetic";
    return std::make_unique<ledger::RunRecorder>(store, model, info, meter);
  };
  const auto add_nodes = [&](ledger::RunRecorder& recorder, int first, int count) {
    recorder.AddNode({0, "server", "", "edge_server", "france"});
    for (int k = 0; k < count; ++k) {
      std::string cluster = "c";  // appended, not concatenated: GCC 12 -Wrestrict false positive
      cluster += std::to_string(k % 2);
      recorder.AddNode({first + k, "agent", std::move(cluster), "robot_board", locations[k % 2]});
    }
  };

  const Method methods[] = {{"random", 1e9, 500},
                            {"scratch", 14.0, 2500},
                            {"maml", 5.0, 3000},
                            {"consensus", 6.0, 2500}};
  for (const Method& m : methods) {
    const std::string method = m.name;
    std::mt19937_64 rng(options.seed * 1000003ULL + std::hash<std::string>{}(method));
    auto recorder = begin(options.name, method);
    add_nodes(*recorder, 1, options.agents);
    const int last_round = method == "random" ? 0 : options.rounds;
    for (int round = method == "random" ? 0 : 1; round <= last_round; ++round) {
      if (method == "maml") {  // one broadcast downlink per round
        recorder->RecordTransfer(0, round, Phase::kTransfer, LinkKind::kDownlink, 800'000, 780'000);
        ++events;
      }
      for (int k = 1; k <= options.agents; ++k) {
        const double value = SyntheticReturn(round, m.rounds_to_target, rng);
        recorder->RecordCompute(k, round, method == "scratch" ? Phase::kLearn : Phase::kRollout,
                                m.sim_steps, 1e7, ledger::Measurement{});
        ++events;
        const std::string task = "task" + std::to_string(k);
        if (method == "maml") {
          recorder->RecordTransfer(k, round, Phase::kTransfer, LinkKind::kUplink, 1'000'000, 980'000);
          recorder->RecordEvaluation({round, k, task, method, 0, value - 10.0});
          recorder->RecordEvaluation({round, k, task, method, 1, value});
          ++events;
        } else {
          if (method == "consensus") {
            recorder->RecordTransfer(k, round, Phase::kTransfer, LinkKind::kSidelink, 500'000, 490'000);
            ++events;
          }
          recorder->RecordEvaluation({round, k, task, method, 0, value});
        }
      }
      if (method == "maml") {
        recorder->RecordCompute(0, round, Phase::kAggregate, 0, 1e8, ledger::Measurement{});
        ++events;
      }
    }
    recorder->Finish();

    if (method == "maml" && options.held_out_tasks > 0) {
      // deployment: round s = adaptation step s; round 0 holds the unicast downlink
      auto held = begin(ledger::HeldOutRunName(options.name), method);
      add_nodes(*held, 100, options.held_out_tasks);
      for (int step = 0; step <= 3; ++step) {
        for (int t = 0; t < options.held_out_tasks; ++t) {
          const int node = 100 + t;
          if (step == 0) {
            held->RecordTransfer(0, 0, Phase::kTransfer, LinkKind::kDownlink, 800'000, 780'000);
            ++events;
          }
          held->RecordCompute(node, step, Phase::kLearn, 800, 1e6, ledger::Measurement{});
          ++events;
          std::uniform_real_distribution<double> noise(-0.5, 0.5);
          held->RecordEvaluation({step, node, "held-out" + std::to_string(t), method, step,
                                  -40.0 + 10.0 * step + noise(rng)});
        }
      }
      held->Finish();
    }
  }
  return events;
}

std::int64_t WriteSyntheticBatch(const std::filesystem::path& batch, int cells,
                                 const SyntheticRunOptions& base) {
  constexpr double kUplink[] = {10.0, 25.0, 50.0, 100.0, 200.0};
  constexpr double kSidelink[] = {25.0, 50.0, 200.0, 500.0};
  std::error_code error;
  fs::create_directories(batch, error);
  std::string csv = "cell,status,run_folder,overrides\n";
  std::int64_t events = 0;
  for (int c = 0; c < cells; ++c) {
    SyntheticRunOptions options = base;
    options.uplink_kbit_per_j = kUplink[c % 5];
    options.sidelink_kbit_per_j = kSidelink[(c / 5) % 4];
    options.seed = base.seed + static_cast<std::uint64_t>(c / 20);
    char name[16];
    std::snprintf(name, sizeof name, "c%03d", c);
    const std::string folder =
        std::string("cells/") + name + "/20260101T000000Z-" + std::to_string(options.seed);
    events += WriteSyntheticRunFolder(batch / folder, options);
    char overrides[200];
    std::snprintf(overrides, sizeof overrides,
                  "%s=%g;%s=%g;experiment.seed=%llu", std::string(kUplinkKey).c_str(),
                  options.uplink_kbit_per_j, std::string(kSidelinkKey).c_str(),
                  options.sidelink_kbit_per_j, static_cast<unsigned long long>(options.seed));
    csv += std::string(name) + ",done," + folder + "," + overrides + "\n";
  }
  std::ofstream(batch / "cells.csv") << csv;
  return events;
}

ReportBenchmarkResult RunReportBenchmark(const ReportBenchmarkOptions& options,
                                         const TargetResolver& resolve_target) {
  if (options.cells < 1 || options.agents < 1 || options.rounds < 1) {
    throw std::invalid_argument("RunReportBenchmark: expected cells, agents and rounds >= 1");
  }
  RequireGnuplot(options.gnuplot);
  ReportBenchmarkResult result;
  result.cells = options.cells;
  const bool temporary = options.directory.empty();
  result.directory = temporary ? fs::temp_directory_path() /
                                     ("metajoule-bench-report-" + std::to_string(getpid()))
                               : options.directory;
  const fs::path batch = result.directory / "batch";
  // only what this benchmark writes is replaced (a --dir may hold other files)
  for (const char* sub : {"batch", "report", "bare"}) fs::remove_all(result.directory / sub);

  SyntheticRunOptions base;
  base.agents = options.agents;
  base.rounds = options.rounds;
  base.config_text = options.config_text;
  auto start = std::chrono::steady_clock::now();
  result.events = WriteSyntheticBatch(batch, options.cells, base);
  result.generate_s = Since(start);

  // the report
  ReportOptions report_options;
  report_options.out_dir = result.directory / "report";
  report_options.gnuplot = options.gnuplot;
  const ReportOutput out = MakeReport(batch, report_options, resolve_target);
  result.timings = out.timings;
  for (const FigureInfo& f : out.figures) result.figures_drawn += f.drawn ? 1 : 0;
  result.html_bytes = fs::file_size(out.html_file);

  // baseline 1: bare SQLite over the same ledgers (same rows, no report code)
  start = std::chrono::steady_clock::now();
  double checksum = 0.0;
  for (const auto& entry : fs::recursive_directory_iterator(batch / "cells")) {
    if (entry.path().filename() != "ledger.sqlite") continue;
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(entry.path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      throw std::runtime_error(entry.path().string() + ": cannot open");
    }
    for (const char* sql :
         {"SELECT run, round, kind, link, sum(energy_j), sum(bits_on_air), sum(gco2e) FROM events "
          "GROUP BY run, round, kind, link",
          "SELECT run, round, adapt_step, avg(return_value) FROM evaluations GROUP BY 1, 2, 3"}) {
      sqlite3_stmt* stmt = nullptr;
      sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
      while (sqlite3_step(stmt) == SQLITE_ROW) checksum += sqlite3_column_double(stmt, 3);
      sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
  }
  result.raw_sqlite_s = Since(start);
  if (std::isnan(checksum)) result.raw_sqlite_s = -1.0;  // keeps the loop from being elided

  // baseline 2: a bare gnuplot run, one trivial plot to PNG and SVG
  const fs::path bare = result.directory / "bare";
  fs::create_directories(bare);
  std::ofstream(bare / "bare.gp") << "set terminal pngcairo size " << options.gnuplot.width_px
                                  << "," << options.gnuplot.height_px
                                  << "\nset output 'bare.png'\nplot x\n"
                                     "set terminal svg\nset output 'bare.svg'\nreplot\n";
  result.bare_gnuplot_s = RunGnuplot(bare, options.gnuplot, "bare.gp");

  if (temporary && !options.keep_files) {
    std::error_code error;
    fs::remove_all(result.directory, error);
    result.directory.clear();
  }
  return result;
}

std::string FormatReportBenchmark(const ReportBenchmarkResult& r) {
  const ReportTimings& t = r.timings;
  char buffer[2048];
  std::snprintf(
      buffer, sizeof buffer,
      "bench report: a batch of %d run folders (%lld events, generated in %.2f s), %d figures\n"
      "  read ledgers     %8.3f s   (bare SQLite on the same rows: %.3f s, ratio %.2f)\n"
      "  analyse          %8.3f s\n"
      "  gnuplot script   %8.3f s\n"
      "  gnuplot run      %8.3f s   (bare gnuplot, one plot PNG+SVG: %.3f s, ratio %.2f)\n"
      "  html + markdown  %8.3f s   (%.0f KB of HTML)\n"
      "  total            %8.3f s   (target <= 10 s: %s)\n",
      r.cells, static_cast<long long>(r.events), r.generate_s, r.figures_drawn, t.read_s,
      r.raw_sqlite_s, r.raw_sqlite_s > 0 ? t.read_s / r.raw_sqlite_s : 0.0, t.analyse_s,
      t.script_s, t.gnuplot_s, r.bare_gnuplot_s,
      r.bare_gnuplot_s > 0 ? t.gnuplot_s / r.bare_gnuplot_s : 0.0, t.pages_s,
      static_cast<double>(r.html_bytes) / 1024.0, t.total_s, t.total_s <= 10.0 ? "met" : "MISSED");
  std::string text = buffer;
  if (!r.directory.empty()) text += "  files: " + r.directory.string() + "\n";
  return text;
}

}  // namespace metajoule::report
