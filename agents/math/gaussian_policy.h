#pragma once
// A diagonal Gaussian policy with an MLP mean and a learned, state-independent log standard
// deviation (the policy of Duan et al. 2016 and of MAML-RL, Finn et al. 2017):
//   pi_theta(a | s) = N(a; mu_theta(s), diag(sigma^2)),   sigma_j = exp(s_j),
//   theta = [MLP parameters (Mlp layout); s_1..s_d]   (the log-std is the last d entries).
// Per sample, with d = act_dim and u = (a - mu) / sigma:
//   log pi   = -1/2 sum_j u_j^2 - sum_j s_j - d/2 log(2 pi)
//   H[pi]    = sum_j s_j + d/2 (1 + log(2 pi))
//   KL(pi_old || pi_new) = sum_j [ s_new - s_old + (sigma_old^2 + (mu_old - mu_new)^2)
//                                   / (2 sigma_new^2) - 1/2 ]
// Every function is pure: parameters come in as a flat vector, scratch goes to a
// PolicyWorkspace, and nothing allocates once the workspace is built. Batches are columns:
// obs is obs_dim x B, actions act_dim x B, per-sample vectors have B entries.
// Every call adds its exact FLOPs (rule in mlp.h and docs/agents.md) to the workspace counters.

#include <cstdint>
#include <random>
#include <vector>

#include "agents/math/eigen.h"

#include "agents/math/mlp.h"

namespace metajoule::agents {

/// The description of a Gaussian MLP policy (no parameters inside).
class GaussianMlpPolicy {
 public:
  /// obs_dim, act_dim >= 1; hidden_sizes may be empty (a linear-Gaussian policy).
  /// @throws std::invalid_argument on a size < 1.
  GaussianMlpPolicy(int obs_dim, int act_dim, const std::vector<int>& hidden_sizes,
                    Activation hidden_activation);

  const Mlp& mlp() const { return mlp_; }
  int obs_dim() const { return mlp_.num_inputs(); }
  int act_dim() const { return mlp_.num_outputs(); }
  /// MLP parameters plus act_dim log-std entries.
  Eigen::Index num_params() const { return mlp_.num_params() + act_dim(); }
  Eigen::Index num_mlp_params() const { return mlp_.num_params(); }

  /// Glorot-uniform MLP weights, zero biases, log-std = init_log_std (MAML-RL: 0).
  /// @throws std::invalid_argument when theta.size() != num_params().
  void InitializeParams(std::mt19937_64& rng, double init_log_std,
                        Eigen::Ref<Eigen::VectorXd> theta) const;

  /// Exact FLOPs of LogProb, of WeightedLogProbBackward, and of WeightedLogProbHvp on `batch`.
  std::uint64_t LogProbFlops(int batch) const;
  std::uint64_t LogProbBackwardFlops(int batch) const;
  std::uint64_t LogProbHvpFlops(int batch) const;

 private:
  Mlp mlp_;
};

/// Scratch for the policy functions on up to max_batch samples; one per thread.
struct PolicyWorkspace {
  PolicyWorkspace(const GaussianMlpPolicy& policy, int max_batch);

  int max_batch() const { return mlp.max_batch; }
  /// FLOPs of every call since construction or the last ResetFlops (MLP passes included).
  std::uint64_t total_flops() const { return flops + mlp.flops; }
  void ResetFlops() { flops = 0; mlp.flops = 0; }

  MlpWorkspace mlp;
  Eigen::VectorXd inv_var;     ///< exp(-2 s), act_dim
  Eigen::MatrixXd diff;        ///< a - mu of the last LogProb, act_dim x max_batch
  Eigen::MatrixXd dmean;       ///< dL/dmu, act_dim x max_batch
  Eigen::MatrixXd rdmean;      ///< R{dL/dmu}, act_dim x max_batch
  Eigen::MatrixXd mean_old;    ///< mu_old for KL, act_dim x max_batch
  Eigen::VectorXd log_prob;    ///< log pi(a_t | s_t) of the last LogProb, max_batch
  Eigen::VectorXd jvp;         ///< (grad log pi_t) . v of the last WeightedLogProbHvp, max_batch
  Eigen::VectorXd weights;     ///< per-sample weights used by the losses, max_batch
  Eigen::VectorXd scratch;     ///< num_params, used by the losses
  std::uint64_t flops{0};      ///< FLOPs of the Gaussian head (MLP passes count in mlp.flops)
};

/// Means mu_theta(obs) into ws.mlp.output() (act_dim x B).
/// @throws std::invalid_argument on a size mismatch (also for every function below).
void ComputeMean(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta,
                 const Eigen::Ref<const Eigen::MatrixXd>& obs, PolicyWorkspace& ws);

/// Draws a_t = mu(s_t) + sigma * eps_t, eps ~ N(0, I) with `rng` (column by column), into
/// `actions` (act_dim x B), and their log-probabilities into `log_prob` (B).
void SampleActions(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta,
                   const Eigen::Ref<const Eigen::MatrixXd>& obs, std::mt19937_64& rng,
                   PolicyWorkspace& ws, Eigen::Ref<Eigen::MatrixXd> actions,
                   Eigen::Ref<Eigen::VectorXd> log_prob);

/// log pi_theta(a_t | s_t) for each column into `log_prob` (B) and into ws.log_prob; keeps the
/// forward pass in `ws` for WeightedLogProbBackward.
void LogProb(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta,
             const Eigen::Ref<const Eigen::MatrixXd>& obs,
             const Eigen::Ref<const Eigen::MatrixXd>& actions, PolicyWorkspace& ws,
             Eigen::Ref<Eigen::VectorXd> log_prob);

/// After LogProb with the same theta, obs and actions: writes grad = d/dtheta sum_t w_t log
/// pi_theta(a_t | s_t) (num_params; overwritten) and returns sum_t w_t log pi_t.
/// `weights`: B entries (e.g. advantages / N).
double WeightedLogProbBackward(const GaussianMlpPolicy& policy,
                               const Eigen::Ref<const Eigen::VectorXd>& theta,
                               const Eigen::Ref<const Eigen::VectorXd>& weights,
                               PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad);

/// LogProb followed by WeightedLogProbBackward.
double WeightedLogProbGradient(const GaussianMlpPolicy& policy,
                               const Eigen::Ref<const Eigen::VectorXd>& theta,
                               const Eigen::Ref<const Eigen::MatrixXd>& obs,
                               const Eigen::Ref<const Eigen::MatrixXd>& actions,
                               const Eigen::Ref<const Eigen::VectorXd>& weights,
                               PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad);

/// Exact Hessian-vector product of F(theta) = sum_t w_t log pi_theta(a_t | s_t) by the
/// R-operator (Pearlmutter 1994): writes grad = dF/dtheta, hvp = (d^2F/dtheta^2) v (num_params
/// each), ws.jvp(t) = (d log pi_t/dtheta) . v for t < B, and ws.log_prob; returns F.
double WeightedLogProbHvp(const GaussianMlpPolicy& policy,
                          const Eigen::Ref<const Eigen::VectorXd>& theta,
                          const Eigen::Ref<const Eigen::MatrixXd>& obs,
                          const Eigen::Ref<const Eigen::MatrixXd>& actions,
                          const Eigen::Ref<const Eigen::VectorXd>& weights,
                          const Eigen::Ref<const Eigen::VectorXd>& v, PolicyWorkspace& ws,
                          Eigen::Ref<Eigen::VectorXd> grad, Eigen::Ref<Eigen::VectorXd> hvp);

/// Entropy of pi_theta (nats; state-independent): sum_j s_j + d/2 (1 + log 2 pi). Its
/// gradient is 1 for every log-std entry and 0 for the MLP parameters.
double Entropy(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta);

/// Mean over the columns of obs of KL(pi_theta_old(.|s) || pi_theta_new(.|s)) (nats).
double MeanKl(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta_old,
              const Eigen::Ref<const Eigen::VectorXd>& theta_new,
              const Eigen::Ref<const Eigen::MatrixXd>& obs, PolicyWorkspace& ws);

/// MeanKl, and its gradient wrt theta_new into `grad` (num_params).
double MeanKlGradient(const GaussianMlpPolicy& policy,
                      const Eigen::Ref<const Eigen::VectorXd>& theta_old,
                      const Eigen::Ref<const Eigen::VectorXd>& theta_new,
                      const Eigen::Ref<const Eigen::MatrixXd>& obs, PolicyWorkspace& ws,
                      Eigen::Ref<Eigen::VectorXd> grad);

/// Fisher-vector product F v, where F = d^2/dtheta'^2 MeanKl(theta, theta') at theta' = theta,
/// computed exactly as the Gauss-Newton product (1/B) sum_t J_t^T M J_t v with J_t the Jacobian
/// of (mu_t, s) and M = diag(1/sigma^2, 2) (the Fisher matrix of a Gaussian in (mu, log sigma);
/// Martens 2014, section 9.2). Writes `out` (num_params); damping is the caller's.
void FisherVectorProduct(const GaussianMlpPolicy& policy,
                         const Eigen::Ref<const Eigen::VectorXd>& theta,
                         const Eigen::Ref<const Eigen::MatrixXd>& obs,
                         const Eigen::Ref<const Eigen::VectorXd>& v, PolicyWorkspace& ws,
                         Eigen::Ref<Eigen::VectorXd> out);

}  // namespace metajoule::agents
