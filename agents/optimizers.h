#pragma once
// First-order optimisers on flat parameter vectors (minimisation): plain SGD and Adam
// (Kingma & Ba 2015, Algorithm 1). Stateful objects are thin loops over vector arithmetic
// (STYLE.md section 6); they allocate only in their constructors.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agents/math/eigen.h"
#include "common/error.h"
#include "common/state_archive.h"

namespace metajoule::agents {

/// Adam settings (Kingma & Ba 2015); TOML table e.g. [agents.ppo.adam].
struct AdamConfig {
  double learning_rate{3e-4};  ///< step size alpha
  double beta1{0.9};           ///< first-moment decay, in [0, 1)
  double beta2{0.999};         ///< second-moment decay, in [0, 1)
  double epsilon{1e-8};        ///< denominator guard, > 0
  template <class V>
  void Visit(V& v) {
    v("learning_rate", learning_rate);
    v("beta1", beta1);
    v("beta2", beta2);
    v("epsilon", epsilon);
  }
};
std::vector<FieldError> Validate(const AdamConfig& config);

/// theta <- theta - learning_rate * grad.
/// @throws std::invalid_argument when the sizes differ.
void SgdStep(double learning_rate, const Eigen::Ref<const Eigen::VectorXd>& grad,
             Eigen::Ref<Eigen::VectorXd> theta);

/// Adam state for one parameter vector of fixed size.
class Adam {
 public:
  /// @throws std::invalid_argument when `config` fails Validate or num_params < 0.
  Adam(const AdamConfig& config, Eigen::Index num_params);

  /// One step of Kingma & Ba 2015, Algorithm 1:
  ///   m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
  ///   theta <- theta - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
  /// @throws std::invalid_argument on a size mismatch.
  void Step(const Eigen::Ref<const Eigen::VectorXd>& grad, Eigen::Ref<Eigen::VectorXd> theta);
  /// Forgets the moments and the step count.
  void Reset();
  std::int64_t steps() const { return steps_; }
  const AdamConfig& config() const { return config_; }
  /// FLOPs of one Step on num_params entries (rule of docs/agents.md).
  std::uint64_t StepFlops() const;

  /// The moments and step count under `prefix` ("m", "v", "steps"), for checkpoints.
  void SaveState(StateArchive& archive, const std::string& prefix) const;
  /// Restores what SaveState wrote; throws StateError for a missing or mis-sized entry.
  void LoadState(const StateArchive& archive, const std::string& prefix);

 private:
  AdamConfig config_;
  Eigen::VectorXd m_;
  Eigen::VectorXd v_;
  std::int64_t steps_{0};
};

}  // namespace metajoule::agents
