#include "meta/trainer.h"

#include <doctest/doctest.h>

#include <random>

#include "meta/evaluation.h"
#include "tests/meta/toy_tasks.h"

namespace metajoule::meta {
namespace {

constexpr int kHorizon = 10;

MetaConfig SmallConfig(MetaMethod method) {
  MetaConfig config;
  config.method = method;
  config.iterations = 4;
  config.meta_batch = 3;
  config.inner_episodes = 4;
  config.outer_episodes = 4;
  config.outer_lr = 0.02;
  return config;
}

Eigen::VectorXd Init(const MetaConfig& config, const agents::GaussianMlpPolicy& policy) {
  std::mt19937_64 rng(1);
  return InitialMetaParams(config, policy, 0.0, rng);
}

TEST_SUITE("meta/trainer") {
  TEST_CASE("same seed gives identical phi, a different seed a different one, any thread count") {
    const auto policy = test::PointPolicy(2);
    for (const MetaMethod method : {MetaMethod::kMaml, MetaMethod::kReptile}) {
      CAPTURE(MetaMethodName(method));
      MetaConfig config = SmallConfig(method);
      config.learn_inner_lr = method == MetaMethod::kMaml;
      const Eigen::VectorXd phi0 = Init(config, policy);
      const auto train = [&](std::uint64_t seed, ThreadPool* pool) {
        test::PointTasks tasks(5, 2, kHorizon, 21);
        return TrainMetaModel(config, policy, phi0, tasks.tasks, seed, pool);
      };
      const TrainingResult a = train(7, nullptr);
      CHECK(a.status == TrainingStatus::kCompleted);
      CHECK(a.history.size() == 4);
      CHECK(a.meta_params != phi0);
      CHECK(a.meta_params == train(7, nullptr).meta_params);
      CHECK(a.meta_params != train(8, nullptr).meta_params);
      ThreadPool pool(2);
      const TrainingResult threaded = train(7, &pool);
      CHECK(a.meta_params == threaded.meta_params);
      CHECK(a.work == threaded.work);
      for (const auto& record : a.history) {
        CHECK(record.tasks.size() == 3);
        CHECK(std::is_sorted(record.tasks.begin(), record.tasks.end()));
        CHECK(record.update.ok());
      }
      CHECK(a.history[0].tasks != a.history[1].tasks);
    }
  }

  TEST_CASE("scratch returns the initial parameters and does no work") {
    const auto policy = test::PointPolicy(1);
    test::PointTasks tasks(2, 1, kHorizon, 3);
    const MetaConfig config = SmallConfig(MetaMethod::kScratch);
    const Eigen::VectorXd phi0 = Init(config, policy);
    const TrainingResult result = TrainMetaModel(config, policy, phi0, tasks.tasks, 1);
    CHECK(result.meta_params == phi0);
    CHECK(result.history.empty());
    CHECK(result.work == WorkCounts{});
  }

  TEST_CASE("a broken task's contributions are rejected and training continues or stops") {
    const auto policy = test::PointPolicy(1);
    test::PointTasks tasks(2, 1, kHorizon, 3);
    test::PointGoalEnv broken(Eigen::VectorXd::Constant(1, 0.1), true);
    tasks.tasks.push_back({&broken, kHorizon, {}});
    MetaConfig config = SmallConfig(MetaMethod::kMaml);
    const Eigen::VectorXd phi0 = Init(config, policy);
    const TrainingResult mixed = TrainMetaModel(config, policy, phi0, tasks.tasks, 2);
    CHECK(mixed.status == TrainingStatus::kCompleted);
    for (const auto& record : mixed.history) {
      CHECK(record.update.ok());
      CHECK(record.update.rejected == 1);
      CHECK(record.update.message.find("non-finite input") != std::string::npos);
    }
    CHECK(mixed.meta_params.allFinite());

    std::vector<TaskEnv> only_broken{{&broken, kHorizon, {}}};
    config.max_rejected_steps = 2;
    const TrainingResult stopped = TrainMetaModel(config, policy, phi0, only_broken, 2);
    CHECK(stopped.status == TrainingStatus::kDiverged);
    CHECK(stopped.history.size() == 2);
    CHECK(stopped.rejected_updates == 2);
    CHECK(stopped.meta_params == phi0);
    CHECK(stopped.message.find("consecutive") != std::string::npos);
  }

  TEST_CASE("per-cluster training gives one model per cluster, global one shared model") {
    const auto policy = test::PointPolicy(1);
    test::PointTasks left(3, 1, kHorizon, 4, -0.5, -0.2);
    test::PointTasks right(3, 1, kHorizon, 5, 0.2, 0.5);
    std::vector<std::vector<TaskEnv>> clusters{left.tasks, right.tasks};
    MetaConfig config = SmallConfig(MetaMethod::kFomaml);
    config.iterations = 2;
    const Eigen::VectorXd phi0 = Init(config, policy);
    const auto per_cluster = TrainClusterModels(config, policy, phi0, clusters, 3);
    REQUIRE(per_cluster.size() == 2);
    CHECK(per_cluster[0].meta_params != per_cluster[1].meta_params);
    config.per_cluster = false;
    const auto global = TrainClusterModels(config, policy, phi0, clusters, 3);
    REQUIRE(global.size() == 2);
    CHECK(global[0].meta_params == global[1].meta_params);
  }

  TEST_CASE("MAML on 1-D point goals adapts better after one step than random init") {
    const auto policy = test::PointPolicy(1, {16});
    test::PointTasks train(20, 1, kHorizon, 31);
    test::PointTasks held_out(8, 1, kHorizon, 32);
    MetaConfig config;
    config.iterations = 30;
    config.meta_batch = 10;
    config.inner_episodes = 10;
    config.outer_episodes = 10;
    config.inner_lr = 0.1;
    config.outer_lr = 0.02;
    config.eval.adaptation_steps = 1;
    config.eval.episodes = 10;
    const Eigen::VectorXd phi0 = Init(config, policy);
    const TrainingResult trained = TrainMetaModel(config, policy, phi0, train.tasks, 4);
    REQUIRE(trained.status == TrainingStatus::kCompleted);
    const AdaptationCurve maml =
        EvaluateAdaptation("maml", config, policy, trained.meta_params, held_out.tasks, 5);
    const AdaptationCurve scratch =
        EvaluateAdaptation("scratch", config, policy, phi0, held_out.tasks, 5);
    MESSAGE("1-step return: maml " << maml.mean_return[1] << ", scratch "
                                   << scratch.mean_return[1]);
    CHECK(maml.mean_return[1] > scratch.mean_return[1]);
    CHECK(maml.mean_return[1] > maml.mean_return[0]);
  }

  TEST_CASE("the oracle improves the return on its task") {
    const auto policy = test::PointPolicy(1);
    test::PointTasks tasks(1, 1, kHorizon, 6, 0.4, 0.5);
    MetaConfig config;
    config.eval.oracle_iterations = 40;
    config.eval.oracle_episodes = 10;
    config.eval.oracle_lr = 0.03;
    config.eval.adaptation_steps = 2;
    const Eigen::VectorXd theta = Init(config, policy);
    const AdaptationCurve oracle = EvaluateOracle(config, policy, theta, tasks.tasks, 1);
    const AdaptationCurve start = EvaluateAdaptation("init", config, policy, theta, tasks.tasks, 1);
    CHECK(oracle.mean_return.size() == 3);
    CHECK(oracle.mean_return[0] == oracle.mean_return[2]);
    CHECK(oracle.mean_return[0] > start.mean_return[0] + 0.5);
    CHECK(oracle.work.episodes == 40 * 10 + 20);
  }
}

}  // namespace
}  // namespace metajoule::meta
