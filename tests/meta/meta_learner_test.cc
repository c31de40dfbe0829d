#include "meta/meta_learner.h"

#include <doctest/doctest.h>

#include <limits>

#include "tests/meta/toy_tasks.h"
#include "tests/support/tolerances.h"

namespace metajoule::meta {
namespace {

Contribution Make(Eigen::VectorXd v, double weight = 1.0) {
  Contribution c;
  c.vector = std::move(v);
  c.weight = weight;
  return c;
}

MetaConfig Config(MetaMethod method) {
  MetaConfig config;
  config.method = method;
  config.outer_optimizer = agents::OptimizerKind::kSgd;
  config.outer_lr = 0.5;
  config.reptile_epsilon = 0.25;
  return config;
}

TEST_SUITE("meta/meta_learner") {
  TEST_CASE("AggregateContributions averages in order, weighting FedAvg models") {
    std::vector<Contribution> cs{Make(Eigen::Vector2d(1, 2), 1.0), Make(Eigen::Vector2d(3, 6), 3.0)};
    Eigen::VectorXd mean;
    CHECK(AggregateContributions(MetaMethod::kMaml, cs, 2, mean) == 2);
    CHECK(mean.isApprox(Eigen::Vector2d(2, 4), test::kExactTol));
    CHECK(AggregateContributions(MetaMethod::kFedAvg, cs, 2, mean) == 2);
    CHECK(mean.isApprox(Eigen::Vector2d(2.5, 5), test::kExactTol));
  }

  TEST_CASE("failed, wrong-size and non-finite contributions are rejected and named") {
    std::vector<Contribution> cs{Make(Eigen::Vector2d(1, 1)), Make(Eigen::Vector3d(1, 1, 1)),
                                 Make(Eigen::Vector2d(std::numeric_limits<double>::quiet_NaN(), 0)),
                                 Make(Eigen::Vector2d(3, 3))};
    cs.push_back(Make(Eigen::Vector2d(100, 100)));
    cs.back().status = agents::UpdateStatus::kBaselineFailed;
    cs.back().message = "fit failed";
    Eigen::VectorXd mean;
    std::vector<int> rejected;
    CHECK(AggregateContributions(MetaMethod::kPretrained, cs, 2, mean, &rejected) == 2);
    CHECK(mean.isApprox(Eigen::Vector2d(2, 2), test::kExactTol));
    CHECK(rejected == std::vector<int>{1, 2, 4});

    const auto policy = test::PointPolicy(1, {});  // linear-Gaussian: 2 + 1 = 3 parameters
    REQUIRE(policy.num_params() == 3);
    MetaLearner learner(Config(MetaMethod::kMaml), policy, Eigen::Vector3d(1, 1, 1));
    std::vector<Contribution> mixed{Make(Eigen::Vector3d(2, 0, 0)), Make(Eigen::Vector2d(0, 0))};
    const AggregateReport report = learner.Update(mixed);
    CHECK(report.ok());
    CHECK(report.accepted == 1);
    CHECK(report.rejected == 1);
    CHECK(report.message.find("#1") != std::string::npos);
    CHECK(learner.meta_params().isApprox(Eigen::Vector3d(0, 1, 1), test::kExactTol));
  }

  TEST_CASE("the outer updates follow their closed forms") {
    const auto policy = test::PointPolicy(1, {});
    const Eigen::Vector3d phi(1, 2, 3);
    std::vector<Contribution> cs{Make(Eigen::Vector3d(1, 0, -1)), Make(Eigen::Vector3d(3, 2, 1))};
    {
      MetaLearner sgd(Config(MetaMethod::kFomaml), policy, phi);
      CHECK(sgd.Update(cs).ok());
      CHECK(sgd.meta_params().isApprox(phi - 0.5 * Eigen::Vector3d(2, 1, 0), test::kExactTol));
    }
    {
      MetaLearner reptile(Config(MetaMethod::kReptile), policy, phi);
      CHECK(reptile.Update(cs).ok());
      CHECK(reptile.meta_params().isApprox(phi + 0.25 * Eigen::Vector3d(2, 1, 0), test::kExactTol));
    }
    {
      MetaLearner fedavg(Config(MetaMethod::kFedAvg), policy, phi);
      CHECK(fedavg.Update(cs).ok());
      CHECK(fedavg.meta_params().isApprox(Eigen::Vector3d(2, 1, 0), test::kExactTol));
    }
    {
      // Adam's first step moves every coordinate with a nonzero gradient by about lr
      MetaConfig config = Config(MetaMethod::kMaml);
      config.outer_optimizer = agents::OptimizerKind::kAdam;
      config.outer_lr = 0.01;
      MetaLearner adam(config, policy, phi);
      CHECK(adam.Update(cs).ok());
      CHECK(adam.meta_params().isApprox(phi - Eigen::Vector3d(0.01, 0.01, 0.0), 1e-6));
    }
    {
      MetaConfig config = Config(MetaMethod::kMaml);
      config.max_grad_norm = 1.0;
      MetaLearner clipped(config, policy, phi);
      const AggregateReport report = clipped.Update(cs);
      CHECK(report.aggregate_norm == doctest::Approx(std::sqrt(5.0)));
      CHECK(report.step_norm == doctest::Approx(0.5));
    }
  }

  TEST_CASE("a step that would make phi non-finite is rejected and phi is kept") {
    const auto policy = test::PointPolicy(1, {});
    const Eigen::Vector3d phi(1, 2, 3);
    MetaLearner learner(Config(MetaMethod::kMaml), policy, phi);
    const double huge = std::numeric_limits<double>::max();
    std::vector<Contribution> cs{Make(Eigen::Vector3d(huge, 0, 0)), Make(Eigen::Vector3d(huge, 0, 0))};
    const AggregateReport report = learner.Update(cs);
    CHECK(report.status == agents::UpdateStatus::kNonFiniteParams);
    CHECK(learner.meta_params() == phi);
    CHECK(learner.updates() == 0);
    std::vector<Contribution> none{Make(Eigen::Vector2d(0, 0))};
    CHECK(learner.Update(none).status == agents::UpdateStatus::kNonFiniteGradient);
    CHECK(learner.meta_params() == phi);
  }

  TEST_CASE("a meta-learner restored from its saved state continues bit-identically") {
    const auto policy = test::PointPolicy(1, {});
    const Eigen::Vector3d phi(1, 2, 3);
    MetaConfig config = Config(MetaMethod::kMaml);
    config.outer_optimizer = agents::OptimizerKind::kAdam;
    config.outer_lr = 0.01;
    std::vector<Contribution> first{Make(Eigen::Vector3d(1, 0, -1)), Make(Eigen::Vector3d(3, 2, 1))};
    std::vector<Contribution> second{Make(Eigen::Vector3d(-2, 1, 0.5))};
    MetaLearner original(config, policy, phi);
    REQUIRE(original.Update(first).ok());
    StateArchive archive;
    original.SaveState(archive, "group-0/");
    MetaLearner restored(config, policy, phi);
    restored.LoadState(archive, "group-0/");
    CHECK(restored.meta_params() == original.meta_params());
    CHECK(restored.updates() == 1);
    // Adam's moments and step count came back too: the next step is the same to the bit
    REQUIRE(original.Update(second).ok());
    REQUIRE(restored.Update(second).ok());
    CHECK(restored.meta_params() == original.meta_params());
    // a learner that did not load the moments steps differently
    MetaLearner fresh(config, policy, Eigen::Vector3d(archive.Vector("group-0/phi").data()));
    REQUIRE(fresh.Update(second).ok());
    CHECK(fresh.meta_params() != original.meta_params());
    CHECK_THROWS_WITH_AS(restored.LoadState(archive, "group-1/"), "group-1/phi: missing",
                         StateError);
  }

  TEST_CASE("the constructor rejects scratch and a wrong phi size") {
    const auto policy = test::PointPolicy(1, {});
    CHECK_THROWS_AS(MetaLearner(Config(MetaMethod::kScratch), policy, Eigen::Vector3d::Zero()),
                    std::invalid_argument);
    CHECK_THROWS_AS(MetaLearner(Config(MetaMethod::kMaml), policy, Eigen::Vector2d::Zero()),
                    std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::meta
