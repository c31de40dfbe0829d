#pragma once
// Thin RAII wrappers over the SQLite C API, shared by the ledger's store, queries, repricing and
// benchmark. Internal to ledger/: other modules talk to LedgerStore, never to SQLite.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <sqlite3.h>

namespace metajoule::ledger::internal {

/// Closes a connection; used as the deleter of SqliteHandle.
struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using SqliteHandle = std::unique_ptr<sqlite3, SqliteCloser>;

/// "path: what failed: sqlite message (code N)", for LedgerError messages.
std::string SqliteMessage(sqlite3* db, std::string_view what);

/// Runs one or more SQL statements that return no rows; throws LedgerError(path) on failure.
void Exec(sqlite3* db, const std::string& path, const char* sql);

/// A prepared statement. Bind indices are 1-based, column indices 0-based (SQLite's own).
/// Errors throw LedgerError carrying `path`.
class Statement {
 public:
  Statement(sqlite3* db, std::string path, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  void BindInt64(int index, std::int64_t value);
  void BindDouble(int index, double value);
  /// The text must outlive the next Step() (SQLITE_STATIC): pass literals or owned strings.
  void BindStaticText(int index, std::string_view value);
  /// Copies the text (SQLITE_TRANSIENT).
  void BindText(int index, std::string_view value);
  void BindNull(int index);

  /// Advances; true when a row is available, false when done. Throws on error.
  bool Step();
  /// Resets for re-execution and clears bindings.
  void Reset();

  std::int64_t ColumnInt64(int column) const;
  double ColumnDouble(int column) const;
  std::string ColumnText(int column) const;
  bool ColumnIsNull(int column) const;

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3* db_;
  std::string path_;
  sqlite3_stmt* stmt_{nullptr};
};

/// Runs `sql` and returns the first column of its first row as int64 (nullopt when no row).
std::optional<std::int64_t> QueryInt64(sqlite3* db, const std::string& path, std::string_view sql);

/// Runs `sql` and returns the first column of its first row as text (nullopt when no row).
std::optional<std::string> QueryText(sqlite3* db, const std::string& path, std::string_view sql);

/// BEGIN IMMEDIATE ... COMMIT scope: commits on Commit(), rolls back on destruction otherwise.
class Transaction {
 public:
  Transaction(sqlite3* db, std::string path);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void Commit();

 private:
  sqlite3* db_;
  std::string path_;
  bool open_{true};
};

}  // namespace metajoule::ledger::internal
