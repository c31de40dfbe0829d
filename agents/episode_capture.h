#pragma once
// Capturing one episode of a policy as an exact recording (sim/recording.h) for replay
// (docs/replay.md): the run records, per agent, an episode before and after adaptation.

#include <cstdint>
#include <span>

#include "agents/math/gaussian_policy.h"
#include "sim/recording.h"
#include "sim/task_config.h"
#include "sim/task_family.h"
#include "sim/world.h"

namespace metajoule::agents {

/// Runs one episode of pi_theta (`params`, policy.num_params() entries) on `task` in a fresh
/// environment built from `world` and `config`, reset with `reset_seed`, and records it.
/// With `deterministic_mean_action` the policy's mean mu_theta(s) is applied; otherwise actions
/// are sampled, a ~ N(mu_theta(s), sigma^2), from a generator seeded with
/// sim::DeriveSeed(reset_seed, kCaptureActionStream), so the same arguments always give the
/// same episode. The episode ends at the task's end or the horizon.
/// @throws std::invalid_argument when params.size() != policy.num_params() or the policy's
/// observation/action sizes differ from the environment's (and as sim::Env does for a task of
/// another family or out-of-range parameters).
sim::EpisodeRecording RecordPolicyEpisode(const sim::World& world, const sim::Task& task,
                                          const sim::EnvConfig& config,
                                          const GaussianMlpPolicy& policy,
                                          std::span<const double> params,
                                          std::uint64_t reset_seed,
                                          bool deterministic_mean_action);

/// The stream of sim::DeriveSeed(reset_seed, .) that samples the actions of a captured episode.
inline constexpr std::uint64_t kCaptureActionStream = 0x6361707475726531ULL;  // "capture1"

}  // namespace metajoule::agents
