#include "agents/math/gaussian_policy.h"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "agents/math/checks.h"

namespace metajoule::agents {
namespace {

using internal::CheckSize;
using U64 = std::uint64_t;

constexpr double kLog2Pi = 1.8378770664093454836;  // log(2 pi)

U64 U(Eigen::Index n) { return static_cast<U64>(n); }

// FLOPs of the Gaussian head under the rule of mlp.h, per element of the act_dim x B block
// (kPerElement*), per sample (kPerSample*) and per log-std entry (kPerDim*), as written below.
constexpr U64 kPerDimInvVar = 2;          // exp(-2 s): one multiply, one exp
constexpr U64 kPerDimLogProb = 1;         // sum of s
constexpr U64 kPerElementLogProb = 4;     // a - mu, square, * inv_var, column sum
constexpr U64 kPerSampleLogProb = 3;      // * -1/2, - sum s, - d/2 log 2 pi
constexpr U64 kPerElementBackward = 8;    // dmean: 2; grad_s: square, *inv_var, -1, *w, sum: 5; +1
constexpr U64 kPerSampleBackward = 2;     // sum_t w_t log pi_t
constexpr U64 kPerElementHvp = 22;        // dmean 3, rdmean 5, jvp 6, grad_s 4, hvp_s 4
constexpr U64 kPerElementKl = 5;          // difference, square, + var_old, * inv_var, sum
constexpr U64 kPerElementKlGradient = 5;  // dmean: sub, *inv_var, /B; sum of squares: 2
constexpr U64 kPerElementFisher = 2;      // R{mu} * inv_var / B

void CheckObs(const char* what, const GaussianMlpPolicy& policy,
              const Eigen::Ref<const Eigen::MatrixXd>& obs, const PolicyWorkspace& ws) {
  CheckSize((std::string(what) + ": observation rows").c_str(), obs.rows(), policy.obs_dim());
  internal::CheckBatch((std::string(what) + ": observations").c_str(), obs.cols(),
                       ws.max_batch());
}

void CheckTheta(const char* what, const GaussianMlpPolicy& policy,
                const Eigen::Ref<const Eigen::VectorXd>& theta) {
  CheckSize(what, theta.size(), policy.num_params());
}

void SetInvVar(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta,
               PolicyWorkspace& ws) {
  ws.inv_var = (-2.0 * theta.tail(policy.act_dim()).array()).exp();
  ws.flops += kPerDimInvVar * U(policy.act_dim());
}

}  // namespace

GaussianMlpPolicy::GaussianMlpPolicy(int obs_dim, int act_dim,
                                     const std::vector<int>& hidden_sizes,
                                     Activation hidden_activation)
    : mlp_(
          [&] {
            std::vector<int> sizes{obs_dim};
            sizes.insert(sizes.end(), hidden_sizes.begin(), hidden_sizes.end());
            sizes.push_back(act_dim);
            return sizes;
          }(),
          hidden_activation) {}

void GaussianMlpPolicy::InitializeParams(std::mt19937_64& rng, double init_log_std,
                                         Eigen::Ref<Eigen::VectorXd> theta) const {
  CheckTheta("InitializeParams: theta size", *this, theta);
  InitializeMlpParams<double>(mlp_, rng, theta.head(num_mlp_params()));
  theta.tail(act_dim()).setConstant(init_log_std);
}

U64 GaussianMlpPolicy::LogProbFlops(int batch) const {
  const U64 d = U(act_dim());
  const U64 b = U(batch);
  return mlp_.ForwardFlops(batch) + (kPerDimInvVar + kPerDimLogProb) * d +
         kPerElementLogProb * d * b + kPerSampleLogProb * b;
}

U64 GaussianMlpPolicy::LogProbBackwardFlops(int batch) const {
  return mlp_.BackwardFlops(batch, false) + kPerElementBackward * U(act_dim()) * U(batch) +
         kPerSampleBackward * U(batch);
}

U64 GaussianMlpPolicy::LogProbHvpFlops(int batch) const {
  return LogProbFlops(batch) + mlp_.ForwardTangentFlops(batch) +
         mlp_.BackwardTangentFlops(batch) + kPerElementHvp * U(act_dim()) * U(batch) +
         kPerSampleBackward * U(batch);
}

PolicyWorkspace::PolicyWorkspace(const GaussianMlpPolicy& policy, int max_batch_in)
    : mlp(policy.mlp(), max_batch_in),
      inv_var(Eigen::VectorXd::Ones(policy.act_dim())),
      diff(Eigen::MatrixXd::Zero(policy.act_dim(), max_batch_in)),
      dmean(diff),
      rdmean(diff),
      mean_old(diff),
      log_prob(Eigen::VectorXd::Zero(max_batch_in)),
      jvp(log_prob),
      weights(log_prob),
      scratch(Eigen::VectorXd::Zero(policy.num_params())) {}

void ComputeMean(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta,
                 const Eigen::Ref<const Eigen::MatrixXd>& obs, PolicyWorkspace& ws) {
  CheckTheta("ComputeMean: theta size", policy, theta);
  CheckObs("ComputeMean", policy, obs, ws);
  Forward<double>(policy.mlp(), theta.head(policy.num_mlp_params()), obs, ws.mlp);
}

void SampleActions(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta,
                   const Eigen::Ref<const Eigen::MatrixXd>& obs, std::mt19937_64& rng,
                   PolicyWorkspace& ws, Eigen::Ref<Eigen::MatrixXd> actions,
                   Eigen::Ref<Eigen::VectorXd> log_prob) {
  ComputeMean(policy, theta, obs, ws);
  CheckSize("SampleActions: action rows", actions.rows(), policy.act_dim());
  CheckSize("SampleActions: action columns", actions.cols(), obs.cols());
  CheckSize("SampleActions: log_prob size", log_prob.size(), obs.cols());
  const int d = policy.act_dim();
  const auto log_std = theta.tail(d);
  const double log_norm = log_std.sum() + 0.5 * d * kLog2Pi;
  std::normal_distribution<double> normal(0.0, 1.0);
  const auto mean = ws.mlp.output();
  for (Eigen::Index t = 0; t < obs.cols(); ++t) {
    // a = mu + sigma eps; log pi(a) = -|eps|^2 / 2 - sum s - d/2 log 2 pi
    double sq = 0.0;
    for (int j = 0; j < d; ++j) {
      const double eps = normal(rng);
      actions(j, t) = mean(j, t) + std::exp(log_std(j)) * eps;
      sq += eps * eps;
    }
    log_prob(t) = -0.5 * sq - log_norm;
  }
  ws.flops += U(d) + U(d) * U(obs.cols()) * 5 + 3 * U(obs.cols());
}

void LogProb(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta,
             const Eigen::Ref<const Eigen::MatrixXd>& obs,
             const Eigen::Ref<const Eigen::MatrixXd>& actions, PolicyWorkspace& ws,
             Eigen::Ref<Eigen::VectorXd> log_prob) {
  ComputeMean(policy, theta, obs, ws);
  CheckSize("LogProb: action rows", actions.rows(), policy.act_dim());
  CheckSize("LogProb: action columns", actions.cols(), obs.cols());
  CheckSize("LogProb: log_prob size", log_prob.size(), obs.cols());
  const Eigen::Index batch = obs.cols();
  const int d = policy.act_dim();
  SetInvVar(policy, theta, ws);
  const double log_norm = theta.tail(d).sum() + 0.5 * d * kLog2Pi;
  auto diff = ws.diff.leftCols(batch);
  diff = actions - ws.mlp.output();
  auto lp = ws.log_prob.head(batch);
  lp.transpose() =
      -0.5 * (diff.array().square().colwise() * ws.inv_var.array()).colwise().sum().matrix();
  lp.array() -= log_norm;
  log_prob = lp;
  ws.flops += kPerDimLogProb * U(d) + kPerElementLogProb * U(d) * U(batch) +
              kPerSampleLogProb * U(batch);
}

double WeightedLogProbBackward(const GaussianMlpPolicy& policy,
                               const Eigen::Ref<const Eigen::VectorXd>& theta,
                               const Eigen::Ref<const Eigen::VectorXd>& weights,
                               PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad) {
  CheckTheta("WeightedLogProbBackward: theta size", policy, theta);
  CheckSize("WeightedLogProbBackward: grad size", grad.size(), policy.num_params());
  CheckSize("WeightedLogProbBackward: weights size (batch of the last LogProb)", weights.size(),
            ws.mlp.batch);
  const Eigen::Index batch = ws.mlp.batch;
  const int d = policy.act_dim();
  const auto diff = ws.diff.leftCols(batch);
  const auto w = weights.transpose().array();
  // d log pi / d mu = (a - mu) / sigma^2;  d log pi / d s = (a - mu)^2 / sigma^2 - 1
  auto dmean = ws.dmean.leftCols(batch);
  dmean = ((diff.array().colwise() * ws.inv_var.array()).rowwise() * w).matrix();
  for (int j = 0; j < d; ++j) {
    grad(policy.num_mlp_params() + j) =
        ((diff.row(j).array().square() * ws.inv_var(j) - 1.0) * w).sum();
  }
  Backward<double>(policy.mlp(), theta.head(policy.num_mlp_params()), dmean, ws.mlp,
                   grad.head(policy.num_mlp_params()));
  ws.flops += kPerElementBackward * U(d) * U(batch) + kPerSampleBackward * U(batch);
  return ws.log_prob.head(batch).dot(weights);
}

double WeightedLogProbGradient(const GaussianMlpPolicy& policy,
                               const Eigen::Ref<const Eigen::VectorXd>& theta,
                               const Eigen::Ref<const Eigen::MatrixXd>& obs,
                               const Eigen::Ref<const Eigen::MatrixXd>& actions,
                               const Eigen::Ref<const Eigen::VectorXd>& weights,
                               PolicyWorkspace& ws, Eigen::Ref<Eigen::VectorXd> grad) {
  LogProb(policy, theta, obs, actions, ws, ws.log_prob.head(obs.cols()));
  return WeightedLogProbBackward(policy, theta, weights, ws, grad);
}

double WeightedLogProbHvp(const GaussianMlpPolicy& policy,
                          const Eigen::Ref<const Eigen::VectorXd>& theta,
                          const Eigen::Ref<const Eigen::MatrixXd>& obs,
                          const Eigen::Ref<const Eigen::MatrixXd>& actions,
                          const Eigen::Ref<const Eigen::VectorXd>& weights,
                          const Eigen::Ref<const Eigen::VectorXd>& v, PolicyWorkspace& ws,
                          Eigen::Ref<Eigen::VectorXd> grad, Eigen::Ref<Eigen::VectorXd> hvp) {
  CheckSize("WeightedLogProbHvp: v size", v.size(), policy.num_params());
  CheckSize("WeightedLogProbHvp: grad size", grad.size(), policy.num_params());
  CheckSize("WeightedLogProbHvp: hvp size", hvp.size(), policy.num_params());
  CheckSize("WeightedLogProbHvp: weights size", weights.size(), obs.cols());
  LogProb(policy, theta, obs, actions, ws, ws.log_prob.head(obs.cols()));
  const Eigen::Index nm = policy.num_mlp_params();
  ForwardTangent<double>(policy.mlp(), theta.head(nm), v.head(nm), ws.mlp);
  const Eigen::Index batch = obs.cols();
  const int d = policy.act_dim();
  const auto diff = ws.diff.leftCols(batch);
  const auto rmu = ws.mlp.output_tangent();
  const auto vs = v.tail(d);
  const auto w = weights.transpose().array();
  // dL/dmu = w (a - mu) / sigma^2;
  // R{dL/dmu} = -w (R{mu} + 2 (a - mu) v_s) / sigma^2   (R{1/sigma^2} = -2 v_s / sigma^2)
  auto dmean = ws.dmean.leftCols(batch);
  auto rdmean = ws.rdmean.leftCols(batch);
  dmean = ((diff.array().colwise() * ws.inv_var.array()).rowwise() * w).matrix();
  rdmean = (((rmu.array() + 2.0 * (diff.array().colwise() * vs.array())).colwise() *
             ws.inv_var.array())
                .rowwise() *
            w)
               .matrix();
  rdmean *= -1.0;
  // per-sample directional derivatives: sum_j [(a - mu) R{mu} / sigma^2 + ((a - mu)^2 /
  // sigma^2 - 1) v_s]
  auto jvp = ws.jvp.head(batch);
  jvp.transpose() =
      ((diff.array() * rmu.array()).colwise() * ws.inv_var.array()).colwise().sum().matrix();
  for (int j = 0; j < d; ++j) {
    const auto dj = diff.row(j).array();
    const double iv = ws.inv_var(j);
    jvp.transpose().array() += (dj.square() * iv - 1.0) * vs(j);
    grad(nm + j) = ((dj.square() * iv - 1.0) * w).sum();
    hvp(nm + j) = (-2.0 * iv * (dj * rmu.row(j).array() + dj.square() * vs(j)) * w).sum();
  }
  BackwardTangent<double>(policy.mlp(), theta.head(nm), v.head(nm), dmean, rdmean, ws.mlp,
                          grad.head(nm), hvp.head(nm));
  ws.flops += kPerElementHvp * U(d) * U(batch) + kPerSampleBackward * U(batch);
  return ws.log_prob.head(batch).dot(weights);
}

double Entropy(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta) {
  CheckTheta("Entropy: theta size", policy, theta);
  return theta.tail(policy.act_dim()).sum() + 0.5 * policy.act_dim() * (1.0 + kLog2Pi);
}

namespace {

// Fills ws.mean_old with mu_old and leaves mu_new in ws.mlp, ws.inv_var = 1/sigma_new^2.
void KlForward(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta_old,
               const Eigen::Ref<const Eigen::VectorXd>& theta_new,
               const Eigen::Ref<const Eigen::MatrixXd>& obs, PolicyWorkspace& ws) {
  CheckTheta("MeanKl: theta_old size", policy, theta_old);
  ComputeMean(policy, theta_old, obs, ws);
  ws.mean_old.leftCols(obs.cols()) = ws.mlp.output();
  ComputeMean(policy, theta_new, obs, ws);
  SetInvVar(policy, theta_new, ws);
}

}  // namespace

double MeanKl(const GaussianMlpPolicy& policy, const Eigen::Ref<const Eigen::VectorXd>& theta_old,
              const Eigen::Ref<const Eigen::VectorXd>& theta_new,
              const Eigen::Ref<const Eigen::MatrixXd>& obs, PolicyWorkspace& ws) {
  KlForward(policy, theta_old, theta_new, obs, ws);
  const int d = policy.act_dim();
  const Eigen::Index batch = obs.cols();
  const auto s_old = theta_old.tail(d).array();
  const auto s_new = theta_new.tail(d).array();
  const auto delta = ws.mean_old.leftCols(batch).array() - ws.mlp.output().array();
  // sum_j [s_new - s_old - 1/2] + mean_t sum_j (sigma_old^2 + delta^2) / (2 sigma_new^2)
  double kl = (s_new - s_old - 0.5).sum();
  for (int j = 0; j < d; ++j) {
    const double var_old = std::exp(2.0 * s_old(j));
    kl += 0.5 * ws.inv_var(j) * (var_old + delta.row(j).square().mean());
  }
  ws.flops += kPerElementKl * U(d) * U(batch) + 6 * U(d);
  return kl;
}

double MeanKlGradient(const GaussianMlpPolicy& policy,
                      const Eigen::Ref<const Eigen::VectorXd>& theta_old,
                      const Eigen::Ref<const Eigen::VectorXd>& theta_new,
                      const Eigen::Ref<const Eigen::MatrixXd>& obs, PolicyWorkspace& ws,
                      Eigen::Ref<Eigen::VectorXd> grad) {
  CheckSize("MeanKlGradient: grad size", grad.size(), policy.num_params());
  const double kl = MeanKl(policy, theta_old, theta_new, obs, ws);
  const int d = policy.act_dim();
  const Eigen::Index batch = obs.cols();
  const Eigen::Index nm = policy.num_mlp_params();
  const double inv_batch = 1.0 / static_cast<double>(batch);
  // dKL/dmu_new = (mu_new - mu_old) / sigma_new^2 / B;
  // dKL/ds_new = 1 - (sigma_old^2 + mean_t delta^2) / sigma_new^2
  auto dmean = ws.dmean.leftCols(batch);
  dmean = ((ws.mlp.output().array() - ws.mean_old.leftCols(batch).array()).colwise() *
           (ws.inv_var.array() * inv_batch))
              .matrix();
  for (int j = 0; j < d; ++j) {
    const double var_old = std::exp(2.0 * theta_old(nm + j));
    const double mean_sq =
        (ws.mlp.output().row(j) - ws.mean_old.row(j).head(batch)).squaredNorm() * inv_batch;
    grad(nm + j) = 1.0 - ws.inv_var(j) * (var_old + mean_sq);
  }
  Backward<double>(policy.mlp(), theta_new.head(nm), dmean, ws.mlp, grad.head(nm));
  ws.flops += kPerElementKlGradient * U(d) * U(batch) + 8 * U(d);
  return kl;
}

void FisherVectorProduct(const GaussianMlpPolicy& policy,
                         const Eigen::Ref<const Eigen::VectorXd>& theta,
                         const Eigen::Ref<const Eigen::MatrixXd>& obs,
                         const Eigen::Ref<const Eigen::VectorXd>& v, PolicyWorkspace& ws,
                         Eigen::Ref<Eigen::VectorXd> out) {
  CheckSize("FisherVectorProduct: v size", v.size(), policy.num_params());
  CheckSize("FisherVectorProduct: out size", out.size(), policy.num_params());
  ComputeMean(policy, theta, obs, ws);
  SetInvVar(policy, theta, ws);
  const Eigen::Index nm = policy.num_mlp_params();
  const int d = policy.act_dim();
  const Eigen::Index batch = obs.cols();
  ForwardTangent<double>(policy.mlp(), theta.head(nm), v.head(nm), ws.mlp);
  // F v = (1/B) sum_t J_mu^T diag(1/sigma^2) J_mu v  (+ 2 v_s for the log-std block)
  auto dmean = ws.dmean.leftCols(batch);
  dmean = (ws.mlp.output_tangent().array().colwise() *
           (ws.inv_var.array() / static_cast<double>(batch)))
              .matrix();
  Backward<double>(policy.mlp(), theta.head(nm), dmean, ws.mlp, out.head(nm));
  out.tail(d) = 2.0 * v.tail(d);
  ws.flops += kPerElementFisher * U(d) * U(batch) + U(d);
}

}  // namespace metajoule::agents
