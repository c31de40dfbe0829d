#include "ledger/sqlite_util.h"

#include "ledger/ledger_error.h"

namespace metajoule::ledger::internal {

std::string SqliteMessage(sqlite3* db, std::string_view what) {
  std::string out(what);
  if (db != nullptr) {
    out.append(": ").append(sqlite3_errmsg(db));
    out.append(" (code ").append(std::to_string(sqlite3_extended_errcode(db))).append(")");
  }
  return out;
}

void Exec(sqlite3* db, const std::string& path, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error != nullptr ? error : "unknown error";
    sqlite3_free(error);
    throw LedgerError(path, std::string("SQL failed: ") + message + " [" + sql + "]");
  }
}

Statement::Statement(sqlite3* db, std::string path, std::string_view sql)
    : db_(db), path_(std::move(path)) {
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt_, nullptr) != SQLITE_OK) {
    throw LedgerError(path_, SqliteMessage(db_, "cannot prepare [" + std::string(sql) + "]"));
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::BindInt64(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, static_cast<sqlite3_int64>(value));
}

void Statement::BindDouble(int index, double value) { sqlite3_bind_double(stmt_, index, value); }

void Statement::BindStaticText(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
}

void Statement::BindText(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}

void Statement::BindNull(int index) { sqlite3_bind_null(stmt_, index); }

bool Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw LedgerError(path_, SqliteMessage(db_, std::string("statement failed [") +
                                                  sqlite3_sql(stmt_) + "]"));
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::ColumnInt64(int column) const {
  return static_cast<std::int64_t>(sqlite3_column_int64(stmt_, column));
}

double Statement::ColumnDouble(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)));
}

bool Statement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::optional<std::int64_t> QueryInt64(sqlite3* db, const std::string& path,
                                       std::string_view sql) {
  Statement statement(db, path, sql);
  if (!statement.Step()) return std::nullopt;
  return statement.ColumnInt64(0);
}

std::optional<std::string> QueryText(sqlite3* db, const std::string& path, std::string_view sql) {
  Statement statement(db, path, sql);
  if (!statement.Step()) return std::nullopt;
  return statement.ColumnText(0);
}

Transaction::Transaction(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {
  Exec(db_, path_, "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::Commit() {
  Exec(db_, path_, "COMMIT");
  open_ = false;
}

}  // namespace metajoule::ledger::internal
