#include "ledger/ledger_store.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace metajoule::ledger {
namespace {

using internal::Exec;
using internal::QueryInt64;
using internal::QueryText;
using internal::SqliteMessage;
using internal::Statement;
using internal::Transaction;

// schema version 1; docs/ledger.md "Schema" describes every column
constexpr const char* kSchemaSql = R"sql(
CREATE TABLE runs (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL,
  method          TEXT NOT NULL DEFAULT '',
  config          TEXT NOT NULL DEFAULT '',
  energy_model    TEXT NOT NULL DEFAULT '',
  git_commit      TEXT NOT NULL DEFAULT '',
  host            TEXT NOT NULL DEFAULT '',
  seed            INTEGER NOT NULL DEFAULT 0,
  meter_requested TEXT NOT NULL DEFAULT 'modelled',
  meter_status    TEXT NOT NULL DEFAULT '',
  started_at      TEXT NOT NULL,
  ended_at        TEXT,
  status          TEXT NOT NULL,
  repriced_from   INTEGER REFERENCES runs(id)
);
CREATE TABLE nodes (
  run      INTEGER NOT NULL REFERENCES runs(id),
  node     INTEGER NOT NULL,
  role     TEXT NOT NULL,
  cluster  TEXT NOT NULL,
  device   TEXT NOT NULL,
  location TEXT NOT NULL,
  PRIMARY KEY (run, node)
) WITHOUT ROWID;
CREATE TABLE events (
  id            INTEGER PRIMARY KEY,
  run           INTEGER NOT NULL,
  round         INTEGER NOT NULL,
  node          INTEGER NOT NULL,
  phase         TEXT NOT NULL,
  kind          TEXT NOT NULL,
  link          TEXT,
  sim_steps     INTEGER NOT NULL,
  flops         REAL NOT NULL,
  cpu_s         REAL NOT NULL,
  wall_s        REAL NOT NULL,
  bits_on_air   INTEGER NOT NULL,
  payload_bits  INTEGER NOT NULL,
  attempts      INTEGER NOT NULL,
  energy_j      REAL NOT NULL,
  energy_source TEXT NOT NULL,
  gco2e         REAL NOT NULL
);
CREATE INDEX events_by_run_round ON events (run, round);
CREATE TABLE evaluations (
  id           INTEGER PRIMARY KEY,
  run          INTEGER NOT NULL,
  round        INTEGER NOT NULL,
  node         INTEGER NOT NULL,
  task         TEXT NOT NULL,
  method       TEXT NOT NULL,
  adapt_step   INTEGER NOT NULL,
  return_value REAL NOT NULL
);
CREATE INDEX evaluations_by_run_method ON evaluations (run, method, adapt_step, round);
)sql";

// schema version 2 adds the totals tables (docs/ledger.md "Totals"): sums of the committed rows
// per run and round, kept up to date in the transaction that commits the rows, so the summary
// queries read a few rows per round instead of scanning every event of a run
// schema version 3 adds each transfer's receiving endpoint (docs/ledger.md "Endpoints"); rows
// written before it, and compute events, hold NULL
constexpr const char* kPeerSchemaSql = "ALTER TABLE events ADD COLUMN peer INTEGER";

constexpr const char* kTotalsSchemaSql = R"sql(
CREATE TABLE event_totals (
  run      INTEGER NOT NULL,
  round    INTEGER NOT NULL,
  phase    TEXT NOT NULL,
  kind     TEXT NOT NULL,
  link     TEXT NOT NULL,
  location TEXT NOT NULL,
  events      INTEGER NOT NULL,
  energy_j    REAL NOT NULL,
  gco2e       REAL NOT NULL,
  bits_on_air INTEGER NOT NULL,
  PRIMARY KEY (run, round, phase, kind, link, location)
) WITHOUT ROWID;
CREATE TABLE evaluation_totals (
  run         INTEGER NOT NULL,
  method      TEXT NOT NULL,
  adapt_step  INTEGER NOT NULL,
  round       INTEGER NOT NULL,
  evaluations INTEGER NOT NULL,
  return_sum  REAL NOT NULL,
  PRIMARY KEY (run, method, adapt_step, round)
) WITHOUT ROWID;
)sql";

// a totals row by its key, and its replacement (the sums are computed in C++, see EventTotals)
constexpr const char* kSelectEventTotalsSql =
    "SELECT events, energy_j, gco2e, bits_on_air FROM event_totals WHERE run = ?1 AND round = ?2 AND "
    "phase = ?3 AND kind = ?4 AND link = ?5 AND location = ?6";
constexpr const char* kWriteEventTotalsSql =
    "INSERT OR REPLACE INTO event_totals (run, round, phase, kind, link, location, events, "
    "energy_j, gco2e, bits_on_air) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr const char* kSelectEvaluationTotalsSql =
    "SELECT evaluations, return_sum FROM evaluation_totals WHERE run = ?1 AND method = ?2 AND "
    "adapt_step = ?3 AND round = ?4";
constexpr const char* kWriteEvaluationTotalsSql =
    "INSERT OR REPLACE INTO evaluation_totals (run, method, adapt_step, round, evaluations, "
    "return_sum) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

constexpr std::string_view kUnregistered = "(unregistered)";

constexpr const char* kInsertEventSql =
    "INSERT INTO events (run, round, node, phase, kind, link, sim_steps, flops, cpu_s, wall_s, "
    "bits_on_air, payload_bits, attempts, energy_j, energy_source, gco2e, peer) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)";

constexpr const char* kInsertEvaluationSql =
    "INSERT INTO evaluations (run, round, node, task, method, adapt_step, return_value) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

// "SQLite format 3\0": the first 16 bytes of every SQLite database file
constexpr std::array<char, 16> kSqliteMagic = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f',
                                               'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};

// checks the file header before SQLite touches the file, so garbage is never "repaired"
void CheckHeader(const std::string& path) {
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error || size == 0) return;  // missing or empty: SQLite creates a fresh database
  std::ifstream in(path, std::ios::binary);
  std::array<char, 16> header{};
  in.read(header.data(), static_cast<std::streamsize>(header.size()));
  if (in.gcount() != static_cast<std::streamsize>(header.size()) || header != kSqliteMagic) {
    throw LedgerCorruptError(path, "not an SQLite database (bad file header); the file was left "
                                   "untouched");
  }
}

bool IsCorruptionCode(int code) {
  const int primary = code & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

std::size_t HashCombine(std::size_t seed, std::size_t value) {
  return seed ^ (value + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

// one row of event_totals, the location as an interned id (LedgerStore::locations_)
struct EventTotalsKey {
  std::int64_t run;
  std::int64_t round;
  Phase phase;
  EventKind kind;
  LinkKind link;
  int location;
  bool operator==(const EventTotalsKey&) const = default;
};
struct EventTotalsKeyHash {
  std::size_t operator()(const EventTotalsKey& k) const {
    std::size_t h = std::hash<std::int64_t>{}(k.run);
    h = HashCombine(h, std::hash<std::int64_t>{}(k.round));
    h = HashCombine(h, static_cast<std::size_t>(k.phase) << 16 |
                           static_cast<std::size_t>(k.kind) << 8 |
                           static_cast<std::size_t>(k.link));
    return HashCombine(h, static_cast<std::size_t>(k.location));
  }
};
struct EventSums {
  std::int64_t events{0};
  double energy_j{0.0};
  double gco2e{0.0};
  std::int64_t bits_on_air{0};
};

// one row of evaluation_totals; `method` views a string the accumulator owns
struct EvaluationTotalsKey {
  std::int64_t run;
  std::string_view method;
  std::int32_t adapt_step;
  std::int64_t round;
  bool operator==(const EvaluationTotalsKey&) const = default;
};
struct EvaluationTotalsKeyHash {
  std::size_t operator()(const EvaluationTotalsKey& k) const {
    std::size_t h = std::hash<std::int64_t>{}(k.run);
    h = HashCombine(h, std::hash<std::string_view>{}(k.method));
    h = HashCombine(h, std::hash<std::int32_t>{}(k.adapt_step));
    return HashCombine(h, std::hash<std::int64_t>{}(k.round));
  }
};
struct EvaluationSums {
  std::int64_t evaluations{0};
  double return_sum{0.0};
};

// The totals that a set of rows changes. Every key starts from its stored row and adds the
// rows one at a time in commit order, so a stored total is always the plain left-to-right sum
// of its rows in id order: however the rows were batched, and exactly what RebuildTotals
// recomputes. A batch touches few keys (a few rounds x phases x links x locations), so the
// point lookups and writes cost little next to the row inserts.
class EventTotals {
 public:
  EventTotals(Statement& select, Statement& write, const std::vector<std::string>& locations)
      : select_(select), write_(write), locations_(locations) {}

  void Add(const EventTotalsKey& key, double energy_j, double gco2e, std::int64_t bits_on_air) {
    const auto [it, inserted] = index_.try_emplace(key, entries_.size());
    if (inserted) entries_.emplace_back(key, Stored(key));
    EventSums& sums = entries_[it->second].second;
    ++sums.events;
    sums.energy_j += energy_j;
    sums.gco2e += gco2e;
    sums.bits_on_air += bits_on_air;
  }

  void Write() {
    for (const auto& [key, sums] : entries_) {
      BindKey(write_, key);
      write_.BindInt64(7, sums.events);
      write_.BindDouble(8, sums.energy_j);
      write_.BindDouble(9, sums.gco2e);
      write_.BindInt64(10, sums.bits_on_air);
      write_.Step();
      write_.Reset();
    }
  }

 private:
  void BindKey(Statement& statement, const EventTotalsKey& key) const {
    statement.BindInt64(1, key.run);
    statement.BindInt64(2, key.round);
    statement.BindStaticText(3, Name(key.phase));
    statement.BindStaticText(4, Name(key.kind));
    statement.BindStaticText(5, key.link == LinkKind::kNone ? "" : Name(key.link));
    statement.BindStaticText(6, locations_[static_cast<std::size_t>(key.location)]);
  }

  EventSums Stored(const EventTotalsKey& key) {
    BindKey(select_, key);
    EventSums sums;
    if (select_.Step()) {
      sums.events = select_.ColumnInt64(0);
      sums.energy_j = select_.ColumnDouble(1);
      sums.gco2e = select_.ColumnDouble(2);
      sums.bits_on_air = select_.ColumnInt64(3);
    }
    select_.Reset();
    return sums;
  }

  Statement& select_;
  Statement& write_;
  const std::vector<std::string>& locations_;
  std::unordered_map<EventTotalsKey, std::size_t, EventTotalsKeyHash> index_;
  std::vector<std::pair<EventTotalsKey, EventSums>> entries_;
};

// The same for evaluation_totals.
class EvaluationTotals {
 public:
  EvaluationTotals(Statement& select, Statement& write) : select_(select), write_(write) {}

  void Add(std::int64_t run, std::string_view method, std::int32_t adapt_step,
           std::int64_t round, double value) {
    const auto found = index_.find({run, method, adapt_step, round});
    std::size_t entry = 0;
    if (found != index_.end()) {
      entry = found->second;
    } else {
      // the key views a string of our own, so callers may pass temporaries
      const std::string& owned = methods_.emplace_back(method);
      const EvaluationTotalsKey key{run, owned, adapt_step, round};
      entry = entries_.size();
      index_.emplace(key, entry);
      entries_.emplace_back(key, Stored(key));
    }
    EvaluationSums& sums = entries_[entry].second;
    ++sums.evaluations;
    sums.return_sum += value;
  }

  void Write() {
    for (const auto& [key, sums] : entries_) {
      BindKey(write_, key);
      write_.BindInt64(5, sums.evaluations);
      write_.BindDouble(6, sums.return_sum);
      write_.Step();
      write_.Reset();
    }
  }

 private:
  static void BindKey(Statement& statement, const EvaluationTotalsKey& key) {
    statement.BindInt64(1, key.run);
    statement.BindStaticText(2, key.method);
    statement.BindInt64(3, key.adapt_step);
    statement.BindInt64(4, key.round);
  }

  EvaluationSums Stored(const EvaluationTotalsKey& key) {
    BindKey(select_, key);
    EvaluationSums sums;
    if (select_.Step()) {
      sums.evaluations = select_.ColumnInt64(0);
      sums.return_sum = select_.ColumnDouble(1);
    }
    select_.Reset();
    return sums;
  }

  Statement& select_;
  Statement& write_;
  std::deque<std::string> methods_;  // stable addresses for the keys' views
  std::unordered_map<EvaluationTotalsKey, std::size_t, EvaluationTotalsKeyHash> index_;
  std::vector<std::pair<EvaluationTotalsKey, EvaluationSums>> entries_;
};

template <class E>
E ParseName(const std::string& path, const char* column, const std::string& text) {
  if (const std::optional<E> value = FromName<E>(text)) return *value;
  throw LedgerError(path, std::string("events.") + column + " holds an unknown name \"" + text +
                              "\"; cannot compute its totals");
}

}  // namespace

std::vector<FieldError> Validate(const StoreOptions& options) {
  std::vector<FieldError> errors;
  if (options.batch_size < 1) {
    errors.push_back({"batch_size", "must be >= 1, got " + std::to_string(options.batch_size)});
  }
  return errors;
}

std::string HostName() {
  std::array<char, 256> buffer{};
  if (gethostname(buffer.data(), buffer.size() - 1) != 0) return "unknown";
  return std::string(buffer.data());
}

std::string UtcNow() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::array<char, 32> buffer{};
  std::strftime(buffer.data(), buffer.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return std::string(buffer.data());
}

LedgerStore::LedgerStore(std::string path, StoreOptions options, OpenMode mode)
    : path_(std::move(path)), options_(options), mode_(mode) {
  InternLocation(std::string(kUnregistered));  // id 0: events of nodes never registered
  if (const auto errors = Validate(options_); !errors.empty()) {
    throw std::invalid_argument("LedgerStore: " + errors.front().key + " " +
                                errors.front().message);
  }
  if (mode_ == OpenMode::kReadOnly && !std::filesystem::exists(path_)) {
    throw LedgerError(path_, "no such ledger file");
  }
  CheckHeader(path_);

  sqlite3* raw = nullptr;
  const int flags = mode_ == OpenMode::kReadOnly ? SQLITE_OPEN_READONLY
                                                 : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const int rc = sqlite3_open_v2(path_.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) throw LedgerError(path_, SqliteMessage(raw, "cannot open"));
  sqlite3_extended_result_codes(db_.get(), 1);
  sqlite3_busy_timeout(db_.get(), 5000);

  // read the schema version before writing anything: a newer or foreign file stays untouched
  int version = 0;
  std::int64_t tables = 0;
  try {
    version = static_cast<int>(*QueryInt64(db_.get(), path_, "PRAGMA user_version"));
    tables = *QueryInt64(db_.get(), path_, "SELECT count(*) FROM sqlite_master");
  } catch (const LedgerError& error) {
    if (IsCorruptionCode(sqlite3_extended_errcode(db_.get()))) {
      throw LedgerCorruptError(path_, std::string("damaged database: ") + error.what());
    }
    throw;
  }
  if (version > kSchemaVersion) {
    throw LedgerSchemaError(path_,
                            "ledger schema version " + std::to_string(version) +
                                " is newer than this build supports (" +
                                std::to_string(kSchemaVersion) +
                                "); upgrade metajoule to read it. The file was left untouched",
                            version, kSchemaVersion);
  }
  if (version == 0 && tables > 0) {
    throw LedgerCorruptError(path_, "an SQLite database, but not a metajoule ledger (no schema "
                                    "version); the file was left untouched");
  }
  if (version == 0 && mode_ == OpenMode::kReadOnly) {
    throw LedgerError(path_, "empty file, not a ledger");
  }

  // summary queries scan whole runs: a larger page cache and memory-mapped reads (no writes)
  Exec(db_.get(), path_, "PRAGMA cache_size = -65536; PRAGMA mmap_size = 268435456; "
                         "PRAGMA temp_store = MEMORY");

  if (mode_ == OpenMode::kReadWrite) {
    // WAL: readers never block the writer, and a commit is one append to the log
    Exec(db_.get(), path_, "PRAGMA journal_mode = WAL");
    Exec(db_.get(), path_,
         options_.durability == Durability::kFull ? "PRAGMA synchronous = FULL"
                                                  : "PRAGMA synchronous = NORMAL");
    if (version == 0) CreateSchema();
    if (version == 1 || version == 2) {
      MigrateToVersion3(version);
    } else {
      PrepareStatements();
    }
    has_totals_ = true;
    has_peer_ = true;
    events_.reserve(static_cast<std::size_t>(options_.batch_size));
  } else {
    has_totals_ = version >= 2;
    has_peer_ = version >= 3;
  }
}

LedgerStore::~LedgerStore() {
  try {
    std::lock_guard lock(mutex_);
    if (mode_ == OpenMode::kReadWrite) FlushLocked();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "warning: ledger %s: could not commit %zu queued rows: %s\n",
                 path_.c_str(), events_.size() + evaluations_.size(), error.what());
  }
  // statements must be finalized before the connection closes
  insert_event_.reset();
  insert_evaluation_.reset();
  select_event_totals_.reset();
  write_event_totals_.reset();
  select_evaluation_totals_.reset();
  write_evaluation_totals_.reset();
}

void LedgerStore::PrepareStatements() {
  insert_event_.emplace(db_.get(), path_, kInsertEventSql);
  insert_evaluation_.emplace(db_.get(), path_, kInsertEvaluationSql);
  select_event_totals_.emplace(db_.get(), path_, kSelectEventTotalsSql);
  write_event_totals_.emplace(db_.get(), path_, kWriteEventTotalsSql);
  select_evaluation_totals_.emplace(db_.get(), path_, kSelectEvaluationTotalsSql);
  write_evaluation_totals_.emplace(db_.get(), path_, kWriteEvaluationTotalsSql);
}

void LedgerStore::CreateSchema() {
  Transaction transaction(db_.get(), path_);
  Exec(db_.get(), path_, kSchemaSql);
  Exec(db_.get(), path_, kTotalsSchemaSql);
  Exec(db_.get(), path_, kPeerSchemaSql);
  Exec(db_.get(), path_, "PRAGMA user_version = 3");
  transaction.Commit();
}

void LedgerStore::MigrateToVersion3(int from_version) {
  // version 2 -> 3: the peer column (NULL for every committed row); version 1 -> 2 first adds
  // the totals tables, computed from every committed row; all in one transaction
  Transaction transaction(db_.get(), path_);
  Exec(db_.get(), path_, kPeerSchemaSql);
  if (from_version == 1) Exec(db_.get(), path_, kTotalsSchemaSql);
  PrepareStatements();
  if (from_version == 1) {
    std::vector<std::int64_t> runs;
    {
      Statement select(db_.get(), path_,
                       "SELECT DISTINCT run FROM events UNION SELECT DISTINCT run FROM evaluations");
      while (select.Step()) runs.push_back(select.ColumnInt64(0));
    }
    for (const std::int64_t run : runs) RebuildTotalsLocked(run);
  }
  Exec(db_.get(), path_, "PRAGMA user_version = 3");
  transaction.Commit();
}

int LedgerStore::InternLocation(const std::string& location) {
  const auto [it, inserted] = location_ids_.emplace(location, static_cast<int>(locations_.size()));
  if (inserted) locations_.push_back(location);
  return it->second;
}

LedgerStore::RunLocations& LedgerStore::LocationsOf(std::int64_t run) {
  const auto found = run_locations_.find(run);
  if (found != run_locations_.end()) return found->second;
  // first use of this run in this process: what earlier commits registered and recorded
  RunLocations& locations = run_locations_[run];
  Statement select(db_.get(), path_, "SELECT node, location FROM nodes WHERE run = ?1");
  select.BindInt64(1, run);
  while (select.Step()) {
    locations.of_node[static_cast<std::int32_t>(select.ColumnInt64(0))] =
        InternLocation(select.ColumnText(1));
  }
  Statement unregistered(db_.get(), path_,
                         "SELECT 1 FROM event_totals WHERE run = ?1 AND location = ?2 LIMIT 1");
  unregistered.BindInt64(1, run);
  unregistered.BindStaticText(2, kUnregistered);
  locations.has_unregistered = unregistered.Step();
  return locations;
}

void LedgerStore::RebuildTotals(std::int64_t run) {
  std::lock_guard lock(mutex_);
  FlushLocked();
  RebuildTotalsLocked(run);
}

void LedgerStore::RebuildTotalsLocked(std::int64_t run) {
  if (mode_ != OpenMode::kReadWrite) throw LedgerError(path_, "opened read-only");
  // a savepoint nests inside a transaction the caller holds (RepriceRun, the migration), or is
  // a transaction of its own
  Exec(db_.get(), path_, "SAVEPOINT rebuild_totals");
  try {
    for (const char* sql : {"DELETE FROM event_totals WHERE run = ?1",
                            "DELETE FROM evaluation_totals WHERE run = ?1"}) {
      Statement remove(db_.get(), path_, sql);
      remove.BindInt64(1, run);
      remove.Step();
    }
    run_locations_.erase(run);  // node locations may have changed with the rows (repricing)
    RunLocations& locations = LocationsOf(run);

    // one pass over the run's rows in id (commit) order, as FlushLocked adds them
    EventTotals event_totals(*select_event_totals_, *write_event_totals_, locations_);
    Statement events(db_.get(), path_,
                     "SELECT round, node, phase, kind, link, energy_j, gco2e, bits_on_air FROM events "
                     "WHERE run = ?1 ORDER BY id");
    events.BindInt64(1, run);
    while (events.Step()) {
      const auto node = static_cast<std::int32_t>(events.ColumnInt64(1));
      const auto found = locations.of_node.find(node);
      const int location = found != locations.of_node.end() ? found->second : 0;
      locations.has_unregistered = locations.has_unregistered || location == 0;
      const LinkKind link = events.ColumnIsNull(4)
                                ? LinkKind::kNone
                                : ParseName<LinkKind>(path_, "link", events.ColumnText(4));
      event_totals.Add({run, events.ColumnInt64(0),
                        ParseName<Phase>(path_, "phase", events.ColumnText(2)),
                        ParseName<EventKind>(path_, "kind", events.ColumnText(3)), link, location},
                       events.ColumnDouble(5), events.ColumnDouble(6), events.ColumnInt64(7));
    }
    event_totals.Write();

    EvaluationTotals evaluation_totals(*select_evaluation_totals_, *write_evaluation_totals_);
    Statement evaluations(db_.get(), path_,
                          "SELECT method, adapt_step, round, return_value FROM evaluations "
                          "WHERE run = ?1 ORDER BY id");
    evaluations.BindInt64(1, run);
    while (evaluations.Step()) {
      evaluation_totals.Add(run, evaluations.ColumnText(0),
                            static_cast<std::int32_t>(evaluations.ColumnInt64(1)),
                            evaluations.ColumnInt64(2), evaluations.ColumnDouble(3));
    }
    evaluation_totals.Write();
    Exec(db_.get(), path_, "RELEASE rebuild_totals");
  } catch (...) {
    sqlite3_exec(db_.get(), "ROLLBACK TO rebuild_totals; RELEASE rebuild_totals", nullptr,
                 nullptr, nullptr);
    run_locations_.erase(run);
    throw;
  }
}

std::int64_t LedgerStore::BeginRun(const RunInfo& info) {
  std::lock_guard lock(mutex_);
  Statement insert(db_.get(), path_,
                   "INSERT INTO runs (name, method, config, energy_model, git_commit, host, seed, "
                   "meter_requested, meter_status, started_at, status) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'running')");
  insert.BindText(1, info.name);
  insert.BindText(2, info.method);
  insert.BindText(3, info.config_text);
  insert.BindText(4, info.energy_model);
  insert.BindText(5, info.git_commit);
  insert.BindText(6, info.host.empty() ? HostName() : info.host);
  insert.BindInt64(7, info.seed);
  insert.BindStaticText(8, Name(info.meter_requested));
  insert.BindText(9, info.meter_status);
  insert.BindText(10, UtcNow());
  insert.Step();
  return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_.get()));
}

void LedgerStore::EndRun(std::int64_t run, std::string_view status) {
  std::lock_guard lock(mutex_);
  FlushLocked();
  Statement update(db_.get(), path_, "UPDATE runs SET status = ?1, ended_at = ?2 WHERE id = ?3");
  update.BindText(1, status);
  update.BindText(2, UtcNow());
  update.BindInt64(3, run);
  update.Step();
}

std::int64_t LedgerStore::TruncateRun(std::int64_t run, std::int64_t keep_through_round) {
  if (mode_ != OpenMode::kReadWrite) throw LedgerError(path_, "opened read-only");
  Run(run);  // std::invalid_argument for an unknown run
  std::lock_guard lock(mutex_);
  FlushLocked();
  Exec(db_.get(), path_, "BEGIN IMMEDIATE");
  try {
    std::int64_t deleted = 0;
    std::vector<const char*> tables = {"events", "evaluations"};
    if (has_totals_) {
      tables.push_back("event_totals");
      tables.push_back("evaluation_totals");
    }
    for (std::size_t t = 0; t < tables.size(); ++t) {
      Statement remove(db_.get(), path_,
                       std::string("DELETE FROM ") + tables[t] + " WHERE run = ?1 AND round > ?2");
      remove.BindInt64(1, run);
      remove.BindInt64(2, keep_through_round);
      remove.Step();
      if (t < 2) deleted += sqlite3_changes64(db_.get());
    }
    Statement update(db_.get(), path_,
                     "UPDATE runs SET status = 'running', ended_at = NULL WHERE id = ?1");
    update.BindInt64(1, run);
    update.Step();
    Exec(db_.get(), path_, "COMMIT");
    return deleted;
  } catch (...) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void LedgerStore::AddNode(std::int64_t run, const NodeInfo& node) {
  std::lock_guard lock(mutex_);
  Statement insert(db_.get(), path_,
                   "INSERT OR REPLACE INTO nodes (run, node, role, cluster, device, location) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  insert.BindInt64(1, run);
  insert.BindInt64(2, node.id);
  insert.BindText(3, node.role);
  insert.BindText(4, node.cluster);
  insert.BindText(5, node.device);
  insert.BindText(6, node.location);
  insert.Step();
  if (mode_ != OpenMode::kReadWrite) return;

  // the totals group events by their node's location: a node that moves, or appears after
  // events were committed for it unregistered, needs its run's totals recomputed
  RunLocations& locations = LocationsOf(run);
  const int location = InternLocation(node.location);
  const auto [it, inserted] = locations.of_node.try_emplace(node.id, location);
  const bool moved = !inserted && it->second != location;
  it->second = location;
  if (moved || (inserted && locations.has_unregistered)) {
    FlushLocked();
    RebuildTotalsLocked(run);
  }
}

void LedgerStore::Append(std::int64_t run, const Event& event) {
  std::lock_guard lock(mutex_);
  events_.push_back({run, event});
  if (events_.size() + evaluations_.size() >= static_cast<std::size_t>(options_.batch_size)) {
    FlushLocked();
  }
}

void LedgerStore::AddEvaluation(std::int64_t run, const Evaluation& evaluation) {
  std::lock_guard lock(mutex_);
  evaluations_.push_back({run, evaluation});
  if (events_.size() + evaluations_.size() >= static_cast<std::size_t>(options_.batch_size)) {
    FlushLocked();
  }
}

void LedgerStore::Flush() {
  std::lock_guard lock(mutex_);
  FlushLocked();
}

std::size_t LedgerStore::pending() const {
  std::lock_guard lock(mutex_);
  return events_.size() + evaluations_.size();
}

void LedgerStore::FlushLocked() {
  if (events_.empty() && evaluations_.empty()) return;
  if (mode_ != OpenMode::kReadWrite) throw LedgerError(path_, "opened read-only");
  Transaction transaction(db_.get(), path_);
  internal::Statement& insert = *insert_event_;
  // the totals of the batch's rows, in the same transaction (EventTotals: sums in commit order)
  EventTotals event_totals(*select_event_totals_, *write_event_totals_, locations_);
  RunLocations* locations = nullptr;
  std::int64_t locations_run = 0;
  for (const auto& [run, e] : events_) {
    if (locations == nullptr || locations_run != run) {
      locations = &LocationsOf(run);
      locations_run = run;
    }
    const auto node_location = locations->of_node.find(e.node);
    const int location = node_location != locations->of_node.end() ? node_location->second : 0;
    locations->has_unregistered = locations->has_unregistered || location == 0;
    event_totals.Add({run, e.round, e.phase, e.kind, e.link, location}, e.energy_j, e.gco2e,
                     e.bits_on_air);
    insert.BindInt64(1, run);
    insert.BindInt64(2, e.round);
    insert.BindInt64(3, e.node);
    insert.BindStaticText(4, Name(e.phase));
    insert.BindStaticText(5, Name(e.kind));
    if (e.link == LinkKind::kNone) {
      insert.BindNull(6);
    } else {
      insert.BindStaticText(6, Name(e.link));
    }
    insert.BindInt64(7, e.sim_steps);
    insert.BindDouble(8, e.flops);
    insert.BindDouble(9, e.cpu_seconds);
    insert.BindDouble(10, e.wall_seconds);
    insert.BindInt64(11, e.bits_on_air);
    insert.BindInt64(12, e.payload_bits);
    insert.BindInt64(13, e.attempts);
    insert.BindDouble(14, e.energy_j);
    insert.BindStaticText(15, Name(e.source));
    insert.BindDouble(16, e.gco2e);
    if (e.peer == kNoPeer) {
      insert.BindNull(17);
    } else {
      insert.BindInt64(17, e.peer);
    }
    insert.Step();
    sqlite3_reset(insert.get());
  }
  internal::Statement& insert_evaluation = *insert_evaluation_;
  EvaluationTotals evaluation_totals(*select_evaluation_totals_, *write_evaluation_totals_);
  for (const auto& [run, e] : evaluations_) {
    evaluation_totals.Add(run, e.method, e.adapt_step, e.round, e.value);
    insert_evaluation.BindInt64(1, run);
    insert_evaluation.BindInt64(2, e.round);
    insert_evaluation.BindInt64(3, e.node);
    insert_evaluation.BindStaticText(4, e.task);
    insert_evaluation.BindStaticText(5, e.method);
    insert_evaluation.BindInt64(6, e.adapt_step);
    insert_evaluation.BindDouble(7, e.value);
    insert_evaluation.Step();
    sqlite3_reset(insert_evaluation.get());
  }

  event_totals.Write();
  evaluation_totals.Write();
  transaction.Commit();
  events_.clear();
  evaluations_.clear();
}

std::vector<RunRecord> LedgerStore::Runs() const {
  Statement select(db_.get(), path_,
                   "SELECT id, name, method, config, energy_model, git_commit, host, seed, "
                   "meter_requested, meter_status, started_at, coalesce(ended_at, ''), status, "
                   "repriced_from FROM runs ORDER BY id");
  std::vector<RunRecord> runs;
  while (select.Step()) {
    RunRecord run;
    run.id = select.ColumnInt64(0);
    run.info.name = select.ColumnText(1);
    run.info.method = select.ColumnText(2);
    run.info.config_text = select.ColumnText(3);
    run.info.energy_model = select.ColumnText(4);
    run.info.git_commit = select.ColumnText(5);
    run.info.host = select.ColumnText(6);
    run.info.seed = select.ColumnInt64(7);
    run.info.meter_requested =
        FromName<EnergySource>(select.ColumnText(8)).value_or(EnergySource::kModelled);
    run.info.meter_status = select.ColumnText(9);
    run.started_at = select.ColumnText(10);
    run.ended_at = select.ColumnText(11);
    run.status = select.ColumnText(12);
    if (!select.ColumnIsNull(13)) run.repriced_from = select.ColumnInt64(13);
    runs.push_back(std::move(run));
  }
  return runs;
}

RunRecord LedgerStore::Run(std::int64_t run) const {
  for (auto& record : Runs()) {
    if (record.id == run) return record;
  }
  throw std::invalid_argument("no run " + std::to_string(run) + " in " + path_);
}

std::vector<NodeInfo> LedgerStore::Nodes(std::int64_t run) const {
  Statement select(db_.get(), path_,
                   "SELECT node, role, cluster, device, location FROM nodes WHERE run = ?1 "
                   "ORDER BY node");
  select.BindInt64(1, run);
  std::vector<NodeInfo> nodes;
  while (select.Step()) {
    nodes.push_back({static_cast<std::int32_t>(select.ColumnInt64(0)), select.ColumnText(1),
                     select.ColumnText(2), select.ColumnText(3), select.ColumnText(4)});
  }
  return nodes;
}

std::int64_t LedgerStore::ResolveRun(std::string_view id_or_name) const {
  const std::vector<RunRecord> runs = Runs();
  const bool numeric = !id_or_name.empty() &&
                       std::all_of(id_or_name.begin(), id_or_name.end(),
                                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    if (numeric && std::to_string(it->id) == id_or_name) return it->id;
  }
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    if (it->info.name == id_or_name) return it->id;
  }
  std::vector<std::string> names;
  for (const auto& run : runs) names.push_back(std::to_string(run.id) + " (" + run.info.name + ")");
  throw std::invalid_argument("no run \"" + std::string(id_or_name) + "\" in " + path_ +
                              "; stored runs: " + (names.empty() ? "none" : JoinNames(names)));
}

std::string LedgerStore::IntegrityCheck() const {
  return QueryText(db_.get(), path_, "PRAGMA integrity_check").value_or("no result");
}

}  // namespace metajoule::ledger
