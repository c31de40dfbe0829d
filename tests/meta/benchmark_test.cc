#include "meta/benchmark.h"

#include <doctest/doctest.h>

#include <random>

#include "meta/contribution.h"
#include "tests/meta/toy_tasks.h"

namespace metajoule::meta {
namespace {

TEST_SUITE("meta/benchmark") {
  TEST_CASE("the benchmark splits an iteration into phases that add up") {
    const auto policy = test::PointPolicy(2);
    test::PointTasks tasks(3, 2, 10, 1);
    MetaConfig config;
    config.meta_batch = 3;
    config.inner_episodes = 4;
    config.outer_episodes = 4;
    std::mt19937_64 rng(1);
    const Eigen::VectorXd phi = InitialMetaParams(config, policy, 0.0, rng);
    const MetaBenchmarkResult r = BenchmarkMetaIteration(config, policy, phi, tasks.tasks, 2, 3);
    CHECK(r.iterations == 2);
    CHECK(r.tasks_per_iteration == 3);
    CHECK(r.work.env_steps == 3 * 8 * 10);
    CHECK(r.sampling_seconds > 0.0);
    CHECK(r.outer_seconds > 0.0);
    CHECK(r.sampling_fraction() > 0.0);
    CHECK(r.sampling_fraction() < 1.0);
    CHECK(r.total_seconds() <= r.wall_seconds * 1.01);
    CHECK(r.sampling_cpu_seconds > 0.0);
    CHECK(r.sampling_cpu_seconds <= r.cpu_seconds);
    CHECK(r.sampling_cpu_fraction() < 1.0);
    // iteration 2 alone, without the first iteration's setup
    CHECK(r.steady_cpu_seconds > 0.0);
    CHECK(r.steady_sampling_cpu_seconds > 0.0);
    CHECK(r.steady_sampling_cpu_seconds <= r.steady_cpu_seconds);
    // iteration 1 (steady + extra) and iteration 2 (steady) fit in the whole run's CPU
    CHECK(r.steady_cpu_seconds + r.first_iteration_extra_cpu_seconds <=
          2.0 * r.cpu_seconds - r.steady_cpu_seconds + 1e-9);
    const MetaBenchmarkResult one = BenchmarkMetaIteration(config, policy, phi, tasks.tasks, 1, 3);
    CHECK(one.steady_cpu_seconds == one.cpu_seconds);
    CHECK(one.steady_sampling_cpu_seconds == one.sampling_cpu_seconds);
    CHECK(one.first_iteration_extra_cpu_seconds == 0.0);
    const std::vector<MetaBenchmarkResult> rows{r};
    CHECK(FormatMetaBenchmark(rows).find("| maml | 3 | 240 |") != std::string::npos);
    config.method = MetaMethod::kScratch;
    CHECK_THROWS_AS(BenchmarkMetaIteration(config, policy, phi, tasks.tasks, 2, 3),
                    std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::meta
