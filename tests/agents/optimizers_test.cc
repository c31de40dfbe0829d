#include "agents/optimizers.h"

#include <cmath>

#include <doctest/doctest.h>

#include "tests/support/tolerances.h"

namespace metajoule::agents {
namespace {

TEST_SUITE("agents/optimizers") {
  TEST_CASE("SgdStep moves against the gradient") {
    Eigen::VectorXd theta(2);
    theta << 1.0, -1.0;
    SgdStep(0.5, Eigen::Vector2d(2.0, -4.0), theta);
    CHECK(theta(0) == 0.0);
    CHECK(theta(1) == 1.0);
  }

  TEST_CASE("Adam's first step has magnitude learning_rate per coordinate") {
    // after one step m/(1-b1) = g and v/(1-b2) = g^2: the step is lr * g / (|g| + eps)
    Adam adam(AdamConfig{.learning_rate = 0.1}, 2);
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(2);
    adam.Step(Eigen::Vector2d(3.0, -0.01), theta);
    CHECK(theta(0) == doctest::Approx(-0.1).epsilon(1e-6));
    CHECK(theta(1) == doctest::Approx(0.1).epsilon(1e-5));
    CHECK(adam.steps() == 1);
  }

  TEST_CASE("Adam minimises a quadratic") {
    Adam adam(AdamConfig{.learning_rate = 0.05}, 3);
    Eigen::VectorXd theta(3);
    theta << 2.0, -3.0, 0.5;
    for (int i = 0; i < 2000; ++i) adam.Step(2.0 * theta, theta);  // f = |theta|^2
    CHECK(theta.norm() < 1e-2);
  }

  TEST_CASE("AdamConfig validation names the key") {
    const auto errors = Validate(AdamConfig{.learning_rate = -1.0, .beta1 = 1.0});
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].key == "learning_rate");
    CHECK(errors[1].key == "beta1");
    CHECK_THROWS_AS(Adam(AdamConfig{.epsilon = 0.0}, 2), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::agents
