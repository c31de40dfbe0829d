#include "ledger/scale_benchmark.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "ledger/queries.h"

namespace metajoule::ledger {
namespace {

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// grid locations of the generated clusters, with the built-in intensities (docs/ledger.md)
struct GridLocation {
  const char* name;
  double gco2e_per_kwh;
};
constexpr GridLocation kLocations[] = {
    {"france", 56.0}, {"germany", 381.0}, {"poland", 662.0}, {"norway", 30.0}};
constexpr GridLocation kServerLocation{"world", 481.0};
constexpr std::int64_t kClusterSize = 32;
constexpr double kLinkBitsPerJoule = 50e3;   // the papers' middle operating point
constexpr std::int64_t kModelBits = 32 * 4800;  // a 4,800-parameter policy in float32
constexpr std::int64_t kHeaderBits = 8 * 64;

Event Priced(Event event, double energy_j, double gco2e_per_kwh) {
  event.energy_j = energy_j;
  event.gco2e = energy_j / 3.6e6 * gco2e_per_kwh;
  return event;
}

Event Transfer(std::int64_t round, std::int32_t node, LinkKind link, double gco2e_per_kwh) {
  Event event;
  event.round = round;
  event.node = node;
  event.phase = Phase::kTransfer;
  event.kind = EventKind::kComm;
  event.link = link;
  event.payload_bits = kModelBits;
  event.bits_on_air = kModelBits + kHeaderBits;
  event.attempts = 1;
  return Priced(event, static_cast<double>(event.bits_on_air) / kLinkBitsPerJoule, gco2e_per_kwh);
}

Event Compute(std::int64_t round, std::int32_t node, Phase phase, double energy_j,
              double gco2e_per_kwh) {
  Event event;
  event.round = round;
  event.node = node;
  event.phase = phase;
  event.kind = EventKind::kCompute;
  event.sim_steps = phase == Phase::kAggregate ? 0 : 2000;
  event.flops = 1.5e7;
  event.cpu_seconds = 0.01;
  event.wall_seconds = 0.012;
  return Priced(event, energy_j, gco2e_per_kwh);
}

// The ledger of a meta-learning run: per round, the downlink broadcast, every agent's compute
// event and uplink report, the server's aggregation, and every agent's evaluations at adaptation
// steps 0..E-1 (a return rising over the rounds). Agent k is node k, in cluster (k-1)/32.
void Generate(LedgerStore& store, std::int64_t run, const LedgerScaleOptions& options,
              LedgerScaleResult& result) {
  store.AddNode(run, {0, "server", "", "edge_server", kServerLocation.name});
  std::vector<std::string> tasks;
  for (std::int64_t k = 1; k <= options.agents; ++k) {
    const GridLocation& grid = kLocations[((k - 1) / kClusterSize) % std::size(kLocations)];
    // appended, not concatenated: GCC 12 -Wrestrict false positive
    std::string cluster = "c";
    cluster += std::to_string((k - 1) / kClusterSize);
    store.AddNode(run, {static_cast<std::int32_t>(k), "agent", cluster, "robot_board", grid.name});
    std::string task = "reach2d goal ";
    task += std::to_string(k);
    tasks.push_back(std::move(task));
  }
  const auto start = Clock::now();
  for (std::int64_t round = 1; round <= options.rounds; ++round) {
    store.Append(run, Transfer(round, 0, LinkKind::kDownlink, kServerLocation.gco2e_per_kwh));
    for (std::int64_t k = 1; k <= options.agents; ++k) {
      const auto node = static_cast<std::int32_t>(k);
      const double ci = kLocations[((k - 1) / kClusterSize) % std::size(kLocations)].gco2e_per_kwh;
      store.Append(run, Compute(round, node, Phase::kLearn, 0.05 + 0.001 * static_cast<double>(k % 7), ci));
      store.Append(run, Transfer(round, node, LinkKind::kUplink, ci));
    }
    store.Append(run, Compute(round, 0, Phase::kAggregate, 0.3, kServerLocation.gco2e_per_kwh));
    result.events += 2 * options.agents + 2;
    const double progress = static_cast<double>(round) / static_cast<double>(options.rounds);
    for (std::int64_t k = 1; k <= options.agents; ++k) {
      for (std::int32_t step = 0; step < options.evaluations_per_agent_round; ++step) {
        store.AddEvaluation(run, {round, static_cast<std::int32_t>(k),
                                  tasks[static_cast<std::size_t>(k - 1)], "maml", step,
                                  -50.0 + 45.0 * progress + 2.0 * step +
                                      0.01 * static_cast<double>(k % 5)});
      }
    }
    result.evaluations += options.agents * options.evaluations_per_agent_round;
  }
  store.EndRun(run);
  result.generate_seconds = MillisecondsSince(start) / 1e3;
  result.rows_per_s =
      static_cast<double>(result.events + result.evaluations) / result.generate_seconds;
}

// a query's figures, flattened, to compare the two paths
using Figures = std::vector<double>;

bool SameFigures(const Figures& a, const Figures& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(std::abs(a[i] - b[i]) <= 1e-9 * std::max(1.0, std::abs(b[i])))) return false;
  }
  return true;
}

struct NamedQuery {
  const char* name;
  std::function<Figures(SummarySource)> run;
};

std::vector<NamedQuery> SummaryQueries(const LedgerStore& store, std::int64_t run) {
  // the Query* calls behind `run`'s final table and its energy-to-target lines
  return {
      {"QueryBreakdown",
       [&store, run](SummarySource source) {
         const EnergyBreakdown b = QueryBreakdown(store, run, source);
         return Figures{b.compute_j, b.uplink_j, b.downlink_j, b.sidelink_j, b.gco2e,
                        static_cast<double>(b.events)};
       }},
      {"QueryEnergyByPhase",
       [&store, run](SummarySource source) {
         Figures figures;
         for (const PhaseEnergy& p : QueryEnergyByPhase(store, run, source)) {
           figures.insert(figures.end(), {static_cast<double>(p.phase.size()), p.energy_j, p.gco2e});
         }
         return figures;
       }},
      {"QueryCarbonByLocation",
       [&store, run](SummarySource source) {
         Figures figures;
         for (const LocationCarbon& l : QueryCarbonByLocation(store, run, source)) {
           figures.insert(figures.end(), {static_cast<double>(l.location.size()), l.energy_j, l.gco2e});
         }
         return figures;
       }},
      {"QueryEnergyByRound",
       [&store, run](SummarySource source) {
         Figures figures;
         for (const RoundEnergy& r : QueryEnergyByRound(store, run, source)) {
           figures.insert(figures.end(), {static_cast<double>(r.round), r.energy_j});
         }
         return figures;
       }},
      {"QueryReturns",
       [&store, run](SummarySource source) {
         Figures figures;
         for (const RoundReturn& r : QueryReturns(store, run, "maml", 1, source)) {
           figures.insert(figures.end(), {static_cast<double>(r.round), r.value});
         }
         return figures;
       }},
      {"QueryEnergyToTarget",
       [&store, run](SummarySource source) {
         Figures figures;
         for (const TargetResult& t : QueryEnergyToTarget(store, run, -10.0, {}, source)) {
           figures.insert(figures.end(), {t.reached ? 1.0 : 0.0, static_cast<double>(t.round),
                                          t.value, t.energy_j,
                                          static_cast<double>(t.adapt_step)});
         }
         return figures;
       }},
  };
}

}  // namespace

std::vector<StatementPlan> QueryPlans(const LedgerStore& store, const std::function<void()>& call) {
  sqlite3* db = store.handle();
  std::vector<std::string> statements;
  const auto trace = [](unsigned, void* context, void* statement, void*) -> int {
    char* sql = sqlite3_expanded_sql(static_cast<sqlite3_stmt*>(statement));
    if (sql != nullptr) {
      static_cast<std::vector<std::string>*>(context)->emplace_back(sql);
      sqlite3_free(sql);
    }
    return 0;
  };
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace, &statements);
  try {
    call();
  } catch (...) {
    sqlite3_trace_v2(db, 0, nullptr, nullptr);
    throw;
  }
  sqlite3_trace_v2(db, 0, nullptr, nullptr);

  std::vector<StatementPlan> plans;
  for (const std::string& sql : statements) {
    StatementPlan plan{sql, {}};
    internal::Statement explain(db, store.path(), "EXPLAIN QUERY PLAN " + sql);
    while (explain.Step()) plan.plan.push_back(explain.ColumnText(3));
    plans.push_back(std::move(plan));
  }
  return plans;
}

LedgerScaleResult RunLedgerScaleBenchmark(const LedgerScaleOptions& options) {
  if (options.agents < 1 || options.rounds < 1 || options.evaluations_per_agent_round < 1 ||
      options.batch_size < 1 || options.repeats < 1) {
    throw std::invalid_argument("RunLedgerScaleBenchmark: expected agents, rounds, "
                                "evaluations_per_agent_round, batch_size and repeats >= 1");
  }
  namespace fs = std::filesystem;
  LedgerScaleResult result;
  fs::path directory = options.directory;
  if (directory.empty()) {
    directory = fs::temp_directory_path() /
                ("metajoule-bench-ledger-scale-" + std::to_string(static_cast<long>(getpid())));
  }
  fs::create_directories(directory);
  result.directory = directory.string();
  const std::string path = (directory / "ledger.sqlite").string();
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);

  std::int64_t run = 0;
  {
    LedgerStore store(path, StoreOptions{options.batch_size, Durability::kNormal});
    run = store.BeginRun({.name = "scale", .method = "maml"});
    Generate(store, run, options, result);
  }
  std::error_code error;
  result.database_bytes = static_cast<std::int64_t>(fs::file_size(path, error));

  {
    const LedgerStore store(path, {}, OpenMode::kReadOnly);
    for (const NamedQuery& query : SummaryQueries(store, run)) {
      QueryTiming timing;
      timing.name = query.name;
      auto start = Clock::now();
      const Figures rows = query.run(SummarySource::kRows);
      timing.rows_ms = MillisecondsSince(start);
      Figures totals;
      for (int i = 0; i < options.repeats; ++i) {
        start = Clock::now();
        totals = query.run(SummarySource::kTotals);
        const double ms = MillisecondsSince(start);
        timing.totals_ms = i == 0 ? ms : std::min(timing.totals_ms, ms);
      }
      timing.same_figures = SameFigures(totals, rows);
      timing.totals_plan = QueryPlans(store, [&] { query.run(SummarySource::kTotals); });
      if (!timing.same_figures) {
        throw std::runtime_error(std::string("RunLedgerScaleBenchmark: ") + query.name +
                                 " gives other figures from the totals than from the rows");
      }
      result.queries.push_back(std::move(timing));
    }
  }
  if (!options.keep_files) {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix, error);
    if (options.directory.empty()) fs::remove(directory, error);
  }
  return result;
}

std::string FormatLedgerScaleBenchmark(const LedgerScaleResult& r) {
  std::string text;
  char line[512];
  std::snprintf(line, sizeof line,
                "ledger scale benchmark: %lld events + %lld evaluations\n"
                "  generation (Append/AddEvaluation, batched commits)  %8.1f s, %10.0f rows/s\n"
                "  database size                                       %8.1f MB\n"
                "  %-24s %12s %16s %9s %5s  %s\n",
                static_cast<long long>(r.events), static_cast<long long>(r.evaluations),
                r.generate_seconds, r.rows_per_s, static_cast<double>(r.database_bytes) / 1e6,
                "query", "totals ms", "rows ms (scan)", "speed-up", "same", "plan (totals)");
  text += line;
  double totals = 0.0;
  double rows = 0.0;
  bool met = true;
  for (const QueryTiming& q : r.queries) {
    std::string plan;
    for (const StatementPlan& statement : q.totals_plan) {
      for (const std::string& detail : statement.plan) {
        if (plan.find(detail) == std::string::npos) plan += (plan.empty() ? "" : "; ") + detail;
      }
    }
    std::snprintf(line, sizeof line, "  %-24s %12.2f %16.1f %8.0fx %5s  %s\n", q.name.c_str(),
                  q.totals_ms, q.rows_ms, q.rows_ms / std::max(q.totals_ms, 1e-6),
                  q.same_figures ? "yes" : "NO", plan.c_str());
    text += line;
    totals += q.totals_ms;
    rows += q.rows_ms;
    met = met && q.totals_ms < 1000.0;
  }
  std::snprintf(line, sizeof line,
                "  %-24s %12.2f %16.1f %8.0fx\n"
                "target (issue #9): every summary query < 1000 ms: %s\n",
                "all of them", totals, rows, rows / std::max(totals, 1e-6), met ? "met" : "NOT met");
  text += line;
  return text;
}

}  // namespace metajoule::ledger
