#include "sim/task_config.h"

#include <algorithm>

#include "sim/task_family.h"

namespace metajoule::sim {
namespace {

void CheckRange(const char* key, const std::array<double, 2>& range, double min_allowed,
                std::vector<FieldError>& errors) {
  if (range[0] > range[1]) {
    errors.push_back({key, "expected [lo, hi] with lo <= hi, got [" + std::to_string(range[0]) +
                               ", " + std::to_string(range[1]) + "]"});
  } else if (range[0] < min_allowed) {
    errors.push_back({key, "must be >= " + std::to_string(min_allowed) + ", got " +
                               std::to_string(range[0])});
  }
}

}  // namespace

std::vector<FieldError> Validate(const TaskDistributionConfig& config) {
  std::vector<FieldError> errors;
  const auto names = TaskFamilyNames();
  const bool known = std::find(names.begin(), names.end(), config.family) != names.end();
  if (!known) {
    errors.push_back({"family", "unknown task family \"" + config.family +
                                    "\"; valid families: " + JoinNames(names)});
  }
  if (config.goal_low.size() != config.goal_high.size()) {
    errors.push_back({"goal_high", "goal_low and goal_high must have the same length"});
  } else if (known && !config.goal_low.empty() &&
             static_cast<int>(config.goal_low.size()) != FindTaskFamily(config.family).goal_size()) {
    const int goal_size = FindTaskFamily(config.family).goal_size();
    errors.push_back({"goal_low", goal_size == 0
                                      ? "family " + config.family + " has no goal; leave the goal box out"
                                      : "family " + config.family + " expects " +
                                            std::to_string(goal_size) + " goal axes, got " +
                                            std::to_string(config.goal_low.size())});
  } else {
    for (std::size_t i = 0; i < config.goal_low.size(); ++i) {
      if (config.goal_low[i] > config.goal_high[i]) {
        errors.push_back({"goal_low", "goal_low must be <= goal_high on every axis"});
        break;
      }
    }
  }
  CheckRange("target_velocity", config.target_velocity, -1e9, errors);
  CheckRange("direction_deg", config.direction_deg, -360.0, errors);
  CheckRange("payload_mass", config.payload_mass, 0.0, errors);
  CheckRange("damping_scale", config.damping_scale, 0.0, errors);
  CheckRange("gain_scale", config.gain_scale, 1e-9, errors);
  return errors;
}

std::vector<FieldError> Validate(const EnvConfig& config) {
  std::vector<FieldError> errors;
  if (config.horizon < 0) errors.push_back({"horizon", "must be >= 0 (0 = family default)"});
  if (config.frame_skip < 0) errors.push_back({"frame_skip", "must be >= 0 (0 = family default)"});
  return errors;
}

std::vector<FieldError> Validate(const ClusterConfig& config) {
  std::vector<FieldError> errors;
  if (config.name.empty()) errors.push_back({"name", "every cluster needs a name"});
  if (config.agents < 1) {
    errors.push_back({"agents", "must be >= 1, got " + std::to_string(config.agents)});
  }
  return errors;
}

std::vector<FieldError> Validate(const SimConfig& config) {
  std::vector<FieldError> errors;
  if (config.threads < 0) errors.push_back({"threads", "must be >= 0 (0 = every core)"});
  return errors;
}

}  // namespace metajoule::sim
