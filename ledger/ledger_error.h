#pragma once
// Runtime errors of the ledger store: a file that cannot be opened, is not a ledger, is corrupt,
// or was written by a newer metajoule. Each carries the database path. These are runtime failures
// (exit status 1 in main), not config errors.

#include <stdexcept>
#include <string>

namespace metajoule::ledger {

/// Any failure to open, read or write a ledger database. what() reads "path: message".
class LedgerError : public std::runtime_error {
 public:
  LedgerError(std::string path, const std::string& message)
      : std::runtime_error(path + ": " + message), path_(std::move(path)) {}
  /// The database file the error is about.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// The file is not an SQLite database, fails SQLite's integrity check, or is an SQLite database
/// that is not a metajoule ledger. The file is left untouched.
class LedgerCorruptError : public LedgerError {
 public:
  using LedgerError::LedgerError;
};

/// The ledger was written with a newer schema than this build understands. The file is left
/// untouched; upgrade metajoule to read it.
class LedgerSchemaError : public LedgerError {
 public:
  LedgerSchemaError(std::string path, const std::string& message, int file_version,
                    int supported_version)
      : LedgerError(std::move(path), message),
        file_version_(file_version),
        supported_version_(supported_version) {}
  int file_version() const { return file_version_; }
  int supported_version() const { return supported_version_; }

 private:
  int file_version_;
  int supported_version_;
};

}  // namespace metajoule::ledger
