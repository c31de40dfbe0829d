#include "sim/benchmark.h"

#include <stdexcept>

#include <doctest/doctest.h>

namespace metajoule::sim {
namespace {

TEST_SUITE("sim/benchmark") {
  TEST_CASE("a short benchmark measures both loops and reports the mjData size") {
    ThreadPool pool(1);
    const SimBenchResult result = BenchmarkSim("reach2d", pool, 0.02, 1);
    CHECK(result.family == "reach2d");
    CHECK(result.threads == 1);
    CHECK(result.frame_skip == 2);
    CHECK(result.env_mj_steps_per_second > 0.0);
    CHECK(result.raw_mj_steps_per_second > 0.0);
    CHECK(result.ratio == doctest::Approx(result.env_mj_steps_per_second /
                                          result.raw_mj_steps_per_second));
    CHECK(result.cpu_ratio > 0.0);
    CHECK(result.data_bytes > 0);
    CHECK(result.data_bytes <= 1024 * 1024);
  }

  TEST_CASE("the kinematic nav2d family and bad durations are rejected") {
    ThreadPool pool(1);
    CHECK_THROWS_AS(BenchmarkSim("nav2d", pool, 0.01, 1), std::invalid_argument);
    CHECK_THROWS_AS(BenchmarkSim("reach2d", pool, 0.0, 1), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::sim
