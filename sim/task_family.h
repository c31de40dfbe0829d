#pragma once
// Task families (docs/tasks.md): what a task is made of, how a cluster's TaskDistributionConfig
// is sampled into per-agent tasks, and how each family observes, rewards and ends an episode.
// The registry is one explicit list (TaskFamilies()), not static self-registration.

#include <array>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mujoco/mujoco.h>

#include "sim/task_config.h"

namespace metajoule::sim {

/// One agent's task: the family plus the parameters drawn from its cluster's distribution.
/// Fields a family does not read keep their neutral values (docs/tasks.md lists them).
struct Task {
  std::string family{"reach2d"};
  /// Goal position in metres (world frame); the first goal_size entries are used.
  std::array<double, 3> goal{0.0, 0.0, 0.0};
  int goal_size{0};
  double target_velocity{0.0};  ///< m/s, runner_velocity
  double direction_deg{0.0};    ///< degrees, runner_direction and quadruped_direction
  double payload_mass{0.0};     ///< kg added to the payload body (end effector or torso)
  double damping_scale{1.0};    ///< multiplier on every dof's damping
  double gain_scale{1.0};       ///< multiplier on every actuator's gain

  /// The parameters the family reads, e.g. "goal=(-0.112, 0.081) payload=0.020".
  std::string Describe() const;
  bool operator==(const Task&) const = default;
};

/// Indices into a model that a family reads every step, looked up once by name (Bind()).
struct ModelIds {
  int goal_site{-1};     ///< world site placed at the goal (reach, nav)
  int tip_site{-1};      ///< site whose position is compared with the goal (reach, nav)
  int payload_body{-1};  ///< body that carries Task::payload_mass
  int root_body{-1};     ///< torso (runner, quadruped)
};

/// How the environment advances the state.
enum class Dynamics {
  kPhysics,    ///< ctrl = clipped action, then frame_skip mj_step calls
  kKinematic,  ///< qpos += clipped action, then one mj_kinematics call (nav2d)
};

/// A family of related tasks on one MJCF model. Instances live in the registry for the life of
/// the program; they hold no state, so every method may be called from any thread.
class TaskFamily {
 public:
  virtual ~TaskFamily() = default;

  std::string_view name() const { return name_; }
  /// The embedded MJCF file (sim/models/<model_file>).
  std::string_view model_file() const { return model_file_; }
  Dynamics dynamics() const { return dynamics_; }
  int default_horizon() const { return default_horizon_; }
  int default_frame_skip() const { return default_frame_skip_; }
  /// Number of goal coordinates (0 for families without a goal).
  int goal_size() const { return goal_size_; }
  /// Default goal box used when TaskDistributionConfig::goal_low/goal_high are empty.
  std::span<const double> default_goal_low() const { return default_goal_low_; }
  std::span<const double> default_goal_high() const { return default_goal_high_; }
  /// Half-width of the uniform noise added to hinge/slide qpos and to qvel at reset.
  double reset_noise() const { return reset_noise_; }

  /// Draws one task: goal axes first, then target_velocity, direction_deg, payload_mass,
  /// damping_scale, gain_scale, each uniform on its interval (always the same number of draws,
  /// whichever fields the family reads). Throws std::invalid_argument if the goal box has the
  /// wrong number of axes (expected goal_size()).
  Task Sample(const TaskDistributionConfig& config, std::mt19937_64& rng) const;

  /// Looks up the named sites and bodies the family needs. Throws ConfigError naming
  /// `model_name` and the missing element, or a wrong actuator/joint count.
  virtual ModelIds Bind(const mjModel& model, const std::string& model_name) const;

  /// Writes the task into a model the environment owns: goal site position, payload mass (and
  /// inertia scaled with it), dof damping and actuator gains. Throws std::invalid_argument if
  /// the task belongs to another family or a parameter is out of range.
  void Apply(const Task& task, const ModelIds& ids, mjModel& model) const;

  /// Observation length for `model`.
  virtual int ObservationSize(const mjModel& model) const = 0;
  /// Fills `observation` (ObservationSize() entries) from the state; no allocation.
  virtual void Observe(const mjModel& model, const mjData& data, const ModelIds& ids,
                       std::span<double> observation) const = 0;
  /// Reward of the step that led to `data`, given the clipped action that was applied.
  virtual double Reward(const mjModel& model, const mjData& data, const ModelIds& ids,
                        const Task& task, std::span<const double> action) const = 0;
  /// True when the task ends the episode early in state `data` (goal reached, fell over).
  virtual bool Terminated(const mjModel& model, const mjData& data, const ModelIds& ids,
                          const Task& task) const;

 protected:
  std::string name_;
  std::string model_file_;
  Dynamics dynamics_{Dynamics::kPhysics};
  int default_horizon_{100};
  int default_frame_skip_{1};
  int goal_size_{0};
  std::vector<double> default_goal_low_;
  std::vector<double> default_goal_high_;
  double reset_noise_{0.0};
};

/// Every task family, in registry order: reach2d, reach3d, nav2d, runner_velocity,
/// runner_direction, quadruped_direction.
std::span<const TaskFamily* const> TaskFamilies();

/// Names of every registered task family, in registry order.
std::vector<std::string> TaskFamilyNames();

/// The family called `name`. Throws std::invalid_argument listing the valid names.
const TaskFamily& FindTaskFamily(std::string_view name);

/// Tasks for `count` agents of one cluster, drawn in agent order from `rng`.
std::vector<Task> SampleTasks(const TaskDistributionConfig& config, int count,
                              std::mt19937_64& rng);

}  // namespace metajoule::sim
