#pragma once
// A method's state at the end of a training round, kept in the run folder so that
// `metajoule run --resume` can continue a killed run from its last whole round (the file format
// and the ledger side, LedgerStore::TruncateRun, are in place; the runner does not write or read
// checkpoints yet):
//   <run>/checkpoints/<method>.ckpt
// The file is written atomically (a temporary file, fsync, rename, fsync of the folder): a kill
// at any moment leaves either the previous checkpoint or the new one, never a torn file.
//
// Format (little-endian): "MJCKPT" u16 version, u64 body length, u32 CRC-32 of the body, body =
// str method, i64 round, i64 ledger run, u32 count, count × (str name, u64 n, n × f64),
// u32 count, count × (str name, str text); str = u32 length + bytes.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace metajoule::experiments {

struct Checkpoint {
  std::string method;
  std::int64_t round{0};       ///< the last round whose work and ledger rows are complete
  std::int64_t ledger_run{0};  ///< the ledger run being continued
  /// Named flat vectors (meta-parameters, optimiser moments, per-agent parameters), stored
  /// bit-exactly.
  std::map<std::string, std::vector<double>> vectors;
  /// Named texts (random-engine states, counters as text).
  std::map<std::string, std::string> texts;

  /// The vector `name`; throws ConfigError naming `source` and the key when it is missing or
  /// has another size than `expected_size` (when given).
  const std::vector<double>& Vector(const std::string& name, const std::string& source,
                                    std::ptrdiff_t expected_size = -1) const;
  /// The text `name`; throws ConfigError naming `source` and the key when it is missing.
  const std::string& Text(const std::string& name, const std::string& source) const;
};

/// The current file format version.
inline constexpr std::uint16_t kCheckpointVersion = 1;

/// <run_folder>/checkpoints/<method>.ckpt
std::filesystem::path CheckpointPath(const std::filesystem::path& run_folder,
                                     const std::string& method);

/// Writes `checkpoint` to `file` atomically (creating the folder). Throws std::runtime_error
/// naming the file on I/O errors; the previous file, if any, is then left as it was.
void WriteCheckpoint(const std::filesystem::path& file, const Checkpoint& checkpoint);

/// Reads a checkpoint. Throws ConfigError "<file>: ..." for a missing file, another format, a
/// newer version, a truncated file or a checksum mismatch.
Checkpoint ReadCheckpoint(const std::filesystem::path& file);

}  // namespace metajoule::experiments
