#include "meta/meta_config.h"

#include <string>

namespace metajoule::meta {
namespace {

std::string Num(double value) { return std::to_string(value); }

void Nest(const char* prefix, std::vector<FieldError> nested, std::vector<FieldError>& errors) {
  for (auto& error : nested) errors.push_back({std::string(prefix) + "." + error.key, error.message});
}

void AtLeast(const char* key, int value, int minimum, std::vector<FieldError>& errors) {
  if (value < minimum) {
    errors.push_back(
        {key, "must be >= " + std::to_string(minimum) + ", got " + std::to_string(value)});
  }
}

void Positive(const char* key, double value, std::vector<FieldError>& errors) {
  if (!(value > 0.0)) errors.push_back({key, "must be > 0, got " + Num(value)});
}

void NonNegative(const char* key, double value, std::vector<FieldError>& errors) {
  if (!(value >= 0.0)) errors.push_back({key, "must be >= 0, got " + Num(value)});
}

void HalfOpenUnit(const char* key, double value, std::vector<FieldError>& errors) {
  if (!(value >= 0.0 && value < 1.0)) errors.push_back({key, "must be in [0, 1), got " + Num(value)});
}

}  // namespace

std::string_view MetaMethodName(MetaMethod method) {
  for (const auto& [name, value] : EnumNames(method)) {
    if (value == method) return name;
  }
  return "unknown";
}

std::vector<FieldError> Validate(const EvaluationConfig& config) {
  std::vector<FieldError> errors;
  AtLeast("adaptation_steps", config.adaptation_steps, 0, errors);
  AtLeast("episodes", config.episodes, 1, errors);
  NonNegative("adapt_lr", config.adapt_lr, errors);
  AtLeast("oracle_iterations", config.oracle_iterations, 1, errors);
  AtLeast("oracle_episodes", config.oracle_episodes, 1, errors);
  Positive("oracle_lr", config.oracle_lr, errors);
  return errors;
}

std::vector<FieldError> Validate(const MetaConfig& config) {
  std::vector<FieldError> errors;
  if (config.first_order && config.method != MetaMethod::kMaml &&
      config.method != MetaMethod::kFomaml) {
    errors.push_back({"first_order", "applies to method = \"maml\" only, got method = \"" +
                                         std::string(MetaMethodName(config.method)) + "\""});
  }
  AtLeast("iterations", config.iterations, 0, errors);
  AtLeast("meta_batch", config.meta_batch, 1, errors);
  Positive("inner_lr", config.inner_lr, errors);
  AtLeast("inner_steps", config.inner_steps, 1, errors);
  AtLeast("inner_episodes", config.inner_episodes, 1, errors);
  AtLeast("outer_episodes", config.outer_episodes, 1, errors);
  if (config.learn_inner_lr && !UsesMetaGradient(config)) {
    errors.push_back({"learn_inner_lr", "Meta-SGD needs method = \"maml\" or \"fomaml\", got \"" +
                                            std::string(MetaMethodName(config.method)) + "\""});
  }
  Nest("advantage", agents::Validate(config.advantage), errors);
  if (config.outer == OuterStep::kTrpo) {
    if (!UsesMetaGradient(config)) {
      errors.push_back({"outer", "\"trpo\" needs method = \"maml\" or \"fomaml\", got \"" +
                                     std::string(MetaMethodName(config.method)) + "\""});
    } else if (config.learn_inner_lr) {
      errors.push_back({"outer", "\"trpo\" does not support learn_inner_lr = true (Meta-SGD)"});
    }
    if (config.max_grad_norm != 0.0) {
      errors.push_back({"max_grad_norm", "applies to outer = \"gradient\" only, got " +
                                             Num(config.max_grad_norm) + " with outer = \"trpo\""});
    }
  }
  Nest("trpo", agents::Validate(config.trpo), errors);
  Positive("outer_lr", config.outer_lr, errors);
  HalfOpenUnit("adam_beta1", config.adam_beta1, errors);
  HalfOpenUnit("adam_beta2", config.adam_beta2, errors);
  NonNegative("max_grad_norm", config.max_grad_norm, errors);
  if (!(config.reptile_epsilon > 0.0 && config.reptile_epsilon <= 1.0)) {
    errors.push_back({"reptile_epsilon", "must be in (0, 1], got " + Num(config.reptile_epsilon)});
  }
  AtLeast("max_rejected_steps", config.max_rejected_steps, 1, errors);
  AtLeast("threads", config.threads, 0, errors);
  Nest("eval", Validate(config.eval), errors);
  return errors;
}

bool UsesMetaGradient(const MetaConfig& config) {
  return config.method == MetaMethod::kMaml || config.method == MetaMethod::kFomaml;
}

bool IsFirstOrder(const MetaConfig& config) {
  return config.method == MetaMethod::kFomaml ||
         (config.method == MetaMethod::kMaml && config.first_order);
}

}  // namespace metajoule::meta
