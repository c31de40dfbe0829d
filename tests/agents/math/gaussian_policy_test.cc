#include "agents/math/gaussian_policy.h"

#include <cmath>
#include <numbers>
#include <random>
#include <stdexcept>

#include <doctest/doctest.h>

#include "tests/support/finite_diff.h"
#include "tests/support/random.h"
#include "tests/support/tolerances.h"

namespace metajoule::agents {
namespace {

using test::NumericalGradient;
using test::RandomMatrix;
using test::RandomVector;
using test::RelativeError;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kBatch = 6;

struct Fixture {
  Fixture() : policy(3, 2, {5, 4}, Activation::kTanh), ws(policy, kBatch), rng(11) {
    theta = Eigen::VectorXd(policy.num_params());
    policy.InitializeParams(rng, 0.0, theta);
    theta += 0.2 * RandomVector(policy.num_params(), rng);  // non-trivial biases and log-std
    obs = RandomMatrix(3, kBatch, rng);
    actions = RandomMatrix(2, kBatch, rng, -2.0, 2.0);
    weights = RandomVector(kBatch, rng);
  }
  double WeightedSum(const Eigen::VectorXd& t) {
    Eigen::VectorXd lp(kBatch);
    LogProb(policy, t, obs, actions, ws, lp);
    return lp.dot(weights);
  }
  GaussianMlpPolicy policy;
  PolicyWorkspace ws;
  std::mt19937_64 rng;
  Eigen::VectorXd theta;
  Eigen::MatrixXd obs, actions;
  Eigen::VectorXd weights;
};

TEST_SUITE("agents/gaussian_policy") {
  TEST_CASE("LogProb matches the diagonal Gaussian density") {
    Fixture f;
    Eigen::VectorXd lp = Eigen::VectorXd::Constant(kBatch, kNaN);
    LogProb(f.policy, f.theta, f.obs, f.actions, f.ws, lp);
    const Eigen::MatrixXd mean = f.ws.mlp.output();
    const Eigen::VectorXd log_std = f.theta.tail(2);
    for (int t = 0; t < kBatch; ++t) {
      double expected = 0.0;
      for (int j = 0; j < 2; ++j) {
        const double sigma = std::exp(log_std(j));
        const double u = (f.actions(j, t) - mean(j, t)) / sigma;
        expected += -0.5 * u * u - std::log(sigma * std::sqrt(2.0 * std::numbers::pi));
      }
      CHECK(lp(t) == doctest::Approx(expected).epsilon(test::kExactTol));
    }
  }

  TEST_CASE("the weighted log-prob gradient matches central differences") {
    Fixture f;
    Eigen::VectorXd grad = Eigen::VectorXd::Constant(f.policy.num_params(), kNaN);
    const double value =
        WeightedLogProbGradient(f.policy, f.theta, f.obs, f.actions, f.weights, f.ws, grad);
    REQUIRE(grad.allFinite());
    CHECK(value == doctest::Approx(f.WeightedSum(f.theta)).epsilon(test::kExactTol));
    const auto numeric =
        NumericalGradient([&](const Eigen::VectorXd& t) { return f.WeightedSum(t); }, f.theta);
    CHECK(RelativeError(grad, numeric) <= test::kFiniteDiffRelTol);
  }

  TEST_CASE("the weighted log-prob Hessian-vector product matches differences of gradients") {
    Fixture f;
    const Eigen::VectorXd v = RandomVector(f.policy.num_params(), f.rng);
    Eigen::VectorXd grad = Eigen::VectorXd::Constant(f.policy.num_params(), kNaN);
    Eigen::VectorXd hvp = grad;
    WeightedLogProbHvp(f.policy, f.theta, f.obs, f.actions, f.weights, v, f.ws, grad, hvp);
    REQUIRE(hvp.allFinite());
    const Eigen::VectorXd jvp = f.ws.jvp.head(kBatch);
    const auto gradient = [&](const Eigen::VectorXd& t) {
      Eigen::VectorXd g(f.policy.num_params());
      WeightedLogProbGradient(f.policy, t, f.obs, f.actions, f.weights, f.ws, g);
      return g;
    };
    CHECK(RelativeError(hvp, test::NumericalDirectional(gradient, f.theta, v)) <=
          test::kHvpRelTol);
    // per-sample directional derivatives of log pi
    const auto log_probs = [&](const Eigen::VectorXd& t) {
      Eigen::VectorXd lp(kBatch);
      LogProb(f.policy, t, f.obs, f.actions, f.ws, lp);
      return lp;
    };
    CHECK(RelativeError(jvp, test::NumericalDirectional(log_probs, f.theta, v)) <=
          test::kFiniteDiffRelTol);
  }

  TEST_CASE("Entropy is sum of log-std plus d/2 (1 + log 2 pi)") {
    Fixture f;
    const double expected =
        f.theta.tail(2).sum() + 1.0 + std::log(2.0 * std::numbers::pi);
    CHECK(Entropy(f.policy, f.theta) == doctest::Approx(expected).epsilon(test::kExactTol));
  }

  TEST_CASE("MeanKl is zero between equal parameters and matches the closed form") {
    Fixture f;
    CHECK(std::abs(MeanKl(f.policy, f.theta, f.theta, f.obs, f.ws)) <= test::kExactTol);
    Eigen::VectorXd other = f.theta + 0.1 * RandomVector(f.policy.num_params(), f.rng);
    const double kl = MeanKl(f.policy, f.theta, other, f.obs, f.ws);
    ComputeMean(f.policy, f.theta, f.obs, f.ws);
    const Eigen::MatrixXd mu_old = f.ws.mlp.output();
    ComputeMean(f.policy, other, f.obs, f.ws);
    const Eigen::MatrixXd mu_new = f.ws.mlp.output();
    double expected = 0.0;
    for (int t = 0; t < kBatch; ++t) {
      for (int j = 0; j < 2; ++j) {
        const double s_old = f.theta(f.policy.num_mlp_params() + j);
        const double s_new = other(f.policy.num_mlp_params() + j);
        const double dm = mu_old(j, t) - mu_new(j, t);
        expected += s_new - s_old +
                    (std::exp(2 * s_old) + dm * dm) / (2 * std::exp(2 * s_new)) - 0.5;
      }
    }
    CHECK(kl == doctest::Approx(expected / kBatch).epsilon(test::kExactTol));
    CHECK(kl > 0.0);
  }

  TEST_CASE("the KL gradient matches central differences") {
    Fixture f;
    const Eigen::VectorXd other = f.theta + 0.1 * RandomVector(f.policy.num_params(), f.rng);
    Eigen::VectorXd grad = Eigen::VectorXd::Constant(f.policy.num_params(), kNaN);
    MeanKlGradient(f.policy, f.theta, other, f.obs, f.ws, grad);
    REQUIRE(grad.allFinite());
    const auto numeric = NumericalGradient(
        [&](const Eigen::VectorXd& t) { return MeanKl(f.policy, f.theta, t, f.obs, f.ws); },
        other);
    CHECK(RelativeError(grad, numeric) <= test::kFiniteDiffRelTol);
  }

  TEST_CASE("FisherVectorProduct equals the Hessian of the KL at theta_old") {
    Fixture f;
    const Eigen::VectorXd v = RandomVector(f.policy.num_params(), f.rng);
    Eigen::VectorXd fv = Eigen::VectorXd::Constant(f.policy.num_params(), kNaN);
    FisherVectorProduct(f.policy, f.theta, f.obs, v, f.ws, fv);
    REQUIRE(fv.allFinite());
    const auto kl_gradient = [&](const Eigen::VectorXd& t) {
      Eigen::VectorXd g(f.policy.num_params());
      MeanKlGradient(f.policy, f.theta, t, f.obs, f.ws, g);
      return g;
    };
    CHECK(RelativeError(fv, test::NumericalDirectional(kl_gradient, f.theta, v)) <=
          test::kHvpRelTol);
    CHECK(v.dot(fv) > 0.0);  // positive definite in practice
  }

  TEST_CASE("SampleActions is seeded and consistent with LogProb and has the policy's moments") {
    const GaussianMlpPolicy policy(1, 1, {}, Activation::kTanh);
    constexpr int kSamples = 20000;
    PolicyWorkspace ws(policy, kSamples);
    Eigen::VectorXd theta(policy.num_params());
    theta << 0.0, 0.7, std::log(0.3);  // mean = 0.7, sigma = 0.3
    const Eigen::MatrixXd obs = Eigen::MatrixXd::Zero(1, kSamples);
    Eigen::MatrixXd a1(1, kSamples), a2(1, kSamples), a3(1, kSamples);
    Eigen::VectorXd lp(kSamples), lp_check(kSamples);
    std::mt19937_64 r1(5), r2(5), r3(6);
    SampleActions(policy, theta, obs, r1, ws, a1, lp);
    SampleActions(policy, theta, obs, r2, ws, a2, lp_check);
    SampleActions(policy, theta, obs, r3, ws, a3, lp_check);
    CHECK(a1 == a2);
    CHECK(a1 != a3);
    LogProb(policy, theta, obs, a1, ws, lp_check);
    CHECK(RelativeError(lp, lp_check) <= test::kExactTol);
    const double mean = a1.mean();
    const double sd = std::sqrt((a1.array() - mean).square().mean());
    CHECK(mean == doctest::Approx(0.7).epsilon(0.01));
    CHECK(sd == doctest::Approx(0.3).epsilon(0.02));
  }

  TEST_CASE("policy functions do not allocate once the workspace is sized") {
    Fixture f;
    const Eigen::VectorXd v = RandomVector(f.policy.num_params(), f.rng);
    Eigen::VectorXd lp(kBatch), grad(f.policy.num_params()), hvp(f.policy.num_params());
    Eigen::MatrixXd actions(2, kBatch);
    test::WithoutEigenMalloc([&] {
      LogProb(f.policy, f.theta, f.obs, f.actions, f.ws, lp);
      WeightedLogProbBackward(f.policy, f.theta, f.weights, f.ws, grad);
      WeightedLogProbHvp(f.policy, f.theta, f.obs, f.actions, f.weights, v, f.ws, grad, hvp);
      MeanKlGradient(f.policy, f.theta, f.theta + v, f.obs, f.ws, grad);
      FisherVectorProduct(f.policy, f.theta, f.obs, v, f.ws, hvp);
      SampleActions(f.policy, f.theta, f.obs, f.rng, f.ws, actions, lp);
    });
    CHECK(grad.allFinite());
    CHECK(hvp.allFinite());
  }

  TEST_CASE("FLOPs of LogProb and its backward are counted exactly") {
    Fixture f;
    Eigen::VectorXd lp(kBatch), grad(f.policy.num_params());
    f.ws.ResetFlops();
    LogProb(f.policy, f.theta, f.obs, f.actions, f.ws, lp);
    CHECK(f.ws.total_flops() == f.policy.LogProbFlops(kBatch));
    f.ws.ResetFlops();
    WeightedLogProbBackward(f.policy, f.theta, f.weights, f.ws, grad);
    CHECK(f.ws.total_flops() == f.policy.LogProbBackwardFlops(kBatch));
    f.ws.ResetFlops();
    const Eigen::VectorXd v = RandomVector(f.policy.num_params(), f.rng);
    Eigen::VectorXd hvp(f.policy.num_params());
    WeightedLogProbHvp(f.policy, f.theta, f.obs, f.actions, f.weights, v, f.ws, grad, hvp);
    CHECK(f.ws.total_flops() == f.policy.LogProbHvpFlops(kBatch));
  }

  TEST_CASE("wrong observation or action sizes throw invalid_argument") {
    Fixture f;
    Eigen::VectorXd lp(kBatch);
    CHECK_THROWS_WITH_AS(
        LogProb(f.policy, f.theta, Eigen::MatrixXd::Zero(4, kBatch), f.actions, f.ws, lp),
        doctest::Contains("observation rows: expected 3, got 4"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(
        LogProb(f.policy, f.theta, f.obs, Eigen::MatrixXd::Zero(1, kBatch), f.ws, lp),
        "LogProb: action rows: expected 2, got 1", std::invalid_argument);
    CHECK_THROWS_AS(GaussianMlpPolicy(0, 1, {}, Activation::kTanh), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::agents
