#include "agents/learner_config.h"

#include <stdexcept>
#include <string>

namespace metajoule::agents {
namespace {

std::string Num(double value) {
  std::string text = std::to_string(value);
  return text;
}

void Nest(const char* prefix, std::vector<FieldError> nested, std::vector<FieldError>& errors) {
  for (auto& error : nested) errors.push_back({std::string(prefix) + "." + error.key, error.message});
}

void InUnitInterval(const char* key, double value, std::vector<FieldError>& errors) {
  if (!(value >= 0.0 && value <= 1.0)) errors.push_back({key, "must be in [0, 1], got " + Num(value)});
}

void Positive(const char* key, double value, std::vector<FieldError>& errors) {
  if (!(value > 0.0)) errors.push_back({key, "must be > 0, got " + Num(value)});
}

void NonNegative(const char* key, double value, std::vector<FieldError>& errors) {
  if (!(value >= 0.0)) errors.push_back({key, "must be >= 0, got " + Num(value)});
}

void AtLeastOne(const char* key, int value, std::vector<FieldError>& errors) {
  if (value < 1) errors.push_back({key, "must be >= 1, got " + std::to_string(value)});
}

void OpenUnitInterval(const char* key, double value, std::vector<FieldError>& errors) {
  if (!(value > 0.0 && value < 1.0)) errors.push_back({key, "must be in (0, 1), got " + Num(value)});
}

}  // namespace

std::vector<FieldError> Validate(const AdvantageConfig& config) {
  std::vector<FieldError> errors;
  InUnitInterval("gamma", config.gamma, errors);
  InUnitInterval("gae_lambda", config.gae_lambda, errors);
  Positive("linear_reg_coeff", config.linear_reg_coeff, errors);
  Nest("critic", Validate(config.critic), errors);
  return errors;
}

std::vector<FieldError> Validate(const VpgConfig& config) {
  std::vector<FieldError> errors;
  Nest("advantage", Validate(config.advantage), errors);
  Positive("learning_rate", config.learning_rate, errors);
  Nest("adam", Validate(config.adam), errors);
  return errors;
}

std::vector<FieldError> Validate(const PpoConfig& config) {
  std::vector<FieldError> errors;
  Nest("advantage", Validate(config.advantage), errors);
  OpenUnitInterval("clip_ratio", config.clip_ratio, errors);
  AtLeastOne("epochs", config.epochs, errors);
  AtLeastOne("minibatch_size", config.minibatch_size, errors);
  Nest("adam", Validate(config.adam), errors);
  NonNegative("entropy_coef", config.entropy_coef, errors);
  NonNegative("max_grad_norm", config.max_grad_norm, errors);
  return errors;
}

std::vector<FieldError> Validate(const TrustRegionConfig& config) {
  std::vector<FieldError> errors;
  Positive("max_kl", config.max_kl, errors);
  AtLeastOne("cg_iters", config.cg_iters, errors);
  NonNegative("cg_damping", config.cg_damping, errors);
  NonNegative("cg_residual_tol", config.cg_residual_tol, errors);
  AtLeastOne("line_search_steps", config.line_search_steps, errors);
  OpenUnitInterval("line_search_ratio", config.line_search_ratio, errors);
  return errors;
}

std::vector<FieldError> Validate(const TrpoConfig& config) {
  std::vector<FieldError> errors;
  Nest("advantage", Validate(config.advantage), errors);
  for (FieldError& error : Validate(static_cast<const TrustRegionConfig&>(config))) {
    errors.push_back(std::move(error));
  }
  return errors;
}

void ThrowIfInvalid(const char* what, const std::vector<FieldError>& errors) {
  if (!errors.empty()) {
    throw std::invalid_argument(std::string(what) + ": " + errors.front().key + ": " +
                                errors.front().message);
  }
}

}  // namespace metajoule::agents
