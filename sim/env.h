#pragma once
// sim::Env: one environment instance, the "workspace" half of the model/workspace split. It owns
// its own mjModel copy (with its task applied: goal, payload, damping, gains) and its own mjData,
// so environments never share mutable state and can be stepped from any thread, one thread per
// environment at a time.

#include <cstdint>
#include <span>
#include <vector>

#include "sim/mujoco_handles.h"
#include "sim/task_config.h"
#include "sim/task_family.h"
#include "sim/world.h"

namespace metajoule::sim {

/// How a step ended. kTerminated: the task ended the episode (goal reached, fell over);
/// kTruncated: the horizon was reached; kDiverged: MuJoCo flagged a bad qpos, qvel or qacc
/// (mjWARN_BADQPOS/BADQVEL/BADQACC) and reset the state, so the episode is over.
enum class StepStatus : std::uint8_t { kOk = 0, kTerminated = 1, kTruncated = 2, kDiverged = 3 };

/// True for every status but kOk: the episode is over and Reset() must come next.
inline bool IsDone(StepStatus status) { return status != StepStatus::kOk; }

/// "ok", "terminated", "truncated" or "diverged".
const char* ToString(StepStatus status);

/// The outcome of one Env::Step. `observation` views the environment's own buffer and stays
/// valid until the next Step, Reset or RestoreState.
struct StepResult {
  std::span<const double> observation;
  double reward{0.0};
  StepStatus status{StepStatus::kOk};
};

class Env {
 public:
  /// Copies `world`'s model, applies `task` to the copy and allocates the mjData. The
  /// environment does not refer to `world` afterwards. Zero fields of `config` take the family's
  /// defaults. Throws std::invalid_argument if the task belongs to another family, has out-of-range
  /// parameters, or config has negative fields.
  Env(const World& world, const Task& task, const EnvConfig& config = {});

  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  Env(Env&&) = default;
  Env& operator=(Env&&) = default;

  /// Starts an episode: mj_resetData, then (for families with reset noise) uniform noise of
  /// half-width family().reset_noise() on hinge/slide qpos and on qvel drawn from `seed`.
  /// Returns the first observation (valid until the next Step/Reset).
  std::span<const double> Reset(std::uint64_t seed);

  /// Advances one environment step. The action is clipped to [action_low, action_high]; physics
  /// families then run frame_skip() mj_step calls with ctrl = clipped action, and nav2d adds
  /// the clipped action to its position (docs/tasks.md). Does not allocate.
  /// Throws std::invalid_argument "Env::Step: expected an action of size N, got M" or
  /// "Env::Step: action[i] is nan (expected finite values)" without simulating, and
  /// std::logic_error if no episode is running (Reset first, and again after a final status).
  StepResult Step(std::span<const double> action);

  /// Puts the environment into a recorded state (sim/recording.h) at episode step `step`:
  /// time, qpos (nq), qvel (nv), act (na), ctrl (nu), qacc_warmstart (nv), then recomputes the
  /// derived quantities. Throws std::invalid_argument on a size mismatch.
  void RestoreState(int step, double time, std::span<const double> qpos,
                    std::span<const double> qvel, std::span<const double> act,
                    std::span<const double> ctrl, std::span<const double> qacc_warmstart);

  int observation_size() const { return static_cast<int>(observation_.size()); }
  int action_size() const { return static_cast<int>(action_low_.size()); }
  /// Per-dimension action bounds (actuator ctrlrange, or +-0.1 for nav2d).
  std::span<const double> action_low() const { return action_low_; }
  std::span<const double> action_high() const { return action_high_; }
  int horizon() const { return horizon_; }
  int frame_skip() const { return frame_skip_; }
  /// Steps taken in the current episode.
  int episode_step() const { return episode_step_; }
  /// True between Reset() and a step with a final status.
  bool episode_running() const { return running_; }
  /// Simulator calls since construction: mj_step calls for physics families, mj_kinematics
  /// calls for nav2d (one per step). This is the work the energy ledger charges.
  std::int64_t sim_steps() const { return sim_steps_; }

  const TaskFamily& family() const { return *family_; }
  const Task& task() const { return task_; }
  /// The resolved config (family defaults filled in).
  const EnvConfig& config() const { return config_; }
  const mjModel& model() const { return *model_; }
  const mjData& data() const { return *data_; }
  /// The name and hash of the MJCF the model came from (World::model_name/model_hash).
  const std::string& model_name() const { return model_name_; }
  std::uint64_t model_hash() const { return model_hash_; }

 private:
  void CheckAction(std::span<const double> action) const;
  bool Diverged() const;

  const TaskFamily* family_;
  Task task_;
  EnvConfig config_;
  std::string model_name_;
  std::uint64_t model_hash_{0};
  MjModelPtr model_;
  MjDataPtr data_;
  ModelIds ids_;
  int horizon_{0};
  int frame_skip_{0};
  std::vector<double> observation_;
  std::vector<double> action_low_;
  std::vector<double> action_high_;
  std::vector<double> clipped_;
  int episode_step_{0};
  bool running_{false};
  std::int64_t sim_steps_{0};
};

}  // namespace metajoule::sim
