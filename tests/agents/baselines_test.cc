#include "agents/baselines.h"

#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/random.h"
#include "tests/support/tolerances.h"

namespace metajoule::agents {
namespace {

TEST_SUITE("agents/baselines") {
  TEST_CASE("linear baseline features are obs and obs^2 and powers of t/100 and 1") {
    const LinearFeatureBaseline baseline(2);
    CHECK(baseline.num_features() == 8);
    Eigen::MatrixXd obs(2, 2);
    obs << 0.5, 20.0, -1.0, 2.0;
    const std::vector<int> t{0, 50};
    Eigen::MatrixXd phi(8, 2);
    baseline.Features(obs, t, phi);
    Eigen::VectorXd expected(8);
    expected << 10.0, 2.0, 100.0, 4.0, 0.5, 0.25, 0.125, 1.0;  // obs clipped to 10
    CHECK((phi.col(1) - expected).norm() <= test::kExactTol);
    CHECK(phi(4, 0) == 0.0);
  }

  TEST_CASE("the linear baseline recovers an exactly linear value function") {
    std::mt19937_64 rng(1);
    const Eigen::MatrixXd obs = test::RandomMatrix(2, 40, rng);
    std::vector<StepEnd> ends(40, StepEnd::kNone);
    for (int e = 9; e < 40; e += 10) ends[e] = StepEnd::kTerminal;
    LinearFeatureBaseline baseline(2);
    Eigen::MatrixXd phi(8, 40);
    std::vector<int> t(40);
    for (int i = 0; i < 40; ++i) t[i] = i % 10;
    baseline.Features(obs, t, phi);
    Eigen::VectorXd c(8);
    c << 1.0, -2.0, 0.5, 0.3, 1.0, -1.0, 2.0, 0.7;
    const Eigen::VectorXd returns = phi.transpose() * c;
    REQUIRE(baseline.Fit(obs, ends, returns));
    Eigen::VectorXd values(40);
    baseline.Predict(obs, ends, values);
    CHECK((values - returns).cwiseAbs().maxCoeff() < 1e-3);
  }

  TEST_CASE("the MLP critic reduces its regression error") {
    std::mt19937_64 rng(2);
    CriticConfig config;
    config.hidden_sizes = {16};
    config.epochs = 100;
    config.adam.learning_rate = 1e-2;
    config.minibatch_size = 16;
    MlpCritic critic(1, config, rng);
    const Eigen::MatrixXd obs = test::RandomMatrix(1, 64, rng);
    const Eigen::VectorXd targets = obs.row(0).transpose().array().square();
    const double before = critic.Fit(obs, targets, rng);
    Eigen::VectorXd values(64);
    critic.Predict(obs, values);
    const double after = (values - targets).squaredNorm() / 64.0;
    CHECK(after < 0.2 * before);
    CHECK(critic.flops() > 0);
  }

  TEST_CASE("CriticConfig validation names nested keys") {
    CriticConfig config;
    config.hidden_sizes = {0};
    config.adam.beta2 = 2.0;
    const auto errors = Validate(config);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].key == "hidden_sizes");
    CHECK(errors[1].key == "adam.beta2");
  }
}

}  // namespace
}  // namespace metajoule::agents
