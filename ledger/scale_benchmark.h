#pragma once
// The ledger-at-scale benchmark behind `metajoule bench ledger-scale` (issue #9 "Ledger at
// scale"): generates the ledger of a simulated many-agent meta-learning run (per round: one
// downlink broadcast, every agent's compute event and uplink report, the server's aggregation,
// every agent's evaluations) through LedgerStore's batched writes, then times every summary
// query behind `run`'s final table twice in the same run: from the totals tables and from the
// rows (a full scan of the run, the baseline), checks that both give the same figures and
// shows the query plans SQLite chose (docs/ledger.md "Totals", docs/scale.md).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ledger/ledger_store.h"

namespace metajoule::ledger {

struct LedgerScaleOptions {
  std::string directory{};  ///< where the database goes; empty = a fresh temp dir, removed after
  std::int64_t agents{10000};
  std::int64_t rounds{500};
  std::int32_t evaluations_per_agent_round{2};  ///< adaptation steps 0, 1, ... (maml records 2)
  std::int32_t batch_size{65536};               ///< rows per committed transaction
  std::int32_t repeats{3};  ///< timed calls per query from the totals (the best is kept)
  bool keep_files{false};
};

/// A statement a query ran (SQL with its bound values) and SQLite's plan for it (the detail
/// column of EXPLAIN QUERY PLAN, e.g. "SEARCH event_totals USING PRIMARY KEY (run=?)").
struct StatementPlan {
  std::string sql{};
  std::vector<std::string> plan{};
};

/// One summary query, from the totals and from the rows.
struct QueryTiming {
  std::string name{};
  double totals_ms{0.0};  ///< best of `repeats`
  double rows_ms{0.0};    ///< one call (a full scan of the run)
  bool same_figures{false};  ///< both paths agree to a relative 1e-9
  std::vector<StatementPlan> totals_plan{};  ///< the statements it ran and their plans
};

struct LedgerScaleResult {
  std::int64_t events{0};
  std::int64_t evaluations{0};
  double generate_seconds{0.0};
  double rows_per_s{0.0};  ///< (events + evaluations) / generate_seconds
  std::int64_t database_bytes{0};
  std::vector<QueryTiming> queries{};
  std::string directory{};
};

/// Runs the benchmark. Throws std::invalid_argument for non-positive sizes, LedgerError for
/// database failures, std::runtime_error when the two paths disagree on a figure.
LedgerScaleResult RunLedgerScaleBenchmark(const LedgerScaleOptions& options = {});

/// A short aligned report, with the target of issue #9 (each query < 1 s).
std::string FormatLedgerScaleBenchmark(const LedgerScaleResult& result);

/// Every statement `call` runs on `store`'s connection, with its query plan. For the benchmark
/// and the tests that pin the plans.
std::vector<StatementPlan> QueryPlans(const LedgerStore& store, const std::function<void()>& call);

}  // namespace metajoule::ledger
