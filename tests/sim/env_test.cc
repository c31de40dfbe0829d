#include "sim/env.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

#include <doctest/doctest.h>

#include "sim/world.h"

// the one TU of this test binary that replaces the global operator new
#include "tests/support/counting_allocator.h"

namespace metajoule::sim {
namespace {

Task DefaultTask(const World& world, std::uint64_t seed = 1) {
  TaskDistributionConfig config;
  config.family = std::string(world.family().name());
  std::mt19937_64 rng(seed);
  return world.family().Sample(config, rng);
}

Task Reach2dTask(double gx, double gy) {
  Task task;
  task.family = "reach2d";
  task.goal_size = 2;
  task.goal = {gx, gy, 0.0};
  return task;
}

// Steps `env` from Reset(seed) with a fixed action sequence; returns every qpos and qvel.
std::vector<double> Trace(Env& env, std::uint64_t seed, int steps) {
  env.Reset(seed);
  std::vector<double> trace;
  std::vector<double> action(static_cast<std::size_t>(env.action_size()));
  for (int t = 0; t < steps && env.episode_running(); ++t) {
    for (std::size_t i = 0; i < action.size(); ++i) {
      action[i] = std::sin(0.3 * t + static_cast<double>(i));
    }
    env.Step(action);
    const mjData& d = env.data();
    trace.insert(trace.end(), d.qpos, d.qpos + env.model().nq);
    trace.insert(trace.end(), d.qvel, d.qvel + env.model().nv);
  }
  return trace;
}

std::string InvalidArgumentOf(Env& env, const std::vector<double>& action) {
  try {
    env.Step(action);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST_SUITE("sim/env") {
  TEST_CASE("every family resets and steps with finite observations") {
    for (const std::string& name : TaskFamilyNames()) {
      CAPTURE(name);
      const World world(name);
      Env env(world, DefaultTask(world));
      CHECK(env.Reset(3).size() == static_cast<std::size_t>(env.observation_size()));
      const std::vector<double> action(static_cast<std::size_t>(env.action_size()), 0.05);
      for (int t = 0; t < 20; ++t) {
        const StepResult result = env.Step(action);
        CHECK(result.status == StepStatus::kOk);
        CHECK(std::isfinite(result.reward));
        for (const double x : result.observation) CHECK(std::isfinite(x));
      }
      CHECK(env.sim_steps() == 20 * env.frame_skip());
    }
  }

  TEST_CASE("same seed gives bit-identical states, a different seed different ones") {
    const World world("runner_velocity");
    Env a(world, DefaultTask(world));
    Env b(world, DefaultTask(world));
    const std::vector<double> first = Trace(a, 5, 50);
    CHECK(first == Trace(b, 5, 50));
    CHECK(first != Trace(b, 6, 50));
  }

  TEST_CASE("actions are clipped to the actuator range") {
    const World world("reach2d");
    Env env(world, Reach2dTask(0.1, 0.1));
    env.Reset(1);
    CHECK(env.action_low()[0] == -1.0);
    CHECK(env.action_high()[1] == 1.0);
    env.Step(std::vector<double>{5.0, -7.0});
    CHECK(env.data().ctrl[0] == 1.0);
    CHECK(env.data().ctrl[1] == -1.0);
  }

  TEST_CASE("a wrong action size names expected and actual sizes and does not simulate") {
    const World world("reach2d");
    Env env(world, Reach2dTask(0.1, 0.1));
    env.Reset(1);
    CHECK(InvalidArgumentOf(env, {0.1, 0.2, 0.3}) ==
          "Env::Step: expected an action of size 2, got 3");
    CHECK(env.sim_steps() == 0);
    CHECK(env.episode_step() == 0);
  }

  TEST_CASE("a NaN or infinite action is rejected, not simulated") {
    const World world("reach2d");
    Env env(world, Reach2dTask(0.1, 0.1));
    env.Reset(1);
    CHECK(InvalidArgumentOf(env, {0.0, std::numeric_limits<double>::quiet_NaN()}) ==
          "Env::Step: action[1] is nan (expected finite values)");
    CHECK(InvalidArgumentOf(env, {-std::numeric_limits<double>::infinity(), 0.0}) ==
          "Env::Step: action[0] is inf (expected finite values)");
    CHECK(env.sim_steps() == 0);
  }

  TEST_CASE("stepping without a running episode is a logic error") {
    const World world("reach2d");
    Env env(world, Reach2dTask(0.1, 0.1));
    CHECK_THROWS_AS(env.Step(std::vector<double>{0.0, 0.0}), std::logic_error);
  }

  TEST_CASE("the episode is truncated at the horizon, with frame_skip mj_step calls per step") {
    const World world("reach2d");
    Env env(world, Reach2dTask(0.1, 0.1), EnvConfig{.horizon = 7, .frame_skip = 3});
    CHECK(env.horizon() == 7);
    CHECK(env.frame_skip() == 3);
    env.Reset(1);
    StepResult result;
    for (int t = 0; t < 7; ++t) {
      CHECK(result.status == StepStatus::kOk);
      result = env.Step(std::vector<double>{0.1, 0.1});
    }
    CHECK(result.status == StepStatus::kTruncated);
    CHECK(!env.episode_running());
    CHECK(env.sim_steps() == 21);
    CHECK(env.data().time == doctest::Approx(0.21));
  }

  TEST_CASE("a heavier payload changes the arm's motion") {
    const World world("reach2d");
    Task heavy = Reach2dTask(0.1, 0.1);
    heavy.payload_mass = 0.05;
    Env light_env(world, Reach2dTask(0.1, 0.1));
    Env heavy_env(world, heavy);
    CHECK(heavy_env.model().body_mass[world.ids().payload_body] ==
          doctest::Approx(world.model().body_mass[world.ids().payload_body] + 0.05));
    const std::vector<double> light = Trace(light_env, 1, 10);
    const std::vector<double> loaded = Trace(heavy_env, 1, 10);
    CHECK(light != loaded);
  }

  TEST_CASE("gain and damping scales change the dynamics and leave the world untouched") {
    const World world("runner_velocity");
    const Task base = DefaultTask(world);
    Task strong = base;
    strong.gain_scale = 1.5;
    Task damped = base;
    damped.damping_scale = 3.0;
    Env base_env(world, base), strong_env(world, strong), damped_env(world, damped);
    CHECK(strong_env.model().actuator_gainprm[0] ==
          doctest::Approx(1.5 * world.model().actuator_gainprm[0]));
    CHECK(damped_env.model().dof_damping[3] == doctest::Approx(3.0 * world.model().dof_damping[3]));
    CHECK(world.model().actuator_gainprm[0] == base_env.model().actuator_gainprm[0]);
    const std::vector<double> reference = Trace(base_env, 2, 20);
    CHECK(Trace(strong_env, 2, 20) != reference);
    CHECK(Trace(damped_env, 2, 20) != reference);
  }

  TEST_CASE("another goal changes the reward but not the motion") {
    const World world("reach2d");
    Env near_env(world, Reach2dTask(0.1, 0.1));
    Env far_env(world, Reach2dTask(-0.15, -0.05));
    near_env.Reset(4);
    far_env.Reset(4);
    const std::vector<double> action{0.3, -0.2};
    const StepResult near_result = near_env.Step(action);
    const double near_reward = near_result.reward;
    const StepResult far_result = far_env.Step(action);
    CHECK(near_env.data().qpos[0] == far_env.data().qpos[0]);
    CHECK(near_reward != far_result.reward);
    // r = -||tip - goal|| - 0.1 ||a||^2
    const mjData& d = near_env.data();
    const int tip = world.ids().tip_site;
    const double dx = d.site_xpos[3 * tip] - 0.1, dy = d.site_xpos[3 * tip + 1] - 0.1;
    CHECK(near_reward == doctest::Approx(-std::sqrt(dx * dx + dy * dy) - 0.1 * (0.09 + 0.04)));
  }

  TEST_CASE("the runner's target velocity and direction change the reward as documented") {
    const World velocity_world("runner_velocity");
    const World direction_world("runner_direction");
    Task slow = DefaultTask(velocity_world);
    slow.target_velocity = 0.0;
    Task fast = slow;
    fast.target_velocity = 2.0;
    Task forward;
    forward.family = "runner_direction";
    Task backward = forward;
    backward.direction_deg = 180.0;
    Env slow_env(velocity_world, slow), fast_env(velocity_world, fast);
    Env forward_env(direction_world, forward), backward_env(direction_world, backward);
    const std::vector<double> action(6, 0.5);
    for (Env* env : {&slow_env, &fast_env, &forward_env, &backward_env}) env->Reset(1);
    slow_env.Step(action);
    const double v = slow_env.data().qvel[0];
    const double ctrl_cost = 0.05 * 6 * 0.25;
    fast_env.Step(action);
    forward_env.Step(action);
    backward_env.Step(action);
    CHECK(fast_env.data().qvel[0] == v);
    slow_env.Reset(1);
    fast_env.Reset(1);
    forward_env.Reset(1);
    backward_env.Reset(1);
    CHECK(slow_env.Step(action).reward == doctest::Approx(-std::abs(v) - ctrl_cost));
    CHECK(fast_env.Step(action).reward == doctest::Approx(-std::abs(v - 2.0) - ctrl_cost));
    CHECK(forward_env.Step(action).reward == doctest::Approx(v - ctrl_cost));
    CHECK(backward_env.Step(action).reward == doctest::Approx(-v - ctrl_cost));
  }

  TEST_CASE("nav2d moves exactly as Finn et al. 2017: p += clip(a, -0.1, 0.1), r = -||p - g||") {
    const World world("nav2d");
    Task task;
    task.family = "nav2d";
    task.goal_size = 2;
    task.goal = {0.25, -0.3, 0.0};
    Env env(world, task);
    CHECK(env.horizon() == 100);
    CHECK(env.observation_size() == 2);
    const std::span<const double> start = env.Reset(123);
    CHECK(start[0] == 0.0);
    CHECK(start[1] == 0.0);
    double x = 0.0, y = 0.0;
    const double actions[][2] = {{0.05, -0.02}, {0.5, -3.0}, {-0.07, 0.1}, {0.1, -0.1}};
    for (const auto& a : actions) {
      const StepResult result = env.Step(std::vector<double>{a[0], a[1]});
      x = x + std::clamp(a[0], -0.1, 0.1);
      y = y + std::clamp(a[1], -0.1, 0.1);
      CHECK(result.observation[0] == x);
      CHECK(result.observation[1] == y);
      CHECK(result.reward == -std::sqrt((x - 0.25) * (x - 0.25) + (y + 0.3) * (y + 0.3)));
      CHECK(result.status == StepStatus::kOk);
    }
  }

  TEST_CASE("nav2d ends early when both coordinates are within 0.01 of the goal") {
    const World world("nav2d");
    Task task;
    task.family = "nav2d";
    task.goal_size = 2;
    task.goal = {0.2, 0.1, 0.0};
    Env env(world, task);
    env.Reset(1);
    CHECK(env.Step(std::vector<double>{0.1, 0.095}).status == StepStatus::kOk);
    // (0.195, 0.095): both within 0.01 of (0.2, 0.1)
    CHECK(env.Step(std::vector<double>{0.095, 0.0}).status == StepStatus::kTerminated);
    CHECK(!env.episode_running());
  }

  TEST_CASE("nav2d is truncated after 100 steps") {
    const World world("nav2d");
    Task task;
    task.family = "nav2d";
    task.goal_size = 2;
    task.goal = {0.5, 0.5, 0.0};
    Env env(world, task);
    env.Reset(1);
    int steps = 0;
    StepResult result;
    do {
      result = env.Step(std::vector<double>{-0.1, 0.0});
      ++steps;
    } while (result.status == StepStatus::kOk);
    CHECK(result.status == StepStatus::kTruncated);
    CHECK(steps == 100);
  }

  TEST_CASE("a diverging simulation ends the episode with kDiverged") {
    const World world("reach2d");
    Task task = Reach2dTask(0.1, 0.1);
    task.gain_scale = 1e30;
    Env env(world, task);
    env.Reset(1);
    StepResult result;
    for (int t = 0; t < 10 && result.status == StepStatus::kOk; ++t) {
      result = env.Step(std::vector<double>{1.0, 1.0});
    }
    CHECK(result.status == StepStatus::kDiverged);
    CHECK(!env.episode_running());
    CHECK(std::string(ToString(result.status)) == "diverged");
  }

  TEST_CASE("Step does not allocate") {
    for (const char* name : {"reach2d", "nav2d", "runner_velocity", "quadruped_direction"}) {
      CAPTURE(name);
      const World world(name);
      Env env(world, DefaultTask(world));
      env.Reset(1);
      const std::vector<double> action(static_cast<std::size_t>(env.action_size()), 0.01);
      test::allocations = 0;
      test::counting = true;
      for (int t = 0; t < 20; ++t) env.Step(action);
      test::counting = false;
      CHECK(test::allocations.load() == 0);
    }
  }
}

}  // namespace
}  // namespace metajoule::sim
