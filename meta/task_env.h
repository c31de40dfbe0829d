#pragma once
// What the meta-learning code sees of one task: an environment behind the abstract
// agents::RolloutEnv (the agent node wraps sim::Env in agents::SimRolloutEnv; tests use toy
// problems), its episode length, and optionally its simulator-work counter; plus the work
// counts every contribution reports and the seed streams that make runs deterministic.

#include <cstdint>
#include <functional>

#include "agents/trajectory.h"

namespace metajoule::meta {

/// One task's environment (not owned). A TaskEnv is used by one thread at a time.
struct TaskEnv {
  agents::RolloutEnv* env{nullptr};
  int max_steps{100};  ///< episode length cap (the environment's horizon), >= 1
  /// Cumulative simulator calls of `env` (SimRolloutEnv::sim_steps); empty when unknown, and
  /// then WorkCounts::sim_steps stays 0.
  std::function<std::int64_t()> sim_steps{};
};

/// Work done on a task (for the energy ledger).
struct WorkCounts {
  std::int64_t env_steps{0};     ///< environment steps (transitions collected)
  std::int64_t sim_steps{0};     ///< simulator calls (mj_step / mj_kinematics); 0 if unknown
  std::int64_t episodes{0};      ///< episodes collected
  std::uint64_t policy_flops{0}; ///< policy, baseline and optimiser FLOPs (docs/agents.md rule)
  WorkCounts& operator+=(const WorkCounts& other) {
    env_steps += other.env_steps;
    sim_steps += other.sim_steps;
    episodes += other.episodes;
    policy_flops += other.policy_flops;
    return *this;
  }
  bool operator==(const WorkCounts&) const = default;
};

/// A well-mixed seed for stream (a, b) of `base` (SplitMix64 finaliser, Steele et al. 2014,
/// applied twice), e.g. StreamSeed(seed, round, task): the random numbers of a task in a round
/// do not depend on which thread computes it or on the other tasks.
constexpr std::uint64_t StreamSeed(std::uint64_t base, std::uint64_t a, std::uint64_t b = 0) {
  auto mix = [](std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return mix(mix(base ^ mix(a)) ^ mix(b + 0x632be59bd9b4e019ULL));
}

}  // namespace metajoule::meta
