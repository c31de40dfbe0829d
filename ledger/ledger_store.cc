#include "ledger/ledger_store.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>

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
PRAGMA user_version = 1;
)sql";

constexpr const char* kInsertEventSql =
    "INSERT INTO events (run, round, node, phase, kind, link, sim_steps, flops, cpu_s, wall_s, "
    "bits_on_air, payload_bits, attempts, energy_j, energy_source, gco2e) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

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
    insert_event_.emplace(db_.get(), path_, kInsertEventSql);
    insert_evaluation_.emplace(db_.get(), path_, kInsertEvaluationSql);
    events_.reserve(static_cast<std::size_t>(options_.batch_size));
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
}

void LedgerStore::CreateSchema() {
  Transaction transaction(db_.get(), path_);
  Exec(db_.get(), path_, kSchemaSql);
  transaction.Commit();
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
  for (const auto& [run, e] : events_) {
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
    insert.Step();
    sqlite3_reset(insert.get());
  }
  internal::Statement& insert_evaluation = *insert_evaluation_;
  for (const auto& [run, e] : evaluations_) {
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
