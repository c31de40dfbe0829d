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
    store.Append(run, comm);
    store.Flush();
    std::ostringstream csv;
    ExportEventsCsv(store, run, csv);
    CHECK(csv.str() ==
          "id,run,round,node,phase,kind,link,sim_steps,flops,cpu_s,wall_s,bits_on_air,"
          "payload_bits,attempts,energy_j,energy_source,gco2e\n"
          "1,1,4,2,transfer,comm,uplink,0,0.0,0.0,0.0,1200,1000,2,0.024,modelled,3.2e-06\n");
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
    CHECK(store.Runs().front().status == "running");
  }
}

}  // namespace
}  // namespace metajoule::ledger
