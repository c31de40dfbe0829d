#pragma once
// Configuration of the policy-gradient learners (STYLE.md section 4): plain structs with
// defaults, a Visit field list for the TOML loader in experiments/, and Validate() returning
// FieldError{key, message} (keys relative to the struct, nested ones as "advantage.gamma").
// TOML tables: [agents.vpg], [agents.ppo], [agents.trpo].

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "agents/baselines.h"
#include "agents/optimizers.h"
#include "common/error.h"

namespace metajoule::agents {

/// The baseline subtracted from returns: none, the linear feature baseline (MAML-RL), an MLP.
enum class BaselineKind : std::uint8_t { kNone, kLinear, kMlp };
constexpr std::array<std::pair<std::string_view, BaselineKind>, 3> EnumNames(BaselineKind) {
  return {{{"none", BaselineKind::kNone}, {"linear", BaselineKind::kLinear},
           {"mlp", BaselineKind::kMlp}}};
}

/// The optimiser of VPG: plain gradient descent (MAML's inner step) or Adam.
enum class OptimizerKind : std::uint8_t { kSgd, kAdam };
constexpr std::array<std::pair<std::string_view, OptimizerKind>, 2> EnumNames(OptimizerKind) {
  return {{{"sgd", OptimizerKind::kSgd}, {"adam", OptimizerKind::kAdam}}};
}

/// How advantages are estimated (GAE, Schulman et al. 2016) and which baseline is used.
/// Defaults follow MAML-TRPO (DESIGN.md "Reference tasks").
struct AdvantageConfig {
  double gamma{0.99};        ///< discount, in [0, 1]
  double gae_lambda{1.0};    ///< GAE lambda, in [0, 1]
  bool normalize_advantages{true};
  BaselineKind baseline{BaselineKind::kLinear};
  double linear_reg_coeff{1e-5};  ///< initial ridge coefficient of the linear baseline, > 0
  CriticConfig critic{};          ///< used when baseline = "mlp"
  template <class V>
  void Visit(V& v) {
    v("gamma", gamma);
    v("gae_lambda", gae_lambda);
    v("normalize_advantages", normalize_advantages);
    v("baseline", baseline);
    v("linear_reg_coeff", linear_reg_coeff);
    v("critic", critic);
  }
};

/// Vanilla policy gradient / REINFORCE with a baseline (Williams 1992), one step per batch.
struct VpgConfig {
  AdvantageConfig advantage{};
  OptimizerKind optimizer{OptimizerKind::kSgd};
  double learning_rate{0.1};  ///< SGD step size (MAML's inner learning rate), > 0
  AdamConfig adam{};          ///< used when optimizer = "adam"
  template <class V>
  void Visit(V& v) {
    v("advantage", advantage);
    v("optimizer", optimizer);
    v("learning_rate", learning_rate);
    v("adam", adam);
  }
};

/// PPO with the clipped surrogate (Schulman et al. 2017).
struct PpoConfig {
  AdvantageConfig advantage{.gae_lambda = 0.95, .baseline = BaselineKind::kMlp};
  double clip_ratio{0.2};      ///< epsilon of eq. (7), in (0, 1)
  int epochs{10};              ///< passes over the batch per update, >= 1
  int minibatch_size{64};      ///< >= 1
  AdamConfig adam{};           ///< learning rate 3e-4 by default
  double entropy_coef{0.0};    ///< bonus on the policy entropy, >= 0
  double max_grad_norm{0.5};   ///< gradient clipping by 2-norm; 0 disables
  template <class V>
  void Visit(V& v) {
    v("advantage", advantage);
    v("clip_ratio", clip_ratio);
    v("epochs", epochs);
    v("minibatch_size", minibatch_size);
    v("adam", adam);
    v("entropy_coef", entropy_coef);
    v("max_grad_norm", max_grad_norm);
  }
};

/// The trust-region step of TRPO (Schulman et al. 2015, appendix C), shared by TrpoLearner and
/// the MAML-TRPO outer step (meta.trpo); defaults as MAML-RL's.
struct TrustRegionConfig {
  double max_kl{0.01};            ///< trust-region radius delta, > 0
  int cg_iters{10};               ///< conjugate-gradient iterations, >= 1
  double cg_damping{1e-5};        ///< added to the curvature's diagonal, >= 0
  double cg_residual_tol{1e-10};  ///< stop CG when r.r falls below, >= 0
  int line_search_steps{15};      ///< backtracking steps, >= 1
  double line_search_ratio{0.8};  ///< step shrink per backtrack, in (0, 1)
  template <class V>
  void Visit(V& v) {
    v("max_kl", max_kl);
    v("cg_iters", cg_iters);
    v("cg_damping", cg_damping);
    v("cg_residual_tol", cg_residual_tol);
    v("line_search_steps", line_search_steps);
    v("line_search_ratio", line_search_ratio);
  }
};

/// TRPO (Schulman et al. 2015, appendix C): advantages, then the trust-region step with the
/// Fisher matrix as curvature; defaults as MAML-TRPO.
struct TrpoConfig : TrustRegionConfig {
  AdvantageConfig advantage{};
  template <class V>
  void Visit(V& v) {
    v("advantage", advantage);
    TrustRegionConfig::Visit(v);
  }
};

std::vector<FieldError> Validate(const AdvantageConfig& config);
std::vector<FieldError> Validate(const TrustRegionConfig& config);
std::vector<FieldError> Validate(const VpgConfig& config);
std::vector<FieldError> Validate(const PpoConfig& config);
std::vector<FieldError> Validate(const TrpoConfig& config);

/// @throws std::invalid_argument "<what>: <key>: <message>" for the first error, if any (for
/// learner constructors, which receive configs that experiments/ has already validated).
void ThrowIfInvalid(const char* what, const std::vector<FieldError>& errors);

}  // namespace metajoule::agents
