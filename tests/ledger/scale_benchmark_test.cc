#include "ledger/scale_benchmark.h"

#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

#include "ledger/queries.h"
#include "tests/support/temp_dir.h"

namespace metajoule::ledger {
namespace {

TEST_SUITE("ledger/scale_benchmark") {
  TEST_CASE("a small generated ledger gives the same figures from the totals and from the rows") {
    test::TempDir dir;
    LedgerScaleOptions options;
    options.directory = dir.path().string();
    options.agents = 70;  // three clusters, one partly filled
    options.rounds = 6;
    options.batch_size = 100;  // many batches: keys span commits
    options.repeats = 1;
    const LedgerScaleResult result = RunLedgerScaleBenchmark(options);
    CHECK(result.events == 6 * (2 * 70 + 2));
    CHECK(result.evaluations == 6 * 70 * 2);
    CHECK(result.rows_per_s > 0.0);
    REQUIRE(result.queries.size() == 6);
    for (const QueryTiming& query : result.queries) {
      CAPTURE(query.name);
      CHECK(query.same_figures);
      CHECK(query.totals_ms >= 0.0);
      CHECK_FALSE(query.totals_plan.empty());
    }
    const std::string report = FormatLedgerScaleBenchmark(result);
    CHECK(report.find("QueryEnergyToTarget") != std::string::npos);
    CHECK(report.find("met") != std::string::npos);
  }

  TEST_CASE("the totals path of every summary query searches a primary key and never scans rows") {
    test::TempDir dir;
    LedgerScaleOptions options;
    options.directory = dir.path().string();
    options.keep_files = true;
    options.agents = 40;
    options.rounds = 3;
    options.repeats = 1;
    RunLedgerScaleBenchmark(options);
    const LedgerStore store(dir.File("ledger.sqlite"), {}, OpenMode::kReadOnly);
    REQUIRE(store.has_totals());
    const auto check_plans = [&](const char* what, const std::function<void()>& call) {
      CAPTURE(what);
      const std::vector<StatementPlan> plans = QueryPlans(store, call);
      REQUIRE_FALSE(plans.empty());
      for (const StatementPlan& statement : plans) {
        CAPTURE(statement.sql);
        REQUIRE_FALSE(statement.plan.empty());
        for (const std::string& detail : statement.plan) {
          CAPTURE(detail);
          CHECK(detail.find("SCAN") == std::string::npos);
          CHECK(detail.find("events") == std::string::npos);
          CHECK(detail.find("evaluations ") == std::string::npos);
        }
        CHECK(statement.plan.front().find("USING PRIMARY KEY") != std::string::npos);
      }
    };
    const SummarySource totals = SummarySource::kTotals;
    check_plans("breakdown", [&] { QueryBreakdown(store, 1, totals); });
    check_plans("phases", [&] { QueryEnergyByPhase(store, 1, totals); });
    check_plans("locations", [&] { QueryCarbonByLocation(store, 1, totals); });
    check_plans("rounds", [&] { QueryEnergyByRound(store, 1, totals); });
    check_plans("returns", [&] { QueryReturns(store, 1, "maml", 1, totals); });
    check_plans("target", [&] { QueryEnergyToTarget(store, 1, -10.0, {}, totals); });
    // and the rows path does read the rows: the baseline the benchmark compares against
    const std::vector<StatementPlan> scan =
        QueryPlans(store, [&] { QueryBreakdown(store, 1, SummarySource::kRows); });
    REQUIRE(scan.size() == 1);
    CHECK(scan.front().plan.front().find("SCAN events") != std::string::npos);
  }

  TEST_CASE("the benchmark refuses empty sizes") {
    LedgerScaleOptions options;
    options.agents = 0;
    CHECK_THROWS_AS(RunLedgerScaleBenchmark(options), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::ledger
