#pragma once
// The ledger benchmark behind `metajoule bench ledger`: batched event inserts per second through
// the real recording path (RunRecorder: pricing, queueing, batched commits), against raw SQLite
// inserts of the same rows into the same table with a minimal prepared statement (the ratio is
// our overhead), then the latency of the summary queries and of repricing on the result.

#include <cstdint>
#include <string>

namespace metajoule::ledger {

/// Size of the generated ledger: nodes × rounds × events_per_node_round events.
struct LedgerBenchmarkOptions {
  std::string directory{};            ///< where the databases go; empty = a fresh temp dir
  std::int64_t nodes{1000};
  std::int64_t rounds{100};
  std::int32_t events_per_node_round{2};  ///< alternating compute and comm (UL/DL/SL)
  std::int32_t batch_size{4096};
  bool keep_files{false};             ///< leave the databases for inspection
};

/// Figures measured by RunLedgerBenchmark. Rates in events/s, latencies in ms.
struct LedgerBenchmarkResult {
  std::int64_t events{0};
  double ledger_events_per_s{0.0};
  double raw_events_per_s{0.0};
  double overhead{0.0};  ///< raw rate / ledger rate (1.0 = no overhead)
  double breakdown_ms{0.0};
  double energy_to_target_ms{0.0};
  double carbon_by_location_ms{0.0};
  double reprice_ms{0.0};
  std::int64_t database_bytes{0};
  std::string directory{};
};

/// Runs the benchmark. Throws std::invalid_argument for non-positive sizes, LedgerError for
/// database failures.
LedgerBenchmarkResult RunLedgerBenchmark(const LedgerBenchmarkOptions& options = {});

/// A short aligned report of the figures.
std::string FormatBenchmark(const LedgerBenchmarkResult& result);

}  // namespace metajoule::ledger
