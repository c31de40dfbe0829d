#include "experiments/scale_bench.h"

#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

namespace metajoule::experiments {
namespace {

TEST_SUITE("experiments/scale_bench") {
  TEST_CASE("the benchmark splits agents into clusters of cluster_size on the chosen family") {
    ScaleBenchOptions options;
    options.cluster_size = 32;
    const ExperimentConfig config = ScaleBenchConfig(options, "fomaml", 70, "out");
    REQUIRE(config.clusters.size() == 3);
    CHECK(config.clusters[0].agents == 32);
    CHECK(config.clusters[2].agents == 6);
    CHECK(config.clusters[2].task.family == "reach2d");
    CHECK(config.experiment.methods == std::vector<std::string>{"fomaml"});
    CHECK(config.meta.config.inner_episodes == options.episodes);
    CHECK(config.agents.episodes_per_update == options.episodes);
  }

  TEST_CASE("bad benchmark options are refused before anything runs") {
    ScaleBenchOptions options;
    options.rounds = 1;
    CHECK_THROWS_AS(RunScaleBenchmark(options), std::invalid_argument);
    options = {};
    options.methods = {"nonsense"};
    CHECK_THROWS_AS(RunScaleBenchmark(options), std::invalid_argument);
    options = {};
    options.agents = {0};
    CHECK_THROWS_AS(RunScaleBenchmark(options), std::invalid_argument);
  }

  TEST_CASE("each run reports its round time, memory and threads from a child process") {
    test::TempDir dir;
    ScaleBenchOptions options;
    options.agents = {4, 2};  // run in ascending order whatever the order given
    options.methods = {"scratch", "fomaml"};
    options.rounds = 2;
    options.episodes = 1;
    options.threads = 1;
    options.directory = dir.path().string();
    const std::vector<ScaleBenchRow> rows = RunScaleBenchmark(options);
    REQUIRE(rows.size() == 4);
    CHECK(rows[0].method == "scratch");
    CHECK(rows[0].agents == 2);
    CHECK(rows[1].agents == 4);
    CHECK(rows[2].method == "fomaml");
    for (const ScaleBenchRow& row : rows) {
      CAPTURE(row.method);
      CAPTURE(row.agents);
      CHECK(row.timed_rounds == 1);
      CHECK(row.round_seconds > 0.0);
      CHECK(row.per_agent_ms == doctest::Approx(1e3 * row.round_seconds / row.agents));
      CHECK(row.cpu_per_agent_ms > 0.0);
      CHECK(row.pool_threads == 1);
      CHECK(row.process_threads >= 1);
      CHECK(row.rss_training_mb > 0.0);
      CHECK(row.peak_mb >= row.rss_training_mb);
    }
    CHECK(rows[0].ratio_to_first == 1.0);
    CHECK(rows[2].ratio_to_first == 1.0);
    const std::string table = FormatScaleBenchmark(options, rows);
    CHECK(table.find("targets (issue #9)") != std::string::npos);
  }
}

}  // namespace
}  // namespace metajoule::experiments
