#include "meta/meta_gradient.h"

#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "agents/math/losses.h"
#include "tests/support/finite_diff.h"
#include "tests/support/random.h"

namespace metajoule::meta {
namespace {

// issue 4 target: the meta-gradient agrees with central differences of J to this
constexpr double kMetaGradientRelTol = 1e-4;

struct Problem {
  agents::GaussianMlpPolicy policy{3, 2, {6, 5}, agents::Activation::kTanh};
  Eigen::VectorXd theta;
  std::vector<LossBatch> inner;
  LossBatch outer;
};

LossBatch RandomBatch(int obs_dim, int act_dim, int n, std::mt19937_64& rng) {
  LossBatch batch;
  batch.obs = test::RandomMatrix(obs_dim, n, rng);
  batch.actions = test::RandomMatrix(act_dim, n, rng, -1.5, 1.5);
  batch.advantages = test::RandomVector(n, rng, -2.0, 2.0);
  return batch;
}

// a small deterministic problem with fixed batches (the FD check of issue 4)
Problem MakeProblem(int inner_steps, std::uint64_t seed) {
  Problem problem;
  std::mt19937_64 rng(seed);
  problem.theta.resize(problem.policy.num_params());
  problem.policy.InitializeParams(rng, -0.3, problem.theta);
  for (int k = 0; k < inner_steps; ++k) problem.inner.push_back(RandomBatch(3, 2, 15, rng));
  problem.outer = RandomBatch(3, 2, 17, rng);
  return problem;
}

TEST_SUITE("meta/meta_gradient") {
  TEST_CASE("the second-order meta-gradient matches finite differences of J, 1 and 2 inner steps") {
    for (const int steps : {1, 2}) {
      CAPTURE(steps);
      Problem problem = MakeProblem(steps, 11);
      agents::PolicyWorkspace ws(problem.policy, 32);
      const Eigen::VectorXd alpha = Eigen::VectorXd::Constant(1, 0.3);
      Eigen::VectorXd grad(problem.policy.num_params());
      const double j = MamlMetaGradient(problem.policy, problem.theta, alpha, problem.inner,
                                        problem.outer, false, ws, grad);
      const auto objective = [&](const Eigen::VectorXd& theta) {
        return MetaObjective(problem.policy, theta, alpha, problem.inner, problem.outer, ws);
      };
      CHECK(j == doctest::Approx(objective(problem.theta)).epsilon(1e-12));
      const Eigen::VectorXd numeric = test::NumericalGradient(objective, problem.theta);
      const double error = test::RelativeError(grad, numeric);
      MESSAGE("inner steps " << steps << ": relative error " << error);
      CHECK(error <= kMetaGradientRelTol);

      // the Hessian term matters here, so the check discriminates second from first order
      Eigen::VectorXd first_order(problem.policy.num_params());
      MamlMetaGradient(problem.policy, problem.theta, alpha, problem.inner, problem.outer, true,
                       ws, first_order);
      CHECK(test::RelativeError(first_order, numeric) > 100 * kMetaGradientRelTol);
    }
  }

  TEST_CASE("Meta-SGD gradients wrt theta and the per-parameter rates match finite differences") {
    Problem problem = MakeProblem(2, 12);
    const Eigen::Index p = problem.policy.num_params();
    std::mt19937_64 rng(5);
    const Eigen::VectorXd alpha = test::RandomVector(p, rng, 0.05, 0.4);
    agents::PolicyWorkspace ws(problem.policy, 32);
    Eigen::VectorXd grad(p);
    Eigen::VectorXd grad_alpha;
    MamlMetaGradient(problem.policy, problem.theta, alpha, problem.inner, problem.outer, false, ws,
                     grad, &grad_alpha);
    REQUIRE(grad_alpha.size() == p);
    const auto by_theta = [&](const Eigen::VectorXd& theta) {
      return MetaObjective(problem.policy, theta, alpha, problem.inner, problem.outer, ws);
    };
    const auto by_alpha = [&](const Eigen::VectorXd& a) {
      return MetaObjective(problem.policy, problem.theta, a, problem.inner, problem.outer, ws);
    };
    CHECK(test::RelativeError(grad, test::NumericalGradient(by_theta, problem.theta)) <=
          kMetaGradientRelTol);
    CHECK(test::RelativeError(grad_alpha, test::NumericalGradient(by_alpha, alpha)) <=
          kMetaGradientRelTol);
  }

  TEST_CASE("a scalar inner rate gets the summed alpha gradient") {
    Problem problem = MakeProblem(2, 13);
    agents::PolicyWorkspace ws(problem.policy, 32);
    const Eigen::VectorXd alpha = Eigen::VectorXd::Constant(1, 0.2);
    Eigen::VectorXd grad(problem.policy.num_params());
    Eigen::VectorXd grad_alpha;
    MamlMetaGradient(problem.policy, problem.theta, alpha, problem.inner, problem.outer, false, ws,
                     grad, &grad_alpha);
    const auto by_alpha = [&](const Eigen::VectorXd& a) {
      return MetaObjective(problem.policy, problem.theta, a, problem.inner, problem.outer, ws);
    };
    CHECK(test::RelativeError(grad_alpha, test::NumericalGradient(by_alpha, alpha)) <=
          kMetaGradientRelTol);
  }

  TEST_CASE("first-order MAML returns the outer gradient at the adapted parameters") {
    Problem problem = MakeProblem(1, 14);
    const Eigen::Index p = problem.policy.num_params();
    agents::PolicyWorkspace ws(problem.policy, 32);
    const Eigen::VectorXd alpha = Eigen::VectorXd::Constant(1, 0.1);
    Eigen::VectorXd grad(p);
    MamlMetaGradient(problem.policy, problem.theta, alpha, problem.inner, problem.outer, true, ws,
                     grad);
    // theta' by hand, then grad L_out(theta')
    Eigen::VectorXd inner_grad(p);
    agents::PolicyGradientLossGradient(problem.policy, problem.theta, problem.inner[0].obs,
                                       problem.inner[0].actions, problem.inner[0].advantages, ws,
                                       inner_grad);
    const Eigen::VectorXd adapted = problem.theta - 0.1 * inner_grad;
    Eigen::VectorXd expected(p);
    agents::PolicyGradientLossGradient(problem.policy, adapted, problem.outer.obs,
                                       problem.outer.actions, problem.outer.advantages, ws,
                                       expected);
    CHECK(test::RelativeError(grad, expected) <= test::kExactTol);

    // and the second-order one differs from it by exactly -alpha H_in(theta) grad L_out(theta')
    Eigen::VectorXd second(p);
    MamlMetaGradient(problem.policy, problem.theta, alpha, problem.inner, problem.outer, false,
                     ws, second);
    Eigen::VectorXd hvp(p);
    agents::PolicyGradientLossHvp(problem.policy, problem.theta, problem.inner[0].obs,
                                  problem.inner[0].actions, problem.inner[0].advantages,
                                  0.1 * expected, ws, inner_grad, hvp);
    CHECK(test::RelativeError(second, expected - hvp) <= 1e-10);
  }

  TEST_CASE("the HVP from the inner step's tape equals the recomputed R-op HVP to the last bit") {
    Problem problem = MakeProblem(1, 16);
    const Eigen::Index p = problem.policy.num_params();
    const LossBatch& batch = problem.inner[0];
    std::mt19937_64 rng(6);
    const Eigen::VectorXd v = test::RandomVector(p, rng, -1.0, 1.0);
    const Eigen::VectorXd alpha = Eigen::VectorXd::Constant(1, 0.2);
    agents::PolicyWorkspace ws(problem.policy, 32);
    agents::PolicyWorkspace tape(problem.policy, 32);
    Eigen::VectorXd step_grad(p);
    Eigen::VectorXd adapted(p);
    InnerStep(problem.policy, problem.theta, alpha, batch, tape, step_grad, adapted);
    // another forward pass in another workspace must not disturb the tape
    Eigen::VectorXd other(p);
    agents::PolicyGradientLossGradient(problem.policy, adapted, problem.outer.obs,
                                       problem.outer.actions, problem.outer.advantages, ws, other);
    Eigen::VectorXd grad(p);
    Eigen::VectorXd hvp(p);
    PolicyGradientHvpFromTape(problem.policy, problem.theta, batch, v, tape, grad, hvp);
    Eigen::VectorXd expected_grad(p);
    Eigen::VectorXd expected_hvp(p);
    agents::PolicyGradientLossHvp(problem.policy, problem.theta, batch.obs, batch.actions,
                                  batch.advantages, v, ws, expected_grad, expected_hvp);
    CHECK(grad == expected_grad);
    CHECK(hvp == expected_hvp);
    CHECK(grad == step_grad);
    // without the gradient (as MetaGradientBackward when alpha is not learned): the same hvp
    Eigen::VectorXd hvp_only(p);
    PolicyGradientHvpFromTape(problem.policy, problem.theta, batch, v, tape, grad.head(0),
                              hvp_only);
    CHECK(hvp_only == hvp);

    // MetaGradientBackward with and without tapes, 2 inner steps with Meta-SGD rates
    Problem two = MakeProblem(2, 17);
    const Eigen::VectorXd rates = test::RandomVector(p, rng, 0.05, 0.4);
    std::vector<Eigen::VectorXd> path(3, Eigen::VectorXd(p));
    path[0] = two.theta;
    std::vector<agents::PolicyWorkspace> tapes;
    for (int k = 0; k < 2; ++k) {
      tapes.emplace_back(two.policy, 32);
      InnerStep(two.policy, path[k], rates, two.inner[k], tapes[k], step_grad, path[k + 1]);
    }
    Eigen::VectorXd taped(p);
    Eigen::VectorXd taped_alpha;
    Eigen::VectorXd plain(p);
    Eigen::VectorXd plain_alpha;
    const double j_taped = MetaGradientBackward(two.policy, path, rates, two.inner, two.outer,
                                                false, ws, taped, &taped_alpha, tapes);
    const double j_plain = MetaGradientBackward(two.policy, path, rates, two.inner, two.outer,
                                                false, ws, plain, &plain_alpha);
    CHECK(j_taped == j_plain);
    CHECK(taped == plain);
    CHECK(taped_alpha == plain_alpha);
    // without dJ/dalpha the taped pass skips the inner gradients: the same dJ/dtheta
    Eigen::VectorXd taped_no_alpha(p);
    CHECK(MetaGradientBackward(two.policy, path, rates, two.inner, two.outer, false, ws,
                               taped_no_alpha, nullptr, tapes) == j_plain);
    CHECK(taped_no_alpha == plain);
  }

  TEST_CASE("a tape of another batch size or the wrong number of tapes is rejected") {
    Problem problem = MakeProblem(1, 18);
    const Eigen::Index p = problem.policy.num_params();
    agents::PolicyWorkspace ws(problem.policy, 32);
    agents::PolicyWorkspace tape(problem.policy, 32);
    Eigen::VectorXd grad(p);
    Eigen::VectorXd hvp(p);
    // the tape's last forward pass ran on the 17 outer samples, not the 15 inner ones
    agents::PolicyGradientLossGradient(problem.policy, problem.theta, problem.outer.obs,
                                       problem.outer.actions, problem.outer.advantages, tape,
                                       grad);
    CHECK_THROWS_AS(PolicyGradientHvpFromTape(problem.policy, problem.theta, problem.inner[0],
                                              grad, tape, grad, hvp),
                    std::invalid_argument);
    const std::vector<Eigen::VectorXd> path(2, problem.theta);
    const Eigen::VectorXd alpha = Eigen::VectorXd::Constant(1, 0.1);
    std::vector<agents::PolicyWorkspace> tapes;
    tapes.emplace_back(problem.policy, 32);
    tapes.emplace_back(problem.policy, 32);
    CHECK_THROWS_AS(MetaGradientBackward(problem.policy, path, alpha, problem.inner,
                                         problem.outer, false, ws, grad, nullptr, tapes),
                    std::invalid_argument);
  }

  TEST_CASE("MetaGradientBackward rejects mismatched sizes") {
    Problem problem = MakeProblem(1, 15);
    agents::PolicyWorkspace ws(problem.policy, 32);
    const Eigen::Index p = problem.policy.num_params();
    Eigen::VectorXd grad(p);
    const Eigen::VectorXd bad_alpha = Eigen::VectorXd::Constant(3, 0.1);
    CHECK_THROWS_AS(MamlMetaGradient(problem.policy, problem.theta, bad_alpha, problem.inner,
                                     problem.outer, false, ws, grad),
                    std::invalid_argument);
    const std::vector<Eigen::VectorXd> short_path(1, problem.theta);
    const Eigen::VectorXd alpha = Eigen::VectorXd::Constant(1, 0.1);
    CHECK_THROWS_AS(MetaGradientBackward(problem.policy, short_path, alpha, problem.inner,
                                         problem.outer, false, ws, grad),
                    std::invalid_argument);
    CHECK_THROWS_AS(MamlMetaGradient(problem.policy, problem.theta, alpha, {}, problem.outer,
                                     false, ws, grad),
                    std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::meta
