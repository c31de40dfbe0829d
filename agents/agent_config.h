#pragma once
// Configuration of the agent node (STYLE.md section 4): the policy architecture, which learner
// runs, how many episodes feed one update, and the learners' own tables. Mounted by experiments/
// as the TOML table [agents] (keys = field names, e.g. agents.policy.hidden_sizes,
// agents.learner, agents.ppo.clip_ratio). Defaults are the from-scratch settings measured in
// docs/agents.md ("From-scratch baselines").

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "agents/learner_config.h"
#include "agents/math/activations.h"
#include "common/error.h"

namespace metajoule::agents {

/// The Gaussian MLP policy of every agent (agents/math/gaussian_policy.h). Defaults follow
/// MAML-RL (Finn et al. 2017): two tanh hidden layers of 64 units, log-std starting at 0.
struct PolicyConfig {
  std::vector<int> hidden_sizes{64, 64};  ///< units per hidden layer, each >= 1; may be empty
  Activation activation{Activation::kTanh};  ///< hidden-layer nonlinearity
  double init_log_std{0.0};                  ///< initial log sigma of every action dimension
  template <class V>
  void Visit(V& v) {
    v("hidden_sizes", hidden_sizes);
    v("activation", activation);
    v("init_log_std", init_log_std);
  }
};

/// Which policy-gradient learner updates an agent's policy.
enum class LearnerKind : std::uint8_t { kVpg, kPpo, kTrpo };
constexpr std::array<std::pair<std::string_view, LearnerKind>, 3> EnumNames(LearnerKind) {
  return {{{"vpg", LearnerKind::kVpg}, {"ppo", LearnerKind::kPpo}, {"trpo", LearnerKind::kTrpo}}};
}
/// "vpg", "ppo" or "trpo".
std::string_view LearnerKindName(LearnerKind kind);

/// How Agent::Evaluate chooses actions: sampled from pi_theta, as the MAML-RL code reports its
/// returns (Finn et al. 2017), or the deterministic mean action mu_theta(s).
enum class EvaluationActions : std::uint8_t { kSample, kMean };
constexpr std::array<std::pair<std::string_view, EvaluationActions>, 2> EnumNames(
    EvaluationActions) {
  return {{{"sample", EvaluationActions::kSample}, {"mean", EvaluationActions::kMean}}};
}

/// The [agents] table. The default learner is PPO with the settings that learned fastest from
/// scratch on reach2d and nav2d (docs/agents.md "From-scratch baselines"): Adam at 1e-3 and the
/// linear feature baseline with GAE lambda = 1 (Monte-Carlo returns, as MAML-RL) instead of
/// PpoConfig's own 3e-4 / MLP critic / lambda 0.95, which was still at -17.9 on a reach2d task
/// after 150k env steps where these settings reach -12.7 by 60k.
/// VPG and TRPO keep the MAML-RL settings of learner_config.h.
struct AgentsConfig {
  PolicyConfig policy{};
  LearnerKind learner{LearnerKind::kPpo};
  /// Episodes collected per learner update (MAML-RL: 20 trajectories per task), >= 1.
  int episodes_per_update{20};
  EvaluationActions evaluation_actions{EvaluationActions::kSample};
  VpgConfig vpg{};
  PpoConfig ppo{.advantage = {.gae_lambda = 1.0, .baseline = BaselineKind::kLinear},
                .adam = {.learning_rate = 1e-3}};
  TrpoConfig trpo{};
  template <class V>
  void Visit(V& v) {
    v("policy", policy);
    v("learner", learner);
    v("episodes_per_update", episodes_per_update);
    v("evaluation_actions", evaluation_actions);
    v("vpg", vpg);
    v("ppo", ppo);
    v("trpo", trpo);
  }
};

/// Keys relative to the struct ("hidden_sizes[1]", "ppo.clip_ratio"). Every learner table is
/// checked, whichever learner is selected.
std::vector<FieldError> Validate(const PolicyConfig& config);
std::vector<FieldError> Validate(const AgentsConfig& config);

}  // namespace metajoule::agents
