#include "agents/math/gae.h"

#include <cmath>
#include <stdexcept>

#include "agents/math/checks.h"

namespace metajoule::agents {

using internal::CheckSize;

Eigen::Index CountEpisodes(std::span<const StepEnd> ends) {
  if (!ends.empty() && ends.back() == StepEnd::kNone) {
    throw std::invalid_argument(
        "ends: expected the last step to end an episode (kTerminal or kTruncated), got kNone");
  }
  Eigen::Index episodes = 0;
  for (const StepEnd end : ends) episodes += end == StepEnd::kNone ? 0 : 1;
  return episodes;
}

void ComputeGae(const Eigen::Ref<const Eigen::VectorXd>& rewards,
                const Eigen::Ref<const Eigen::VectorXd>& values, std::span<const StepEnd> ends,
                const Eigen::Ref<const Eigen::VectorXd>& end_values, double gamma, double lambda,
                Eigen::Ref<Eigen::VectorXd> advantages) {
  const Eigen::Index steps = rewards.size();
  CheckSize("ComputeGae: values size", values.size(), steps);
  CheckSize("ComputeGae: ends size", static_cast<Eigen::Index>(ends.size()), steps);
  CheckSize("ComputeGae: advantages size", advantages.size(), steps);
  Eigen::Index episode = CountEpisodes(ends);
  CheckSize("ComputeGae: end_values size (one per episode)", end_values.size(), episode);
  double next_value = 0.0;
  double next_advantage = 0.0;
  for (Eigen::Index t = steps - 1; t >= 0; --t) {
    // at an episode end, restart the recursion with the value after the step
    switch (ends[t]) {
      case StepEnd::kNone: break;
      case StepEnd::kTerminal:
        --episode;
        next_value = 0.0;
        next_advantage = 0.0;
        break;
      case StepEnd::kTruncated:
        --episode;
        next_value = end_values(episode);
        next_advantage = 0.0;
        break;
    }
    // Schulman et al. 2016, eqs. (10) and (16)
    const double delta = rewards(t) + gamma * next_value - values(t);
    advantages(t) = delta + gamma * lambda * next_advantage;
    next_value = values(t);
    next_advantage = advantages(t);
  }
}

void DiscountedReturns(const Eigen::Ref<const Eigen::VectorXd>& rewards,
                       std::span<const StepEnd> ends, double gamma,
                       Eigen::Ref<Eigen::VectorXd> returns) {
  const Eigen::Index steps = rewards.size();
  CheckSize("DiscountedReturns: ends size", static_cast<Eigen::Index>(ends.size()), steps);
  CheckSize("DiscountedReturns: returns size", returns.size(), steps);
  CountEpisodes(ends);
  double next = 0.0;
  for (Eigen::Index t = steps - 1; t >= 0; --t) {
    if (ends[t] != StepEnd::kNone) next = 0.0;
    returns(t) = rewards(t) + gamma * next;
    next = returns(t);
  }
}

void NormalizeAdvantages(Eigen::Ref<Eigen::VectorXd> advantages, double epsilon) {
  if (advantages.size() == 0) return;
  const double mean = advantages.mean();
  advantages.array() -= mean;
  const double std_dev = std::sqrt(advantages.squaredNorm() / static_cast<double>(advantages.size()));
  advantages /= std_dev + epsilon;
}

}  // namespace metajoule::agents
