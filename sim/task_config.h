#pragma once
// Configuration of task families and clusters (DESIGN.md "Reference tasks"; issue: Foundation).
// Plain structs with in-class defaults and a Visit field list (STYLE.md section 4); the TOML
// loader lives in experiments/, so nothing here knows about files.

#include <array>
#include <string>
#include <vector>

#include "common/error.h"

namespace metajoule::sim {

/// The distribution a cluster draws its agents' tasks from. Every interval is [lo, hi]; a task
/// draws each parameter uniformly from its interval with the cluster's seeded RNG. Which fields a
/// family reads is listed in docs/tasks.md; the others are ignored by that family.
struct TaskDistributionConfig {
  /// Task family name; see sim::TaskFamilyNames() for the valid ones.
  std::string family{"reach2d"};
  /// Lower and upper corners of the goal box (metres), one entry per goal axis; empty means the
  /// family's default box (navigation: [-0.5, 0.5]^2, as Finn et al. 2017).
  std::vector<double> goal_low{};
  std::vector<double> goal_high{};
  /// Target forward velocity (m/s) for velocity tasks.
  std::array<double, 2> target_velocity{1.0, 1.0};
  /// Heading of direction tasks in degrees (runner: 0 forward, 180 backward).
  std::array<double, 2> direction_deg{0.0, 0.0};
  /// Extra mass (kg) carried at the end effector (arms) or torso (runners, quadruped).
  std::array<double, 2> payload_mass{0.0, 0.0};
  /// Multipliers on every joint's damping and on every actuator's gain.
  std::array<double, 2> damping_scale{1.0, 1.0};
  std::array<double, 2> gain_scale{1.0, 1.0};

  template <class V>
  void Visit(V& v) {
    v("family", family);
    v("goal_low", goal_low);
    v("goal_high", goal_high);
    v("target_velocity", target_velocity);
    v("direction_deg", direction_deg);
    v("payload_mass", payload_mass);
    v("damping_scale", damping_scale);
    v("gain_scale", gain_scale);
  }
};

/// Episode settings of one environment; 0 means the family's default.
struct EnvConfig {
  int horizon{0};     ///< environment steps per episode
  int frame_skip{0};  ///< mj_step calls per environment step
  template <class V>
  void Visit(V& v) {
    v("horizon", horizon);
    v("frame_skip", frame_skip);
  }
};

/// A cluster: `agents` robots whose tasks are drawn from one distribution of related tasks.
struct ClusterConfig {
  std::string name{};
  int agents{1};
  TaskDistributionConfig task{};
  EnvConfig env{};
  template <class V>
  void Visit(V& v) {
    v("name", name);
    v("agents", agents);
    v("task", task);
    v("env", env);
  }
};

/// Simulation settings shared by every cluster.
struct SimConfig {
  int threads{0};  ///< worker threads for vectorised rollouts; 0 = every core
  template <class V>
  void Visit(V& v) {
    v("threads", threads);
  }
};

/// Semantic checks (ranges, known family names, goal box shape). Keys are relative to the struct.
std::vector<FieldError> Validate(const TaskDistributionConfig& config);
std::vector<FieldError> Validate(const EnvConfig& config);
std::vector<FieldError> Validate(const ClusterConfig& config);
std::vector<FieldError> Validate(const SimConfig& config);

}  // namespace metajoule::sim
