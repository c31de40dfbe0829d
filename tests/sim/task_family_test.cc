#include "sim/task_family.h"

#include <set>
#include <stdexcept>

#include <doctest/doctest.h>

#include "sim/world.h"

namespace metajoule::sim {
namespace {

TaskDistributionConfig Distribution(const std::string& family) {
  TaskDistributionConfig config;
  config.family = family;
  return config;
}

TEST_SUITE("sim/task_family") {
  TEST_CASE("the registry lists every family once, reach2d first") {
    const std::vector<std::string> names = TaskFamilyNames();
    REQUIRE(!names.empty());
    CHECK(names.front() == "reach2d");
    CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
    for (const char* name : {"reach3d", "nav2d", "runner_velocity", "runner_direction",
                             "quadruped_direction"}) {
      CHECK(FindTaskFamily(name).name() == name);
    }
  }

  TEST_CASE("an unknown family name lists the valid ones") {
    try {
      FindTaskFamily("swim");
      FAIL("expected std::invalid_argument");
    } catch (const std::invalid_argument& error) {
      CHECK(std::string(error.what()) ==
            "unknown task family \"swim\"; valid families: reach2d, reach3d, nav2d, "
            "runner_velocity, runner_direction, quadruped_direction");
    }
  }

  TEST_CASE("sampled tasks lie in their intervals and repeat for the same seed") {
    TaskDistributionConfig config = Distribution("reach2d");
    config.goal_low = {-0.15, 0.05};
    config.goal_high = {-0.05, 0.15};
    config.payload_mass = {0.0, 0.05};
    config.gain_scale = {0.5, 2.0};
    std::mt19937_64 a(11), b(11), c(12);
    const std::vector<Task> tasks = SampleTasks(config, 20, a);
    CHECK(tasks == SampleTasks(config, 20, b));
    CHECK(tasks != SampleTasks(config, 20, c));
    for (const Task& task : tasks) {
      CHECK(task.family == "reach2d");
      CHECK(task.goal_size == 2);
      CHECK(task.goal[0] >= -0.15);
      CHECK(task.goal[0] < -0.05);
      CHECK(task.goal[1] >= 0.05);
      CHECK(task.goal[1] < 0.15);
      CHECK(task.payload_mass >= 0.0);
      CHECK(task.payload_mass < 0.05);
      CHECK(task.gain_scale >= 0.5);
      CHECK(task.damping_scale == 1.0);
    }
  }

  TEST_CASE("nav2d goals default to the Finn et al. box of plus or minus 0.5 per axis") {
    std::mt19937_64 rng(2);
    double lo = 1.0, hi = -1.0;
    for (const Task& task : SampleTasks(Distribution("nav2d"), 200, rng)) {
      for (int k = 0; k < 2; ++k) {
        lo = std::min(lo, task.goal[k]);
        hi = std::max(hi, task.goal[k]);
      }
    }
    CHECK(lo >= -0.5);
    CHECK(hi < 0.5);
    CHECK(lo < -0.45);
    CHECK(hi > 0.45);
  }

  TEST_CASE("a goal box with the wrong number of axes is rejected") {
    TaskDistributionConfig config = Distribution("reach3d");
    config.goal_low = {0.0, 0.0};
    config.goal_high = {0.1, 0.1};
    std::mt19937_64 rng(1);
    CHECK_THROWS_WITH_AS(FindTaskFamily("reach3d").Sample(config, rng),
                         "reach3d: expected a goal box with 3 axes, got 2 and 2",
                         std::invalid_argument);
  }

  TEST_CASE("a task of another family or with a negative payload is not applied") {
    const World world("reach2d");
    MjModelPtr model = CopyModel(world.model());
    Task task;
    task.family = "nav2d";
    task.goal_size = 2;
    CHECK_THROWS_AS(world.family().Apply(task, world.ids(), *model), std::invalid_argument);
    task.family = "reach2d";
    task.payload_mass = -1.0;
    CHECK_THROWS_AS(world.family().Apply(task, world.ids(), *model), std::invalid_argument);
  }

  TEST_CASE("a task's description names the parameters its family reads") {
    Task task;
    task.family = "runner_velocity";
    task.target_velocity = 1.5;
    task.payload_mass = 0.25;
    CHECK(task.Describe() == "v=1.50 payload=0.250");
    task = Task{};
    task.goal_size = 2;
    task.goal = {0.1, -0.05, 0.0};
    CHECK(task.Describe() == "goal=(0.100, -0.050)");
  }
}

}  // namespace
}  // namespace metajoule::sim
