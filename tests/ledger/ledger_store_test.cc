#include "ledger/ledger_store.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "ledger/queries.h"
#include "tests/support/temp_dir.h"

namespace metajoule::ledger {
namespace {

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Event MakeEvent(std::int64_t round, std::int32_t node) {
  Event event;
  event.round = round;
  event.node = node;
  event.phase = Phase::kRollout;
  event.sim_steps = 100;
  event.energy_j = 1.0;
  return event;
}

std::int64_t CountEvents(const LedgerStore& store) {
  return *internal::QueryInt64(store.handle(), store.path(), "SELECT count(*) FROM events");
}

// event_totals and evaluation_totals against plain-SQL sums of the rows (one GROUP BY each):
// the same keys, counts and sums to a relative 1e-12
void CheckTotalsEqualRows(const LedgerStore& store) {
  sqlite3* db = store.handle();
  const auto rows = [&](const char* sql, int sum_columns) {
    std::vector<std::vector<std::string>> out;
    std::vector<std::vector<double>> sums;
    internal::Statement select(db, store.path(), sql);
    while (select.Step()) {
      out.push_back({});
      sums.push_back({});
      const int columns = sqlite3_column_count(select.get());
      for (int c = 0; c < columns - sum_columns; ++c) out.back().push_back(select.ColumnText(c));
      for (int c = columns - sum_columns; c < columns; ++c) {
        sums.back().push_back(select.ColumnDouble(c));
      }
    }
    return std::make_pair(out, sums);
  };
  // the last `sum_columns` columns are sums, the others the key (and the count)
  const auto compare = [&](const char* totals_sql, const char* rows_sql, int sum_columns) {
    CAPTURE(totals_sql);
    const auto [totals_keys, totals_sums] = rows(totals_sql, sum_columns);
    const auto [row_keys, row_sums] = rows(rows_sql, sum_columns);
    REQUIRE(totals_keys == row_keys);
    for (std::size_t i = 0; i < row_sums.size(); ++i) {
      for (std::size_t c = 0; c < row_sums[i].size(); ++c) {
        CHECK(totals_sums[i][c] == doctest::Approx(row_sums[i][c]).epsilon(1e-12));
      }
    }
  };
  compare("SELECT run, round, phase, kind, link, location, events, energy_j, gco2e, bits_on_air "
          "FROM event_totals ORDER BY 1, 2, 3, 4, 5, 6",
          "SELECT e.run, e.round, e.phase, e.kind, coalesce(e.link, ''), "
          "coalesce(n.location, '(unregistered)'), count(*), sum(e.energy_j), sum(e.gco2e), "
          "sum(e.bits_on_air) "
          "FROM events e LEFT JOIN nodes n ON n.run = e.run AND n.node = e.node "
          "GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6",
          3);
  compare("SELECT run, method, adapt_step, round, evaluations, return_sum FROM evaluation_totals "
          "ORDER BY 1, 2, 3, 4",
          "SELECT run, method, adapt_step, round, count(*), sum(return_value) FROM evaluations "
          "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
          1);
}

// a few runs' worth of varied rows: several rounds, phases, links, nodes and locations
void AppendVariedRows(LedgerStore& store, std::int64_t run, int rounds) {
  const LinkKind links[] = {LinkKind::kNone, LinkKind::kUplink, LinkKind::kDownlink,
                            LinkKind::kSidelink};
  const Phase phases[] = {Phase::kRollout, Phase::kLearn, Phase::kTransfer};
  for (int round = 0; round < rounds; ++round) {
    for (std::int32_t node = 0; node < 5; ++node) {
      Event event = MakeEvent(round, node);
      event.link = links[static_cast<std::size_t>((node + round) % 4)];
      event.kind = event.link == LinkKind::kNone ? EventKind::kCompute : EventKind::kComm;
      event.phase = phases[static_cast<std::size_t>(node % 3)];
      event.energy_j = 0.1 * (node + 1) + 0.013 * round;
      event.bits_on_air = event.kind == EventKind::kComm ? 1000 + 17 * round : 0;
      event.gco2e = event.energy_j * 1.7e-4;
      store.Append(run, event);
      store.AddEvaluation(run, {round, node, "t", node % 2 == 0 ? "maml" : "fomaml", node % 3,
                                -10.0 + 0.37 * round + 0.11 * node});
    }
  }
}

TEST_SUITE("ledger/ledger_store") {
  TEST_CASE("a new ledger has the current schema version, WAL journal and the documented tables") {
    test::TempDir dir;
    const LedgerStore store(dir.File("ledger.sqlite"));
    sqlite3* db = store.handle();
    CHECK(internal::QueryInt64(db, store.path(), "PRAGMA user_version") ==
          LedgerStore::kSchemaVersion);
    CHECK(internal::QueryText(db, store.path(), "PRAGMA journal_mode") == "wal");
    for (const char* table : {"runs", "nodes", "events", "evaluations"}) {
      CHECK(internal::QueryInt64(db, store.path(),
                                 std::string("SELECT count(*) FROM sqlite_master WHERE name = '") +
                                     table + "'") == 1);
    }
    CHECK(store.IntegrityCheck() == "ok");
  }

  TEST_CASE("events are committed in batches of batch_size and on Flush") {
    test::TempDir dir;
    const std::string path = dir.File("ledger.sqlite");
    LedgerStore store(path, StoreOptions{10, Durability::kNormal});
    const std::int64_t run = store.BeginRun({.name = "r"});
    for (int i = 0; i < 25; ++i) store.Append(run, MakeEvent(i, 0));
    {
      // a second connection sees only committed batches
      const LedgerStore reader(path, {}, OpenMode::kReadOnly);
      CHECK(CountEvents(reader) == 20);
    }
    CHECK(store.pending() == 5);
    store.Flush();
    CHECK(store.pending() == 0);
    CHECK(CountEvents(store) == 25);
  }

  TEST_CASE("runs, nodes and evaluations round-trip") {
    test::TempDir dir;
    const std::string path = dir.File("ledger.sqlite");
    std::int64_t run = 0;
    {
      LedgerStore store(path);
      RunInfo info;
      info.name = "quickstart";
      info.method = "maml";
      info.config_text = "[experiment]\nseed = 3\n";
      info.git_commit = "abc123";
      info.seed = 3;
      info.meter_requested = EnergySource::kRapl;
      info.meter_status = "unavailable: no powercap";
      run = store.BeginRun(info);
      store.AddNode(run, {7, "agent", "arms", "robot_board", "france"});
      store.AddEvaluation(run, {2, 7, "reach \"a\", b", "maml", 1, -12.5});
      store.EndRun(run);
    }
    const LedgerStore store(path, {}, OpenMode::kReadOnly);
    const RunRecord record = store.Run(run);
    CHECK(record.info.name == "quickstart");
    CHECK(record.info.method == "maml");
    CHECK(record.info.config_text == "[experiment]\nseed = 3\n");
    CHECK(record.info.seed == 3);
    CHECK(record.info.meter_requested == EnergySource::kRapl);
    CHECK(record.info.meter_status == "unavailable: no powercap");
    CHECK_FALSE(record.info.host.empty());
    CHECK(record.status == "finished");
    CHECK_FALSE(record.ended_at.empty());
    CHECK_FALSE(record.repriced_from.has_value());
    const auto nodes = store.Nodes(run);
    REQUIRE(nodes.size() == 1);
    CHECK(nodes[0].device == "robot_board");
    CHECK(nodes[0].location == "france");
    CHECK(store.ResolveRun("quickstart") == run);
    CHECK(store.ResolveRun(std::to_string(run)) == run);
    CHECK_THROWS_WITH_AS(store.ResolveRun("nope"), doctest::Contains("stored runs: 1 (quickstart)"),
                         std::invalid_argument);

    std::ostringstream csv;
    ExportEvaluationsCsv(store, run, csv);
    CHECK(csv.str() == "id,run,round,node,task,method,adapt_step,return\n"
                       "1,1,2,7,\"reach \"\"a\"\", b\",maml,1,-12.5\n");
  }

  TEST_CASE("events export as CSV with every raw and priced column") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"));
    const std::int64_t run = store.BeginRun({.name = "r"});
    Event comm;
    comm.round = 4;
    comm.node = 2;
    comm.phase = Phase::kTransfer;
    comm.kind = EventKind::kComm;
    comm.link = LinkKind::kUplink;
    comm.bits_on_air = 1200;
    comm.payload_bits = 1000;
    comm.attempts = 2;
    comm.energy_j = 0.024;
    comm.gco2e = 3.2e-6;
    comm.peer = 0;
    store.Append(run, comm);
    Event compute;
    compute.round = 4;
    compute.node = 3;
    compute.sim_steps = 10;
    store.Append(run, compute);
    store.Flush();
    std::ostringstream csv;
    ExportEventsCsv(store, run, csv);
    CHECK(csv.str() ==
          "id,run,round,node,phase,kind,link,sim_steps,flops,cpu_s,wall_s,bits_on_air,"
          "payload_bits,attempts,energy_j,energy_source,gco2e,peer\n"
          "1,1,4,2,transfer,comm,uplink,0,0.0,0.0,0.0,1200,1000,2,0.024,modelled,3.2e-06,0\n"
          "2,1,4,3,other,compute,,10,0.0,0.0,0.0,0,0,0,0.0,modelled,0.0,\n");
  }

  TEST_CASE("a ledger with a newer schema is refused with a clear error and left untouched") {
    test::TempDir dir;
    const std::string path = dir.File("future.sqlite");
    {
      LedgerStore store(path);
      store.BeginRun({.name = "r"});
    }
    {
      sqlite3* raw = nullptr;
      REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
      internal::Exec(raw, path, "PRAGMA journal_mode = DELETE; PRAGMA user_version = 99;");
      sqlite3_close(raw);
    }
    const std::string before = ReadBytes(path);
    const auto mtime = std::filesystem::last_write_time(path);
    try {
      LedgerStore store(path);
      FAIL("opening a newer schema must throw");
    } catch (const LedgerSchemaError& error) {
      CHECK(error.path() == path);
      CHECK(error.file_version() == 99);
      CHECK(std::string(error.what()).find(path + ": ledger schema version 99 is newer") == 0);
    }
    CHECK(ReadBytes(path) == before);
    CHECK(std::filesystem::last_write_time(path) == mtime);
  }

  TEST_CASE("a garbage file is refused as corrupt, for writing and for reading, and left untouched") {
    test::TempDir dir;
    const std::string path = dir.File("garbage.sqlite");
    std::string garbage(8192, '\0');
    for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 31 + 7);
    std::ofstream(path, std::ios::binary) << garbage;
    const std::string expected = path + ": not an SQLite database";
    for (const OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
      CHECK_THROWS_WITH_AS(LedgerStore(path, {}, mode), doctest::Contains(expected.c_str()),
                           LedgerCorruptError);
    }
    CHECK(ReadBytes(path) == garbage);
    CHECK_FALSE(std::filesystem::exists(path + "-wal"));
  }

  TEST_CASE("a damaged database behind a valid header is refused as corrupt") {
    test::TempDir dir;
    const std::string path = dir.File("damaged.sqlite");
    {
      LedgerStore store(path);
      store.BeginRun({.name = "r"});
    }
    // keep the 100-byte header, overwrite the schema page's contents
    std::string bytes = ReadBytes(path);
    REQUIRE(bytes.size() > 4096);
    for (std::size_t i = 100; i < 4096; ++i) bytes[i] = static_cast<char>(0xA5);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
    CHECK_THROWS_AS(LedgerStore{path}, LedgerCorruptError);
    CHECK(ReadBytes(path) == bytes);
  }

  TEST_CASE("an SQLite database that is not a ledger is refused") {
    test::TempDir dir;
    const std::string path = dir.File("other.sqlite");
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
    internal::Exec(raw, path, "CREATE TABLE t (x INTEGER)");
    sqlite3_close(raw);
    CHECK_THROWS_WITH_AS(LedgerStore{path}, doctest::Contains("not a metajoule ledger"),
                         LedgerCorruptError);
  }

  TEST_CASE("opening a missing file read-only fails with the path") {
    test::TempDir dir;
    CHECK_THROWS_WITH_AS(LedgerStore(dir.File("missing.sqlite"), {}, OpenMode::kReadOnly),
                         doctest::Contains("missing.sqlite: no such ledger file"), LedgerError);
    CHECK_THROWS_AS(LedgerStore(dir.File("x.sqlite"), StoreOptions{0, Durability::kNormal}),
                    std::invalid_argument);
    CHECK(Validate(StoreOptions{0, Durability::kNormal}).front().key == "batch_size");
  }

  TEST_CASE("kill -9 mid-run keeps every committed batch and a sound database") {
    test::TempDir dir;
    const std::string path = dir.File("killed.sqlite");
    constexpr int kBatch = 500;
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // the child: write batches forever, reporting each committed batch; never returns
      close(pipe_fds[0]);
      try {
        LedgerStore store(path, StoreOptions{kBatch, Durability::kNormal});
        const std::int64_t run = store.BeginRun({.name = "doomed"});
        for (std::int64_t batch = 0; batch < 1'000'000; ++batch) {
          for (int i = 0; i < kBatch; ++i) store.Append(run, MakeEvent(batch, i));
          // Append committed the batch when it filled up
          const char tick = 'b';
          if (write(pipe_fds[1], &tick, 1) != 1) _exit(3);
        }
      } catch (...) {
        _exit(2);
      }
      _exit(0);
    }
    close(pipe_fds[1]);
    // parent: wait for a few committed batches, then kill mid-write
    int committed = 0;
    char tick = 0;
    while (committed < 8 && read(pipe_fds[0], &tick, 1) == 1) ++committed;
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    // batches committed after the last read but before the kill are also on disk
    while (read(pipe_fds[0], &tick, 1) == 1) ++committed;
    close(pipe_fds[0]);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    REQUIRE(committed >= 8);

    LedgerStore store(path);
    CHECK(store.IntegrityCheck() == "ok");
    const std::int64_t events = CountEvents(store);
    CHECK(events >= static_cast<std::int64_t>(committed) * kBatch);
    CHECK(events % kBatch == 0);  // no partial batch
    // each stored batch is complete: every round has all kBatch events
    CHECK(internal::QueryInt64(store.handle(), path,
                               "SELECT count(*) FROM (SELECT round FROM events GROUP BY round "
                               "HAVING count(*) != 500)") == 0);
    // the totals were committed with their rows: they still equal them
    CheckTotalsEqualRows(store);
    CHECK(store.Runs().front().status == "running");
  }
  TEST_CASE("the totals tables equal plain-SQL sums of the committed rows across batches and runs") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"), StoreOptions{7, Durability::kNormal});
    REQUIRE(store.has_totals());
    const std::int64_t first = store.BeginRun({.name = "a"});
    const std::int64_t second = store.BeginRun({.name = "b"});
    for (const std::int64_t run : {first, second}) {
      store.AddNode(run, {0, "agent", "c", "robot_board", "france"});
      store.AddNode(run, {1, "agent", "c", "robot_board", "france"});
      store.AddNode(run, {2, "agent", "c", "robot_board", "poland"});
      store.AddNode(run, {3, "server", "", "edge_server", "world"});
      // node 4 is never registered: its events count as "(unregistered)"
    }
    AppendVariedRows(store, first, 9);
    AppendVariedRows(store, second, 4);
    store.Flush();
    CheckTotalsEqualRows(store);
    CHECK(*internal::QueryInt64(store.handle(), store.path(),
                                "SELECT sum(events) FROM event_totals") == CountEvents(store));
    CHECK(internal::QueryText(store.handle(), store.path(),
                              "SELECT group_concat(DISTINCT location) FROM (SELECT location FROM "
                              "event_totals ORDER BY location)") ==
          "(unregistered),france,poland,world");
  }

  TEST_CASE("the totals follow a node registered late or moved to another location") {
    test::TempDir dir;
    LedgerStore store(dir.File("ledger.sqlite"), StoreOptions{3, Durability::kNormal});
    const std::int64_t run = store.BeginRun({.name = "r"});
    store.AddNode(run, {0, "agent", "c", "robot_board", "france"});
    AppendVariedRows(store, run, 2);
    store.Flush();
    CheckTotalsEqualRows(store);
    // node 1 was unregistered when its events were committed; now it is in Germany
    store.AddNode(run, {1, "agent", "c", "robot_board", "germany"});
    CheckTotalsEqualRows(store);
    // node 0 moves to Poland, with rows still queued
    AppendVariedRows(store, run, 1);
    store.AddNode(run, {0, "agent", "c", "robot_board", "poland"});
    store.Flush();
    CheckTotalsEqualRows(store);
    CHECK(*internal::QueryInt64(store.handle(), store.path(),
                                "SELECT count(*) FROM event_totals WHERE location = 'france'") == 0);
  }

  TEST_CASE("batching does not change the stored totals: each is the left-to-right sum of its rows") {
    test::TempDir dir;
    std::vector<std::string> totals;
    for (const int batch : {1, 4, 4096}) {
      LedgerStore store(dir.File("ledger-" + std::to_string(batch) + ".sqlite"),
                        StoreOptions{batch, Durability::kNormal});
      const std::int64_t run = store.BeginRun({.name = "r"});
      store.AddNode(run, {0, "agent", "c", "robot_board", "france"});
      AppendVariedRows(store, run, 5);
      store.Flush();
      // %a: the exact doubles
      totals.push_back(*internal::QueryText(
          store.handle(), store.path(),
          "SELECT group_concat(printf('%d %a %a %d', events, energy_j, gco2e, bits_on_air), ';') "
          "FROM (SELECT * "
          "FROM event_totals ORDER BY run, round, phase, kind, link, location)"));
      // and RebuildTotals recomputes exactly the same figures
      store.RebuildTotals(run);
      CHECK(*internal::QueryText(
                store.handle(), store.path(),
                "SELECT group_concat(printf('%d %a %a %d', events, energy_j, gco2e, bits_on_air), "
                "';') FROM "
                "(SELECT * FROM event_totals ORDER BY run, round, phase, kind, link, location)") ==
            totals.back());
    }
    CHECK(totals[0] == totals[1]);
    CHECK(totals[1] == totals[2]);
  }

  TEST_CASE("a version-2 ledger opens read-only as it is and migrates to version 3 for writing") {
    test::TempDir dir;
    const std::string path = dir.File("v2.sqlite");
    std::int64_t run = 0;
    EnergyBreakdown expected;
    {
      LedgerStore store(path, StoreOptions{5, Durability::kNormal});
      run = store.BeginRun({.name = "old"});
      store.AddNode(run, {0, "agent", "c", "robot_board", "france"});
      AppendVariedRows(store, run, 6);
      store.EndRun(run);
      expected = QueryBreakdown(store, run);
    }
    {
      // what a version-2 build wrote: no peer column
      sqlite3* raw = nullptr;
      REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
      internal::Exec(raw, path, "ALTER TABLE events DROP COLUMN peer; PRAGMA user_version = 2;");
      sqlite3_close(raw);
    }
    {
      const LedgerStore reader(path, {}, OpenMode::kReadOnly);
      CHECK(reader.has_totals());
      CHECK_FALSE(reader.has_peer());
      CHECK(QueryBreakdown(reader, run).total_j() == expected.total_j());
    }
    LedgerStore store(path);
    CHECK(store.has_peer());
    CHECK(internal::QueryInt64(store.handle(), path, "PRAGMA user_version") == 3);
    CHECK(internal::QueryInt64(store.handle(), path,
                               "SELECT count(*) FROM events WHERE peer IS NOT NULL") == 0);
    CHECK(QueryBreakdown(store, run).total_j() == expected.total_j());
    // the migrated ledger takes new rows with their receiver
    Event event = MakeEvent(7, 0);
    event.kind = EventKind::kComm;
    event.link = LinkKind::kUplink;
    event.peer = 4;
    store.Append(run, event);
    store.Flush();
    CHECK(internal::QueryInt64(store.handle(), path,
                               "SELECT peer FROM events WHERE round = 7") == 4);
    CheckTotalsEqualRows(store);
    CHECK(store.IntegrityCheck() == "ok");
  }

  TEST_CASE("a version-1 ledger is read from its rows and migrated to version 3 when opened for writing") {
    test::TempDir dir;
    const std::string path = dir.File("v1.sqlite");
    std::int64_t run = 0;
    EnergyBreakdown expected;
    {
      LedgerStore store(path, StoreOptions{5, Durability::kNormal});
      run = store.BeginRun({.name = "old"});
      store.AddNode(run, {0, "agent", "c", "robot_board", "france"});
      store.AddNode(run, {2, "agent", "c", "robot_board", "norway"});
      AppendVariedRows(store, run, 6);
      store.EndRun(run);
      expected = QueryBreakdown(store, run, SummarySource::kRows);
    }
    {
      // what a version-1 build wrote: no totals tables
      sqlite3* raw = nullptr;
      REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
      internal::Exec(raw, path,
                     "DROP TABLE event_totals; DROP TABLE evaluation_totals; "
                     "ALTER TABLE events DROP COLUMN peer; PRAGMA user_version = 1;");
      sqlite3_close(raw);
    }
    {
      const LedgerStore reader(path, {}, OpenMode::kReadOnly);
      CHECK_FALSE(reader.has_totals());
      CHECK(QueryBreakdown(reader, run).compute_j == expected.compute_j);  // from the rows
      CHECK(QueryEnergyToTarget(reader, run, 0.0).size() == 2);
      CHECK_THROWS_AS(QueryBreakdown(reader, run, SummarySource::kTotals), std::invalid_argument);
    }
    LedgerStore store(path);
    CHECK(store.has_totals());
    CHECK(internal::QueryInt64(store.handle(), path, "PRAGMA user_version") == 3);
    CHECK(store.has_peer());
    CheckTotalsEqualRows(store);
    const EnergyBreakdown migrated = QueryBreakdown(store, run, SummarySource::kTotals);
    CHECK(migrated.events == expected.events);
    CHECK(migrated.compute_j == doctest::Approx(expected.compute_j).epsilon(1e-12));
    CHECK(migrated.uplink_j == doctest::Approx(expected.uplink_j).epsilon(1e-12));
    CHECK(migrated.gco2e == doctest::Approx(expected.gco2e).epsilon(1e-12));
    CHECK(store.IntegrityCheck() == "ok");
  }
}

}  // namespace
}  // namespace metajoule::ledger
