#pragma once
// Summary queries over a ledger (DESIGN.md "Energy model", Metrics) and the lifecycle
// break-even math. The math is in pure functions (testable by hand); the Query* functions read
// rows and call them. Every figure returned can be traced to events/evaluations rows.

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "ledger/ledger_store.h"

namespace metajoule::ledger {

// ---- where summaries are read from ---------------------------------------------------------

/// What a summary query reads: the totals tables (schema >= 2, a few rows per round: what the
/// queries use whenever the ledger has them), or the rows themselves (one scan of the run's
/// events or evaluations: the only way for a version-1 ledger opened read-only, and the
/// reference the totals are tested and benchmarked against). Both give the same figures up to
/// the rounding of the summation order (docs/ledger.md "Totals").
enum class SummarySource { kAuto, kTotals, kRows };

// ---- energy breakdown -----------------------------------------------------------------------

/// Energy of a run split into compute and the three link kinds (J), and its carbon (gCO2e).
struct EnergyBreakdown {
  double compute_j{0.0};
  double uplink_j{0.0};
  double downlink_j{0.0};
  double sidelink_j{0.0};
  double gco2e{0.0};
  std::int64_t events{0};
  double comm_j() const { return uplink_j + downlink_j + sidelink_j; }
  double total_j() const { return compute_j + comm_j(); }
};
EnergyBreakdown QueryBreakdown(const LedgerStore& store, std::int64_t run,
                               SummarySource source = SummarySource::kAuto);

/// Energy and carbon of one phase ("rollout", "learn", ...) of a run.
struct PhaseEnergy {
  std::string phase{};
  double energy_j{0.0};
  double gco2e{0.0};
};
std::vector<PhaseEnergy> QueryEnergyByPhase(const LedgerStore& store, std::int64_t run,
                                            SummarySource source = SummarySource::kAuto);

/// Energy and carbon of the events of one grid location (the location of the event's node;
/// "(unregistered)" for nodes never added with AddNode). Throws std::invalid_argument when
/// `source` is kTotals and the ledger has no totals (also for every query below).
struct LocationCarbon {
  std::string location{};
  double energy_j{0.0};
  double gco2e{0.0};
  double kwh() const { return energy_j / 3.6e6; }
};
std::vector<LocationCarbon> QueryCarbonByLocation(const LedgerStore& store, std::int64_t run,
                                                  SummarySource source = SummarySource::kAuto);

// ---- energy-to-target -----------------------------------------------------------------------

/// Energy spent in one round (J).
struct RoundEnergy {
  std::int64_t round{0};
  double energy_j{0.0};
};
/// Mean evaluation return in one round.
struct RoundReturn {
  std::int64_t round{0};
  double value{0.0};
};
/// Where a learning curve first reaches the target.
struct TargetResult {
  std::string method{};
  std::int32_t adapt_step{0};
  bool reached{false};
  std::int64_t round{-1};     ///< first round whose mean return >= target; -1 if never
  double value{0.0};          ///< that round's mean return (the best one seen, if never)
  double energy_j{0.0};       ///< Σ energy of rounds <= round (the whole run, if never)
};

/// Energy-to-target, pure: the cumulative energy of every round up to and including the first
/// round r* whose return reaches `target` (E = Σ_{r <= r*} E_r). `energy` and `returns` must be
/// sorted by round (std::invalid_argument otherwise). When the target is never reached, reached
/// is false and energy_j is the total (a lower bound).
TargetResult EnergyToTarget(std::span<const RoundEnergy> energy,
                            std::span<const RoundReturn> returns, double target);

/// Per-round energy of a run, sorted by round.
std::vector<RoundEnergy> QueryEnergyByRound(const LedgerStore& store, std::int64_t run,
                                            SummarySource source = SummarySource::kAuto);
/// Mean return per round of `method` at `adapt_step`, sorted by round.
std::vector<RoundReturn> QueryReturns(const LedgerStore& store, std::int64_t run,
                                      const std::string& method, std::int32_t adapt_step,
                                      SummarySource source = SummarySource::kAuto);

/// Energy and bits on air of one round: compute, and each link kind (the report's per-round
/// split).
struct RoundBreakdown {
  std::int64_t round{0};
  double compute_j{0.0};
  double uplink_j{0.0};
  double downlink_j{0.0};
  double sidelink_j{0.0};
  double uplink_bits{0.0};
  double downlink_bits{0.0};
  double sidelink_bits{0.0};
};
/// Per-round split of a run's energy and bits on air, sorted by round (the sums of
/// QueryBreakdown, grouped by round).
std::vector<RoundBreakdown> QueryRoundBreakdown(const LedgerStore& store, std::int64_t run,
                                                SummarySource source = SummarySource::kAuto);
/// Mean return per round at the largest adaptation step recorded in that round, sorted by
/// round: post-adaptation for meta methods, the only step for scratch, step s in round s of a
/// held-out run. `method` empty: every method's evaluations of the run.
std::vector<RoundReturn> QueryLastStepReturns(const LedgerStore& store, std::int64_t run,
                                              const std::string& method,
                                              SummarySource source = SummarySource::kAuto);

/// Energy-to-target of every method evaluated in `run`, at `adapt_step` (default: each
/// method's largest recorded adaptation step). Energy counts all of the run's events: a run
/// trains one method, so comparing methods means comparing runs (QueryEnergyToTargetAll).
std::vector<TargetResult> QueryEnergyToTarget(const LedgerStore& store, std::int64_t run,
                                              double target,
                                              std::optional<std::int32_t> adapt_step = {},
                                              SummarySource source = SummarySource::kAuto);

/// The run's own method (runs.method) evaluated against `target`, for every run in the ledger.
struct RunTargetResult {
  std::int64_t run{0};
  std::string run_name{};
  TargetResult result{};
};
std::vector<RunTargetResult> QueryEnergyToTargetAll(const LedgerStore& store, double target,
                                                    std::optional<std::int32_t> adapt_step = {});

// ---- lifecycle cost (pure) --------------------------------------------------------------------

/// Per-task energies for the lifecycle comparison (J), each >= 0:
///   meta:    E_meta, the one-off meta-training cost;
///   adapt:   E_adapt, adapting the meta-model to one new task (transfer included);
///   scratch: E_scratch, learning one task from scratch to the same target.
struct LifecycleCosts {
  double meta_j{0.0};
  double adapt_j{0.0};
  double scratch_j{0.0};
};
/// E(N) = E_meta + N × E_adapt (J). Throws std::invalid_argument on negative inputs.
double MetaLifecycleJ(const LifecycleCosts& costs, double tasks);
/// N × E_scratch (J).
double ScratchLifecycleJ(const LifecycleCosts& costs, double tasks);
/// The break-even point N* = E_meta / (E_scratch − E_adapt), where the two lines cross.
/// nullopt when E_scratch <= E_adapt (meta-learning never pays off). 0 when E_meta = 0.
std::optional<double> BreakEvenTasks(const LifecycleCosts& costs);
/// The smallest whole number of tasks N >= 1 with E_meta + N × E_adapt <= N × E_scratch.
std::optional<std::int64_t> BreakEvenTaskCount(const LifecycleCosts& costs);

// ---- export -------------------------------------------------------------------------------------

/// Writes the run's events as CSV (header row, then one row per event in insertion order);
/// the columns are those of the events table. For `metajoule ledger export RUN --csv`.
void ExportEventsCsv(const LedgerStore& store, std::int64_t run, std::ostream& out);
/// Writes the run's evaluations as CSV.
void ExportEvaluationsCsv(const LedgerStore& store, std::int64_t run, std::ostream& out);

}  // namespace metajoule::ledger
