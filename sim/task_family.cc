#include "sim/task_family.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <stdexcept>

#include "common/error.h"
#include "sim/random.h"

namespace metajoule::sim {
namespace {

std::string Format(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, value);
  return buffer;
}

double SquaredNorm(std::span<const double> values) {
  double sum = 0.0;
  for (const double v : values) sum += v * v;
  return sum;
}

// A locomotion observation: qpos without its first `skipped` root coordinates (the position in
// the plane, which the reward must not depend on), then qvel.
int LocomotionObservationSize(const mjModel& model, int skipped) {
  return model.nq - skipped + model.nv;
}
void ObserveLocomotion(const mjModel& model, const mjData& data, int skipped,
                       std::span<double> observation) {
  const int nq = model.nq;
  for (int i = skipped; i < nq; ++i) observation[i - skipped] = data.qpos[i];
  for (int i = 0; i < model.nv; ++i) observation[nq - skipped + i] = data.qvel[i];
}

int RequireId(const mjModel& model, mjtObj type, const char* name, const char* kind,
              const std::string& model_name) {
  const int id = mj_name2id(&model, type, name);
  if (id < 0) {
    throw ConfigError({model_name}, "",
                      std::string("the model has no ") + kind + " named \"" + name + "\"");
  }
  return id;
}

// Reaching with a planar (goal_size 2) or spatial (goal_size 3) arm: drive the "fingertip" site
// to the goal site. Observation: cos q, sin q, qvel, fingertip position (goal not observed, so
// that the task is identified through the reward, as in Finn et al. 2017).
class ReachFamily final : public TaskFamily {
 public:
  ReachFamily(std::string name, std::string model_file, int goal_size, std::vector<double> low,
              std::vector<double> high) {
    name_ = std::move(name);
    model_file_ = std::move(model_file);
    dynamics_ = Dynamics::kPhysics;
    default_horizon_ = 50;
    default_frame_skip_ = 2;
    goal_size_ = goal_size;
    default_goal_low_ = std::move(low);
    default_goal_high_ = std::move(high);
    reset_noise_ = 0.05;
  }

  ModelIds Bind(const mjModel& model, const std::string& model_name) const override {
    ModelIds ids;
    ids.goal_site = RequireId(model, mjOBJ_SITE, "goal", "site", model_name);
    ids.tip_site = RequireId(model, mjOBJ_SITE, "fingertip", "site", model_name);
    ids.payload_body = RequireId(model, mjOBJ_BODY, "payload", "body", model_name);
    if (model.nu < goal_size_ || model.nq != model.nv || model.nq != model.nu) {
      throw ConfigError({model_name}, "",
                        "a " + name_ + " model needs one motor per hinge and at least " +
                            std::to_string(goal_size_) + " of them, got nq=" +
                            std::to_string(model.nq) + " nu=" + std::to_string(model.nu));
    }
    return ids;
  }

  int ObservationSize(const mjModel& model) const override { return 3 * model.nq + goal_size_; }

  void Observe(const mjModel& model, const mjData& data, const ModelIds& ids,
               std::span<double> observation) const override {
    const int nq = model.nq;
    for (int i = 0; i < nq; ++i) {
      observation[i] = std::cos(data.qpos[i]);
      observation[nq + i] = std::sin(data.qpos[i]);
      observation[2 * nq + i] = data.qvel[i];
    }
    for (int k = 0; k < goal_size_; ++k) {
      observation[3 * nq + k] = data.site_xpos[3 * ids.tip_site + k];
    }
  }

  // r = -||p_tip - g|| - 0.1 ||a||^2 (Reacher-style distance and control costs)
  double Reward(const mjModel& /*model*/, const mjData& data, const ModelIds& ids,
                const Task& task, std::span<const double> action) const override {
    double squared = 0.0;
    for (int k = 0; k < goal_size_; ++k) {
      const double d = data.site_xpos[3 * ids.tip_site + k] - task.goal[k];
      squared += d * d;
    }
    return -std::sqrt(squared) - 0.1 * SquaredNorm(action);
  }
};

// 2-D navigation of Finn et al. 2017 (the rllab/maml_rl PointEnvRandGoal definition): position
// p_0 = (0, 0); p_{t+1} = p_t + clip(a_t, -0.1, 0.1); r_t = -||p_{t+1} - g||; the episode ends
// when |p - g| < 0.01 on both axes, or after 100 steps.
class Nav2dFamily final : public TaskFamily {
 public:
  Nav2dFamily() {
    name_ = "nav2d";
    model_file_ = "nav2d.xml";
    dynamics_ = Dynamics::kKinematic;
    default_horizon_ = 100;
    default_frame_skip_ = 1;
    goal_size_ = 2;
    default_goal_low_ = {-0.5, -0.5};
    default_goal_high_ = {0.5, 0.5};
    reset_noise_ = 0.0;
  }

  ModelIds Bind(const mjModel& model, const std::string& model_name) const override {
    ModelIds ids;
    ids.goal_site = RequireId(model, mjOBJ_SITE, "goal", "site", model_name);
    ids.tip_site = RequireId(model, mjOBJ_SITE, "center", "site", model_name);
    if (model.nq != 2 || model.nv != 2 || model.njnt != 2 || model.jnt_type[0] != mjJNT_SLIDE ||
        model.jnt_type[1] != mjJNT_SLIDE) {
      throw ConfigError({model_name}, "", "a nav2d model needs exactly two slide joints (x, y)");
    }
    return ids;
  }

  int ObservationSize(const mjModel& /*model*/) const override { return 2; }

  void Observe(const mjModel& /*model*/, const mjData& data, const ModelIds& /*ids*/,
               std::span<double> observation) const override {
    observation[0] = data.qpos[0];
    observation[1] = data.qpos[1];
  }

  double Reward(const mjModel& /*model*/, const mjData& data, const ModelIds& /*ids*/,
                const Task& task, std::span<const double> /*action*/) const override {
    const double dx = data.qpos[0] - task.goal[0];
    const double dy = data.qpos[1] - task.goal[1];
    return -std::sqrt(dx * dx + dy * dy);
  }

  bool Terminated(const mjModel& /*model*/, const mjData& data, const ModelIds& /*ids*/,
                  const Task& task) const override {
    return std::abs(data.qpos[0] - task.goal[0]) < 0.01 &&
           std::abs(data.qpos[1] - task.goal[1]) < 0.01;
  }
};

// The planar runner (HalfCheetahVel / HalfCheetahDir of Finn et al. 2017, own model).
// Observation: qpos without root x, then qvel (8 + 9 = 17).
class RunnerFamily final : public TaskFamily {
 public:
  explicit RunnerFamily(bool velocity_task) : velocity_task_(velocity_task) {
    name_ = velocity_task ? "runner_velocity" : "runner_direction";
    model_file_ = "runner.xml";
    dynamics_ = Dynamics::kPhysics;
    default_horizon_ = 200;
    default_frame_skip_ = 5;
    goal_size_ = 0;
    reset_noise_ = 0.1;
  }

  ModelIds Bind(const mjModel& model, const std::string& model_name) const override {
    ModelIds ids;
    ids.root_body = RequireId(model, mjOBJ_BODY, "torso", "body", model_name);
    ids.payload_body = ids.root_body;
    if (model.njnt < 3 || model.jnt_type[0] != mjJNT_SLIDE || model.nu < 1) {
      throw ConfigError({model_name}, "",
                        "a runner model needs a root x slide as its first joint and motors");
    }
    return ids;
  }

  int ObservationSize(const mjModel& model) const override {
    return LocomotionObservationSize(model, 1);
  }

  void Observe(const mjModel& model, const mjData& data, const ModelIds& /*ids*/,
               std::span<double> observation) const override {
    ObserveLocomotion(model, data, 1, observation);
  }

  // velocity: r = -|v_x - v*| - 0.05 ||a||^2; direction: r = cos(theta) v_x - 0.05 ||a||^2
  // (Finn et al. 2017, section 5.3: forward-velocity reward with a 0.5 * 0.1 control cost)
  double Reward(const mjModel& /*model*/, const mjData& data, const ModelIds& /*ids*/,
                const Task& task, std::span<const double> action) const override {
    const double forward_velocity = data.qvel[0];
    const double control_cost = 0.05 * SquaredNorm(action);
    if (velocity_task_) return -std::abs(forward_velocity - task.target_velocity) - control_cost;
    return std::cos(task.direction_deg * std::numbers::pi / 180.0) * forward_velocity -
           control_cost;
  }

 private:
  bool velocity_task_;
};

// The quadruped walking in a heading (AntDirection of Finn et al. 2017, own model).
// Observation: qpos without root x, y, then qvel (13 + 14 = 27).
class QuadrupedFamily final : public TaskFamily {
 public:
  QuadrupedFamily() {
    name_ = "quadruped_direction";
    model_file_ = "quadruped.xml";
    dynamics_ = Dynamics::kPhysics;
    default_horizon_ = 200;
    default_frame_skip_ = 5;
    goal_size_ = 0;
    reset_noise_ = 0.1;
  }

  ModelIds Bind(const mjModel& model, const std::string& model_name) const override {
    ModelIds ids;
    ids.root_body = RequireId(model, mjOBJ_BODY, "torso", "body", model_name);
    ids.payload_body = ids.root_body;
    if (model.njnt < 1 || model.jnt_type[0] != mjJNT_FREE || model.nu < 1) {
      throw ConfigError({model_name}, "",
                        "a quadruped model needs a free root joint first and motors");
    }
    return ids;
  }

  int ObservationSize(const mjModel& model) const override {
    return LocomotionObservationSize(model, 2);
  }

  void Observe(const mjModel& model, const mjData& data, const ModelIds& /*ids*/,
               std::span<double> observation) const override {
    ObserveLocomotion(model, data, 2, observation);
  }

  // r = (cos theta, sin theta) . (v_x, v_y) - 0.005 ||a||^2 + 0.05 (survival bonus)
  double Reward(const mjModel& /*model*/, const mjData& data, const ModelIds& /*ids*/,
                const Task& task, std::span<const double> action) const override {
    const double theta = task.direction_deg * std::numbers::pi / 180.0;
    return std::cos(theta) * data.qvel[0] + std::sin(theta) * data.qvel[1] -
           0.005 * SquaredNorm(action) + 0.05;
  }

  // the torso has fallen (or jumped) out of the healthy height band [0.2, 1.0] m
  bool Terminated(const mjModel& /*model*/, const mjData& data, const ModelIds& /*ids*/,
                  const Task& /*task*/) const override {
    const double z = data.qpos[2];
    return !(z >= 0.2 && z <= 1.0);
  }
};

}  // namespace

std::string Task::Describe() const {
  std::string text;
  auto add = [&text](const std::string& part) {
    if (!text.empty()) text += ' ';
    text += part;
  };
  if (goal_size > 0) {
    std::string g = "goal=(";
    for (int k = 0; k < goal_size; ++k) g += (k ? ", " : "") + Format("%.3f", goal[k]);
    add(g + ")");
  }
  if (family == "runner_velocity") add("v=" + Format("%.2f", target_velocity));
  if (family == "runner_direction" || family == "quadruped_direction") {
    add("dir=" + Format("%.0f", direction_deg));
  }
  if (payload_mass != 0.0) add("payload=" + Format("%.3f", payload_mass));
  if (damping_scale != 1.0) add("damping*" + Format("%.2f", damping_scale));
  if (gain_scale != 1.0) add("gain*" + Format("%.2f", gain_scale));
  return text;
}

Task TaskFamily::Sample(const TaskDistributionConfig& config, std::mt19937_64& rng) const {
  const bool default_box = config.goal_low.empty() && config.goal_high.empty();
  const std::vector<double>& low = default_box ? default_goal_low_ : config.goal_low;
  const std::vector<double>& high = default_box ? default_goal_high_ : config.goal_high;
  if (static_cast<int>(low.size()) != goal_size_ || static_cast<int>(high.size()) != goal_size_) {
    throw std::invalid_argument(name_ + ": expected a goal box with " +
                                std::to_string(goal_size_) + " axes, got " +
                                std::to_string(low.size()) + " and " +
                                std::to_string(high.size()));
  }
  Task task;
  task.family = name_;
  task.goal_size = goal_size_;
  for (int k = 0; k < goal_size_; ++k) task.goal[k] = UniformDouble(rng, low[k], high[k]);
  auto draw = [&rng](const std::array<double, 2>& range) {
    return UniformDouble(rng, range[0], range[1]);
  };
  task.target_velocity = draw(config.target_velocity);
  task.direction_deg = draw(config.direction_deg);
  task.payload_mass = draw(config.payload_mass);
  task.damping_scale = draw(config.damping_scale);
  task.gain_scale = draw(config.gain_scale);
  return task;
}

ModelIds TaskFamily::Bind(const mjModel& /*model*/, const std::string& /*model_name*/) const {
  return {};
}

void TaskFamily::Apply(const Task& task, const ModelIds& ids, mjModel& model) const {
  if (task.family != name_) {
    throw std::invalid_argument("TaskFamily::Apply: expected a " + name_ + " task, got a " +
                                task.family + " task");
  }
  if (task.goal_size != goal_size_) {
    throw std::invalid_argument("TaskFamily::Apply: expected goal_size " +
                                std::to_string(goal_size_) + ", got " +
                                std::to_string(task.goal_size));
  }
  auto finite = [](double v) { return std::isfinite(v); };
  if (!std::all_of(task.goal.begin(), task.goal.end(), finite) || !finite(task.target_velocity) ||
      !finite(task.direction_deg) || !finite(task.payload_mass) || task.payload_mass < 0.0 ||
      !finite(task.damping_scale) || task.damping_scale < 0.0 || !finite(task.gain_scale) ||
      task.gain_scale <= 0.0) {
    throw std::invalid_argument(
        "TaskFamily::Apply: expected finite parameters, payload_mass >= 0, damping_scale >= 0 "
        "and gain_scale > 0, got " + task.Describe());
  }
  if (ids.goal_site >= 0) {
    for (int k = 0; k < goal_size_; ++k) model.site_pos[3 * ids.goal_site + k] = task.goal[k];
  }
  if (ids.payload_body >= 0 && task.payload_mass > 0.0) {
    // a denser body of the same shape: mass and rotational inertia scale together
    const int b = ids.payload_body;
    const double base = model.body_mass[b];
    MJL_DEMAND(base > 0.0);
    const double ratio = (base + task.payload_mass) / base;
    model.body_mass[b] = base + task.payload_mass;
    for (int k = 0; k < 3; ++k) model.body_inertia[3 * b + k] *= ratio;
  }
  for (int i = 0; i < model.nv; ++i) model.dof_damping[i] *= task.damping_scale;
  for (int i = 0; i < model.nu; ++i) {
    if (model.actuator_gaintype[i] == mjGAIN_FIXED) {
      model.actuator_gainprm[i * mjNGAIN] *= task.gain_scale;
    }
  }
}

bool TaskFamily::Terminated(const mjModel& /*model*/, const mjData& /*data*/,
                            const ModelIds& /*ids*/, const Task& /*task*/) const {
  return false;
}

std::span<const TaskFamily* const> TaskFamilies() {
  static const ReachFamily reach2d("reach2d", "reach2d.xml", 2, {-0.2, -0.2}, {0.2, 0.2});
  static const ReachFamily reach3d("reach3d", "reach3d.xml", 3, {-0.25, -0.25, 0.05},
                                   {0.25, 0.25, 0.35});
  static const Nav2dFamily nav2d;
  static const RunnerFamily runner_velocity(true);
  static const RunnerFamily runner_direction(false);
  static const QuadrupedFamily quadruped_direction;
  static const TaskFamily* const kFamilies[] = {&reach2d,          &reach3d,
                                                &nav2d,            &runner_velocity,
                                                &runner_direction, &quadruped_direction};
  return kFamilies;
}

std::vector<std::string> TaskFamilyNames() {
  std::vector<std::string> names;
  for (const TaskFamily* family : TaskFamilies()) names.emplace_back(family->name());
  return names;
}

const TaskFamily& FindTaskFamily(std::string_view name) {
  for (const TaskFamily* family : TaskFamilies()) {
    if (family->name() == name) return *family;
  }
  throw std::invalid_argument("unknown task family \"" + std::string(name) +
                              "\"; valid families: " + JoinNames(TaskFamilyNames()));
}

std::vector<Task> SampleTasks(const TaskDistributionConfig& config, int count,
                              std::mt19937_64& rng) {
  if (count < 0) {
    throw std::invalid_argument("SampleTasks: expected count >= 0, got " + std::to_string(count));
  }
  const TaskFamily& family = FindTaskFamily(config.family);
  std::vector<Task> tasks;
  tasks.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) tasks.push_back(family.Sample(config, rng));
  return tasks;
}

}  // namespace metajoule::sim
