#pragma once
// Configuration of the meta-learning methods (STYLE.md section 4): plain structs with defaults,
// a Visit field list for the TOML loader in experiments/ (mounted as the table [meta]) and
// Validate() returning FieldError{key, message} with keys relative to the struct
// ("eval.episodes"). Defaults follow MAML-RL on 2-D navigation (Finn et al. 2017; DESIGN.md
// "Reference tasks"): one inner VPG step with learning rate 0.1 on 20 trajectories per task,
// the linear feature baseline, GAE lambda = 1, normalised advantages. The outer step is Adam
// (or SGD) on the mean meta-gradient, or MAML-TRPO (outer = "trpo", meta/meta_trpo.h).

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "agents/learner_config.h"
#include "common/error.h"

namespace metajoule::meta {

/// The meta-learning method (DESIGN.md "Methods"). What each agent sends on the uplink:
///  - scratch:    nothing (no meta-training; agents adapt from a random initialisation);
///  - maml:       the second-order meta-gradient (I - alpha H) grad L_out(theta');
///  - fomaml:     grad L_out(theta') (first-order MAML);
///  - reptile:    theta' - theta after inner_steps SGD steps (Nichol et al. 2018);
///  - pretrained: grad L(theta) on the agent's task (joint multi-task training, FedSGD);
///  - fedavg:     the locally trained model theta' (McMahan et al. 2017);
///  - consensus:  no uplink: fedavg's local step, then the model to the mesh neighbours over
///                sidelinks and a Metropolis-Hastings average (meta/consensus.h; no server).
enum class MetaMethod : std::uint8_t {
  kScratch, kMaml, kFomaml, kReptile, kPretrained, kFedAvg, kConsensus
};
constexpr std::array<std::pair<std::string_view, MetaMethod>, 7> EnumNames(MetaMethod) {
  return {{{"scratch", MetaMethod::kScratch},
           {"maml", MetaMethod::kMaml},
           {"fomaml", MetaMethod::kFomaml},
           {"reptile", MetaMethod::kReptile},
           {"pretrained", MetaMethod::kPretrained},
           {"fedavg", MetaMethod::kFedAvg},
           {"consensus", MetaMethod::kConsensus}}};
}
/// "scratch", "maml", ... (the EnumNames spelling).
std::string_view MetaMethodName(MetaMethod method);

/// The outer step of maml and fomaml: one outer_optimizer step (Adam or SGD) on the mean
/// meta-gradient, or the MAML-TRPO step (Finn et al. 2017, section 5.3: a natural-gradient step
/// in a KL trust region around the adapted policies, meta/meta_trpo.h).
enum class OuterStep : std::uint8_t { kGradient, kTrpo };
constexpr std::array<std::pair<std::string_view, OuterStep>, 2> EnumNames(OuterStep) {
  return {{{"gradient", OuterStep::kGradient}, {"trpo", OuterStep::kTrpo}}};
}

/// Settings of the MAML-TRPO outer step: the trust-region step of agents' TRPO (MAML-RL's
/// defaults: step size 0.01, 10 CG iterations, damping 1e-5, 15 backtracks with ratio 0.8).
using MetaTrpoConfig = agents::TrustRegionConfig;

/// The evaluation protocol of Finn et al. 2017, section 5.3: held-out tasks, average return
/// after 0, 1, ..., adaptation_steps inner-learning-rate VPG steps of `episodes` trajectories
/// each; and the oracle, trained on each held-out task separately.
struct EvaluationConfig {
  int adaptation_steps{3};  ///< VPG steps after the 0-step evaluation, >= 0
  int episodes{20};         ///< trajectories per adaptation step (MAML-RL: 20), >= 1
  /// Step size of the adaptation steps; 0 means MetaConfig::inner_lr (Meta-SGD models use their
  /// learned per-parameter rates whatever this says), >= 0.
  double adapt_lr{0.0};
  int oracle_iterations{200};   ///< Adam VPG updates per held-out task for the oracle, >= 1
  int oracle_episodes{20};      ///< trajectories per oracle update, >= 1
  double oracle_lr{1e-2};       ///< Adam step size of the oracle, > 0
  template <class V>
  void Visit(V& v) {
    v("adaptation_steps", adaptation_steps);
    v("episodes", episodes);
    v("adapt_lr", adapt_lr);
    v("oracle_iterations", oracle_iterations);
    v("oracle_episodes", oracle_episodes);
    v("oracle_lr", oracle_lr);
  }
};

/// The [meta] table.
struct MetaConfig {
  MetaMethod method{MetaMethod::kMaml};
  /// maml only: drop the Hessian term of the meta-gradient (then maml = fomaml).
  bool first_order{false};
  int iterations{50};   ///< meta-iterations (rounds), >= 0
  int meta_batch{20};   ///< tasks per meta-iteration (at most the tasks available), >= 1
  /// true: one meta-model per cluster, trained on that cluster's tasks; false: one global
  /// meta-model trained on the tasks of every cluster.
  bool per_cluster{true};

  double inner_lr{0.1};   ///< alpha of the inner VPG step theta' = theta - alpha grad L_in, > 0
  int inner_steps{1};     ///< inner steps (maml, fomaml), local SGD steps (reptile, fedavg), >= 1
  int inner_episodes{20}; ///< trajectories per task per inner step, >= 1
  int outer_episodes{20}; ///< trajectories per task at theta' for the outer loss, >= 1
  /// Meta-SGD (Li et al. 2017): learn one inner learning rate per parameter, initialised to
  /// inner_lr (maml and fomaml only).
  bool learn_inner_lr{false};
  /// Advantages of the inner and outer batches (MAML-RL: linear baseline, GAE lambda 1,
  /// normalised).
  agents::AdvantageConfig advantage{};

  /// maml and fomaml: "gradient" (outer_optimizer on the mean meta-gradient) or "trpo"
  /// (MAML-TRPO; in-process training only, it needs the tasks' batches on the server).
  OuterStep outer{OuterStep::kGradient};
  MetaTrpoConfig trpo{};          ///< used when outer = "trpo"
  agents::OptimizerKind outer_optimizer{agents::OptimizerKind::kAdam};
  double outer_lr{1e-2};        ///< SGD or Adam step size of the meta-update, > 0
  double adam_beta1{0.9};       ///< in [0, 1)
  double adam_beta2{0.999};     ///< in [0, 1)
  double max_grad_norm{0.0};    ///< clip the aggregated meta-gradient to this 2-norm; 0: off
  double reptile_epsilon{0.1};  ///< Reptile outer step size epsilon, in (0, 1]
  /// Stop with status kDiverged after this many consecutive rejected meta-updates, >= 1.
  int max_rejected_steps{5};
  /// Threads computing the contributions of one meta-iteration (0: every core); results do not
  /// depend on it.
  int threads{1};
  EvaluationConfig eval{};

  template <class V>
  void Visit(V& v) {
    v("method", method);
    v("first_order", first_order);
    v("iterations", iterations);
    v("meta_batch", meta_batch);
    v("per_cluster", per_cluster);
    v("inner_lr", inner_lr);
    v("inner_steps", inner_steps);
    v("inner_episodes", inner_episodes);
    v("outer_episodes", outer_episodes);
    v("learn_inner_lr", learn_inner_lr);
    v("advantage", advantage);
    v("outer", outer);
    v("trpo", trpo);
    v("outer_optimizer", outer_optimizer);
    v("outer_lr", outer_lr);
    v("adam_beta1", adam_beta1);
    v("adam_beta2", adam_beta2);
    v("max_grad_norm", max_grad_norm);
    v("reptile_epsilon", reptile_epsilon);
    v("max_rejected_steps", max_rejected_steps);
    v("threads", threads);
    v("eval", eval);
  }
};

std::vector<FieldError> Validate(const EvaluationConfig& config);
std::vector<FieldError> Validate(const MetaConfig& config);

/// True when the method sends the maml/fomaml meta-gradient (maml, or fomaml, or maml with
/// first_order).
bool UsesMetaGradient(const MetaConfig& config);
/// True when the meta-gradient drops the Hessian term (fomaml, or maml with first_order).
bool IsFirstOrder(const MetaConfig& config);

}  // namespace metajoule::meta
