#include "sim/task_config.h"

#include <doctest/doctest.h>

namespace metajoule::sim {
namespace {

TEST_SUITE("sim/task_config") {
  TEST_CASE("a goal box with the wrong number of axes for the family is a field error") {
    TaskDistributionConfig config;
    config.family = "reach3d";
    config.goal_low = {0.0, 0.0};
    config.goal_high = {0.1, 0.1};
    const std::vector<FieldError> errors = Validate(config);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].key == "goal_low");
    CHECK(errors[0].message == "family reach3d expects 3 goal axes, got 2");
  }

  TEST_CASE("a goal box on a family without goals is a field error") {
    TaskDistributionConfig config;
    config.family = "runner_velocity";
    config.goal_low = {0.0};
    config.goal_high = {0.1};
    const std::vector<FieldError> errors = Validate(config);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message == "family runner_velocity has no goal; leave the goal box out");
  }

  TEST_CASE("the default distribution is valid") {
    CHECK(Validate(TaskDistributionConfig{}).empty());
  }
}

}  // namespace
}  // namespace metajoule::sim
