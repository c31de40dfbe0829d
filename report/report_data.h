#pragma once
// What `metajoule report` shows, as plain data read from ledgers (docs/report.md lists every
// figure and the query behind it). Two steps, both free of plotting:
//
//   ReadSource(path)        a run folder (ledger.sqlite) or a batch folder (cells.csv + run
//                           folders) -> ReportInput: per ledger run, energy per round split into
//                           compute/UL/DL/SL with the bits on air per link, the mean evaluation
//                           return per round, carbon per grid location, agents and tasks;
//   Analyse(input, target)  -> Report: return-vs-cumulative-energy curves, energy-to-target with
//                           its split, lifecycle E(N) with the break-even point, carbon per
//                           location, and the trade-off map of the winning method over a grid of
//                           UL and SL efficiencies.
//
// The ledger is the source of truth (DESIGN.md): every number here is a sum over events or an
// average over evaluations rows, and the tests check each against ledger/queries.h.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/queries.h"

namespace metajoule::report {

// ---- input: what the ledgers hold ----------------------------------------------------------

/// Energy split by kind (J).
struct EnergySplit {
  double compute_j{0.0};
  double uplink_j{0.0};
  double downlink_j{0.0};
  double sidelink_j{0.0};
  double total_j() const { return compute_j + uplink_j + downlink_j + sidelink_j; }
  EnergySplit& operator+=(const EnergySplit& other);
  EnergySplit Scaled(double factor) const;
};

/// One round of one ledger run: its energy by kind and the bits on air of each link kind (the
/// raw work that comm energy is priced from: E = bits / EE).
struct RoundRow {
  std::int64_t round{0};
  EnergySplit energy{};
  double uplink_bits{0.0};
  double downlink_bits{0.0};
  double sidelink_bits{0.0};
};

/// One row of the ledger's runs table, with everything the report needs from its events and
/// evaluations.
struct RunData {
  std::int64_t id{0};
  std::string name{};
  std::string method{};
  std::string status{};
  /// A held-out deployment run (`<name>:held-out`, docs/config.md "[evaluation]"): round s is
  /// adaptation step s of the meta-model on new tasks.
  bool held_out{false};
  std::vector<RoundRow> rounds{};  ///< sorted by round
  /// Mean return per round of the run's own method (evaluations.method = runs.method), at the
  /// largest adaptation step recorded in that round; sorted by round.
  std::vector<ledger::RoundReturn> returns{};
  std::vector<ledger::LocationCarbon> carbon{};  ///< ledger::QueryCarbonByLocation
  int agents{0};  ///< nodes with role "agent"
  int tasks{0};   ///< distinct evaluations.task of the run's method
  EnergySplit total() const;
  double gco2e() const;
};

/// One run folder (one ledger).
struct FolderData {
  std::filesystem::path folder{};
  std::string label{};        ///< the batch cell name, or the folder name
  std::string config_text{};  ///< runs.config of the folder's first run (resolved TOML)
  std::vector<RunData> runs{};
  /// From the batch's overrides (network.links.{uplink,sidelink}.efficiency_kbit_per_j).
  std::optional<double> uplink_kbit_per_j{};
  std::optional<double> sidelink_kbit_per_j{};
  std::string overrides{};
};

/// A batch cell the report leaves out, and why ("failed", "pending", an unreadable ledger).
struct LeftOutCell {
  std::string cell{};
  std::string status{};
  std::string reason{};
};

enum class SourceKind { kRun, kBatch };

/// Everything read from a run folder or a batch folder.
struct ReportInput {
  SourceKind kind{SourceKind::kRun};
  std::filesystem::path source{};
  std::vector<FolderData> folders{};
  std::vector<LeftOutCell> left_out{};
};

/// One row of a batch's cells.csv (header `cell,status,run_folder,overrides`).
struct BatchCell {
  std::string cell{};
  std::string status{};      ///< done | failed | pending
  std::string run_folder{};  ///< relative to the batch folder
  std::string overrides{};   ///< key=value;key=value
};

/// Parses cells.csv text (RFC 4180 quoting). Throws ConfigError naming `source_name`, the line
/// and the column for a missing or different header, a wrong field count or an unknown status.
std::vector<BatchCell> ParseCellsCsv(std::string_view text, const std::string& source_name);

/// "a=1;b=2" -> {a: "1", b: "2"}. Throws ConfigError naming `source_name` for an entry without
/// '=' or with an empty key.
std::map<std::string, std::string> ParseOverrides(std::string_view text,
                                                  const std::string& source_name);

/// The override keys the trade-off map reads.
inline constexpr std::string_view kUplinkKey = "network.links.uplink.efficiency_kbit_per_j";
inline constexpr std::string_view kSidelinkKey = "network.links.sidelink.efficiency_kbit_per_j";

/// Reads one ledger (every run in it). Throws the ledger's errors (LedgerError and its
/// LedgerCorruptError / LedgerSchemaError, whose messages start with the path).
FolderData ReadLedger(const std::filesystem::path& ledger_file);

/// Reads a run folder (`<folder>/ledger.sqlite`) or a batch folder (`<folder>/cells.csv`).
/// Batch cells that are not `done`, or whose ledger cannot be read, go to left_out with the
/// reason. Throws std::invalid_argument when `path` is neither (naming what is missing),
/// the run folder's ledger errors, ConfigError for a malformed cells.csv, and
/// std::runtime_error when no batch cell could be read.
ReportInput ReadSource(const std::filesystem::path& path);

// ---- analysis ---------------------------------------------------------------------------------

/// The return that counts as learned, and where it came from (printed on the page).
struct Target {
  std::optional<double> value{};
  std::string source{};  ///< "--target", "evaluation.target_return of the runs' config", ...
};

/// One point of a learning curve: the mean return after `round`, against the cumulative energy
/// of rounds <= round.
struct CurvePoint {
  std::int64_t round{0};
  double cumulative_j{0.0};
  double value{0.0};
};
struct Curve {
  std::string method{};
  std::string folder{};
  /// Held-out deployment: its energies start at the training run's total (the deployment
  /// continues the method's bill).
  bool held_out{false};
  std::vector<CurvePoint> points{};
};

/// Energy-to-target of one training run (ledger::EnergyToTarget on its rounds and returns),
/// with the energy of rounds <= r* split by kind (the whole run when not reached / no target).
struct RunTarget {
  std::string method{};
  std::string folder{};
  std::int64_t run{0};
  ledger::TargetResult result{};  ///< result.energy_j == split.total_j()
  EnergySplit split{};
  double best_return{0.0};  ///< the best mean return of any round (NaN when never evaluated)
};

/// energy-to-target of one method over every folder (a batch: its mean over cells).
struct MethodSummary {
  std::string method{};
  int runs{0};
  int reached{0};
  /// Mean over the runs that reached the target; over every run (whole-run energy, a lower
  /// bound) when none did or there is no target.
  EnergySplit mean_split{};
  double mean_best_return{0.0};
  double gco2e{0.0};  ///< summed over folders, deployment included
};

/// The lifecycle comparison of one meta method against scratch (DESIGN.md "Metrics";
/// docs/config.md "[evaluation]"): E_meta = the training run's total energy; E_adapt = the
/// held-out run's energy-to-target / its tasks; E_scratch = the scratch run's energy-to-target /
/// its agents. A batch averages each cost over the folders that have all three.
struct LifecycleRow {
  std::string method{};
  ledger::LifecycleCosts costs{};
  bool adapt_reached{false};    ///< false: E_adapt is the whole deployment (a lower bound)
  bool scratch_reached{false};  ///< false: E_scratch is the whole scratch run (a lower bound)
  int folders{0};
  double agents{0.0};  ///< N of the run (mean over folders): its training agents
  std::optional<double> break_even{};                ///< ledger::BreakEvenTasks
  std::optional<std::int64_t> break_even_count{};    ///< ledger::BreakEvenTaskCount
};

/// The winner at one grid point of the trade-off map.
struct TradeoffCell {
  double uplink_kbit_per_j{0.0};   ///< NaN: not set and no uplink traffic to infer it from
  double sidelink_kbit_per_j{0.0};
  std::string winner{};
  bool by_energy{false};  ///< true: lowest energy-to-target; false: highest best return
  double figure{0.0};     ///< the winner's mean energy-to-target (J) or mean best return
  int folders{0};
};
struct Tradeoff {
  /// false: measured (the batch's cells at each point); true: repriced what-if from one ledger's
  /// bits on air (link efficiency prices a transfer; it does not change what is learned).
  bool repriced{false};
  std::vector<double> uplink_values{};
  std::vector<double> sidelink_values{};
  std::vector<TradeoffCell> cells{};  ///< uplink-major: cells[i * sidelink_values.size() + j]
  /// The run's own operating point, inferred as Σ bits / Σ J per link (repriced maps only).
  std::optional<double> recorded_uplink{};
  std::optional<double> recorded_sidelink{};
};

/// Carbon per grid location and method (gCO2e), summed over folders, deployment included.
struct CarbonTable {
  std::vector<std::string> locations{};
  std::vector<std::string> methods{};
  std::vector<std::vector<double>> gco2e{};   ///< [location][method]
  std::vector<std::vector<double>> energy_j{};
};

struct AnalysisOptions {
  /// Grid of the repriced what-if map (kbit/J), both axes; the papers' points are 25, 50, 200.
  std::vector<double> whatif_kbit_per_j{10.0, 25.0, 50.0, 100.0, 200.0, 500.0};
};

struct Report {
  SourceKind kind{SourceKind::kRun};
  std::filesystem::path source{};
  Target target{};
  std::vector<std::string> methods{};  ///< training methods, in ledger order
  std::vector<Curve> curves{};
  std::vector<RunTarget> run_targets{};  ///< training runs only
  std::vector<MethodSummary> summaries{};
  std::vector<LifecycleRow> lifecycle{};
  CarbonTable carbon{};
  Tradeoff tradeoff{};
  std::vector<std::string> notes{};  ///< why a figure is missing or what a figure assumes
  std::vector<LeftOutCell> left_out{};
  std::map<std::string, std::string> overrides{};  ///< batch: cell -> its overrides
  int folders{0};
};

/// Analyses `input` against `target`; pure (no I/O).
Report Analyse(const ReportInput& input, const Target& target, const AnalysisOptions& options = {});

/// Energy-to-target of one run at given link efficiencies (kbit/J; nullopt keeps the recorded
/// figure): the comm energy of a link is repriced as bits / (EE × 1000) (docs/ledger.md).
RunTarget RepricedTarget(const RunData& run, const std::optional<double>& target,
                         std::optional<double> uplink_kbit_per_j,
                         std::optional<double> sidelink_kbit_per_j);

/// Formats a double the way the report prints it ("%.4g"; "n/a" for NaN).
std::string FormatNumber(double value);

}  // namespace metajoule::report
