#pragma once
// A method's state at the end of a training round, kept in the run folder so that
// `metajoule run --resume` continues a killed run from its last checkpointed round (docs/resume.md;
// the ledger side is LedgerStore::TruncateRun):
//   <run>/checkpoints/<method>.ckpt
// The file is written atomically (a temporary file, rename; with `sync` fsync of the file and
// the folder too): a kill at any moment leaves either the previous checkpoint or the new one,
// never a torn file.
//
// Format (little-endian): "MJCKPT" u16 version, u64 body length, u32 CRC-32 of the body, body =
// str method, i64 round, i64 ledger run, u32 count, count × (str name, u64 n, n × f64),
// u32 count, count × (str name, str text); str = u32 length + bytes.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/state_archive.h"

namespace metajoule::experiments {

/// A method's training state after `round`: the entries its objects' SaveState wrote
/// (StateArchive: named vectors stored bit-exactly, named texts).
struct Checkpoint : StateArchive {
  std::string method;
  std::int64_t round{0};       ///< the last round whose work and ledger rows are complete
  std::int64_t ledger_run{0};  ///< the ledger run being continued
};

/// The current file format version.
inline constexpr std::uint16_t kCheckpointVersion = 1;

/// <run_folder>/checkpoints/<method>.ckpt
std::filesystem::path CheckpointPath(const std::filesystem::path& run_folder,
                                     const std::string& method);

/// Writes `checkpoint` to `file` atomically (creating the folder): a temporary file renamed
/// over the old one, so a killed process leaves the old or the new file. With `sync`, the
/// file and the folder are also fsync'ed, so that the new file survives power loss (the
/// ledger's durability = "full" does the same for its rows). Throws std::runtime_error naming
/// the file on I/O errors; the previous file, if any, is then left as it was.
void WriteCheckpoint(const std::filesystem::path& file, const Checkpoint& checkpoint,
                     bool sync = true);

/// Reads a checkpoint. Throws ConfigError "<file>: ..." for a missing file, another format, a
/// newer version, a truncated file or a checksum mismatch.
Checkpoint ReadCheckpoint(const std::filesystem::path& file);

/// What a method's training loop does with checkpoints: where it starts (round 1, or after
/// the restored checkpoint's round) and, at the end of a round that is due (every `every`
/// rounds and the last one), commit the ledger's queued rows and then write its state. The
/// order makes a checkpoint never name a round whose rows are not committed; rows committed
/// after the last checkpoint are what a resume truncates.
class MethodCheckpoints {
 public:
  struct Options {
    std::filesystem::path file;  ///< CheckpointPath(run folder, method)
    std::string method;
    std::int64_t ledger_run{0};
    int every{1};                        ///< 0: never write
    bool sync{false};                    ///< fsync (as the ledger's durability = "full")
    std::function<void()> commit{};      ///< commits the ledger's queued rows
    /// Called after the commit and before the write (tests kill the process here).
    std::function<void(const std::string& method, int round)> before_write{};
  };
  explicit MethodCheckpoints(Options options, std::optional<Checkpoint> restored = std::nullopt);

  /// The checkpoint to continue from, or null for a fresh start.
  const Checkpoint* restored() const { return restored_ ? &*restored_ : nullptr; }
  /// 1, or the restored round + 1.
  int first_round() const;
  /// Calls `load` with the restored state (when there is one); a StateError becomes a
  /// ConfigError naming the file and the entry (a checkpoint of another config or build).
  void Load(const std::function<void(const StateArchive&)>& load) const;
  /// The end of `round` of `rounds`: when due, commits and writes the state `save` fills.
  void EndRound(int round, int rounds, const std::function<void(StateArchive&)>& save);

  /// Checkpoints written so far and the wall time of EndRound's commits, saves and writes (s).
  int written() const { return written_; }
  double seconds() const { return seconds_; }

 private:
  Options options_;
  std::optional<Checkpoint> restored_;
  int written_{0};
  double seconds_{0.0};
};

}  // namespace metajoule::experiments
