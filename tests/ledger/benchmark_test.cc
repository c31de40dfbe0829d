#include "ledger/benchmark.h"

#include <filesystem>
#include <stdexcept>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

namespace metajoule::ledger {
namespace {

TEST_SUITE("ledger/benchmark") {
  TEST_CASE("a small benchmark runs end to end and reports positive figures") {
    test::TempDir dir;
    LedgerBenchmarkOptions options;
    options.directory = dir.path().string();
    options.nodes = 20;
    options.rounds = 10;
    options.batch_size = 64;
    const LedgerBenchmarkResult result = RunLedgerBenchmark(options);
    CHECK(result.events == 400);
    CHECK(result.ledger_events_per_s > 0.0);
    CHECK(result.raw_events_per_s > 0.0);
    CHECK(result.overhead > 0.0);
    CHECK(result.database_bytes > 0);
    CHECK(FormatBenchmark(result).find("events/s") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.path() / "ledger.sqlite"));
    options.nodes = 0;
    CHECK_THROWS_AS(RunLedgerBenchmark(options), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::ledger
