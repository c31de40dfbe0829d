#include "meta/meta_config.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

namespace metajoule::meta {
namespace {

bool HasKey(const std::vector<FieldError>& errors, const std::string& key) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const FieldError& e) { return e.key == key; });
}

TEST_SUITE("meta/meta_config") {
  TEST_CASE("the defaults are valid and follow MAML-RL") {
    const MetaConfig config;
    CHECK(Validate(config).empty());
    CHECK(config.method == MetaMethod::kMaml);
    CHECK(config.inner_lr == 0.1);
    CHECK(config.inner_episodes == 20);
    CHECK(config.advantage.gae_lambda == 1.0);
    CHECK(config.eval.adaptation_steps == 3);
  }

  TEST_CASE("out-of-range fields give FieldErrors naming their keys") {
    MetaConfig config;
    config.iterations = -1;
    config.meta_batch = 0;
    config.inner_lr = 0.0;
    config.inner_steps = 0;
    config.inner_episodes = 0;
    config.outer_episodes = 0;
    config.outer_lr = -1.0;
    config.adam_beta1 = 1.0;
    config.adam_beta2 = -0.1;
    config.max_grad_norm = -1.0;
    config.reptile_epsilon = 1.5;
    config.max_rejected_steps = 0;
    config.threads = -2;
    config.advantage.gamma = 2.0;
    config.eval.episodes = 0;
    config.eval.oracle_lr = 0.0;
    config.eval.adaptation_steps = -1;
    const auto errors = Validate(config);
    for (const char* key :
         {"iterations", "meta_batch", "inner_lr", "inner_steps", "inner_episodes",
          "outer_episodes", "outer_lr", "adam_beta1", "adam_beta2", "max_grad_norm",
          "reptile_epsilon", "max_rejected_steps", "threads", "advantage.gamma", "eval.episodes",
          "eval.oracle_lr", "eval.adaptation_steps"}) {
      CAPTURE(key);
      CHECK(HasKey(errors, key));
    }
    CHECK(errors.size() == 17);
  }

  TEST_CASE("Meta-SGD and first_order apply to the MAML methods only") {
    MetaConfig config;
    config.method = MetaMethod::kReptile;
    config.learn_inner_lr = true;
    config.first_order = true;
    const auto errors = Validate(config);
    CHECK(HasKey(errors, "learn_inner_lr"));
    CHECK(HasKey(errors, "first_order"));
    config.method = MetaMethod::kFomaml;
    CHECK(Validate(config).empty());
    CHECK(IsFirstOrder(config));
    config.method = MetaMethod::kMaml;
    CHECK(IsFirstOrder(config));
    config.first_order = false;
    CHECK_FALSE(IsFirstOrder(config));
    CHECK(UsesMetaGradient(config));
  }

  TEST_CASE("method names round-trip through EnumNames") {
    for (const auto& [name, method] : EnumNames(MetaMethod{})) {
      CHECK(MetaMethodName(method) == name);
    }
    CHECK(MetaMethodName(MetaMethod::kFedAvg) == "fedavg");
  }
}

}  // namespace
}  // namespace metajoule::meta
