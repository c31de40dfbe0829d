#include "agents/advantages.h"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "agents/math/checks.h"
#include "agents/math/gae.h"

namespace metajoule::agents {

AdvantageEstimator::AdvantageEstimator(int obs_dim, const AdvantageConfig& config,
                                       std::mt19937_64& init_rng)
    : config_(config) {
  ThrowIfInvalid("AdvantageEstimator", Validate(config));
  switch (config.baseline) {
    case BaselineKind::kNone: break;
    case BaselineKind::kLinear: linear_.emplace(obs_dim, config.linear_reg_coeff); break;
    case BaselineKind::kMlp: critic_.emplace(obs_dim, config.critic, init_rng); break;
  }
}

UpdateStatus AdvantageEstimator::Compute(const TrajectoryBatch& batch, std::mt19937_64& rng,
                                         Eigen::VectorXd& advantages, std::string* message,
                                         std::uint64_t* flops) {
  const Eigen::Index steps = batch.num_steps();
  const Eigen::Index episodes = batch.num_episodes();
  Eigen::VectorXd values = Eigen::VectorXd::Zero(steps);
  Eigen::VectorXd end_values = Eigen::VectorXd::Zero(episodes);
  advantages.resize(steps);
  std::uint64_t work = 0;
  if (linear_) {
    // Duan et al. 2016 / MAML-RL: fit to this batch's discounted returns, then predict
    Eigen::VectorXd returns(steps);
    DiscountedReturns(batch.rewards, batch.ends, config_.gamma, returns);
    if (!linear_->Fit(batch.obs, batch.ends, returns)) {
      if (message != nullptr) {
        *message = "linear baseline: the regularised least-squares fit failed 5 times";
      }
      return UpdateStatus::kBaselineFailed;
    }
    work += linear_->last_flops();
    linear_->Predict(batch.obs, batch.ends, values);
    work += linear_->last_flops();
  } else if (critic_) {
    const std::uint64_t before = critic_->flops();
    critic_->Predict(batch.obs, values);
    critic_->Predict(batch.final_obs, end_values);
    ComputeGae(batch.rewards, values, batch.ends, end_values, config_.gamma, config_.gae_lambda,
               advantages);
    // critic targets: lambda-returns (Schulman et al. 2016, section 5)
    critic_->Fit(batch.obs, advantages + values, rng);
    work += critic_->flops() - before;
  }
  if (!critic_) {
    ComputeGae(batch.rewards, values, batch.ends, end_values, config_.gamma, config_.gae_lambda,
               advantages);
  }
  work += 4 * static_cast<std::uint64_t>(steps);  // delta and the recursion
  if (config_.normalize_advantages) {
    NormalizeAdvantages(advantages);
    work += 5 * static_cast<std::uint64_t>(steps);
  }
  if (flops != nullptr) *flops += work;
  return UpdateStatus::kOk;
}

namespace internal {

UpdateReport CheckUpdateInputs(const GaussianMlpPolicy& policy,
                               const Eigen::Ref<const Eigen::VectorXd>& theta,
                               const TrajectoryBatch& batch) {
  CheckSize("Update: theta size", theta.size(), policy.num_params());
  UpdateReport report;
  report.status = CheckTrajectoryBatch(batch, policy.obs_dim(), policy.act_dim(), &report.message);
  if (report.status != UpdateStatus::kOk) return report;
  if (!theta.allFinite()) {
    report.status = UpdateStatus::kNonFiniteParams;
    report.message = "Update: NaN or inf in the policy parameters";
    return report;
  }
  report.mean_episode_return = EpisodeReturns(batch).mean();
  return report;
}

PolicyWorkspace& ThreadWorkspace(const GaussianMlpPolicy& policy, Eigen::Index batch) {
  return ThreadWorkspace(policy, batch, 0);
}

PolicyWorkspace& ThreadWorkspace(const GaussianMlpPolicy& policy, Eigen::Index batch, int slot) {
  if (slot < 0) {
    throw std::invalid_argument("ThreadWorkspace: expected slot >= 0, got " +
                                std::to_string(slot));
  }
  struct Entry {
    std::vector<int> sizes;
    int slot{0};
    std::unique_ptr<PolicyWorkspace> ws;
  };
  thread_local std::vector<Entry> cache;
  std::vector<int> sizes;
  for (int l = 0; l <= policy.mlp().num_layers(); ++l) sizes.push_back(policy.mlp().layer_size(l));
  const auto fits = [&](const Entry& entry) { return entry.slot == slot && entry.sizes == sizes; };
  auto it = std::find_if(cache.begin(), cache.end(), fits);
  if (it == cache.end()) {
    cache.push_back({std::move(sizes), slot, nullptr});
    it = cache.end() - 1;
  }
  if (!it->ws || it->ws->max_batch() < batch) {
    it->ws.reset();  // free the smaller one first
    it->ws = std::make_unique<PolicyWorkspace>(policy, static_cast<int>(batch));
  }
  return *it->ws;
}

}  // namespace internal
void AdvantageEstimator::SaveState(StateArchive& archive, const std::string& prefix) const {
  if (linear_) linear_->SaveState(archive, prefix + "linear/");
  if (critic_) critic_->SaveState(archive, prefix + "critic/");
}

void AdvantageEstimator::LoadState(const StateArchive& archive, const std::string& prefix) {
  if (linear_) linear_->LoadState(archive, prefix + "linear/");
  if (critic_) critic_->LoadState(archive, prefix + "critic/");
}

}  // namespace metajoule::agents
