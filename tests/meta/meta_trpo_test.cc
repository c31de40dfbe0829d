#include "meta/meta_trpo.h"

#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "meta/meta_gradient.h"
#include "meta/meta_learner.h"
#include "meta/trainer.h"
#include "tests/meta/toy_tasks.h"
#include "tests/support/random.h"

namespace metajoule::meta {
namespace {

const agents::GaussianMlpPolicy kPolicy{3, 2, {6, 5}, agents::Activation::kTanh};

LossBatch RandomBatch(int n, std::mt19937_64& rng) {
  LossBatch batch;
  batch.obs = test::RandomMatrix(3, n, rng);
  batch.actions = test::RandomMatrix(2, n, rng, -1.5, 1.5);
  batch.advantages = test::RandomVector(n, rng, -2.0, 2.0);
  return batch;
}

MetaConfig TrpoConfig(MetaMethod method, double max_kl) {
  MetaConfig config;
  config.method = method;
  config.outer = OuterStep::kTrpo;
  config.inner_lr = 0.3;
  config.trpo.max_kl = max_kl;
  return config;
}

// a small deterministic problem: `tasks` tasks with fixed random batches, each contribution
// carrying the exact meta-gradient at theta and its batches (what MamlContribution sends)
struct Problem {
  Eigen::VectorXd theta;
  std::vector<Contribution> contributions;
};

Problem MakeProblem(const MetaConfig& config, int tasks, std::uint64_t seed) {
  Problem problem;
  std::mt19937_64 rng(seed);
  problem.theta.resize(kPolicy.num_params());
  kPolicy.InitializeParams(rng, -0.3, problem.theta);
  agents::PolicyWorkspace ws(kPolicy, 32);
  const Eigen::VectorXd alpha = Eigen::VectorXd::Constant(1, config.inner_lr);
  for (int t = 0; t < tasks; ++t) {
    auto trace = std::make_shared<MamlTrace>();
    for (int k = 0; k < config.inner_steps; ++k) trace->inner.push_back(RandomBatch(15, rng));
    trace->outer = RandomBatch(17, rng);
    Contribution c;
    c.method = config.method;
    c.vector.resize(kPolicy.num_params());
    MamlMetaGradient(kPolicy, problem.theta, alpha, trace->inner, trace->outer,
                     IsFirstOrder(config), ws, c.vector);
    c.trace = trace;
    problem.contributions.push_back(std::move(c));
  }
  return problem;
}

bool HasKey(const std::vector<FieldError>& errors, const std::string& key) {
  for (const auto& e : errors) {
    if (e.key == key) return true;
  }
  return false;
}

TEST_SUITE("meta/meta_trpo") {
  TEST_CASE("a MAML-TRPO step keeps the adapted policies within max_kl and lowers the surrogate") {
    for (const int steps : {1, 2}) {
      for (const MetaMethod method : {MetaMethod::kMaml, MetaMethod::kFomaml}) {
        CAPTURE(steps);
        CAPTURE(MetaMethodName(method));
        MetaConfig config = TrpoConfig(method, 0.01);
        config.inner_steps = steps;
        const Problem problem = MakeProblem(config, 3, 5);
        Eigen::VectorXd theta = problem.theta;
        const AggregateReport report = MamlTrpoStep(config, kPolicy, problem.contributions, theta);
        REQUIRE(report.ok());
        CHECK(report.accepted == 3);
        CHECK(report.line_search_steps >= 1);
        CHECK(report.cg_iterations >= 1);
        CHECK(theta != problem.theta);
        // recomputed independently: the adaptation re-run from the new theta on each task
        double surrogate_before = 0.0;
        double kl_before = 0.0;
        MamlTrpoObjective(config, kPolicy, problem.contributions, problem.theta, problem.theta,
                          surrogate_before, kl_before);
        double surrogate = 0.0;
        double kl = 0.0;
        MamlTrpoObjective(config, kPolicy, problem.contributions, problem.theta, theta, surrogate,
                          kl);
        MESSAGE("surrogate " << surrogate_before << " -> " << surrogate << ", KL " << kl);
        CHECK(std::abs(kl_before) < 1e-15);  // zero up to round-off
        CHECK(surrogate_before == report.surrogate_before);
        CHECK(surrogate == report.surrogate_after);
        CHECK(kl == report.kl);
        CHECK(kl > 0.0);
        CHECK(kl < config.trpo.max_kl);
        CHECK(surrogate < surrogate_before);
      }
    }
  }

  TEST_CASE("the KL Hessian through the adaptation matches second differences of the mean KL") {
    for (const int steps : {1, 2}) {
      CAPTURE(steps);
      MetaConfig config = TrpoConfig(MetaMethod::kMaml, 0.01);
      config.inner_steps = steps;
      const Problem problem = MakeProblem(config, 2, 9);
      std::mt19937_64 rng(4);
      const Eigen::VectorXd v = test::RandomVector(kPolicy.num_params(), rng);
      Eigen::VectorXd av(kPolicy.num_params());
      MamlTrpoKlHessianProduct(config, kPolicy, problem.contributions, problem.theta, v, av);
      // KL(theta_old) = 0 and its gradient is 0, so v^T A v = lim (KL(+hv) + KL(-hv)) / h^2
      const double h = 1e-3;
      double s = 0.0;
      double kl_plus = 0.0;
      double kl_minus = 0.0;
      MamlTrpoObjective(config, kPolicy, problem.contributions, problem.theta,
                        problem.theta + h * v, s, kl_plus);
      MamlTrpoObjective(config, kPolicy, problem.contributions, problem.theta,
                        problem.theta - h * v, s, kl_minus);
      const double numeric = (kl_plus + kl_minus) / (h * h);
      const double exact = v.dot(av);
      MESSAGE("v^T A v " << exact << ", second difference " << numeric);
      CHECK(exact == doctest::Approx(numeric).epsilon(1e-4));
      // the Fisher of the adapted policy alone (J = I, the first-order curvature) is far off
      Eigen::VectorXd fv(kPolicy.num_params());
      MamlTrpoKlHessianProduct(TrpoConfig(MetaMethod::kFomaml, 0.01), kPolicy,
                               problem.contributions, problem.theta, v, fv);
      CHECK(std::abs(v.dot(fv) - numeric) > 1e-2 * numeric);
    }
  }

  TEST_CASE("a failed line search rejects the step and keeps theta") {
    const MetaConfig config = TrpoConfig(MetaMethod::kMaml, 0.01);
    Problem problem = MakeProblem(config, 2, 7);
    // an ascent direction: no candidate can lower the surrogate
    for (Contribution& c : problem.contributions) c.vector = -c.vector;
    Eigen::VectorXd theta = problem.theta;
    const AggregateReport report = MamlTrpoStep(config, kPolicy, problem.contributions, theta);
    CHECK(report.status == agents::UpdateStatus::kLineSearchFailed);
    CHECK(report.message.find("rejected") != std::string::npos);
    CHECK(report.line_search_steps == config.trpo.line_search_steps);
    CHECK(theta == problem.theta);
  }

  TEST_CASE("MetaLearner with outer trpo rejects contributions without batches and keeps phi") {
    const MetaConfig config = TrpoConfig(MetaMethod::kMaml, 0.01);
    Problem problem = MakeProblem(config, 2, 3);
    problem.contributions[1].trace.reset();
    MetaLearner learner(config, kPolicy, problem.theta);
    const AggregateReport mixed = learner.Update(problem.contributions);
    CHECK(mixed.accepted == 1);
    CHECK(mixed.rejected == 1);
    CHECK(mixed.message.find("in-process") != std::string::npos);
    problem.contributions[0].trace.reset();
    const Eigen::VectorXd before = learner.meta_params();
    const AggregateReport none = learner.Update(problem.contributions);
    CHECK_FALSE(none.ok());
    CHECK(learner.meta_params() == before);
  }

  TEST_CASE("outer trpo config errors name their keys") {
    MetaConfig config = TrpoConfig(MetaMethod::kReptile, 0.01);
    CHECK(HasKey(Validate(config), "outer"));
    config = TrpoConfig(MetaMethod::kMaml, 0.01);
    CHECK(Validate(config).empty());
    config.learn_inner_lr = true;
    CHECK(HasKey(Validate(config), "outer"));
    config = TrpoConfig(MetaMethod::kMaml, 0.0);
    CHECK(HasKey(Validate(config), "trpo.max_kl"));
    config = TrpoConfig(MetaMethod::kMaml, 0.01);
    config.trpo.line_search_ratio = 1.0;
    CHECK(HasKey(Validate(config), "trpo.line_search_ratio"));
    config.trpo.line_search_ratio = 0.8;
    config.trpo.cg_iters = 0;
    CHECK(HasKey(Validate(config), "trpo.cg_iters"));
    config.trpo.cg_iters = 10;
    config.max_grad_norm = 1.0;
    CHECK(HasKey(Validate(config), "max_grad_norm"));
    Eigen::VectorXd theta(kPolicy.num_params());
    CHECK_THROWS_AS(MamlTrpoStep(TrpoConfig(MetaMethod::kMaml, -1.0), kPolicy, {}, theta),
                    std::invalid_argument);
  }

  TEST_CASE("MAML-TRPO training on point goals is deterministic and improves the adapted return") {
    const auto policy = test::PointPolicy(2);
    MetaConfig config = TrpoConfig(MetaMethod::kMaml, 0.01);
    config.inner_lr = 0.1;
    config.iterations = 6;
    config.meta_batch = 4;
    config.inner_episodes = 8;
    config.outer_episodes = 8;
    std::mt19937_64 init(1);
    const Eigen::VectorXd phi0 = InitialMetaParams(config, policy, 0.0, init);
    const auto train = [&] {
      test::PointTasks tasks(6, 2, 10, 21);
      return TrainMetaModel(config, policy, phi0, tasks.tasks, 3);
    };
    const TrainingResult a = train();
    CHECK(a.meta_params == train().meta_params);
    int accepted = 0;
    for (const auto& record : a.history) {
      if (record.update.ok()) {
        ++accepted;
        CHECK(record.update.kl < config.trpo.max_kl);
      }
    }
    CHECK(accepted >= 4);
    MESSAGE("post-adaptation return " << a.history.front().mean_post_return << " -> "
                                      << a.history.back().mean_post_return);
    CHECK(a.history.back().mean_post_return > a.history.front().mean_post_return);
  }
}

}  // namespace
}  // namespace metajoule::meta
