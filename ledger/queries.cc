#include "ledger/queries.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "ledger/energy_model.h"

namespace metajoule::ledger {
namespace {

using internal::Statement;

void CheckNonNegative(const LifecycleCosts& costs) {
  if (!(costs.meta_j >= 0) || !(costs.adapt_j >= 0) || !(costs.scratch_j >= 0)) {
    throw std::invalid_argument("LifecycleCosts: expected energies >= 0, got meta " +
                                FormatDouble(costs.meta_j) + ", adapt " +
                                FormatDouble(costs.adapt_j) + ", scratch " +
                                FormatDouble(costs.scratch_j));
  }
}

// RFC 4180 quoting, only when needed
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// true: read the totals tables; false: scan the rows
bool UseTotals(const LedgerStore& store, SummarySource source) {
  switch (source) {
    case SummarySource::kAuto: return store.has_totals();
    case SummarySource::kRows: return false;
    case SummarySource::kTotals: break;
  }
  if (!store.has_totals()) {
    throw std::invalid_argument("summary from totals: " + store.path() +
                                " has no totals tables (a version-1 ledger opened read-only)");
  }
  return true;
}

std::int32_t MaxAdaptStep(const LedgerStore& store, std::int64_t run, const std::string& method,
                          bool totals) {
  Statement select(store.handle(), store.path(),
                   totals ? "SELECT max(adapt_step) FROM evaluation_totals WHERE run = ?1 AND "
                            "method = ?2"
                          : "SELECT max(adapt_step) FROM evaluations WHERE run = ?1 AND method = ?2");
  select.BindInt64(1, run);
  select.BindText(2, method);
  select.Step();
  return static_cast<std::int32_t>(select.ColumnInt64(0));
}

}  // namespace

EnergyBreakdown QueryBreakdown(const LedgerStore& store, std::int64_t run,
                               SummarySource source) {
  // filtered sums in one pass: over the run's totals rows (a primary-key range), or over its
  // events ("+run" keeps the planner on the sequential table scan, the fastest way through
  // every row when a ledger holds one or a few runs)
  const std::string sums =
      "SELECT coalesce(sum(energy_j) FILTER (WHERE kind = 'compute'), 0), "
      "coalesce(sum(energy_j) FILTER (WHERE link = 'uplink'), 0), "
      "coalesce(sum(energy_j) FILTER (WHERE link = 'downlink'), 0), "
      "coalesce(sum(energy_j) FILTER (WHERE link = 'sidelink'), 0), coalesce(sum(gco2e), 0), ";
  Statement select(store.handle(), store.path(),
                   UseTotals(store, source)
                       ? sums + "coalesce(sum(events), 0) FROM event_totals WHERE run = ?1"
                       : sums + "count(*) FROM events WHERE +run = ?1");
  select.BindInt64(1, run);
  EnergyBreakdown breakdown;
  select.Step();
  breakdown.compute_j = select.ColumnDouble(0);
  breakdown.uplink_j = select.ColumnDouble(1);
  breakdown.downlink_j = select.ColumnDouble(2);
  breakdown.sidelink_j = select.ColumnDouble(3);
  breakdown.gco2e = select.ColumnDouble(4);
  breakdown.events = select.ColumnInt64(5);
  return breakdown;
}

std::vector<PhaseEnergy> QueryEnergyByPhase(const LedgerStore& store, std::int64_t run,
                                            SummarySource source) {
  if (UseTotals(store, source)) {
    Statement select(store.handle(), store.path(),
                     "SELECT phase, sum(energy_j), sum(gco2e) FROM event_totals WHERE run = ?1 "
                     "GROUP BY phase ORDER BY phase");
    select.BindInt64(1, run);
    std::vector<PhaseEnergy> phases;
    while (select.Step()) {
      phases.push_back({select.ColumnText(0), select.ColumnDouble(1), select.ColumnDouble(2)});
    }
    return phases;
  }
  // one filtered sum per phase name, in one pass
  std::string sql = "SELECT ";
  for (const auto& [name, phase] : EnumNames(Phase{})) {
    const std::string filter = " FILTER (WHERE phase = '" + std::string(name) + "'), ";
    sql += "sum(energy_j)" + filter + "sum(gco2e)" + filter;
  }
  sql += "count(*) FROM events WHERE +run = ?1";
  Statement select(store.handle(), store.path(), sql);
  select.BindInt64(1, run);
  select.Step();
  std::vector<PhaseEnergy> phases;
  int column = 0;
  for (const auto& [name, phase] : EnumNames(Phase{})) {
    if (!select.ColumnIsNull(column)) {
      phases.push_back({std::string(name), select.ColumnDouble(column),
                        select.ColumnDouble(column + 1)});
    }
    column += 2;
  }
  std::sort(phases.begin(), phases.end(),
            [](const PhaseEnergy& a, const PhaseEnergy& b) { return a.phase < b.phase; });
  return phases;
}

std::vector<LocationCarbon> QueryCarbonByLocation(const LedgerStore& store, std::int64_t run,
                                                  SummarySource source) {
  if (UseTotals(store, source)) {
    // the totals carry each event's location (its node's, when the event was committed)
    Statement select(store.handle(), store.path(),
                     "SELECT location, sum(energy_j), sum(gco2e) FROM event_totals WHERE run = ?1 "
                     "GROUP BY location ORDER BY location");
    select.BindInt64(1, run);
    std::vector<LocationCarbon> rows;
    while (select.Step()) {
      rows.push_back({select.ColumnText(0), select.ColumnDouble(1), select.ColumnDouble(2)});
    }
    return rows;
  }
  // sum per node in one pass (a hash map, no sort), then fold the nodes into their locations
  std::unordered_map<std::int64_t, std::pair<double, double>> per_node;
  {
    Statement select(store.handle(), store.path(),
                     "SELECT node, energy_j, gco2e FROM events WHERE +run = ?1");
    select.BindInt64(1, run);
    while (select.Step()) {
      auto& sums = per_node[select.ColumnInt64(0)];
      sums.first += select.ColumnDouble(1);
      sums.second += select.ColumnDouble(2);
    }
  }
  std::unordered_map<std::int64_t, std::string> location_of;
  for (const NodeInfo& node : store.Nodes(run)) location_of[node.id] = node.location;
  std::map<std::string, LocationCarbon> by_location;
  for (const auto& [node, sums] : per_node) {
    const auto it = location_of.find(node);
    const std::string location = it != location_of.end() ? it->second : "(unregistered)";
    LocationCarbon& row = by_location[location];
    row.location = location;
    row.energy_j += sums.first;
    row.gco2e += sums.second;
  }
  std::vector<LocationCarbon> rows;
  for (auto& [location, row] : by_location) rows.push_back(std::move(row));
  return rows;
}

TargetResult EnergyToTarget(std::span<const RoundEnergy> energy,
                            std::span<const RoundReturn> returns, double target) {
  const auto by_round = [](const auto& a, const auto& b) { return a.round < b.round; };
  if (!std::is_sorted(energy.begin(), energy.end(), by_round) ||
      !std::is_sorted(returns.begin(), returns.end(), by_round)) {
    throw std::invalid_argument("EnergyToTarget: expected inputs sorted by round");
  }
  TargetResult result;
  bool any = false;
  for (const RoundReturn& r : returns) {
    if (!any || r.value > result.value) result.value = r.value;
    any = true;
    if (r.value >= target) {
      result.reached = true;
      result.round = r.round;
      result.value = r.value;
      break;
    }
  }
  // E = Σ_{r <= r*} E_r, or the whole run when the target is never reached
  for (const RoundEnergy& e : energy) {
    if (result.reached && e.round > result.round) break;
    result.energy_j += e.energy_j;
  }
  return result;
}

std::vector<RoundEnergy> QueryEnergyByRound(const LedgerStore& store, std::int64_t run,
                                            SummarySource source) {
  Statement select(store.handle(), store.path(),
                   std::string("SELECT round, sum(energy_j) FROM ") +
                       (UseTotals(store, source) ? "event_totals" : "events") +
                       " WHERE run = ?1 GROUP BY round ORDER BY round");
  select.BindInt64(1, run);
  std::vector<RoundEnergy> rows;
  while (select.Step()) rows.push_back({select.ColumnInt64(0), select.ColumnDouble(1)});
  return rows;
}

std::vector<RoundReturn> QueryReturns(const LedgerStore& store, std::int64_t run,
                                      const std::string& method, std::int32_t adapt_step,
                                      SummarySource source) {
  Statement select(store.handle(), store.path(),
                   UseTotals(store, source)
                       ? "SELECT round, return_sum / evaluations FROM evaluation_totals WHERE "
                         "run = ?1 AND method = ?2 AND adapt_step = ?3 ORDER BY round"
                       : "SELECT round, avg(return_value) FROM evaluations WHERE run = ?1 AND "
                         "method = ?2 AND adapt_step = ?3 GROUP BY round ORDER BY round");
  select.BindInt64(1, run);
  select.BindText(2, method);
  select.BindInt64(3, adapt_step);
  std::vector<RoundReturn> rows;
  while (select.Step()) rows.push_back({select.ColumnInt64(0), select.ColumnDouble(1)});
  return rows;
}

std::vector<RoundBreakdown> QueryRoundBreakdown(const LedgerStore& store, std::int64_t run,
                                                SummarySource source) {
  // filtered sums per round, over the run's totals rows or its events
  Statement select(store.handle(), store.path(),
                   std::string("SELECT round, "
                               "coalesce(sum(energy_j) FILTER (WHERE kind = 'compute'), 0), "
                               "coalesce(sum(energy_j) FILTER (WHERE link = 'uplink'), 0), "
                               "coalesce(sum(energy_j) FILTER (WHERE link = 'downlink'), 0), "
                               "coalesce(sum(energy_j) FILTER (WHERE link = 'sidelink'), 0), "
                               "coalesce(sum(bits_on_air) FILTER (WHERE link = 'uplink'), 0), "
                               "coalesce(sum(bits_on_air) FILTER (WHERE link = 'downlink'), 0), "
                               "coalesce(sum(bits_on_air) FILTER (WHERE link = 'sidelink'), 0) "
                               "FROM ") +
                       (UseTotals(store, source) ? "event_totals" : "events") +
                       " WHERE run = ?1 GROUP BY round ORDER BY round");
  select.BindInt64(1, run);
  std::vector<RoundBreakdown> rows;
  while (select.Step()) {
    rows.push_back({select.ColumnInt64(0), select.ColumnDouble(1), select.ColumnDouble(2),
                    select.ColumnDouble(3), select.ColumnDouble(4), select.ColumnDouble(5),
                    select.ColumnDouble(6), select.ColumnDouble(7)});
  }
  return rows;
}

std::vector<RoundReturn> QueryLastStepReturns(const LedgerStore& store, std::int64_t run,
                                              const std::string& method,
                                              SummarySource source) {
  Statement select(store.handle(), store.path(),
                   UseTotals(store, source)
                       ? "SELECT round, adapt_step, sum(return_sum) / sum(evaluations) FROM "
                         "evaluation_totals WHERE run = ?1 AND (?2 = '' OR method = ?2) "
                         "GROUP BY round, adapt_step ORDER BY round, adapt_step"
                       : "SELECT round, adapt_step, avg(return_value) FROM evaluations "
                         "WHERE run = ?1 AND (?2 = '' OR method = ?2) "
                         "GROUP BY round, adapt_step ORDER BY round, adapt_step");
  select.BindInt64(1, run);
  select.BindText(2, method);
  std::vector<RoundReturn> rows;
  while (select.Step()) {
    const RoundReturn row{select.ColumnInt64(0), select.ColumnDouble(2)};
    if (!rows.empty() && rows.back().round == row.round) {
      rows.back() = row;  // a larger step of the same round
    } else {
      rows.push_back(row);
    }
  }
  return rows;
}

std::vector<TargetResult> QueryEnergyToTarget(const LedgerStore& store, std::int64_t run,
                                              double target,
                                              std::optional<std::int32_t> adapt_step,
                                              SummarySource source) {
  const bool totals = UseTotals(store, source);
  const SummarySource resolved = totals ? SummarySource::kTotals : SummarySource::kRows;
  std::vector<std::string> methods;
  {
    Statement select(store.handle(), store.path(),
                     std::string("SELECT DISTINCT method FROM ") +
                         (totals ? "evaluation_totals" : "evaluations") +
                         " WHERE run = ?1 ORDER BY method");
    select.BindInt64(1, run);
    while (select.Step()) methods.push_back(select.ColumnText(0));
  }
  const std::vector<RoundEnergy> energy = QueryEnergyByRound(store, run, resolved);
  std::vector<TargetResult> results;
  for (const std::string& method : methods) {
    const std::int32_t step = adapt_step.value_or(MaxAdaptStep(store, run, method, totals));
    const std::vector<RoundReturn> returns = QueryReturns(store, run, method, step, resolved);
    TargetResult result = EnergyToTarget(energy, returns, target);
    result.method = method;
    result.adapt_step = step;
    results.push_back(std::move(result));
  }
  return results;
}

std::vector<RunTargetResult> QueryEnergyToTargetAll(const LedgerStore& store, double target,
                                                    std::optional<std::int32_t> adapt_step) {
  std::vector<RunTargetResult> rows;
  for (const RunRecord& run : store.Runs()) {
    for (TargetResult& result : QueryEnergyToTarget(store, run.id, target, adapt_step)) {
      if (result.method == run.info.method || run.info.method.empty()) {
        rows.push_back({run.id, run.info.name, std::move(result)});
      }
    }
  }
  return rows;
}

double MetaLifecycleJ(const LifecycleCosts& costs, double tasks) {
  CheckNonNegative(costs);
  return costs.meta_j + tasks * costs.adapt_j;
}

double ScratchLifecycleJ(const LifecycleCosts& costs, double tasks) {
  CheckNonNegative(costs);
  return tasks * costs.scratch_j;
}

std::optional<double> BreakEvenTasks(const LifecycleCosts& costs) {
  CheckNonNegative(costs);
  // E_meta + N E_adapt = N E_scratch  =>  N* = E_meta / (E_scratch − E_adapt)
  if (costs.meta_j == 0) return 0.0;
  if (!(costs.scratch_j > costs.adapt_j)) return std::nullopt;
  return costs.meta_j / (costs.scratch_j - costs.adapt_j);
}

std::optional<std::int64_t> BreakEvenTaskCount(const LifecycleCosts& costs) {
  const std::optional<double> crossing = BreakEvenTasks(costs);
  if (!crossing) return std::nullopt;
  if (*crossing > 9e18) return std::nullopt;
  auto n = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(*crossing)));
  // guard the rounding of N*: settle on the exact smallest N by the inequality itself
  const auto pays_off = [&](std::int64_t tasks) {
    const auto t = static_cast<double>(tasks);
    return MetaLifecycleJ(costs, t) <= ScratchLifecycleJ(costs, t);
  };
  while (!pays_off(n)) ++n;
  while (n > 1 && pays_off(n - 1)) --n;
  return n;
}

void ExportEventsCsv(const LedgerStore& store, std::int64_t run, std::ostream& out) {
  // peer (the receiver of a transfer) is empty for compute events and ledgers before version 3
  Statement select(store.handle(), store.path(),
                   std::string("SELECT id, run, round, node, phase, kind, coalesce(link, ''), "
                               "sim_steps, flops, cpu_s, wall_s, bits_on_air, payload_bits, "
                               "attempts, energy_j, energy_source, gco2e, ") +
                       (store.has_peer() ? "coalesce(peer, '')" : "''") +
                       " FROM events WHERE run = ?1 ORDER BY id");
  select.BindInt64(1, run);
  out << "id,run,round,node,phase,kind,link,sim_steps,flops,cpu_s,wall_s,bits_on_air,"
         "payload_bits,attempts,energy_j,energy_source,gco2e,peer\n";
  while (select.Step()) {
    out << select.ColumnInt64(0) << ',' << select.ColumnInt64(1) << ',' << select.ColumnInt64(2)
        << ',' << select.ColumnInt64(3) << ',' << select.ColumnText(4) << ','
        << select.ColumnText(5) << ',' << select.ColumnText(6) << ',' << select.ColumnInt64(7)
        << ',' << FormatDouble(select.ColumnDouble(8)) << ','
        << FormatDouble(select.ColumnDouble(9)) << ',' << FormatDouble(select.ColumnDouble(10))
        << ',' << select.ColumnInt64(11) << ',' << select.ColumnInt64(12) << ','
        << select.ColumnInt64(13) << ',' << FormatDouble(select.ColumnDouble(14)) << ','
        << select.ColumnText(15) << ',' << FormatDouble(select.ColumnDouble(16)) << ','
        << select.ColumnText(17) << '\n';
  }
}

void ExportEvaluationsCsv(const LedgerStore& store, std::int64_t run, std::ostream& out) {
  Statement select(store.handle(), store.path(),
                   "SELECT id, run, round, node, task, method, adapt_step, return_value "
                   "FROM evaluations WHERE run = ?1 ORDER BY id");
  select.BindInt64(1, run);
  out << "id,run,round,node,task,method,adapt_step,return\n";
  while (select.Step()) {
    out << select.ColumnInt64(0) << ',' << select.ColumnInt64(1) << ',' << select.ColumnInt64(2)
        << ',' << select.ColumnInt64(3) << ',' << CsvField(select.ColumnText(4)) << ','
        << CsvField(select.ColumnText(5)) << ',' << select.ColumnInt64(6) << ','
        << FormatDouble(select.ColumnDouble(7)) << '\n';
  }
}

}  // namespace metajoule::ledger
