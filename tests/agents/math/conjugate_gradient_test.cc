#include "agents/math/conjugate_gradient.h"

#include <random>

#include <doctest/doctest.h>

#include "tests/support/random.h"

namespace metajoule::agents {
namespace {

TEST_SUITE("agents/conjugate_gradient") {
  TEST_CASE("ConjugateGradient solves an SPD system in n iterations") {
    std::mt19937_64 rng(4);
    const Eigen::MatrixXd m = test::RandomMatrix(6, 6, rng);
    const Eigen::MatrixXd a = m * m.transpose() + Eigen::MatrixXd::Identity(6, 6);
    const Eigen::VectorXd b = test::RandomVector(6, rng);
    Eigen::VectorXd x(6);
    const int iters = ConjugateGradient(
        [&](const Eigen::Ref<const Eigen::VectorXd>& p, Eigen::Ref<Eigen::VectorXd> out) {
          out = a * p;
        },
        b, 50, 1e-20, x);
    CHECK(iters <= 8);
    CHECK((a * x - b).norm() < 1e-8);
  }
}

}  // namespace
}  // namespace metajoule::agents
