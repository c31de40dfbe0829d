#include "agents/episode_capture.h"

#include <cstring>
#include <random>
#include <vector>

#include <doctest/doctest.h>

#include "agents/math/activations.h"
#include "sim/env.h"
#include "sim/recording.h"

namespace metajoule::agents {
namespace {

bool BitEqual(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

struct Fixture {
  sim::World world{"runner_velocity"};
  sim::Task task;
  sim::EnvConfig config{.horizon = 30};
  GaussianMlpPolicy policy{17, 6, {16}, Activation::kTanh};
  Eigen::VectorXd theta;
  Fixture() {
    task.family = "runner_velocity";
    task.target_velocity = 1.5;
    std::mt19937_64 rng(11);
    theta.resize(policy.num_params());
    policy.InitializeParams(rng, -0.5, theta);
  }
  std::span<const double> params() const {
    return {theta.data(), static_cast<std::size_t>(theta.size())};
  }
};

TEST_SUITE("agents/episode_capture") {
  TEST_CASE("a captured episode is deterministic and re-simulates bit for bit") {
    const Fixture f;
    for (const bool mean : {true, false}) {
      CAPTURE(mean);
      const sim::EpisodeRecording a =
          RecordPolicyEpisode(f.world, f.task, f.config, f.policy, f.params(), 42, mean);
      const sim::EpisodeRecording b =
          RecordPolicyEpisode(f.world, f.task, f.config, f.policy, f.params(), 42, mean);
      CHECK(a.num_frames() == 31);  // reset + horizon
      CHECK(a.reset_seed == 42);
      CHECK(a.task == f.task);
      CHECK(BitEqual(a.qpos, b.qpos));
      CHECK(BitEqual(a.action, b.action));
      CHECK(BitEqual(a.reward, b.reward));
      const sim::ResimulatedStates states = sim::Resimulate(a);
      CHECK(BitEqual(states.qpos, a.qpos));
      CHECK(BitEqual(states.qvel, a.qvel));
      // and the file round trip keeps every bit
      const sim::EpisodeRecording decoded =
          sim::DecodeRecording(sim::EncodeRecording(a), "mem");
      CHECK(BitEqual(decoded.qpos, a.qpos));
    }
  }

  TEST_CASE("the mean action is mu_theta of the observation and sampled actions differ from it") {
    const Fixture f;
    const sim::EpisodeRecording mean =
        RecordPolicyEpisode(f.world, f.task, f.config, f.policy, f.params(), 7, true);
    const sim::EpisodeRecording sampled =
        RecordPolicyEpisode(f.world, f.task, f.config, f.policy, f.params(), 7, false);
    CHECK(BitEqual(std::vector<double>(mean.qpos.begin(), mean.qpos.begin() + mean.nq),
                   std::vector<double>(sampled.qpos.begin(), sampled.qpos.begin() + mean.nq)));
    CHECK(!BitEqual(mean.action, sampled.action));

    // frame 1's action is the policy mean at the first observation
    sim::Env env(f.world, f.task, f.config);
    const std::span<const double> first = env.Reset(7);
    Eigen::MatrixXd obs(f.policy.obs_dim(), 1);
    for (int i = 0; i < f.policy.obs_dim(); ++i) obs(i, 0) = first[static_cast<std::size_t>(i)];
    PolicyWorkspace ws(f.policy, 1);
    ComputeMean(f.policy, f.theta, obs, ws);
    const auto mu = ws.mlp.output();
    const auto act = static_cast<std::size_t>(mean.action_size);
    for (int j = 0; j < f.policy.act_dim(); ++j) {
      CHECK(mean.action[act + static_cast<std::size_t>(j)] == mu(j, 0));
    }
    // another reset seed starts elsewhere
    const sim::EpisodeRecording other =
        RecordPolicyEpisode(f.world, f.task, f.config, f.policy, f.params(), 8, true);
    CHECK(!BitEqual(other.qpos, mean.qpos));
  }

  TEST_CASE("wrong parameter counts and mismatched policies are rejected") {
    const Fixture f;
    const std::vector<double> short_params(5, 0.0);
    CHECK_THROWS_WITH_AS(
        RecordPolicyEpisode(f.world, f.task, f.config, f.policy, short_params, 1, true),
        doctest::Contains("parameters, got 5"), std::invalid_argument);
    const GaussianMlpPolicy small(8, 2, {4}, Activation::kTanh);
    const std::vector<double> small_params(static_cast<std::size_t>(small.num_params()), 0.0);
    CHECK_THROWS_WITH_AS(
        RecordPolicyEpisode(f.world, f.task, f.config, small, small_params, 1, true),
        doctest::Contains("expected 17 -> 6 for runner_velocity"), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::agents
