#include "report/report_data.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "common/error.h"
#include "ledger/ledger_store.h"
#include "ledger/queries.h"
#include "ledger/sqlite_util.h"

namespace metajoule::report {
namespace {

namespace fs = std::filesystem;
using ledger::internal::Statement;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::string_view kCellsHeader[] = {"cell", "status", "run_folder", "overrides"};

// ---- reading ---------------------------------------------------------------------------------

// Energy by kind and bits on air by link, per round (from the ledger's totals tables when it
// has them: a few rows per round, not a scan of every event).
std::vector<RoundRow> ReadRounds(const ledger::LedgerStore& store, std::int64_t run) {
  std::vector<RoundRow> rows;
  for (const ledger::RoundBreakdown& r : ledger::QueryRoundBreakdown(store, run)) {
    rows.push_back({r.round,
                    {r.compute_j, r.uplink_j, r.downlink_j, r.sidelink_j},
                    r.uplink_bits,
                    r.downlink_bits,
                    r.sidelink_bits});
  }
  return rows;
}

// The number of tasks the run's method was evaluated on: the one read that still scans the
// run's evaluation rows (the totals do not keep task names).
int CountTasks(const ledger::LedgerStore& store, std::int64_t run, const std::string& method) {
  Statement select(store.handle(), store.path(),
                   "SELECT count(DISTINCT task) FROM evaluations "
                   "WHERE run = ?1 AND (?2 = '' OR method = ?2)");
  select.BindInt64(1, run);
  select.BindText(2, method);
  select.Step();
  return static_cast<int>(select.ColumnInt64(0));
}

// ---- cells.csv -------------------------------------------------------------------------------

[[noreturn]] void CsvError(const std::string& source, std::uint32_t line, std::uint32_t column,
                           const std::string& key, const std::string& message) {
  throw ConfigError({source, line, column}, key, message);
}

double ParseEfficiency(const std::string& value, const std::string& source,
                       const std::string& key) {
  char* end = nullptr;
  const double parsed = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || !(parsed > 0) ||
      !std::isfinite(parsed)) {
    throw ConfigError({source}, key, "expected a number > 0 (kbit/J), got '" + value + "'");
  }
  return parsed;
}

// ---- analysis --------------------------------------------------------------------------------

double BestReturn(const std::vector<ledger::RoundReturn>& returns) {
  double best = kNaN;
  for (const auto& r : returns) {
    if (std::isnan(best) || r.value > best) best = r.value;
  }
  return best;
}

// Σ bits / Σ J of one link kind over a folder's runs, in kbit/J (nullopt without traffic).
std::optional<double> InferredEfficiency(const FolderData& folder, bool uplink) {
  double bits = 0.0;
  double joules = 0.0;
  for (const RunData& run : folder.runs) {
    for (const RoundRow& row : run.rounds) {
      bits += uplink ? row.uplink_bits : row.sidelink_bits;
      joules += uplink ? row.energy.uplink_j : row.energy.sidelink_j;
    }
  }
  if (!(joules > 0.0) || !(bits > 0.0)) return std::nullopt;
  return bits / joules / 1000.0;
}

// The run label used to group runs into methods: the method, or "<method> (repriced)" for a
// repriced copy (ledger reprice), so a copy never merges into its source.
std::string Label(const ledger::RunRecord& record) {
  std::string label = record.info.method.empty() ? record.info.name : record.info.method;
  if (record.repriced_from) label += " (repriced)";
  return label;
}

struct MethodAggregate {
  int runs{0};
  int reached{0};
  double energy_sum{0.0};
  double best_sum{0.0};
  int best_count{0};
  void Add(const RunTarget& t) {
    ++runs;
    if (t.result.reached) ++reached;
    energy_sum += t.result.energy_j;
    if (!std::isnan(t.best_return)) {
      best_sum += t.best_return;
      ++best_count;
    }
  }
  bool reached_all() const { return runs > 0 && reached == runs; }
  double mean_energy() const { return energy_sum / runs; }
  double mean_best() const { return best_count > 0 ? best_sum / best_count : kNaN; }
};

// The winning method among `per_method` (in `order`): the lowest mean energy-to-target among the
// methods that reached the target in every run at this point; else the highest mean best return.
TradeoffCell Winner(const std::vector<std::string>& order,
                    const std::map<std::string, MethodAggregate>& per_method) {
  TradeoffCell cell;
  for (const std::string& method : order) {
    const auto it = per_method.find(method);
    if (it == per_method.end() || !it->second.reached_all()) continue;
    if (!cell.by_energy || it->second.mean_energy() < cell.figure) {
      cell.winner = method;
      cell.by_energy = true;
      cell.figure = it->second.mean_energy();
    }
  }
  if (cell.by_energy) return cell;
  cell.figure = kNaN;
  for (const std::string& method : order) {
    const auto it = per_method.find(method);
    if (it == per_method.end()) continue;
    const double best = it->second.mean_best();
    if (!std::isnan(best) && (std::isnan(cell.figure) || best > cell.figure)) {
      cell.winner = method;
      cell.figure = best;
    }
  }
  if (cell.winner.empty()) cell.winner = "none";
  return cell;
}

// Sorted distinct values, NaN ("not set") last.
std::vector<double> AxisValues(std::vector<double> values) {
  std::sort(values.begin(), values.end(), [](double a, double b) {
    if (std::isnan(a)) return false;
    if (std::isnan(b)) return true;
    return a < b;
  });
  values.erase(std::unique(values.begin(), values.end(),
                           [](double a, double b) {
                             return a == b || (std::isnan(a) && std::isnan(b));
                           }),
               values.end());
  return values;
}

std::size_t AxisIndex(const std::vector<double>& axis, double value) {
  for (std::size_t i = 0; i < axis.size(); ++i) {
    if (axis[i] == value || (std::isnan(axis[i]) && std::isnan(value))) return i;
  }
  MJL_DEMAND(false);
  return 0;
}

}  // namespace

EnergySplit& EnergySplit::operator+=(const EnergySplit& other) {
  compute_j += other.compute_j;
  uplink_j += other.uplink_j;
  downlink_j += other.downlink_j;
  sidelink_j += other.sidelink_j;
  return *this;
}

EnergySplit EnergySplit::Scaled(double factor) const {
  return {compute_j * factor, uplink_j * factor, downlink_j * factor, sidelink_j * factor};
}

EnergySplit RunData::total() const {
  EnergySplit sum;
  for (const RoundRow& row : rounds) sum += row.energy;
  return sum;
}

double RunData::gco2e() const {
  double sum = 0.0;
  for (const auto& row : carbon) sum += row.gco2e;
  return sum;
}

std::string FormatNumber(double value) {
  if (std::isnan(value)) return "n/a";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", value);
  return buffer;
}

std::vector<BatchCell> ParseCellsCsv(std::string_view text, const std::string& source_name) {
  // RFC 4180: fields separated by ',', records by '\n' (or "\r\n"); a quoted field may hold
  // commas, newlines and doubled quotes
  std::vector<std::vector<std::string>> records;
  std::vector<std::uint32_t> record_lines;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  bool field_started = false;
  std::uint32_t line = 1;
  std::uint32_t column = 1;
  std::uint32_t record_line = 1;
  const auto end_record = [&] {
    record.push_back(std::move(field));
    field.clear();
    if (!(record.size() == 1 && record[0].empty())) {  // skip blank lines
      records.push_back(std::move(record));
      record_lines.push_back(record_line);
    }
    record.clear();
    field_started = false;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
          ++column;
        } else {
          quoted = false;
        }
      } else {
        field.push_back(c);
        if (c == '\n') {
          ++line;
          column = 0;
        }
      }
    } else if (c == '"' && !field_started) {
      quoted = true;
      field_started = true;
    } else if (c == '"') {
      CsvError(source_name, line, column, "", "a quote inside an unquoted field");
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (c == '\n') {
      end_record();
      ++line;
      column = 0;
      record_line = line;
    } else if (c != '\r') {
      field.push_back(c);
      field_started = true;
    }
    ++column;
  }
  if (quoted) CsvError(source_name, line, column, "", "a quoted field is not closed");
  if (field_started || !field.empty() || !record.empty()) end_record();

  if (records.empty()) {
    CsvError(source_name, 1, 1, "", "empty file; expected the header cell,status,run_folder,overrides");
  }
  const std::vector<std::string>& header = records.front();
  const bool header_ok =
      header.size() == std::size(kCellsHeader) &&
      std::equal(header.begin(), header.end(), std::begin(kCellsHeader));
  if (!header_ok) {
    std::string got;
    for (const std::string& name : header) got += (got.empty() ? "" : ",") + name;
    CsvError(source_name, 1, 1, "", "expected the header cell,status,run_folder,overrides, got " + got);
  }
  std::vector<BatchCell> cells;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const std::vector<std::string>& fields = records[r];
    if (fields.size() != std::size(kCellsHeader)) {
      CsvError(source_name, record_lines[r], 1, "",
               "expected 4 fields (cell,status,run_folder,overrides), got " +
                   std::to_string(fields.size()));
    }
    BatchCell cell{fields[0], fields[1], fields[2], fields[3]};
    if (cell.status != "done" && cell.status != "failed" && cell.status != "pending") {
      CsvError(source_name, record_lines[r], 1, "status",
               "expected done, failed or pending, got '" + cell.status + "'");
    }
    cells.push_back(std::move(cell));
  }
  return cells;
}

std::map<std::string, std::string> ParseOverrides(std::string_view text,
                                                  const std::string& source_name) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(';', start), text.size());
    const std::string_view entry = text.substr(start, end - start);
    if (!entry.empty()) {
      const std::size_t eq = entry.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        throw ConfigError({source_name}, "overrides",
                          "expected key=value, got '" + std::string(entry) + "'");
      }
      out[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
    }
    start = end + 1;
  }
  return out;
}

FolderData ReadLedger(const std::filesystem::path& ledger_file) {
  const ledger::LedgerStore store(ledger_file.string(), {}, ledger::OpenMode::kReadOnly);
  FolderData folder;
  folder.folder = ledger_file.parent_path();
  folder.label = folder.folder.filename().string();
  std::map<std::string, int> seen;
  for (const ledger::RunRecord& record : store.Runs()) {
    // a deployment that `run --resume` redid: its replacement is in the ledger too
    if (record.status == ledger::kSupersededStatus) continue;
    RunData run;
    run.id = record.id;
    run.name = record.info.name;
    run.status = record.status;
    run.held_out = ledger::IsHeldOutRun(record.info.name);
    run.method = Label(record);
    // two runs of one method in one ledger: tell them apart by id
    if (++seen[run.method + (run.held_out ? "\n" : "")] > 1) {
      run.method += " #" + std::to_string(record.id);
    }
    run.rounds = ReadRounds(store, record.id);
    run.returns = ledger::QueryLastStepReturns(store, record.id, record.info.method);
    run.carbon = ledger::QueryCarbonByLocation(store, record.id);
    for (const ledger::NodeInfo& node : store.Nodes(record.id)) {
      if (node.role == "agent") ++run.agents;
    }
    run.tasks = CountTasks(store, record.id, record.info.method);
    if (folder.config_text.empty()) folder.config_text = record.info.config_text;
    folder.runs.push_back(std::move(run));
  }
  return folder;
}

ReportInput ReadSource(const std::filesystem::path& path) {
  std::error_code error;
  if (!fs::exists(path, error)) {
    throw std::invalid_argument(path.string() + ": no such run folder or batch folder");
  }
  ReportInput input;
  input.source = path;
  fs::path folder = path;
  if (fs::is_regular_file(path, error)) {
    if (path.filename() == "ledger.sqlite") {
      folder = path.parent_path();
    } else if (path.filename() == "cells.csv") {
      folder = path.parent_path();
    } else {
      throw std::invalid_argument(path.string() +
                                  ": expected a run folder, a batch folder, ledger.sqlite or "
                                  "cells.csv");
    }
    if (folder.empty()) folder = ".";
  }

  if (fs::exists(folder / "ledger.sqlite", error) && path.filename() != "cells.csv") {
    input.kind = SourceKind::kRun;
    FolderData data = ReadLedger(folder / "ledger.sqlite");
    if (data.runs.empty()) {
      throw std::invalid_argument((folder / "ledger.sqlite").string() + ": the ledger holds no runs");
    }
    input.folders.push_back(std::move(data));
    return input;
  }
  const fs::path cells_file = folder / "cells.csv";
  if (!fs::exists(cells_file, error)) {
    throw std::invalid_argument(folder.string() +
                                ": neither a run folder (no ledger.sqlite) nor a batch folder "
                                "(no cells.csv)");
  }
  input.kind = SourceKind::kBatch;
  std::ifstream in(cells_file, std::ios::binary);
  if (!in) throw std::runtime_error(cells_file.string() + ": cannot be read");
  std::ostringstream text;
  text << in.rdbuf();
  const std::string source_name = cells_file.string();
  for (const BatchCell& cell : ParseCellsCsv(text.str(), source_name)) {
    if (cell.status != "done") {
      input.left_out.push_back({cell.cell, cell.status, "the cell is " + cell.status});
      continue;
    }
    const std::string cell_source = source_name + ": cell " + cell.cell;
    const std::map<std::string, std::string> overrides = ParseOverrides(cell.overrides, cell_source);
    FolderData data;
    try {
      data = ReadLedger(folder / cell.run_folder / "ledger.sqlite");
    } catch (const std::exception& e) {
      input.left_out.push_back({cell.cell, cell.status, e.what()});
      continue;
    }
    if (data.runs.empty()) {
      input.left_out.push_back({cell.cell, cell.status, "the ledger holds no runs"});
      continue;
    }
    data.label = cell.cell;
    data.overrides = cell.overrides;
    if (const auto it = overrides.find(std::string(kUplinkKey)); it != overrides.end()) {
      data.uplink_kbit_per_j = ParseEfficiency(it->second, cell_source, it->first);
    }
    if (const auto it = overrides.find(std::string(kSidelinkKey)); it != overrides.end()) {
      data.sidelink_kbit_per_j = ParseEfficiency(it->second, cell_source, it->first);
    }
    input.folders.push_back(std::move(data));
  }
  if (input.folders.empty()) {
    std::string reasons;
    for (const LeftOutCell& cell : input.left_out) {
      if (reasons.size() > 400) break;
      reasons += "\n  " + cell.cell + ": " + cell.reason;
    }
    throw std::runtime_error(source_name + ": no cell of the batch could be read (" +
                             std::to_string(input.left_out.size()) + " left out)" + reasons);
  }
  return input;
}

RunTarget RepricedTarget(const RunData& run, const std::optional<double>& target,
                         std::optional<double> uplink_kbit_per_j,
                         std::optional<double> sidelink_kbit_per_j) {
  // energy per round, comm repriced as E = bits / (EE × 1000) where an efficiency is given
  std::vector<ledger::RoundEnergy> energy;
  std::vector<EnergySplit> splits;
  energy.reserve(run.rounds.size());
  splits.reserve(run.rounds.size());
  for (const RoundRow& row : run.rounds) {
    EnergySplit split = row.energy;
    if (uplink_kbit_per_j) split.uplink_j = row.uplink_bits / (*uplink_kbit_per_j * 1000.0);
    if (sidelink_kbit_per_j) split.sidelink_j = row.sidelink_bits / (*sidelink_kbit_per_j * 1000.0);
    splits.push_back(split);
    energy.push_back({row.round, split.total_j()});
  }
  RunTarget out;
  out.method = run.method;
  out.run = run.id;
  // no target: never reached, so the energy is the whole run (EnergyToTarget's own rule)
  out.result = ledger::EnergyToTarget(energy, run.returns,
                                      target.value_or(std::numeric_limits<double>::infinity()));
  out.result.method = run.method;
  for (std::size_t i = 0; i < run.rounds.size(); ++i) {
    if (out.result.reached && run.rounds[i].round > out.result.round) break;
    out.split += splits[i];
  }
  out.best_return = BestReturn(run.returns);
  if (run.returns.empty()) out.result.value = kNaN;
  return out;
}

Report Analyse(const ReportInput& input, const Target& target, const AnalysisOptions& options) {
  Report report;
  report.kind = input.kind;
  report.source = input.source;
  report.target = target;
  report.left_out = input.left_out;
  report.folders = static_cast<int>(input.folders.size());
  for (const FolderData& folder : input.folders) {
    if (!folder.overrides.empty()) report.overrides[folder.label] = folder.overrides;
  }
  const bool batch = input.kind == SourceKind::kBatch;

  // methods in ledger order (training runs)
  for (const FolderData& folder : input.folders) {
    for (const RunData& run : folder.runs) {
      if (!run.held_out &&
          std::find(report.methods.begin(), report.methods.end(), run.method) ==
              report.methods.end()) {
        report.methods.push_back(run.method);
      }
    }
  }

  // curves and energy-to-target per training run; held-out curves continue the training bill
  for (const FolderData& folder : input.folders) {
    std::map<std::string, double> training_total;
    for (const RunData& run : folder.runs) {
      if (!run.held_out) training_total[run.method] = run.total().total_j();
    }
    for (const RunData& run : folder.runs) {
      Curve curve;
      curve.method = run.method;
      curve.folder = folder.label;
      curve.held_out = run.held_out;
      double cumulative = run.held_out ? training_total[run.method] : 0.0;
      std::size_t e = 0;
      for (const ledger::RoundReturn& r : run.returns) {
        while (e < run.rounds.size() && run.rounds[e].round <= r.round) {
          cumulative += run.rounds[e].energy.total_j();
          ++e;
        }
        curve.points.push_back({r.round, cumulative, r.value});
      }
      if (!curve.points.empty()) report.curves.push_back(std::move(curve));
      if (!run.held_out) {
        RunTarget t = RepricedTarget(run, target.value, std::nullopt, std::nullopt);
        t.folder = folder.label;
        report.run_targets.push_back(std::move(t));
      }
    }
  }

  // per-method summaries
  for (const std::string& method : report.methods) {
    MethodSummary summary;
    summary.method = method;
    EnergySplit reached_sum;
    EnergySplit all_sum;
    double best_sum = 0.0;
    int best_count = 0;
    for (const RunTarget& t : report.run_targets) {
      if (t.method != method) continue;
      ++summary.runs;
      all_sum += t.split;
      if (t.result.reached) {
        ++summary.reached;
        reached_sum += t.split;
      }
      if (!std::isnan(t.best_return)) {
        best_sum += t.best_return;
        ++best_count;
      }
    }
    summary.mean_split = summary.reached > 0 ? reached_sum.Scaled(1.0 / summary.reached)
                                             : all_sum.Scaled(1.0 / std::max(1, summary.runs));
    summary.mean_best_return = best_count > 0 ? best_sum / best_count : kNaN;
    for (const FolderData& folder : input.folders) {
      for (const RunData& run : folder.runs) {
        if (run.method == method) summary.gco2e += run.gco2e();
      }
    }
    report.summaries.push_back(summary);
  }
  if (!target.value) {
    report.notes.push_back(
        "No target return (no --target and no evaluation.target_return in the runs' config): "
        "the energy bars show each run's whole energy, the trade-off map ranks methods by their "
        "best mean return, and the lifecycle figure is left out.");
  }

  // lifecycle: per folder, then the mean of each cost over folders
  if (target.value) {
    struct Sums {
      ledger::LifecycleCosts costs{};
      bool adapt_reached{true};
      bool scratch_reached{true};
      int folders{0};
      double agents{0.0};
    };
    std::map<std::string, Sums> sums;
    bool any_held_out = false;
    bool any_scratch = false;
    for (const FolderData& folder : input.folders) {
      const RunData* scratch = nullptr;
      for (const RunData& run : folder.runs) {
        if (!run.held_out && run.method == "scratch" && !scratch) scratch = &run;
      }
      any_scratch = any_scratch || scratch != nullptr;
      for (const RunData& held : folder.runs) {
        if (!held.held_out) continue;
        any_held_out = true;
        const RunData* training = nullptr;
        for (const RunData& run : folder.runs) {
          if (!run.held_out && run.method == held.method) training = &run;
        }
        if (!training || !scratch) continue;
        const RunTarget adapt = RepricedTarget(held, target.value, std::nullopt, std::nullopt);
        const RunTarget scratch_target =
            RepricedTarget(*scratch, target.value, std::nullopt, std::nullopt);
        const int held_tasks = held.tasks > 0 ? held.tasks : std::max(1, held.agents);
        const int scratch_agents = scratch->agents > 0 ? scratch->agents : std::max(1, scratch->tasks);
        Sums& s = sums[held.method];
        s.costs.meta_j += training->total().total_j();
        s.costs.adapt_j += adapt.result.energy_j / held_tasks;
        s.costs.scratch_j += scratch_target.result.energy_j / scratch_agents;
        s.adapt_reached = s.adapt_reached && adapt.result.reached;
        s.scratch_reached = s.scratch_reached && scratch_target.result.reached;
        s.agents += training->agents;
        ++s.folders;
      }
    }
    for (const std::string& method : report.methods) {
      const auto it = sums.find(method);
      if (it == sums.end()) continue;
      const Sums& s = it->second;
      LifecycleRow row;
      row.method = method;
      const double n = s.folders;
      row.costs = {s.costs.meta_j / n, s.costs.adapt_j / n, s.costs.scratch_j / n};
      row.adapt_reached = s.adapt_reached;
      row.scratch_reached = s.scratch_reached;
      row.folders = s.folders;
      row.agents = s.agents / n;
      row.break_even = ledger::BreakEvenTasks(row.costs);
      row.break_even_count = ledger::BreakEvenTaskCount(row.costs);
      report.lifecycle.push_back(row);
    }
    if (report.lifecycle.empty()) {
      report.notes.push_back(
          std::string("Lifecycle figure left out: it needs a scratch run and a held-out "
                      "deployment run (<name>:held-out) of a meta method in the same ledger; ") +
          (any_scratch ? "" : "no scratch run was found; ") +
          (any_held_out ? "" : "no held-out run was found (evaluation.held_out_tasks = 0?)."));
    }
  }

  // carbon per location and method (held-out deployment counted with its method)
  {
    std::map<std::string, std::map<std::string, std::pair<double, double>>> by_location;
    for (const FolderData& folder : input.folders) {
      for (const RunData& run : folder.runs) {
        for (const ledger::LocationCarbon& row : run.carbon) {
          auto& cell = by_location[row.location][run.method];
          cell.first += row.gco2e;
          cell.second += row.energy_j;
        }
      }
    }
    report.carbon.methods = report.methods;
    for (const auto& [location, per_method] : by_location) {
      report.carbon.locations.push_back(location);
      std::vector<double> grams;
      std::vector<double> joules;
      for (const std::string& method : report.methods) {
        const auto it = per_method.find(method);
        grams.push_back(it == per_method.end() ? 0.0 : it->second.first);
        joules.push_back(it == per_method.end() ? 0.0 : it->second.second);
      }
      report.carbon.gco2e.push_back(std::move(grams));
      report.carbon.energy_j.push_back(std::move(joules));
    }
  }

  // trade-off map: measured over the batch's UL/SL sweep, else repriced from the bits on air
  Tradeoff& map = report.tradeoff;
  bool swept = false;
  for (const FolderData& folder : input.folders) {
    swept = swept || folder.uplink_kbit_per_j || folder.sidelink_kbit_per_j;
  }
  if (batch && swept) {
    map.repriced = false;
    std::vector<std::pair<double, double>> points;
    for (const FolderData& folder : input.folders) {
      points.push_back(
          {folder.uplink_kbit_per_j ? *folder.uplink_kbit_per_j
                                    : InferredEfficiency(folder, true).value_or(kNaN),
           folder.sidelink_kbit_per_j ? *folder.sidelink_kbit_per_j
                                      : InferredEfficiency(folder, false).value_or(kNaN)});
    }
    std::vector<double> ul;
    std::vector<double> sl;
    for (const auto& [u, s] : points) {
      ul.push_back(u);
      sl.push_back(s);
    }
    map.uplink_values = AxisValues(ul);
    map.sidelink_values = AxisValues(sl);
    std::vector<std::map<std::string, MethodAggregate>> per_point(map.uplink_values.size() *
                                                                  map.sidelink_values.size());
    std::vector<int> folders_at(per_point.size(), 0);
    std::size_t t = 0;
    for (std::size_t f = 0; f < input.folders.size(); ++f) {
      const std::size_t index = AxisIndex(map.uplink_values, points[f].first) *
                                    map.sidelink_values.size() +
                                AxisIndex(map.sidelink_values, points[f].second);
      ++folders_at[index];
      // run_targets hold the folders' training runs in order
      for (const RunData& run : input.folders[f].runs) {
        if (run.held_out) continue;
        per_point[index][run.method].Add(report.run_targets[t++]);
      }
    }
    for (std::size_t i = 0; i < map.uplink_values.size(); ++i) {
      for (std::size_t j = 0; j < map.sidelink_values.size(); ++j) {
        const std::size_t index = i * map.sidelink_values.size() + j;
        TradeoffCell cell = folders_at[index] > 0 ? Winner(report.methods, per_point[index])
                                                  : TradeoffCell{.winner = "(no cell)"};
        cell.uplink_kbit_per_j = map.uplink_values[i];
        cell.sidelink_kbit_per_j = map.sidelink_values[j];
        cell.folders = folders_at[index];
        map.cells.push_back(cell);
      }
    }
  } else {
    map.repriced = true;
    map.uplink_values = options.whatif_kbit_per_j;
    map.sidelink_values = options.whatif_kbit_per_j;
    map.recorded_uplink = InferredEfficiency(input.folders.front(), true);
    map.recorded_sidelink = InferredEfficiency(input.folders.front(), false);
    bool uplink_traffic = false;
    bool sidelink_traffic = false;
    for (const FolderData& folder : input.folders) {
      uplink_traffic = uplink_traffic || InferredEfficiency(folder, true).has_value();
      sidelink_traffic = sidelink_traffic || InferredEfficiency(folder, false).has_value();
    }
    for (const double u : map.uplink_values) {
      for (const double s : map.sidelink_values) {
        std::map<std::string, MethodAggregate> per_method;
        for (const FolderData& folder : input.folders) {
          for (const RunData& run : folder.runs) {
            if (!run.held_out) per_method[run.method].Add(RepricedTarget(run, target.value, u, s));
          }
        }
        TradeoffCell cell = Winner(report.methods, per_method);
        cell.uplink_kbit_per_j = u;
        cell.sidelink_kbit_per_j = s;
        cell.folders = static_cast<int>(input.folders.size());
        map.cells.push_back(cell);
      }
    }
    std::string note =
        "The trade-off map is a what-if: every transfer's energy is repriced as bits on air / "
        "efficiency (the ledger keeps the bits), the compute and downlink energy and the learning "
        "curves stay as recorded";
    note += batch ? ", averaged over the batch's cells (the batch does not sweep " +
                        std::string(kUplinkKey) + " or " + std::string(kSidelinkKey) + ")."
                  : ".";
    if (!uplink_traffic) note += " No run has uplink traffic: the UL axis changes nothing.";
    if (!sidelink_traffic) note += " No run has sidelink traffic: the SL axis changes nothing.";
    report.notes.push_back(note);
  }
  return report;
}

}  // namespace metajoule::report
