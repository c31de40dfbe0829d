#include "agents/agent_config.h"

#include <cmath>
#include <string>

namespace metajoule::agents {
namespace {

void Nest(const char* prefix, std::vector<FieldError> nested, std::vector<FieldError>& errors) {
  for (auto& error : nested) errors.push_back({std::string(prefix) + "." + error.key, error.message});
}

}  // namespace

std::string_view LearnerKindName(LearnerKind kind) {
  for (const auto& [name, value] : EnumNames(LearnerKind{})) {
    if (value == kind) return name;
  }
  return "unknown";
}

std::vector<FieldError> Validate(const PolicyConfig& config) {
  std::vector<FieldError> errors;
  for (std::size_t i = 0; i < config.hidden_sizes.size(); ++i) {
    if (config.hidden_sizes[i] < 1) {
      errors.push_back({"hidden_sizes[" + std::to_string(i) + "]",
                        "must be >= 1, got " + std::to_string(config.hidden_sizes[i])});
    }
  }
  // sigma = exp(init_log_std): outside [-10, 5] the policy is numerically deterministic or wild
  if (!(config.init_log_std >= -10.0 && config.init_log_std <= 5.0)) {
    errors.push_back({"init_log_std",
                      "must be in [-10, 5], got " + std::to_string(config.init_log_std)});
  }
  return errors;
}

std::vector<FieldError> Validate(const AgentsConfig& config) {
  std::vector<FieldError> errors;
  Nest("policy", Validate(config.policy), errors);
  if (config.episodes_per_update < 1) {
    errors.push_back({"episodes_per_update",
                      "must be >= 1, got " + std::to_string(config.episodes_per_update)});
  }
  Nest("vpg", Validate(config.vpg), errors);
  Nest("ppo", Validate(config.ppo), errors);
  Nest("trpo", Validate(config.trpo), errors);
  return errors;
}

}  // namespace metajoule::agents
