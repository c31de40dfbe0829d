#pragma once
// State-value baselines for advantage estimation:
//  - LinearFeatureBaseline: the linear feature baseline of Duan et al. 2016 (rllab
//    LinearFeatureBaseline, used by the MAML-RL code of Finn et al. 2017), refit per batch;
//  - MlpCritic: an MLP value function trained by minibatch MSE regression with Adam.

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "agents/math/eigen.h"
#include "agents/math/gae.h"
#include "agents/math/mlp.h"
#include "agents/optimizers.h"
#include "common/error.h"

namespace metajoule::agents {

/// V(s_t) = c . phi(s_t, t) with phi = [clip(s, -10, 10); clip(s)^2; t/100; (t/100)^2;
/// (t/100)^3; 1] (2 obs_dim + 4 features; rllab's LinearFeatureBaseline._features, t = the
/// step index within the episode). Fit solves the ridge regression
///   (Phi Phi^T + reg I) c = Phi G
/// on discounted returns G, multiplying reg by 10 after a failed solve, up to 5 tries
/// (rllab's fit loop, starting at reg_coeff = 1e-5).
class LinearFeatureBaseline {
 public:
  /// @throws std::invalid_argument when obs_dim < 1 or reg_coeff <= 0.
  explicit LinearFeatureBaseline(int obs_dim, double reg_coeff = 1e-5);

  int obs_dim() const { return obs_dim_; }
  int num_features() const { return 2 * obs_dim_ + 4; }
  /// c (num_features); zero until the first successful Fit.
  const Eigen::VectorXd& coefficients() const { return coefficients_; }

  /// Writes phi(obs_t, time_steps[t]) into the columns of `features` (num_features x T).
  /// @throws std::invalid_argument on a size mismatch.
  void Features(const Eigen::Ref<const Eigen::MatrixXd>& obs, std::span<const int> time_steps,
                Eigen::Ref<Eigen::MatrixXd> features) const;

  /// Fits c to `returns` (T) for the steps `obs` (obs_dim x T) with episode boundaries `ends`.
  /// Returns false (and keeps the old coefficients) when every regularisation failed.
  bool Fit(const Eigen::Ref<const Eigen::MatrixXd>& obs, std::span<const StepEnd> ends,
           const Eigen::Ref<const Eigen::VectorXd>& returns);

  /// V(s_t) for each step into `values` (T).
  void Predict(const Eigen::Ref<const Eigen::MatrixXd>& obs, std::span<const StepEnd> ends,
               Eigen::Ref<Eigen::VectorXd> values) const;

  /// FLOPs of the last Fit or Predict (rule of docs/agents.md; the solve counts n^3/3 + 2 n^2
  /// per try for the LDL^T factorisation and substitutions).
  std::uint64_t last_flops() const { return last_flops_; }

  /// The coefficients under `prefix`, for checkpoints (a failed Fit keeps the old ones, so they
  /// are state); LoadState throws StateError for a missing or mis-sized entry.
  void SaveState(StateArchive& archive, const std::string& prefix) const;
  void LoadState(const StateArchive& archive, const std::string& prefix);

 private:
  int obs_dim_;
  double reg_coeff_;
  Eigen::VectorXd coefficients_;
  mutable std::uint64_t last_flops_{0};
};

/// Settings of the MLP critic; TOML table e.g. [agents.ppo.advantage.critic].
struct CriticConfig {
  std::vector<int> hidden_sizes{64, 64};
  Activation activation{Activation::kTanh};
  AdamConfig adam{.learning_rate = 1e-3};
  int epochs{5};           ///< passes over the batch per Fit
  int minibatch_size{64};  ///< samples per Adam step
  template <class V>
  void Visit(V& v) {
    v("hidden_sizes", hidden_sizes);
    v("activation", activation);
    v("adam", adam);
    v("epochs", epochs);
    v("minibatch_size", minibatch_size);
  }
};
std::vector<FieldError> Validate(const CriticConfig& config);

/// V_phi(s): an MLP obs_dim -> hidden -> 1, fitted by minimising (1/2B) sum (V(s) - y)^2 with
/// Adam over shuffled minibatches.
class MlpCritic {
 public:
  /// Initialises phi with `init_rng` (Glorot uniform, zero biases).
  /// @throws std::invalid_argument when the config fails Validate or obs_dim < 1.
  MlpCritic(int obs_dim, const CriticConfig& config, std::mt19937_64& init_rng);

  /// V(s_t) for each column of `obs` (any number of columns) into `values`.
  void Predict(const Eigen::Ref<const Eigen::MatrixXd>& obs, Eigen::Ref<Eigen::VectorXd> values);

  /// `epochs` passes of minibatch Adam on the MSE to `targets` (T), shuffled with `rng`.
  /// Returns the mean squared error over the batch before fitting.
  double Fit(const Eigen::Ref<const Eigen::MatrixXd>& obs,
             const Eigen::Ref<const Eigen::VectorXd>& targets, std::mt19937_64& rng);

  const Mlp& mlp() const { return mlp_; }
  const Eigen::VectorXd& params() const { return params_; }
  /// FLOPs since construction (forward, backward and Adam).
  std::uint64_t flops() const { return ws_.flops + adam_flops_; }

  /// phi and the Adam state under `prefix`, for checkpoints; LoadState throws StateError.
  void SaveState(StateArchive& archive, const std::string& prefix) const;
  void LoadState(const StateArchive& archive, const std::string& prefix);

 private:
  CriticConfig config_;
  Mlp mlp_;
  Eigen::VectorXd params_;
  Adam adam_;
  MlpWorkspace ws_;
  Eigen::VectorXd grad_;
  Eigen::MatrixXd obs_buffer_;
  Eigen::MatrixXd dy_buffer_;
  std::uint64_t adam_flops_{0};
};

}  // namespace metajoule::agents
