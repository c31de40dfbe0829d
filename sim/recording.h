#pragma once
// Exact episode recordings (docs/recording.md): enough state per environment step to
// re-simulate an episode bit for bit and to replay it, in a documented little-endian binary
// format with a trailing checksum.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "sim/env.h"
#include "sim/task_config.h"
#include "sim/task_family.h"

namespace metajoule::sim {

/// One recorded episode. Frame 0 is the state right after Env::Reset; frame i (i >= 1) is the
/// state after step i, with the action (as given, before clipping), ctrl (as applied during
/// step i), reward and status of that step. Per-frame arrays are frame-major: qpos holds
/// num_frames() * nq values, frame i at [i * nq, (i + 1) * nq).
struct EpisodeRecording {
  std::string family;
  std::string model_name;      ///< embedded MJCF file the model came from
  std::uint64_t model_hash{0};  ///< World::model_hash() of that file
  std::int32_t mujoco_version{0};  ///< mj_version() of the recording binary
  EnvConfig config{};          ///< resolved horizon and frame skip
  Task task{};
  std::uint64_t reset_seed{0};
  std::int32_t nq{0}, nv{0}, na{0}, nu{0}, action_size{0};
  double timestep{0.0};
  std::vector<double> time, qpos, qvel, act, ctrl, qacc_warmstart, action, reward;
  std::vector<StepStatus> status;

  int num_frames() const { return static_cast<int>(time.size()); }
};

/// Records an episode of one environment as it runs.
class EpisodeRecorder {
 public:
  /// Starts a new recording from `env`'s current state, which must be right after
  /// Reset(reset_seed). Throws std::logic_error if no episode is running.
  void Begin(const Env& env, std::uint64_t reset_seed);
  /// Appends the state after a step, with the action that was passed to Env::Step and its
  /// result. Throws std::logic_error before Begin, std::invalid_argument on a wrong action size.
  void Record(const Env& env, std::span<const double> action, const StepResult& result);
  const EpisodeRecording& recording() const { return recording_; }

 private:
  void AppendState(const Env& env);
  EpisodeRecording recording_;
  bool started_{false};
};

/// The recording in the binary format of docs/recording.md.
std::vector<std::uint8_t> EncodeRecording(const EpisodeRecording& recording);

/// Parses the binary format. `source_name` names the input in messages. Throws ConfigError
/// "source_name: <what is wrong>" for a wrong magic, an unsupported version, a truncated file,
/// inconsistent sizes or a checksum mismatch.
EpisodeRecording DecodeRecording(std::span<const std::uint8_t> bytes,
                                 const std::string& source_name);

/// Writes / reads a recording file. Throw ConfigError naming the path on I/O or format errors.
void WriteRecording(const EpisodeRecording& recording, const std::string& path);
EpisodeRecording ReadRecording(const std::string& path);

/// The states of a re-simulation: frame-major qpos and qvel, in the recording's layout.
struct ResimulatedStates {
  std::vector<double> qpos;
  std::vector<double> qvel;
};

/// Re-simulates a recording: builds the family's world from the embedded model (its hash must
/// match the recording's), applies the recorded task, restores frame 0 (time, qpos, qvel, act,
/// qacc_warmstart) and applies each frame's recorded ctrl for frame_skip mj_step calls (nav2d:
/// its recorded action). On the same binary and machine the result equals the recorded qpos and
/// qvel bit for bit. Throws ConfigError if the model changed since recording.
ResimulatedStates Resimulate(const EpisodeRecording& recording);

}  // namespace metajoule::sim
