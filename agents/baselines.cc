#include "agents/baselines.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include <Eigen/Cholesky>

#include "agents/math/checks.h"
#include "agents/trajectory.h"

namespace metajoule::agents {

using internal::CheckSize;

namespace {

constexpr int kFitTries = 5;            // rllab LinearFeatureBaseline.fit
constexpr double kRegGrowth = 10.0;     // reg_coeff *= 10 after a failed solve
constexpr double kObsClip = 10.0;       // rllab clips observations to [-10, 10]
constexpr double kTimeScale = 100.0;    // al = t / 100

}  // namespace

LinearFeatureBaseline::LinearFeatureBaseline(int obs_dim, double reg_coeff)
    : obs_dim_(obs_dim), reg_coeff_(reg_coeff) {
  if (obs_dim < 1) {
    throw std::invalid_argument("LinearFeatureBaseline: expected obs_dim >= 1, got " +
                                std::to_string(obs_dim));
  }
  if (!(reg_coeff > 0.0)) {
    throw std::invalid_argument("LinearFeatureBaseline: expected reg_coeff > 0, got " +
                                std::to_string(reg_coeff));
  }
  coefficients_ = Eigen::VectorXd::Zero(num_features());
}

void LinearFeatureBaseline::Features(const Eigen::Ref<const Eigen::MatrixXd>& obs,
                                     std::span<const int> time_steps,
                                     Eigen::Ref<Eigen::MatrixXd> features) const {
  CheckSize("LinearFeatureBaseline: obs rows", obs.rows(), obs_dim_);
  CheckSize("LinearFeatureBaseline: time_steps size",
            static_cast<Eigen::Index>(time_steps.size()), obs.cols());
  CheckSize("LinearFeatureBaseline: features rows", features.rows(), num_features());
  CheckSize("LinearFeatureBaseline: features columns", features.cols(), obs.cols());
  const int d = obs_dim_;
  for (Eigen::Index t = 0; t < obs.cols(); ++t) {
    const double al = time_steps[t] / kTimeScale;
    features.col(t).head(d) = obs.col(t).cwiseMax(-kObsClip).cwiseMin(kObsClip);
    features.col(t).segment(d, d) = features.col(t).head(d).cwiseAbs2();
    features(2 * d, t) = al;
    features(2 * d + 1, t) = al * al;
    features(2 * d + 2, t) = al * al * al;
    features(2 * d + 3, t) = 1.0;
  }
}

bool LinearFeatureBaseline::Fit(const Eigen::Ref<const Eigen::MatrixXd>& obs,
                                std::span<const StepEnd> ends,
                                const Eigen::Ref<const Eigen::VectorXd>& returns) {
  CheckSize("LinearFeatureBaseline::Fit: returns size", returns.size(), obs.cols());
  const std::vector<int> time_steps = EpisodeTimeSteps(ends);
  const Eigen::Index n = num_features();
  const auto steps = static_cast<std::uint64_t>(obs.cols());
  const auto nf = static_cast<std::uint64_t>(n);
  Eigen::MatrixXd phi(n, obs.cols());
  Features(obs, time_steps, phi);
  // normal equations of the ridge regression (rllab: lstsq(Phi^T Phi + reg I, Phi^T G))
  const Eigen::MatrixXd gram = phi * phi.transpose();
  const Eigen::VectorXd rhs = phi * returns;
  last_flops_ = 2 * nf * nf * steps + 2 * nf * steps;
  double reg = reg_coeff_;
  for (int attempt = 0; attempt < kFitTries; ++attempt, reg *= kRegGrowth) {
    const Eigen::LDLT<Eigen::MatrixXd> ldlt(gram + reg * Eigen::MatrixXd::Identity(n, n));
    last_flops_ += nf * nf * nf / 3 + 2 * nf * nf + nf;
    if (ldlt.info() != Eigen::Success) continue;
    const Eigen::VectorXd solution = ldlt.solve(rhs);
    if (solution.allFinite()) {
      coefficients_ = solution;
      return true;
    }
  }
  return false;
}

void LinearFeatureBaseline::Predict(const Eigen::Ref<const Eigen::MatrixXd>& obs,
                                    std::span<const StepEnd> ends,
                                    Eigen::Ref<Eigen::VectorXd> values) const {
  CheckSize("LinearFeatureBaseline::Predict: values size", values.size(), obs.cols());
  const std::vector<int> time_steps = EpisodeTimeSteps(ends);
  Eigen::MatrixXd phi(num_features(), obs.cols());
  Features(obs, time_steps, phi);
  values.noalias() = phi.transpose() * coefficients_;
  last_flops_ = 2 * static_cast<std::uint64_t>(num_features()) *
                static_cast<std::uint64_t>(obs.cols());
}

std::vector<FieldError> Validate(const CriticConfig& config) {
  std::vector<FieldError> errors;
  for (const int size : config.hidden_sizes) {
    if (size < 1) {
      errors.push_back({"hidden_sizes", "every size must be >= 1, got " + std::to_string(size)});
      break;
    }
  }
  if (config.activation == Activation::kIdentity) {
    errors.push_back({"activation", "must be tanh or relu, got identity"});
  }
  for (auto& error : Validate(config.adam)) {
    errors.push_back({"adam." + error.key, error.message});
  }
  if (config.epochs < 1) {
    errors.push_back({"epochs", "must be >= 1, got " + std::to_string(config.epochs)});
  }
  if (config.minibatch_size < 1) {
    errors.push_back(
        {"minibatch_size", "must be >= 1, got " + std::to_string(config.minibatch_size)});
  }
  return errors;
}

namespace {

const CriticConfig& Validated(const CriticConfig& config) {
  const auto errors = Validate(config);
  if (!errors.empty()) {
    throw std::invalid_argument("MlpCritic: " + errors.front().key + ": " +
                                errors.front().message);
  }
  return config;
}

std::vector<int> CriticSizes(int obs_dim, const std::vector<int>& hidden) {
  std::vector<int> sizes{obs_dim};
  sizes.insert(sizes.end(), hidden.begin(), hidden.end());
  sizes.push_back(1);
  return sizes;
}

}  // namespace

void LinearFeatureBaseline::SaveState(StateArchive& archive, const std::string& prefix) const {
  archive.PutVector(prefix + "coefficients",
                    {coefficients_.data(), static_cast<std::size_t>(coefficients_.size())});
}

void LinearFeatureBaseline::LoadState(const StateArchive& archive, const std::string& prefix) {
  const std::span<const double> c = archive.Vector(prefix + "coefficients", coefficients_.size());
  coefficients_ = Eigen::Map<const Eigen::VectorXd>(c.data(), coefficients_.size());
}

void MlpCritic::SaveState(StateArchive& archive, const std::string& prefix) const {
  archive.PutVector(prefix + "params", {params_.data(), static_cast<std::size_t>(params_.size())});
  adam_.SaveState(archive, prefix + "adam/");
}

void MlpCritic::LoadState(const StateArchive& archive, const std::string& prefix) {
  const std::span<const double> p = archive.Vector(prefix + "params", params_.size());
  adam_.LoadState(archive, prefix + "adam/");
  params_ = Eigen::Map<const Eigen::VectorXd>(p.data(), params_.size());
}

MlpCritic::MlpCritic(int obs_dim, const CriticConfig& config, std::mt19937_64& init_rng)
    : config_(Validated(config)),
      mlp_(CriticSizes(obs_dim, config.hidden_sizes), config.activation),
      params_(mlp_.num_params()),
      adam_(config.adam, mlp_.num_params()),
      ws_(mlp_, config.minibatch_size),
      grad_(mlp_.num_params()),
      obs_buffer_(obs_dim, config.minibatch_size),
      dy_buffer_(1, config.minibatch_size) {
  InitializeMlpParams<double>(mlp_, init_rng, params_);
}

void MlpCritic::Predict(const Eigen::Ref<const Eigen::MatrixXd>& obs,
                        Eigen::Ref<Eigen::VectorXd> values) {
  CheckSize("MlpCritic::Predict: values size", values.size(), obs.cols());
  // in chunks of the workspace width
  for (Eigen::Index start = 0; start < obs.cols(); start += ws_.max_batch) {
    const Eigen::Index n = std::min<Eigen::Index>(ws_.max_batch, obs.cols() - start);
    Forward<double>(mlp_, params_, obs.middleCols(start, n), ws_);
    values.segment(start, n) = ws_.output().transpose();
  }
}

double MlpCritic::Fit(const Eigen::Ref<const Eigen::MatrixXd>& obs,
                      const Eigen::Ref<const Eigen::VectorXd>& targets, std::mt19937_64& rng) {
  CheckSize("MlpCritic::Fit: targets size", targets.size(), obs.cols());
  const Eigen::Index steps = obs.cols();
  Eigen::VectorXd values(steps);
  Predict(obs, values);
  const double mse_before = (values - targets).squaredNorm() / static_cast<double>(steps);
  std::vector<Eigen::Index> order(static_cast<std::size_t>(steps));
  std::iota(order.begin(), order.end(), Eigen::Index{0});
  for (int epoch = 0; epoch < config_.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    for (Eigen::Index start = 0; start < steps; start += config_.minibatch_size) {
      const Eigen::Index n = std::min<Eigen::Index>(config_.minibatch_size, steps - start);
      for (Eigen::Index i = 0; i < n; ++i) obs_buffer_.col(i) = obs.col(order[start + i]);
      Forward<double>(mlp_, params_, obs_buffer_.leftCols(n), ws_);
      // d/dV of (1/2n) sum (V - y)^2 = (V - y) / n
      for (Eigen::Index i = 0; i < n; ++i) {
        dy_buffer_(0, i) = (ws_.output()(0, i) - targets(order[start + i])) / static_cast<double>(n);
      }
      Backward<double>(mlp_, params_, dy_buffer_.leftCols(n), ws_, grad_);
      adam_.Step(grad_, params_);
      adam_flops_ += adam_.StepFlops() + 2 * static_cast<std::uint64_t>(n);
    }
  }
  return mse_before;
}

}  // namespace metajoule::agents
