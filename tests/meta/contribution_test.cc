#include "meta/contribution.h"

#include <doctest/doctest.h>

#include <limits>
#include <random>

#include "agents/math/losses.h"
#include "meta/task_sampler.h"
#include "tests/meta/toy_tasks.h"
#include "tests/support/finite_diff.h"
#include "tests/support/tolerances.h"

namespace metajoule::meta {
namespace {

constexpr int kHorizon = 8;

MetaConfig SmallConfig(MetaMethod method) {
  MetaConfig config;
  config.method = method;
  config.inner_episodes = 4;
  config.outer_episodes = 3;
  config.inner_lr = 0.2;
  return config;
}

Eigen::VectorXd Init(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                     std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return InitialMetaParams(config, policy, 0.0, rng);
}

Contribution Run(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                 const Eigen::VectorXd& phi, meta::TaskEnv& task, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  return ComputeContribution(config, policy, phi, task, rng);
}

TEST_SUITE("meta/contribution") {
  TEST_CASE("every method returns a vector of the meta-parameter size and its work") {
    const auto policy = test::PointPolicy(2);
    const Eigen::Index p = policy.num_params();
    test::PointTasks tasks(1, 2, kHorizon, 3);
    for (const MetaMethod method : {MetaMethod::kMaml, MetaMethod::kFomaml, MetaMethod::kReptile,
                                    MetaMethod::kPretrained, MetaMethod::kFedAvg}) {
      CAPTURE(MetaMethodName(method));
      MetaConfig config = SmallConfig(method);
      config.inner_steps = 2;
      const Eigen::VectorXd phi = Init(config, policy, 1);
      const std::int64_t before = tasks.envs[0]->steps();
      const Contribution c = Run(config, policy, phi, tasks.tasks[0], 7);
      REQUIRE(c.ok());
      CHECK(c.method == method);
      CHECK(c.vector.size() == p);
      CHECK(c.vector.allFinite());
      CHECK(std::isfinite(c.pre_adaptation_return));
      const bool maml = method == MetaMethod::kMaml || method == MetaMethod::kFomaml;
      const int episodes = method == MetaMethod::kPretrained ? 4 : maml ? 2 * 4 + 3 : 2 * 4;
      CHECK(c.work.episodes == episodes);
      CHECK(c.work.env_steps == episodes * kHorizon);
      CHECK(c.work.sim_steps == tasks.envs[0]->steps() - before);
      CHECK(c.work.policy_flops > 0);
      CHECK(c.timing.sampling_seconds > 0.0);
      if (maml) CHECK(std::isfinite(c.post_adaptation_return));
      if (method == MetaMethod::kFedAvg) CHECK(c.weight == episodes);
    }
  }

  TEST_CASE("Meta-SGD sends the gradients of theta and of the per-parameter rates") {
    const auto policy = test::PointPolicy(2);
    test::PointTasks tasks(1, 2, kHorizon, 3);
    MetaConfig config = SmallConfig(MetaMethod::kMaml);
    config.learn_inner_lr = true;
    const Eigen::VectorXd phi = Init(config, policy, 1);
    REQUIRE(phi.size() == 2 * policy.num_params());
    CHECK(phi.tail(policy.num_params()).isConstant(config.inner_lr));
    const Contribution c = Run(config, policy, phi, tasks.tasks[0], 7);
    REQUIRE(c.ok());
    CHECK(c.vector.size() == 2 * policy.num_params());
    // with equal rates the theta part equals plain MAML's on the same stream
    MetaConfig plain = SmallConfig(MetaMethod::kMaml);
    const Contribution m = Run(plain, policy, phi.head(policy.num_params()), tasks.tasks[0], 7);
    CHECK(test::RelativeError(c.vector.head(policy.num_params()), m.vector) <= 1e-12);
  }

  TEST_CASE("one Reptile step is minus the inner rate times the gradient at theta") {
    const auto policy = test::PointPolicy(1);
    test::PointTasks tasks(1, 1, kHorizon, 4);
    const MetaConfig reptile = SmallConfig(MetaMethod::kReptile);
    const Eigen::VectorXd phi = Init(reptile, policy, 2);
    const Contribution r = Run(reptile, policy, phi, tasks.tasks[0], 9);
    const Contribution g = Run(SmallConfig(MetaMethod::kPretrained), policy, phi, tasks.tasks[0], 9);
    const Contribution f = Run(SmallConfig(MetaMethod::kFedAvg), policy, phi, tasks.tasks[0], 9);
    REQUIRE((r.ok() && g.ok() && f.ok()));
    // same stream -> same batch: theta' - theta = -alpha grad L(theta), and FedAvg's theta'
    CHECK(test::RelativeError(r.vector, -reptile.inner_lr * g.vector) <= test::kExactTol);
    CHECK(test::RelativeError(f.vector, phi + r.vector) <= test::kExactTol);
    CHECK(r.pre_adaptation_return == g.pre_adaptation_return);
  }

  TEST_CASE("MAML minus FOMAML is -alpha H_in(theta) times the FOMAML vector on the same batches") {
    const auto policy = test::PointPolicy(2);
    test::PointTasks tasks(1, 2, kHorizon, 5);
    const MetaConfig maml = SmallConfig(MetaMethod::kMaml);
    const Eigen::VectorXd phi = Init(maml, policy, 3);
    const Contribution second = Run(maml, policy, phi, tasks.tasks[0], 11);
    const Contribution first = Run(SmallConfig(MetaMethod::kFomaml), policy, phi, tasks.tasks[0], 11);
    REQUIRE((second.ok() && first.ok()));
    CHECK(second.pre_adaptation_return == first.pre_adaptation_return);
    // rebuild the inner batch D_0 from the same stream
    std::mt19937_64 rng(11);
    TaskSampler sampler(policy, maml.advantage, tasks.tasks[0], 4, rng);
    LossBatch inner;
    double mean_return = 0.0;
    std::string message;
    double seconds = 0.0;
    REQUIRE(sampler.Sample(phi, 4, rng, inner, mean_return, message, seconds) ==
            agents::UpdateStatus::kOk);
    CHECK(mean_return == first.pre_adaptation_return);
    Eigen::VectorXd grad(phi.size());
    Eigen::VectorXd hvp(phi.size());
    agents::PolicyGradientLossHvp(policy, phi, inner.obs, inner.actions, inner.advantages,
                                  maml.inner_lr * first.vector, sampler.loss_workspace(), grad,
                                  hvp);
    CHECK(test::RelativeError(second.vector, first.vector - hvp) <= 1e-10);
    CHECK(test::RelativeError(second.vector, first.vector) > 1e-6);
  }

  TEST_CASE("non-finite parameters or rewards give a failed status, not a throw") {
    const auto policy = test::PointPolicy(1);
    test::PointTasks tasks(1, 1, kHorizon, 4);
    Eigen::VectorXd phi = Init(SmallConfig(MetaMethod::kMaml), policy, 2);
    phi(0) = std::numeric_limits<double>::quiet_NaN();
    for (const MetaMethod method : {MetaMethod::kMaml, MetaMethod::kReptile,
                                    MetaMethod::kPretrained, MetaMethod::kFedAvg}) {
      const Contribution c = Run(SmallConfig(method), policy, phi, tasks.tasks[0], 1);
      CHECK(c.status == agents::UpdateStatus::kNonFiniteParams);
      CHECK(c.vector.size() == 0);
      CHECK_FALSE(c.message.empty());
    }
    test::PointGoalEnv broken(Eigen::VectorXd::Constant(1, 0.2), true);
    TaskEnv task{&broken, kHorizon, {}};
    const Contribution c =
        Run(SmallConfig(MetaMethod::kMaml), policy, Init(SmallConfig(MetaMethod::kMaml), policy, 2),
            task, 1);
    CHECK(c.status == agents::UpdateStatus::kNonFiniteInput);
    CHECK(c.work.sim_steps == 0);
    CHECK(c.work.env_steps == 4 * kHorizon);
  }

  TEST_CASE("bad arguments throw: scratch, wrong sizes, null or mismatched env") {
    const auto policy = test::PointPolicy(1);
    test::PointTasks tasks(1, 1, kHorizon, 4);
    const MetaConfig maml = SmallConfig(MetaMethod::kMaml);
    const Eigen::VectorXd phi = Init(maml, policy, 2);
    CHECK_THROWS_AS(Run(SmallConfig(MetaMethod::kScratch), policy, phi, tasks.tasks[0], 1),
                    std::invalid_argument);
    CHECK_THROWS_AS(Run(maml, policy, Eigen::VectorXd::Zero(3), tasks.tasks[0], 1),
                    std::invalid_argument);
    TaskEnv null_task{};
    CHECK_THROWS_AS(Run(maml, policy, phi, null_task, 1), std::invalid_argument);
    test::PointTasks planar(1, 2, kHorizon, 4);
    CHECK_THROWS_AS(Run(maml, policy, phi, planar.tasks[0], 1), std::invalid_argument);
    MetaConfig invalid = maml;
    invalid.inner_lr = -1.0;
    CHECK_THROWS_AS(Run(invalid, policy, phi, tasks.tasks[0], 1), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::meta
