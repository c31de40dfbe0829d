#pragma once
// Advantage estimation on a batch of consecutive episodes stored back to back (T steps in all):
// generalised advantage estimation (Schulman et al. 2016, "High-dimensional continuous control
// using generalized advantage estimation"), discounted returns, advantage normalisation.
//
// Episode ends: ends[t] says how step t ends (kNone: the episode goes on at t+1). The last
// step must end an episode. At a kTerminal end the value after the step is 0 (the MDP stopped);
// at a kTruncated end (time limit, or the batch was cut) the value after the step is
// end_values[e], the critic's estimate for the observation that followed, e = index of the
// episode in the batch. Pass zeros to treat truncation as termination (as the MAML-RL code does
// with its linear baseline).

#include <cstdint>
#include <span>

#include "agents/math/eigen.h"

namespace metajoule::agents {

/// How a time step ends.
enum class StepEnd : std::uint8_t { kNone, kTerminal, kTruncated };

/// Number of episodes in `ends` (the count of entries that are not kNone).
/// @throws std::invalid_argument when `ends` is non-empty and its last entry is kNone.
Eigen::Index CountEpisodes(std::span<const StepEnd> ends);

/// GAE(gamma, lambda), Schulman et al. 2016, eq. (16), computed by the backward recursion
///   delta_t = r_t + gamma V(s_{t+1}) - V(s_t),   A_t = delta_t + gamma lambda A_{t+1},
/// with V(s_{t+1}) and A_{t+1} replaced at episode ends as the file comment says.
/// `rewards`, `values` (V(s_t)), `ends` and `advantages` (output) have T entries; `end_values`
/// has one per episode. gamma, lambda in [0, 1].
/// @throws std::invalid_argument on a size mismatch or an unterminated last episode.
void ComputeGae(const Eigen::Ref<const Eigen::VectorXd>& rewards,
                const Eigen::Ref<const Eigen::VectorXd>& values, std::span<const StepEnd> ends,
                const Eigen::Ref<const Eigen::VectorXd>& end_values, double gamma, double lambda,
                Eigen::Ref<Eigen::VectorXd> advantages);

/// Reward-to-go G_t = sum_{k>=0} gamma^k r_{t+k} within each episode, no bootstrapping at
/// either kind of end (the regression target of the linear feature baseline, Duan et al. 2016).
/// @throws std::invalid_argument on a size mismatch or an unterminated last episode.
void DiscountedReturns(const Eigen::Ref<const Eigen::VectorXd>& rewards,
                       std::span<const StepEnd> ends, double gamma,
                       Eigen::Ref<Eigen::VectorXd> returns);

/// In place: A <- (A - mean(A)) / (std(A) + epsilon), with the population standard deviation
/// (as MAML-RL's weighted_normalize). A single entry becomes 0.
void NormalizeAdvantages(Eigen::Ref<Eigen::VectorXd> advantages, double epsilon = 1e-8);

}  // namespace metajoule::agents
