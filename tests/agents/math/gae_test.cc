#include "agents/math/gae.h"

#include <stdexcept>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/tolerances.h"

namespace metajoule::agents {
namespace {

constexpr double kGamma = 0.9;
constexpr double kLambda = 0.8;

Eigen::VectorXd Vec(std::initializer_list<double> values) {
  Eigen::VectorXd v(static_cast<Eigen::Index>(values.size()));
  Eigen::Index i = 0;
  for (const double x : values) v(i++) = x;
  return v;
}

TEST_SUITE("agents/gae") {
  TEST_CASE("ComputeGae matches hand-computed advantages for a 3-step episode") {
    const Eigen::VectorXd rewards = Vec({1.0, 2.0, 3.0});
    const Eigen::VectorXd values = Vec({0.5, 1.0, 1.5});
    Eigen::VectorXd adv(3);
    SUBCASE("terminal: the value after the last step is 0") {
      const std::vector<StepEnd> ends{StepEnd::kNone, StepEnd::kNone, StepEnd::kTerminal};
      ComputeGae(rewards, values, ends, Vec({123.0}), kGamma, kLambda, adv);
      // delta = (1 + .9*1 - .5, 2 + .9*1.5 - 1, 3 - 1.5) = (1.4, 2.35, 1.5); gamma*lambda = .72
      CHECK(adv(2) == doctest::Approx(1.5).epsilon(test::kExactTol));
      CHECK(adv(1) == doctest::Approx(2.35 + 0.72 * 1.5).epsilon(test::kExactTol));
      CHECK(adv(0) == doctest::Approx(1.4 + 0.72 * 3.43).epsilon(test::kExactTol));
    }
    SUBCASE("truncated: bootstrap from the value of the next observation") {
      const std::vector<StepEnd> ends{StepEnd::kNone, StepEnd::kNone, StepEnd::kTruncated};
      ComputeGae(rewards, values, ends, Vec({2.0}), kGamma, kLambda, adv);
      CHECK(adv(2) == doctest::Approx(3.3).epsilon(test::kExactTol));
      CHECK(adv(1) == doctest::Approx(2.35 + 0.72 * 3.3).epsilon(test::kExactTol));
      CHECK(adv(0) == doctest::Approx(1.4 + 0.72 * 4.726).epsilon(test::kExactTol));
    }
  }

  TEST_CASE("episodes in one batch do not leak into each other") {
    const Eigen::VectorXd rewards = Vec({1.0, 1.0, 5.0, 7.0});
    const Eigen::VectorXd values = Vec({0.0, 0.0, 0.0, 0.0});
    const std::vector<StepEnd> ends{StepEnd::kNone, StepEnd::kTerminal, StepEnd::kTruncated,
                                    StepEnd::kTerminal};
    Eigen::VectorXd adv(4);
    ComputeGae(rewards, values, ends, Vec({0.0, 10.0, 0.0}), kGamma, 1.0, adv);
    CHECK(adv(3) == doctest::Approx(7.0));
    CHECK(adv(2) == doctest::Approx(5.0 + 0.9 * 10.0));
    CHECK(adv(1) == doctest::Approx(1.0));
    CHECK(adv(0) == doctest::Approx(1.9));
  }

  TEST_CASE("GAE with lambda 1 is the discounted return minus the value") {
    const Eigen::VectorXd rewards = Vec({1.0, 2.0, 3.0});
    const Eigen::VectorXd values = Vec({0.5, 1.0, 1.5});
    const std::vector<StepEnd> ends{StepEnd::kNone, StepEnd::kNone, StepEnd::kTerminal};
    Eigen::VectorXd adv(3), returns(3);
    ComputeGae(rewards, values, ends, Vec({0.0}), kGamma, 1.0, adv);
    DiscountedReturns(rewards, ends, kGamma, returns);
    CHECK(returns(0) == doctest::Approx(1.0 + 0.9 * 2.0 + 0.81 * 3.0).epsilon(test::kExactTol));
    CHECK(returns(1) == doctest::Approx(4.7).epsilon(test::kExactTol));
    CHECK(returns(2) == doctest::Approx(3.0).epsilon(test::kExactTol));
    CHECK((adv - (returns - values)).cwiseAbs().maxCoeff() <= test::kExactTol);
  }

  TEST_CASE("NormalizeAdvantages gives zero mean and unit standard deviation") {
    Eigen::VectorXd adv = Vec({1.0, 2.0, 3.0, 10.0});
    NormalizeAdvantages(adv);
    CHECK(std::abs(adv.mean()) <= test::kExactTol);
    CHECK(std::sqrt(adv.squaredNorm() / 4.0) == doctest::Approx(1.0).epsilon(1e-7));
    Eigen::VectorXd single = Vec({5.0});
    NormalizeAdvantages(single);
    CHECK(single(0) == 0.0);
  }

  TEST_CASE("an unterminated last episode or a size mismatch throws invalid_argument") {
    Eigen::VectorXd adv(2);
    const std::vector<StepEnd> open{StepEnd::kNone, StepEnd::kNone};
    CHECK_THROWS_AS(ComputeGae(Vec({1, 1}), Vec({0, 0}), open, Vec({}), kGamma, kLambda, adv),
                    std::invalid_argument);
    const std::vector<StepEnd> ends{StepEnd::kNone, StepEnd::kTerminal};
    CHECK_THROWS_WITH_AS(
        ComputeGae(Vec({1, 1}), Vec({0, 0, 0}), ends, Vec({0}), kGamma, kLambda, adv),
        "ComputeGae: values size: expected 2, got 3", std::invalid_argument);
    CHECK_THROWS_WITH_AS(
        ComputeGae(Vec({1, 1}), Vec({0, 0}), ends, Vec({}), kGamma, kLambda, adv),
        "ComputeGae: end_values size (one per episode): expected 1, got 0",
        std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::agents
