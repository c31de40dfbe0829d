// Metropolis-Hastings mixing (Xiao & Boyd 2004) for consensus over a mesh.
#include "meta/consensus.h"

#include <random>
#include <stdexcept>
#include <vector>

#include <doctest/doctest.h>

namespace metajoule::meta {
namespace {

std::vector<std::vector<std::size_t>> Ring(std::size_t n) {
  std::vector<std::vector<std::size_t>> neighbours(n);
  for (std::size_t i = 0; i < n; ++i) {
    neighbours[i] = {(i + n - 1) % n, (i + 1) % n};
  }
  return neighbours;
}

// one synchronous round of mixing, every message delivered unless lost[j][a]
std::vector<Eigen::VectorXd> Mix(const std::vector<std::vector<std::size_t>>& neighbours,
                                 const std::vector<MixingRow>& rows,
                                 const std::vector<Eigen::VectorXd>& models) {
  std::vector<Eigen::VectorXd> next(models.size());
  for (std::size_t i = 0; i < models.size(); ++i) {
    std::vector<const Eigen::VectorXd*> received;
    for (const std::size_t j : neighbours[i]) received.push_back(&models[j]);
    MixModels(i, neighbours[i], rows[i], models[i], received, next[i]);
  }
  return next;
}

TEST_SUITE("meta/consensus") {
  TEST_CASE("Metropolis-Hastings weights are symmetric and every row sums to one") {
    // a path 0 - 1 - 2 plus 1 - 3: degrees 1, 3, 1, 1
    const std::vector<std::vector<std::size_t>> neighbours{{1}, {0, 2, 3}, {1}, {1}};
    const std::vector<MixingRow> rows = MetropolisHastingsWeights(neighbours);
    CHECK(rows[0].neighbour[0] == doctest::Approx(0.25));  // 1 / (1 + max(1, 3))
    CHECK(rows[1].neighbour[0] == doctest::Approx(0.25));
    CHECK(rows[0].self == doctest::Approx(0.75));
    CHECK(rows[1].self == doctest::Approx(0.25));
    for (const MixingRow& row : rows) {
      double sum = row.self;
      for (const double w : row.neighbour) sum += w;
      CHECK(sum == doctest::Approx(1.0));
    }
  }

  TEST_CASE("repeated mixing on a ring converges to the average of the initial models") {
    const auto neighbours = Ring(6);
    const auto rows = MetropolisHastingsWeights(neighbours);
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal;
    std::vector<Eigen::VectorXd> models(6, Eigen::VectorXd(4));
    Eigen::VectorXd average = Eigen::VectorXd::Zero(4);
    for (auto& m : models) {
      for (Eigen::Index e = 0; e < 4; ++e) m[e] = normal(rng);
      average += m / 6.0;
    }
    double spread_before = 0.0;
    for (const auto& m : models) spread_before = std::max(spread_before, (m - average).norm());
    for (int round = 0; round < 200; ++round) models = Mix(neighbours, rows, models);
    for (const auto& m : models) CHECK((m - average).norm() < 1e-9 * spread_before);
  }

  TEST_CASE("a lost model's weight goes to the receiver's own model") {
    const std::vector<std::vector<std::size_t>> neighbours{{1}, {0}};
    const auto rows = MetropolisHastingsWeights(neighbours);
    const Eigen::VectorXd a = Eigen::VectorXd::Constant(3, 1.0);
    const Eigen::VectorXd b = Eigen::VectorXd::Constant(3, 3.0);
    Eigen::VectorXd out;
    const std::vector<const Eigen::VectorXd*> got{&b};
    MixModels(0, neighbours[0], rows[0], a, got, out);
    CHECK(out[0] == doctest::Approx(2.0));
    const std::vector<const Eigen::VectorXd*> lost{nullptr};
    MixModels(0, neighbours[0], rows[0], a, lost, out);
    CHECK(out[0] == 1.0);
  }

  TEST_CASE("asymmetric or malformed neighbour lists are rejected") {
    CHECK_THROWS_AS(MetropolisHastingsWeights(std::vector<std::vector<std::size_t>>{{1}, {}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(MetropolisHastingsWeights(std::vector<std::vector<std::size_t>>{{0}}),
                    std::invalid_argument);
    CHECK_THROWS_AS(MetropolisHastingsWeights(std::vector<std::vector<std::size_t>>{{2}, {}}),
                    std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::meta
