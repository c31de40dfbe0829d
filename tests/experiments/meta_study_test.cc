#include "experiments/meta_study.h"

#include <doctest/doctest.h>

#include <iostream>

namespace metajoule::experiments {
namespace {

// a few seconds: the whole pipeline on nav2d with tiny counts
MetaStudyConfig TinyStudy() {
  MetaStudyConfig config = Nav2dStudy();
  config.train_tasks = 4;
  config.test_tasks = 2;
  config.hidden_sizes = {8};
  config.env.horizon = 20;
  config.meta.iterations = 2;
  config.meta.meta_batch = 2;
  config.meta.inner_episodes = 3;
  config.meta.outer_episodes = 3;
  config.meta.eval.adaptation_steps = 2;
  config.meta.eval.episodes = 3;
  config.meta.eval.oracle_iterations = 2;
  config.meta.eval.oracle_episodes = 3;
  config.threads = 2;
  return config;
}

TEST_SUITE("experiments/meta_study") {
  TEST_CASE("a tiny nav2d study fills every row deterministically") {
    const MetaStudyResult a = RunMetaStudy(TinyStudy());
    REQUIRE(a.table.rows.size() == 6);
    for (const auto& row : a.table.rows) {
      CAPTURE(row.name);
      CHECK(row.mean_return.size() == 3);
      CHECK(row.work.sim_steps > 0);
    }
    for (const auto& run : a.runs) CHECK(run.training.work.sim_steps == run.training.work.env_steps);
    MetaStudyConfig one_thread = TinyStudy();
    one_thread.threads = 1;
    const MetaStudyResult b = RunMetaStudy(one_thread);
    for (std::size_t i = 0; i < a.table.rows.size(); ++i) {
      CHECK(a.table.rows[i].mean_return == b.table.rows[i].mean_return);
    }
    const std::string text = FormatMetaStudy(a);
    CHECK(text.find("| maml |") != std::string::npos);
    CHECK(text.find("gap closed") != std::string::npos);
    const auto bench = RunMetaStudyBenchmark(TinyStudy(), 1);
    CHECK(bench.size() == 4);
  }
}

TEST_SUITE("slow") {
  TEST_CASE("meta study: nav2d (Finn et al. 2017 2-D navigation)") {
    const MetaStudyResult result = RunMetaStudy(Nav2dStudy(), &std::cout);
    std::cout << FormatMetaStudy(result) << std::endl;
    CHECK(result.table.GapClosed("maml", 3) >= 0.8);
    CHECK(result.table.Find("maml")->mean_return[1] > result.table.Find("pretrained")->mean_return[1]);
    CHECK(result.table.Find("maml")->mean_return[1] > result.table.Find("scratch")->mean_return[1]);
  }

  // issue 4's reach2d targets are NOT met (docs/meta.md "Measured results"): MAML closes 79 %
  // of the gap within three steps (target 80 %) and is 0.39 behind pretrained after one step
  // (within the standard errors); the variants tried since (20 held-out tasks, 2 inner steps,
  // 64x64, goals in every direction, inner lr 0.3) are in docs/meta.md. This case pins what was
  // measured, so that a regression shows.
  TEST_CASE("meta study: reach2d cluster") {
    const MetaStudyResult result = RunMetaStudy(Reach2dStudy(), &std::cout);
    std::cout << FormatMetaStudy(result) << std::endl;
    CHECK(result.table.GapClosed("maml", 3) >= 0.75);
    CHECK(result.table.Find("maml")->mean_return[1] > result.table.Find("scratch")->mean_return[1]);
  }

  TEST_CASE("meta benchmark on nav2d and reach2d") {
    for (MetaStudyConfig config : {Nav2dStudy(), Reach2dStudy()}) {
      const auto rows = RunMetaStudyBenchmark(config, 2);
      std::cout << config.task.family << "\n" << FormatMetaBenchmark(rows) << std::endl;
    }
  }
}

}  // namespace
}  // namespace metajoule::experiments
