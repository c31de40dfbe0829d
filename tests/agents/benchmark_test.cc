#include "agents/benchmark.h"

#include <doctest/doctest.h>

namespace metajoule::agents {
namespace {

TEST_SUITE("agents/benchmark") {
  TEST_CASE("RunMlpBenchmark reports float and double rows for every batch") {
    MlpBenchmarkConfig config;
    config.layer_sizes = {3, 8, 2};
    config.batches = {1, 4};
    config.min_seconds = 1e-4;
    config.repetitions = 1;
    const auto rows = RunMlpBenchmark(config);
    REQUIRE(rows.size() == 4);
    CHECK(rows[0].scalar == "float");
    CHECK(rows[1].scalar == "double");
    CHECK(rows[3].batch == 4);
    for (const auto& row : rows) {
      CHECK(row.ours_ns_per_sample > 0.0);
      CHECK(row.reference_ns_per_sample > 0.0);
    }
    CHECK(FormatMlpBenchmark(rows).find("| double | 4 |") != std::string::npos);
  }
}

}  // namespace
}  // namespace metajoule::agents
