#include "agents/optimizers.h"

#include <cmath>
#include <stdexcept>

#include "agents/math/checks.h"

namespace metajoule::agents {

std::vector<FieldError> Validate(const AdamConfig& config) {
  std::vector<FieldError> errors;
  if (!(config.learning_rate > 0.0)) {
    errors.push_back({"learning_rate", "must be > 0, got " + std::to_string(config.learning_rate)});
  }
  if (!(config.beta1 >= 0.0 && config.beta1 < 1.0)) {
    errors.push_back({"beta1", "must be in [0, 1), got " + std::to_string(config.beta1)});
  }
  if (!(config.beta2 >= 0.0 && config.beta2 < 1.0)) {
    errors.push_back({"beta2", "must be in [0, 1), got " + std::to_string(config.beta2)});
  }
  if (!(config.epsilon > 0.0)) {
    errors.push_back({"epsilon", "must be > 0, got " + std::to_string(config.epsilon)});
  }
  return errors;
}

void SgdStep(double learning_rate, const Eigen::Ref<const Eigen::VectorXd>& grad,
             Eigen::Ref<Eigen::VectorXd> theta) {
  internal::CheckSize("SgdStep: grad size", grad.size(), theta.size());
  theta -= learning_rate * grad;
}

Adam::Adam(const AdamConfig& config, Eigen::Index num_params)
    : config_(config),
      m_(Eigen::VectorXd::Zero(num_params)),
      v_(Eigen::VectorXd::Zero(num_params)) {
  const auto errors = Validate(config);
  if (!errors.empty()) {
    throw std::invalid_argument("Adam: " + errors.front().key + ": " + errors.front().message);
  }
}

void Adam::Step(const Eigen::Ref<const Eigen::VectorXd>& grad, Eigen::Ref<Eigen::VectorXd> theta) {
  internal::CheckSize("Adam::Step: grad size", grad.size(), m_.size());
  internal::CheckSize("Adam::Step: theta size", theta.size(), m_.size());
  ++steps_;
  const double b1 = config_.beta1;
  const double b2 = config_.beta2;
  // Kingma & Ba 2015, Algorithm 1 (bias corrections folded into the step size)
  m_ = b1 * m_ + (1.0 - b1) * grad;
  v_ = b2 * v_ + (1.0 - b2) * grad.cwiseAbs2();
  const double c1 = 1.0 - std::pow(b1, static_cast<double>(steps_));
  const double c2 = 1.0 - std::pow(b2, static_cast<double>(steps_));
  theta.array() -=
      config_.learning_rate * (m_.array() / c1) / ((v_.array() / c2).sqrt() + config_.epsilon);
}

void Adam::Reset() {
  m_.setZero();
  v_.setZero();
  steps_ = 0;
}

std::uint64_t Adam::StepFlops() const {
  // m: 3, v: 4, update: /c1, /c2, sqrt, +eps, /, *lr, -= : 7  -> 14 per entry
  return 14 * static_cast<std::uint64_t>(m_.size());
}

void Adam::SaveState(StateArchive& archive, const std::string& prefix) const {
  archive.PutVector(prefix + "m", {m_.data(), static_cast<std::size_t>(m_.size())});
  archive.PutVector(prefix + "v", {v_.data(), static_cast<std::size_t>(v_.size())});
  archive.PutInt(prefix + "steps", steps_);
}

void Adam::LoadState(const StateArchive& archive, const std::string& prefix) {
  const std::span<const double> m = archive.Vector(prefix + "m", m_.size());
  const std::span<const double> v = archive.Vector(prefix + "v", v_.size());
  const std::int64_t steps = archive.Int(prefix + "steps");
  if (steps < 0) throw StateError(prefix + "steps", "must be >= 0");
  m_ = Eigen::Map<const Eigen::VectorXd>(m.data(), m_.size());
  v_ = Eigen::Map<const Eigen::VectorXd>(v.data(), v_.size());
  steps_ = steps;
}

}  // namespace metajoule::agents
