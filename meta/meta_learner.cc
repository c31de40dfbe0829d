#include "meta/meta_learner.h"

#include <stdexcept>
#include <string>

#include "agents/learner_config.h"
#include "agents/math/checks.h"
#include "meta/meta_trpo.h"

namespace metajoule::meta {

int AggregateContributions(MetaMethod method, std::span<const Contribution> contributions,
                           Eigen::Index size, Eigen::VectorXd& mean, std::vector<int>* rejected) {
  mean.setZero(size);
  double total_weight = 0.0;
  int accepted = 0;
  for (std::size_t i = 0; i < contributions.size(); ++i) {
    const Contribution& c = contributions[i];
    const double weight = method == MetaMethod::kFedAvg ? c.weight : 1.0;
    const bool good = c.ok() && c.vector.size() == size && c.vector.allFinite() &&
                      std::isfinite(weight) && weight > 0.0;
    if (!good) {
      if (rejected != nullptr) rejected->push_back(static_cast<int>(i));
      continue;
    }
    // summed in the order given, so the result does not depend on who finished first
    mean += weight * c.vector;
    total_weight += weight;
    ++accepted;
  }
  if (accepted > 0) mean /= total_weight;
  return accepted;
}

MetaLearner::MetaLearner(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                         Eigen::VectorXd initial_meta_params)
    : config_((agents::ThrowIfInvalid("MetaLearner", Validate(config)), config)),
      policy_(policy),
      num_policy_params_(policy.num_params()),
      phi_(std::move(initial_meta_params)) {
  if (config.method == MetaMethod::kScratch) {
    throw std::invalid_argument("MetaLearner: method \"scratch\" has no meta-update");
  }
  agents::internal::CheckSize("MetaLearner: initial_meta_params size", phi_.size(),
                              MetaParamCount(config, policy));
  if (config.outer_optimizer == agents::OptimizerKind::kAdam && config.outer != OuterStep::kTrpo &&
      (UsesMetaGradient(config) || config.method == MetaMethod::kPretrained)) {
    adam_.emplace(agents::AdamConfig{.learning_rate = config.outer_lr,
                                     .beta1 = config.adam_beta1,
                                     .beta2 = config.adam_beta2},
                  phi_.size());
  }
}

AggregateReport MetaLearner::Update(std::span<const Contribution> contributions) {
  if (config_.outer == OuterStep::kTrpo) {
    AggregateReport trpo = MamlTrpoStep(config_, policy_, contributions, phi_);
    if (trpo.ok()) ++updates_;
    return trpo;
  }
  AggregateReport report;
  Eigen::VectorXd mean;
  std::vector<int> rejected;
  report.accepted =
      AggregateContributions(config_.method, contributions, phi_.size(), mean, &rejected);
  report.rejected = static_cast<int>(rejected.size());
  const auto n = static_cast<std::uint64_t>(phi_.size());
  report.flops = 2 * n * static_cast<std::uint64_t>(report.accepted) + n;
  if (!rejected.empty()) {
    report.message = "rejected contributions:";
    for (const int i : rejected) {
      const Contribution& c = contributions[static_cast<std::size_t>(i)];
      report.message += " #" + std::to_string(i) + " (" +
                        std::string(agents::UpdateStatusName(c.status)) +
                        (c.message.empty() ? "" : ": " + c.message) + ")";
    }
  }
  if (report.accepted == 0) {
    report.status = agents::UpdateStatus::kNonFiniteGradient;
    report.message = "no usable contribution; " + report.message;
    return report;
  }
  report.aggregate_norm = mean.norm();

  Eigen::VectorXd candidate = phi_;
  std::optional<agents::Adam> adam_before = adam_;
  switch (config_.method) {
    case MetaMethod::kMaml:
    case MetaMethod::kFomaml:
    case MetaMethod::kPretrained: {
      // optional clipping of the aggregated gradient to max_grad_norm (2-norm)
      if (config_.max_grad_norm > 0.0 && report.aggregate_norm > config_.max_grad_norm) {
        mean *= config_.max_grad_norm / report.aggregate_norm;
      }
      if (adam_) {
        adam_->Step(mean, candidate);
        report.flops += adam_->StepFlops();
      } else {
        agents::SgdStep(config_.outer_lr, mean, candidate);
        report.flops += 2 * n;
      }
      break;
    }
    case MetaMethod::kReptile:
      // phi <- phi + epsilon mean_i(theta'_i - phi)
      candidate += config_.reptile_epsilon * mean;
      report.flops += 2 * n;
      break;
    case MetaMethod::kFedAvg: candidate = mean; break;
    case MetaMethod::kScratch:
    case MetaMethod::kConsensus: break;  // no server update (meta/consensus.h)
  }
  if (!candidate.allFinite()) {
    adam_ = std::move(adam_before);
    report.status = agents::UpdateStatus::kNonFiniteParams;
    report.message = "the meta-update produced NaN or inf parameters; step rejected" +
                     (report.message.empty() ? std::string() : "; " + report.message);
    return report;
  }
  report.step_norm = (candidate - phi_).norm();
  phi_.swap(candidate);
  ++updates_;
  return report;
}

void MetaLearner::SaveState(StateArchive& archive, const std::string& prefix) const {
  archive.PutVector(prefix + "phi", {phi_.data(), static_cast<std::size_t>(phi_.size())});
  archive.PutInt(prefix + "updates", updates_);
  if (adam_) adam_->SaveState(archive, prefix + "adam/");
}

void MetaLearner::LoadState(const StateArchive& archive, const std::string& prefix) {
  const std::span<const double> phi = archive.Vector(prefix + "phi", phi_.size());
  const std::int64_t updates = archive.Int(prefix + "updates");
  if (updates < 0) throw StateError(prefix + "updates", "must be >= 0");
  if (adam_) adam_->LoadState(archive, prefix + "adam/");
  phi_ = Eigen::Map<const Eigen::VectorXd>(phi.data(), phi_.size());
  updates_ = updates;
}

}  // namespace metajoule::meta
