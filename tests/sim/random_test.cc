#include "sim/random.h"

#include <cmath>
#include <set>

#include <doctest/doctest.h>

namespace metajoule::sim {
namespace {

TEST_SUITE("sim/random") {
  TEST_CASE("derived seeds differ across streams and bases") {
    std::set<std::uint64_t> seeds;
    for (std::uint64_t base = 0; base < 10; ++base) {
      for (std::uint64_t stream = 0; stream < 10; ++stream) seeds.insert(DeriveSeed(base, stream));
    }
    CHECK(seeds.size() == 100);
    CHECK(DeriveSeed(3, 4) == DeriveSeed(3, 4));
  }

  TEST_CASE("uniform draws stay in the half-open interval and a degenerate interval still consumes a draw") {
    std::mt19937_64 a(5), b(5);
    for (int i = 0; i < 1000; ++i) {
      const double u = UniformDouble(a, -0.5, 0.25);
      CHECK(u >= -0.5);
      CHECK(u < 0.25);
    }
    std::mt19937_64 c(9), d(9);
    CHECK(UniformDouble(c, 2.0, 2.0) == 2.0);
    d();
    CHECK(c() == d());
  }

  TEST_CASE("standard normal samples have mean near 0 and variance near 1") {
    std::mt19937_64 rng(1);
    double sum = 0.0, sum_sq = 0.0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) {
      const double x = StandardNormal(rng);
      sum += x;
      sum_sq += x * x;
    }
    CHECK(std::abs(sum / n) < 0.03);
    CHECK(sum_sq / n == doctest::Approx(1.0).epsilon(0.03));
  }
}

}  // namespace
}  // namespace metajoule::sim
