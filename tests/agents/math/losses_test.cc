#include "agents/math/losses.h"

#include <cmath>
#include <random>

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

constexpr int kBatch = 8;
constexpr double kClip = 0.2;

struct Fixture {
  Fixture() : policy(2, 2, {6, 5}, Activation::kTanh), ws(policy, kBatch), rng(3) {
    theta_old = Eigen::VectorXd(policy.num_params());
    policy.InitializeParams(rng, -0.3, theta_old);
    theta = theta_old + 0.05 * RandomVector(policy.num_params(), rng);
    obs = RandomMatrix(2, kBatch, rng);
    actions = RandomMatrix(2, kBatch, rng);
    advantages = RandomVector(kBatch, rng, -2.0, 2.0);
    old_log_probs = Eigen::VectorXd(kBatch);
    LogProb(policy, theta_old, obs, actions, ws, old_log_probs);
  }
  GaussianMlpPolicy policy;
  PolicyWorkspace ws;
  std::mt19937_64 rng;
  Eigen::VectorXd theta_old, theta;
  Eigen::MatrixXd obs, actions;
  Eigen::VectorXd advantages, old_log_probs;
};

TEST_SUITE("agents/losses") {
  TEST_CASE("the policy-gradient loss gradient matches central differences") {
    Fixture f;
    Eigen::VectorXd grad(f.policy.num_params());
    const double loss = PolicyGradientLossGradient(f.policy, f.theta, f.obs, f.actions,
                                                   f.advantages, f.ws, grad);
    const auto value = [&](const Eigen::VectorXd& t) {
      return PolicyGradientLoss(f.policy, t, f.obs, f.actions, f.advantages, f.ws);
    };
    CHECK(loss == doctest::Approx(value(f.theta)).epsilon(test::kExactTol));
    CHECK(RelativeError(grad, NumericalGradient(value, f.theta)) <= test::kFiniteDiffRelTol);
  }

  TEST_CASE("the surrogate loss gradient matches central differences away from theta_old") {
    Fixture f;
    Eigen::VectorXd grad(f.policy.num_params());
    SurrogateLossGradient(f.policy, f.theta, f.obs, f.actions, f.advantages, f.old_log_probs,
                          f.ws, grad);
    const auto value = [&](const Eigen::VectorXd& t) {
      return SurrogateLoss(f.policy, t, f.obs, f.actions, f.advantages, f.old_log_probs, f.ws);
    };
    CHECK(RelativeError(grad, NumericalGradient(value, f.theta)) <= test::kFiniteDiffRelTol);
  }

  TEST_CASE("at theta_old the surrogate and policy-gradient gradients coincide") {
    Fixture f;
    Eigen::VectorXd g_surrogate(f.policy.num_params()), g_pg(f.policy.num_params());
    const double loss = SurrogateLossGradient(f.policy, f.theta_old, f.obs, f.actions,
                                              f.advantages, f.old_log_probs, f.ws, g_surrogate);
    PolicyGradientLossGradient(f.policy, f.theta_old, f.obs, f.actions, f.advantages, f.ws, g_pg);
    CHECK(RelativeError(g_surrogate, g_pg) <= test::kExactTol);
    CHECK(loss == doctest::Approx(-f.advantages.mean()).epsilon(test::kExactTol));
  }

  TEST_CASE("the clipped surrogate gradient matches central differences") {
    Fixture f;
    const Eigen::VectorXd theta = f.theta_old + 0.5 * (f.theta - f.theta_old);
    Eigen::VectorXd grad(f.policy.num_params());
    double clip_fraction = -1.0;
    ClippedSurrogateLossGradient(f.policy, theta, f.obs, f.actions, f.advantages,
                                 f.old_log_probs, kClip, f.ws, grad, &clip_fraction);
    CHECK(clip_fraction >= 0.0);
    const auto value = [&](const Eigen::VectorXd& t) {
      Eigen::VectorXd g(f.policy.num_params());
      return ClippedSurrogateLossGradient(f.policy, t, f.obs, f.actions, f.advantages,
                                          f.old_log_probs, kClip, f.ws, g);
    };
    CHECK(RelativeError(grad, NumericalGradient(value, theta)) <= test::kFiniteDiffRelTol);
  }

  TEST_CASE("clipping zeroes the gradient of samples pushed past the trust region") {
    Fixture f;
    // one sample, positive advantage, ratio far above 1 + eps: no gradient
    const Eigen::VectorXd adv = Eigen::VectorXd::Ones(kBatch);
    const Eigen::VectorXd old_lp = f.old_log_probs.array() - 1.0;  // ratio = e > 1.2
    Eigen::VectorXd grad(f.policy.num_params());
    double clip_fraction = 0.0;
    const double loss = ClippedSurrogateLossGradient(f.policy, f.theta_old, f.obs, f.actions, adv,
                                                     old_lp, kClip, f.ws, grad, &clip_fraction);
    CHECK(grad.cwiseAbs().maxCoeff() == 0.0);
    CHECK(clip_fraction == 1.0);
    CHECK(loss == doctest::Approx(-(1.0 + kClip)));
  }

  TEST_CASE("exact loss Hessian-vector products match differences of exact gradients") {
    Fixture f;
    const Eigen::VectorXd v = RandomVector(f.policy.num_params(), f.rng);
    Eigen::VectorXd grad(f.policy.num_params()), hvp(f.policy.num_params());
    SUBCASE("policy-gradient loss (MAML's inner loss)") {
      PolicyGradientLossHvp(f.policy, f.theta, f.obs, f.actions, f.advantages, v, f.ws, grad,
                            hvp);
      const auto gradient = [&](const Eigen::VectorXd& t) {
        Eigen::VectorXd g(f.policy.num_params());
        PolicyGradientLossGradient(f.policy, t, f.obs, f.actions, f.advantages, f.ws, g);
        return g;
      };
      CHECK(RelativeError(hvp, test::NumericalDirectional(gradient, f.theta, v)) <=
            test::kHvpRelTol);
    }
    SUBCASE("surrogate loss") {
      SurrogateLossHvp(f.policy, f.theta, f.obs, f.actions, f.advantages, f.old_log_probs, v,
                       f.ws, grad, hvp);
      const auto gradient = [&](const Eigen::VectorXd& t) {
        Eigen::VectorXd g(f.policy.num_params());
        SurrogateLossGradient(f.policy, t, f.obs, f.actions, f.advantages, f.old_log_probs,
                              f.ws, g);
        return g;
      };
      CHECK(RelativeError(hvp, test::NumericalDirectional(gradient, f.theta, v)) <=
            test::kHvpRelTol);
    }
  }

  TEST_CASE("HvpByCentralDifference agrees with the exact R-operator product") {
    Fixture f;
    const Eigen::VectorXd v = RandomVector(f.policy.num_params(), f.rng);
    Eigen::VectorXd grad(f.policy.num_params()), exact(f.policy.num_params());
    Eigen::VectorXd numeric(f.policy.num_params());
    PolicyGradientLossHvp(f.policy, f.theta, f.obs, f.actions, f.advantages, v, f.ws, grad, exact);
    HvpByCentralDifference(
        [&](const Eigen::Ref<const Eigen::VectorXd>& t, Eigen::Ref<Eigen::VectorXd> g) {
          PolicyGradientLossGradient(f.policy, t, f.obs, f.actions, f.advantages, f.ws, g);
        },
        f.theta, v, numeric);
    CHECK(RelativeError(exact, numeric) <= test::kHvpRelTol);
    HvpByCentralDifference([](const auto&, auto g) { g.setZero(); }, f.theta,
                           Eigen::VectorXd::Zero(f.policy.num_params()), numeric);
    CHECK(numeric.isZero());
  }

  TEST_CASE("a policy-gradient step on a 1-D Gaussian matches the closed-form gradient") {
    // pi(a) = N(mu, sigma^2) (no hidden layer, zero observation: mu is the output bias);
    // reward r(a) = -(a - a*)^2, so E[r] = -((mu - a*)^2 + sigma^2) and the loss -E[r] has
    // d/dmu = 2 (mu - a*), d/dlog(sigma) = 2 sigma^2 (REINFORCE, Williams 1992).
    const GaussianMlpPolicy policy(1, 1, {}, Activation::kTanh);
    constexpr int kSamples = 200000;
    constexpr double kTarget = 1.0;
    PolicyWorkspace ws(policy, kSamples);
    Eigen::VectorXd theta(policy.num_params());
    const double mu = 0.2;
    const double sigma = 0.5;
    theta << 0.0, mu, std::log(sigma);
    const Eigen::MatrixXd obs = Eigen::MatrixXd::Zero(1, kSamples);
    Eigen::MatrixXd actions(1, kSamples);
    Eigen::VectorXd log_prob(kSamples);
    std::mt19937_64 rng(2024);
    SampleActions(policy, theta, obs, rng, ws, actions, log_prob);
    // advantages: reward minus its exact mean (a baseline does not bias the estimate)
    const double mean_reward = -((mu - kTarget) * (mu - kTarget) + sigma * sigma);
    const Eigen::VectorXd adv =
        (-(actions.row(0).array() - kTarget).square() - mean_reward).matrix().transpose();
    Eigen::VectorXd grad(policy.num_params());
    PolicyGradientLossGradient(policy, theta, obs, actions, adv, ws, grad);
    // Monte Carlo: 200000 samples give a standard error below 1 % of these values
    constexpr double kMonteCarloRelTol = 0.03;
    CHECK(grad(1) == doctest::Approx(2.0 * (mu - kTarget)).epsilon(kMonteCarloRelTol));
    CHECK(grad(2) == doctest::Approx(2.0 * sigma * sigma).epsilon(kMonteCarloRelTol));
    CHECK(grad(0) == 0.0);  // the weight multiplies a zero observation
    // one SGD step of size 0.1 moves mu towards the target
    const Eigen::VectorXd stepped = theta - 0.1 * grad;
    CHECK(std::abs(stepped(1) - kTarget) < std::abs(mu - kTarget));
  }

  TEST_CASE("losses do not allocate once the workspace is sized") {
    Fixture f;
    const Eigen::VectorXd v = RandomVector(f.policy.num_params(), f.rng);
    Eigen::VectorXd grad(f.policy.num_params()), hvp(f.policy.num_params());
    test::WithoutEigenMalloc([&] {
      PolicyGradientLossHvp(f.policy, f.theta, f.obs, f.actions, f.advantages, v, f.ws, grad,
                            hvp);
      SurrogateLossHvp(f.policy, f.theta, f.obs, f.actions, f.advantages, f.old_log_probs, v,
                       f.ws, grad, hvp);
      ClippedSurrogateLossGradient(f.policy, f.theta, f.obs, f.actions, f.advantages,
                                   f.old_log_probs, kClip, f.ws, grad);
    });
    CHECK(hvp.allFinite());
  }
}

}  // namespace
}  // namespace metajoule::agents
