#include "meta/evaluation.h"

#include <doctest/doctest.h>

#include <cmath>
#include <random>

#include "meta/contribution.h"
#include "tests/meta/toy_tasks.h"

namespace metajoule::meta {
namespace {

TEST_SUITE("meta/evaluation") {
  TEST_CASE("EvaluateAdaptation reports S + 1 returns, deterministically, for any thread count") {
    const auto policy = test::PointPolicy(2);
    MetaConfig config;
    config.eval.adaptation_steps = 3;
    config.eval.episodes = 5;
    std::mt19937_64 rng(1);
    const Eigen::VectorXd theta = InitialMetaParams(config, policy, 0.0, rng);
    const auto run = [&](ThreadPool* pool) {
      test::PointTasks tasks(4, 2, 10, 3);
      return EvaluateAdaptation("maml", config, policy, theta, tasks.tasks, 9, pool);
    };
    const AdaptationCurve a = run(nullptr);
    CHECK(a.name == "maml");
    REQUIRE(a.mean_return.size() == 4);
    CHECK(a.std_error.size() == 4);
    CHECK(a.work.episodes == 4 * 4 * 5);
    CHECK(a.work.env_steps == 4 * 4 * 5 * 10);
    CHECK(a.failed_steps == 0);
    ThreadPool pool(2);
    const AdaptationCurve b = run(&pool);
    CHECK(a.mean_return == b.mean_return);
    CHECK(a.std_error == b.std_error);
    // a Meta-SGD model (2 P entries) adapts with its own rates; wrong sizes throw
    config.learn_inner_lr = true;
    Eigen::VectorXd meta_sgd(2 * policy.num_params());
    meta_sgd << theta, Eigen::VectorXd::Constant(policy.num_params(), config.inner_lr);
    test::PointTasks tasks(4, 2, 10, 3);
    const AdaptationCurve c = EvaluateAdaptation("meta-sgd", config, policy, meta_sgd, tasks.tasks, 9);
    CHECK(c.mean_return == a.mean_return);
    CHECK_THROWS_AS(EvaluateAdaptation("x", config, policy, Eigen::VectorXd::Zero(5), tasks.tasks, 9),
                    std::invalid_argument);
  }

  TEST_CASE("the table formats every row and computes the closed gap") {
    EvaluationTable table;
    table.adaptation_steps = 2;
    table.num_tasks = 3;
    table.rows.push_back({"scratch", {-30.0, -28.0, -26.0}, {1.0, 1.0, 1.0}, {}, 0});
    table.rows.push_back({"maml", {-25.0, -15.0, -12.0}, {1.0, 1.0, 1.0}, {}, 0});
    table.rows.push_back({"oracle", {-10.0, -10.0, -10.0}, {0.5, 0.5, 0.5}, {}, 0});
    CHECK(table.GapClosed("maml", 1) == doctest::Approx(0.75));
    CHECK(table.GapClosed("maml", 2) == doctest::Approx(0.9));
    CHECK(std::isnan(table.GapClosed("reptile", 1)));
    CHECK(std::isnan(table.GapClosed("maml", 5)));
    const std::string text = table.Format();
    CHECK(text.find("| method | 0 steps | 1 step | 2 steps |") != std::string::npos);
    CHECK(text.find("| maml | -25.00 ± 1.00 | -15.00 ± 1.00 | -12.00 ± 1.00 |") !=
          std::string::npos);
    CHECK(text.find("3 held-out tasks") != std::string::npos);
    CHECK(table.Find("oracle") != nullptr);
    CHECK(table.Find("nope") == nullptr);
  }
}

}  // namespace
}  // namespace metajoule::meta
