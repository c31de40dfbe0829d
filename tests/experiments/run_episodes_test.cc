#include "experiments/run_episodes.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "agents/sim_env.h"
#include "common/error.h"
#include "experiments/deployment.h"
#include "experiments/episodes.h"
#include "experiments/runner.h"
#include "meta/evaluation.h"
#include "sim/recording.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_experiment.h"

namespace metajoule::experiments {
namespace {

// Two clusters (3 reach2d agents, 1 nav2d agent), scratch and maml for 2 rounds on tiny
// batches, no held-out deployment: a whole run in well under a second.
constexpr const char* kTiny = R"(
[experiment]
name = "tiny-episodes"
seed = 11
methods = ["random", "scratch", "maml"]

[training]
rounds = 2

[agents]
episodes_per_update = 2
policy = { hidden_sizes = [8] }

[meta]
inner_episodes = 2
outer_episodes = 2
eval = { adaptation_steps = 2, episodes = 2 }

[evaluation]
held_out_tasks = 0
)";

ExperimentConfig Tiny(const std::filesystem::path& output_dir,
                      std::vector<std::string> extra = {}) {
  return test::ParseTwoClusterExperiment(kTiny, "tiny-episodes.toml", output_dir, std::move(extra),
                                         2, 3, 1);
}

std::string Bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string ErrorOf(const std::vector<std::string>& overrides) {
  try {
    ParseExperiment(kTiny + test::TwoClusters(3, 1), "tiny-episodes.toml", overrides);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST_SUITE("experiments/run_episodes") {
  TEST_CASE("a run records replayable episodes of every trained method and recorded agent") {
    const test::TempDir dir;
    std::ostringstream out;
    const RunSummary summary = RunExperiment(Tiny(dir.path()), out);
    const std::filesystem::path run = summary.folder;
    CHECK(out.str().find("episodes: 2 recordings in " + (run / "episodes" / "scratch").string()) !=
          std::string::npos);
    CHECK(out.str().find("episodes: 6 recordings in " + (run / "episodes" / "maml").string()) !=
          std::string::npos);
    CHECK(out.str().find("episodes: none for random") != std::string::npos);

    // the first agent of each cluster (nodes 1 and 4), in the last round (2); maml at steps 0..2
    const std::vector<RunEpisode> all = ListRunEpisodes(run);
    REQUIRE(all.size() == 8);
    std::vector<std::string> names;
    for (const RunEpisode& e : all) names.push_back(e.Describe());
    CHECK(names == std::vector<std::string>{
                       "maml agent 1 round 2 step 0", "maml agent 1 round 2 step 1",
                       "maml agent 1 round 2 step 2", "maml agent 4 round 2 step 0",
                       "maml agent 4 round 2 step 1", "maml agent 4 round 2 step 2",
                       "scratch agent 1 round 2 step 0", "scratch agent 4 round 2 step 0"});
    CHECK(!std::filesystem::exists(run / "episodes" / "random"));
    CHECK(FindRunEpisode(run, std::string("maml"), 4, std::nullopt, 2).path ==
          RunEpisodePath(run, "maml", 4, 2, 2));
    CHECK(FindRunEpisode(run, std::string("scratch"), 1, 2, 0).round == 2);

    for (const RunEpisode& e : all) {
      INFO(e.Describe());
      const sim::EpisodeRecording recording = sim::ReadRecording(e.path.string());
      CHECK(recording.family == (e.agent == 4 ? "nav2d" : "reach2d"));
      CHECK(recording.num_frames() > 1);
      // the recorded controls re-simulate to the recorded states, bit for bit
      const sim::ResimulatedStates states = sim::Resimulate(recording);
      CHECK(states.qpos == recording.qpos);
      CHECK(states.qvel == recording.qvel);
    }
    // adaptation changed the policy: the same start, other actions
    for (const int agent : {1, 4}) {
      const sim::EpisodeRecording before =
          sim::ReadRecording(RunEpisodePath(run, "maml", agent, 2, 0).string());
      const sim::EpisodeRecording after =
          sim::ReadRecording(RunEpisodePath(run, "maml", agent, 2, 2).string());
      CHECK(before.reset_seed == after.reset_seed);
      CHECK(before.action != after.action);
    }

    // the same config and seed: byte-identical recordings; the ledger holds no replay work
    const test::TempDir again_dir;
    std::ostringstream again_out;
    const RunSummary again = RunExperiment(Tiny(again_dir.path()), again_out);
    for (const RunEpisode& e : all) {
      INFO(e.Describe());
      const std::filesystem::path twin =
          RunEpisodePath(again.folder, e.method, e.agent, e.round, e.step);
      CHECK(Bytes(e.path) == Bytes(twin));
    }
    for (std::size_t m = 0; m < summary.methods.size(); ++m) {
      CHECK(summary.methods[m].total_j() == again.methods[m].total_j());
    }
  }

  TEST_CASE("recording changes nothing the ledger records") {
    // with and without episodes: the same energy and returns for every method
    const test::TempDir with_dir, without_dir;
    std::ostringstream out;
    const RunSummary with = RunExperiment(Tiny(with_dir.path(), {"recording.agents=2"}), out);
    const RunSummary without =
        RunExperiment(Tiny(without_dir.path(), {"recording.episodes=\"none\""}), out);
    CHECK(std::filesystem::exists(with.folder / "episodes" / "maml"));
    CHECK(ListRunEpisodes(with.folder).size() == 3 + 3 * 3);  // 2 + 1 agents: scratch, maml
    CHECK(!std::filesystem::exists(without.folder / "episodes"));
    REQUIRE(with.methods.size() == without.methods.size());
    for (std::size_t m = 0; m < with.methods.size(); ++m) {
      INFO(with.methods[m].method);
      CHECK(with.methods[m].total_j() == without.methods[m].total_j());
      CHECK(with.methods[m].mean_return == without.methods[m].mean_return);
    }
  }

  TEST_CASE("RecordedAgents takes the first recording.agents agents of each cluster") {
    const test::TempDir dir;
    auto agents_of = [&](const std::vector<std::string>& overrides) {
      const ExperimentConfig config = Tiny(dir.path(), overrides);
      return RecordedAgents(config, Population(config));
    };
    CHECK(agents_of({}) == std::vector<std::size_t>{0, 3});
    CHECK(agents_of({"recording.agents=2"}) == std::vector<std::size_t>{0, 1, 3});
    CHECK(agents_of({"recording.agents=9"}) == std::vector<std::size_t>{0, 1, 2, 3});
    CHECK(agents_of({"recording.agents=0"}).empty());
    CHECK(agents_of({"recording.episodes=\"none\""}).empty());
  }

  TEST_CASE("AdaptOnTask hands back the parameters each step sampled at") {
    const test::TempDir dir;
    const ExperimentConfig config = Tiny(dir.path());
    const Population population(config);
    meta::MetaConfig meta_config = config.meta.config;
    meta_config.eval.adaptation_steps = 3;
    const agents::SimRolloutEnv probe(*population.env_worlds[0], population.tasks[0],
                                      *population.env_configs[0]);
    const agents::GaussianMlpPolicy policy(probe.obs_dim(), probe.act_dim(), {8},
                                           agents::Activation::kTanh);
    std::mt19937_64 init(3);
    Eigen::VectorXd theta(policy.num_params());
    policy.InitializeParams(init, 0.0, theta);
    for (const bool meta_sgd : {false, true}) {
      INFO("meta-sgd ", meta_sgd);
      Eigen::VectorXd params = theta;
      if (meta_sgd) {
        params.resize(2 * policy.num_params());
        params << theta, Eigen::VectorXd::Constant(policy.num_params(), 0.05);
      }
      agents::SimRolloutEnv env_a(*population.env_worlds[0], population.tasks[0],
                                  *population.env_configs[0]);
      agents::SimRolloutEnv env_b(*population.env_worlds[0], population.tasks[0],
                                  *population.env_configs[0]);
      meta::TaskEnv task_a = TaskEnvOf(env_a);
      meta::TaskEnv task_b = TaskEnvOf(env_b);
      std::mt19937_64 rng_a(42), rng_b(42);
      const meta::TaskAdaptation adaptation =
          meta::AdaptOnTask(meta_config, policy, params, task_a, rng_a);
      REQUIRE(adaptation.thetas.size() == 4);
      CHECK(adaptation.thetas[0] == theta);
      CHECK(adaptation.thetas[3] != theta);
      const meta::TaskAdaptation reference =
          meta::AdaptOnTask(meta_config, policy, params, task_b, rng_b);
      CHECK(adaptation.returns == reference.returns);  // handing thetas back changes nothing
      CHECK(adaptation.thetas == reference.thetas);
    }
  }

  TEST_CASE("bad recording keys name the key") {
    CHECK(ErrorOf({"recording.agents=-1"}).find("recording.agents: must be >= 0") !=
          std::string::npos);
    const std::string episodes = ErrorOf({"recording.episodes=\"all\""});
    CHECK(episodes.find("recording.episodes") != std::string::npos);
    CHECK(episodes.find("final") != std::string::npos);
    CHECK(ErrorOf({"recording.actions=\"greedy\""}).find("recording.actions") != std::string::npos);
    CHECK(ErrorOf({"recording.frames=1"}).find("recording.frames") != std::string::npos);
  }
}

}  // namespace
}  // namespace metajoule::experiments
