#include "ledger/benchmark.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "ledger/queries.h"
#include "ledger/recorder.h"
#include "ledger/reprice.h"

namespace metajoule::ledger {
namespace {

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// deterministic synthetic work: a rollout per node-round, then a transfer on a rotating link
std::vector<Event> GenerateEvents(const LedgerBenchmarkOptions& options) {
  std::vector<Event> events;
  events.reserve(static_cast<std::size_t>(options.nodes * options.rounds *
                                          options.events_per_node_round));
  constexpr LinkKind kLinks[] = {LinkKind::kUplink, LinkKind::kDownlink, LinkKind::kSidelink};
  for (std::int64_t round = 0; round < options.rounds; ++round) {
    for (std::int64_t node = 0; node < options.nodes; ++node) {
      for (std::int32_t k = 0; k < options.events_per_node_round; ++k) {
        Event event;
        event.round = round;
        event.node = static_cast<std::int32_t>(node);
        if (k % 2 == 0) {
          event.kind = EventKind::kCompute;
          event.phase = Phase::kRollout;
          event.sim_steps = 2000 + (node + round) % 97;
          event.flops = 1.5e7 + static_cast<double>(node % 13) * 1e5;
          event.cpu_seconds = 0.01;
          event.wall_seconds = 0.012;
        } else {
          event.kind = EventKind::kComm;
          event.phase = Phase::kTransfer;
          event.link = kLinks[static_cast<std::size_t>((node + k) % 3)];
          event.payload_bits = 32 * 5000;
          event.bits_on_air = event.payload_bits + 8 * 64;
          event.attempts = 1;
        }
        events.push_back(event);
      }
    }
  }
  return events;
}

// the baseline: the same rows, one minimal prepared INSERT, the same batching, no ledger code
double RawInsertsPerSecond(const std::string& path, const std::vector<Event>& events,
                           std::int32_t batch_size) {
  sqlite3* raw = nullptr;
  if (sqlite3_open(path.c_str(), &raw) != SQLITE_OK) {
    sqlite3_close(raw);
    throw LedgerError(path, "cannot open the baseline database");
  }
  const internal::SqliteHandle db(raw);
  internal::Exec(raw, path,
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                 "CREATE TABLE events (id INTEGER PRIMARY KEY, run INTEGER NOT NULL, round "
                 "INTEGER NOT NULL, node INTEGER NOT NULL, phase TEXT NOT NULL, kind TEXT NOT "
                 "NULL, link TEXT, sim_steps INTEGER NOT NULL, flops REAL NOT NULL, cpu_s REAL "
                 "NOT NULL, wall_s REAL NOT NULL, bits_on_air INTEGER NOT NULL, payload_bits "
                 "INTEGER NOT NULL, attempts INTEGER NOT NULL, energy_j REAL NOT NULL, "
                 "energy_source TEXT NOT NULL, gco2e REAL NOT NULL);"
                 "CREATE INDEX events_by_run_round ON events (run, round);");
  internal::Statement insert(raw, path,
                             "INSERT INTO events VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
                             "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)");
  const auto start = Clock::now();
  std::size_t i = 0;
  while (i < events.size()) {
    internal::Exec(raw, path, "BEGIN");
    const std::size_t end = std::min(events.size(), i + static_cast<std::size_t>(batch_size));
    for (; i < end; ++i) {
      const Event& e = events[i];
      sqlite3_stmt* s = insert.get();
      sqlite3_bind_int64(s, 1, 1);
      sqlite3_bind_int64(s, 2, e.round);
      sqlite3_bind_int64(s, 3, e.node);
      sqlite3_bind_text(s, 4, e.kind == EventKind::kCompute ? "rollout" : "transfer", -1,
                        SQLITE_STATIC);
      sqlite3_bind_text(s, 5, e.kind == EventKind::kCompute ? "compute" : "comm", -1,
                        SQLITE_STATIC);
      sqlite3_bind_text(s, 6, e.kind == EventKind::kCompute ? "" : "uplink", -1, SQLITE_STATIC);
      sqlite3_bind_int64(s, 7, e.sim_steps);
      sqlite3_bind_double(s, 8, e.flops);
      sqlite3_bind_double(s, 9, e.cpu_seconds);
      sqlite3_bind_double(s, 10, e.wall_seconds);
      sqlite3_bind_int64(s, 11, e.bits_on_air);
      sqlite3_bind_int64(s, 12, e.payload_bits);
      sqlite3_bind_int64(s, 13, e.attempts);
      sqlite3_bind_double(s, 14, 1.0);
      sqlite3_bind_text(s, 15, "modelled", -1, SQLITE_STATIC);
      sqlite3_bind_double(s, 16, 0.1);
      if (sqlite3_step(s) != SQLITE_DONE) {
        throw LedgerError(path, internal::SqliteMessage(raw, "baseline insert failed"));
      }
      sqlite3_reset(s);
    }
    internal::Exec(raw, path, "COMMIT");
  }
  const double seconds = MillisecondsSince(start) / 1e3;
  return static_cast<double>(events.size()) / seconds;
}

}  // namespace

LedgerBenchmarkResult RunLedgerBenchmark(const LedgerBenchmarkOptions& options) {
  if (options.nodes < 1 || options.rounds < 1 || options.events_per_node_round < 1 ||
      options.batch_size < 1) {
    throw std::invalid_argument("RunLedgerBenchmark: expected nodes, rounds, "
                                "events_per_node_round and batch_size >= 1");
  }
  LedgerBenchmarkResult result;
  namespace fs = std::filesystem;
  fs::path directory = options.directory;
  if (directory.empty()) {
    directory = fs::temp_directory_path() /
                ("metajoule-bench-ledger-" + std::to_string(static_cast<long>(getpid())));
  }
  fs::create_directories(directory);
  result.directory = directory.string();
  const std::string ledger_path = (directory / "ledger.sqlite").string();
  const std::string raw_path = (directory / "baseline.sqlite").string();
  for (const auto& path : {ledger_path, raw_path}) {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix);
  }

  const std::vector<Event> events = GenerateEvents(options);
  result.events = static_cast<std::int64_t>(events.size());
  const EnergyModel model;
  std::int64_t run = 0;
  {
    LedgerStore store(ledger_path, StoreOptions{options.batch_size, Durability::kNormal});
    RunRecorder recorder(store, model, RunInfo{.name = "bench", .method = "maml"},
                         SelectMeter(EnergySource::kModelled));
    run = recorder.run();
    const char* devices[] = {"robot_board", "edge_server"};
    const char* locations[] = {"france", "germany", "world"};
    for (std::int64_t node = 0; node < options.nodes; ++node) {
      recorder.AddNode({static_cast<std::int32_t>(node), "agent", "c0",
                        devices[node % 2 == 0 ? 0 : 1], locations[node % 3]});
    }

    // the measured path: price, queue, commit in batches
    const auto start = Clock::now();
    for (const Event& event : events) recorder.Record(event);
    store.Flush();
    result.ledger_events_per_s =
        static_cast<double>(events.size()) / (MillisecondsSince(start) / 1e3);

    for (std::int64_t round = 0; round < options.rounds; ++round) {
      for (std::int32_t task = 0; task < 10; ++task) {
        recorder.RecordEvaluation({round, task, "task" + std::to_string(task), "maml", 1,
                                   -50.0 + 45.0 * static_cast<double>(round) /
                                               static_cast<double>(options.rounds)});
      }
    }
    recorder.Finish();
  }
  std::error_code error;
  result.database_bytes = static_cast<std::int64_t>(fs::file_size(ledger_path, error));
  result.raw_events_per_s = RawInsertsPerSecond(raw_path, events, options.batch_size);
  result.overhead = result.raw_events_per_s / result.ledger_events_per_s;

  {
    LedgerStore store(ledger_path);
    auto start = Clock::now();
    const EnergyBreakdown breakdown = QueryBreakdown(store, run);
    result.breakdown_ms = MillisecondsSince(start);
    start = Clock::now();
    const auto target = QueryEnergyToTarget(store, run, -10.0);
    result.energy_to_target_ms = MillisecondsSince(start);
    start = Clock::now();
    const auto carbon = QueryCarbonByLocation(store, run);
    result.carbon_by_location_ms = MillisecondsSince(start);
    start = Clock::now();
    RepriceOptions reprice;
    reprice.energy.links.uplink.efficiency_kbit_per_j = 25.0;
    RepriceRun(store, run, reprice);
    result.reprice_ms = MillisecondsSince(start);
    if (breakdown.events != result.events || target.empty() || carbon.empty()) {
      throw std::runtime_error("RunLedgerBenchmark: queries returned unexpected results");
    }
  }
  if (!options.keep_files) {
    for (const auto& path : {ledger_path, raw_path}) {
      for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path + suffix, error);
    }
    if (options.directory.empty()) fs::remove(directory, error);
  }
  return result;
}

std::string FormatBenchmark(const LedgerBenchmarkResult& r) {
  char buffer[1024];
  std::snprintf(buffer, sizeof(buffer),
                "ledger benchmark: %lld events\n"
                "  ledger inserts (price + queue + batched commit)  %12.0f events/s\n"
                "  raw SQLite inserts (same rows, same batches)     %12.0f events/s\n"
                "  overhead (raw / ledger)                          %12.2f x\n"
                "  query: breakdown compute/UL/DL/SL                %12.1f ms\n"
                "  query: energy-to-target                          %12.1f ms\n"
                "  query: carbon by location                        %12.1f ms\n"
                "  reprice into a new run                           %12.1f ms\n"
                "  database size (before the reprice copy)         %12.1f MB\n",
                static_cast<long long>(r.events), r.ledger_events_per_s, r.raw_events_per_s,
                r.overhead, r.breakdown_ms, r.energy_to_target_ms, r.carbon_by_location_ms,
                r.reprice_ms, static_cast<double>(r.database_bytes) / 1e6);
  return buffer;
}

}  // namespace metajoule::ledger
