#pragma once
// The SQLite ledger store: one database file per run folder (runs/<exp>/<ts>-<seed>/ledger.sqlite)
// holding runs, nodes, events and evaluations. Schema and durability guarantees are documented
// in docs/ledger.md ("Schema", "Durability").
//
// Writes are buffered and committed in batches: Append() and AddEvaluation() queue rows; when
// `batch_size` rows are queued (or on Flush(), EndRun() and destruction) they are written with
// prepared statements inside one transaction. A killed process keeps every committed batch and
// loses at most the queued, uncommitted rows.

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/error.h"
#include "ledger/events.h"
#include "ledger/ledger_error.h"
#include "ledger/sqlite_util.h"

namespace metajoule::ledger {

/// How hard each commit is pushed to disk. kNormal (WAL + synchronous=NORMAL) survives a killed
/// process; kFull (synchronous=FULL) also survives power loss, at a cost per commit.
enum class Durability { kNormal, kFull };
constexpr std::array<std::pair<std::string_view, Durability>, 2> EnumNames(Durability) {
  return {{{"normal", Durability::kNormal}, {"full", Durability::kFull}}};
}

/// [ledger.store]: write batching and durability.
struct StoreOptions {
  int batch_size{4096};  ///< rows per committed transaction, >= 1
  Durability durability{Durability::kNormal};
  template <class V>
  void Visit(V& v) {
    v("batch_size", batch_size);
    v("durability", durability);
  }
};
std::vector<FieldError> Validate(const StoreOptions& options);

/// Whether to open a ledger for writing (created when missing) or only for reading.
enum class OpenMode { kReadWrite, kReadOnly };

/// What is known about a run when it starts.
struct RunInfo {
  std::string name{};
  std::string method{};        ///< "maml", "scratch", ...; one method per run
  std::string config_text{};   ///< the fully resolved experiment config (TOML)
  std::string energy_model{};  ///< EnergyModel::ToText() of the model that priced the events
  std::string git_commit{};
  std::string host{};          ///< empty: filled with HostName()
  std::int64_t seed{0};
  EnergySource meter_requested{EnergySource::kModelled};
  std::string meter_status{};  ///< "ok", or why the requested meter was unavailable
};

/// A stored run.
struct RunRecord {
  std::int64_t id{0};
  RunInfo info{};
  std::string started_at{};  ///< UTC, ISO 8601
  std::string ended_at{};    ///< empty while running
  std::string status{};      ///< "running", "finished", "failed", ...
  std::optional<std::int64_t> repriced_from{};  ///< the source run of a repriced copy
};

/// An open ledger database. Append/AddEvaluation/Flush/BeginRun/EndRun/AddNode are safe to call
/// from several threads (one mutex); reads through handle() must not race with writes.
class LedgerStore {
 public:
  /// The schema version this build writes (PRAGMA user_version). Version 2 added the totals
  /// tables, version 3 the events.peer column (a transfer's receiving endpoint); an older file
  /// opened kReadWrite is migrated forward in one transaction (old transfers get peer NULL),
  /// one opened kReadOnly is read as it is (has_totals() false below version 2, has_peer()
  /// false below version 3).
  static constexpr int kSchemaVersion = 3;

  /// Opens `path`, creating an empty ledger when it does not exist (kReadWrite only).
  /// Throws LedgerCorruptError when the file is not an SQLite database, is damaged, or is an
  /// SQLite database without a ledger schema; LedgerSchemaError when it was written by a newer
  /// schema; LedgerError for other failures (missing file in kReadOnly, permissions). In every
  /// error case the file is left as it was. Throws std::invalid_argument for invalid options.
  explicit LedgerStore(std::string path, StoreOptions options = {},
                       OpenMode mode = OpenMode::kReadWrite);
  /// Commits queued rows; a failure here is printed to stderr, never thrown.
  ~LedgerStore();
  LedgerStore(const LedgerStore&) = delete;
  LedgerStore& operator=(const LedgerStore&) = delete;

  /// Inserts a run with status "running" and returns its id. Commits immediately.
  std::int64_t BeginRun(const RunInfo& info);
  /// Flushes queued rows, then sets the run's status and end time.
  void EndRun(std::int64_t run, std::string_view status = "finished");
  /// Reopens `run` to be continued after round `keep_through_round` (`metajoule run --resume`):
  /// in one transaction, deletes its events and evaluations of later rounds and their totals
  /// rows (the kept rounds' totals stay as committed, so resumed figures are bit-identical when
  /// the writer flushes at round ends), and sets its status back to "running". Flushes queued
  /// rows first. Returns the number of event and evaluation rows deleted. Throws
  /// std::invalid_argument when there is no such run, LedgerError when opened read-only.
  std::int64_t TruncateRun(std::int64_t run, std::int64_t keep_through_round);
  /// Registers a node of `run` (replaces an existing row with the same id). Commits immediately.
  void AddNode(std::int64_t run, const NodeInfo& node);

  /// Queues an event; commits a batch when batch_size rows are queued.
  void Append(std::int64_t run, const Event& event);
  /// Queues an evaluation; committed with the events.
  void AddEvaluation(std::int64_t run, const Evaluation& evaluation);
  /// Commits every queued row in one transaction.
  void Flush();
  /// Queued, uncommitted rows.
  std::size_t pending() const;

  std::vector<RunRecord> Runs() const;
  /// Throws std::invalid_argument when there is no such run.
  RunRecord Run(std::int64_t run) const;
  std::vector<NodeInfo> Nodes(std::int64_t run) const;
  /// A run given as its id ("3") or its name (the latest run of that name). Throws
  /// std::invalid_argument listing the stored runs when nothing matches.
  std::int64_t ResolveRun(std::string_view id_or_name) const;

  /// Result of PRAGMA integrity_check: "ok" when the database is sound.
  std::string IntegrityCheck() const;

  /// True when the file has the totals tables (event_totals, evaluation_totals; schema >= 2),
  /// which every commit keeps equal to the sums of the committed rows (docs/ledger.md
  /// "Totals"); the summary queries read them instead of scanning the rows.
  bool has_totals() const { return has_totals_; }
  /// Whether the events table has the peer column (schema version 3).
  bool has_peer() const { return has_peer_; }
  /// Recomputes `run`'s totals from its committed rows, for code that writes events or
  /// evaluations other than through Append/AddEvaluation (repricing). Flushes queued rows
  /// first. Runs in a savepoint, so it joins a transaction the caller has open.
  void RebuildTotals(std::int64_t run);

  const std::string& path() const { return path_; }
  const StoreOptions& options() const { return options_; }
  /// The raw connection, for the ledger's own query, reprice and benchmark code.
  sqlite3* handle() const { return db_.get(); }

 private:
  struct PendingEvent {
    std::int64_t run;
    Event event;
  };
  struct PendingEvaluation {
    std::int64_t run;
    Evaluation evaluation;
  };

  // the grid location of every registered node of a run, as an index into locations_
  struct RunLocations {
    std::unordered_map<std::int32_t, int> of_node;
    bool has_unregistered{false};  ///< committed totals include "(unregistered)" events
  };

  void CreateSchema();
  void PrepareStatements();
  void MigrateToVersion3(int from_version);
  void FlushLocked();
  void RebuildTotalsLocked(std::int64_t run);
  RunLocations& LocationsOf(std::int64_t run);
  int InternLocation(const std::string& location);

  std::string path_;
  StoreOptions options_;
  OpenMode mode_;
  internal::SqliteHandle db_;
  mutable std::mutex mutex_;
  std::vector<PendingEvent> events_;
  std::vector<PendingEvaluation> evaluations_;
  std::optional<internal::Statement> insert_event_;
  std::optional<internal::Statement> insert_evaluation_;
  std::optional<internal::Statement> select_event_totals_;
  std::optional<internal::Statement> write_event_totals_;
  std::optional<internal::Statement> select_evaluation_totals_;
  std::optional<internal::Statement> write_evaluation_totals_;
  bool has_totals_{false};
  bool has_peer_{false};
  std::unordered_map<std::int64_t, RunLocations> run_locations_;
  std::vector<std::string> locations_;  ///< interned location names; index 0 "(unregistered)"
  std::unordered_map<std::string, int> location_ids_;
};

/// This machine's host name (gethostname), "unknown" when unavailable.
std::string HostName();
/// The current UTC time as "YYYY-MM-DDTHH:MM:SSZ".
std::string UtcNow();

}  // namespace metajoule::ledger
