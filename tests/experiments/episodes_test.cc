#include "experiments/episodes.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <doctest/doctest.h>

#include "common/error.h"
#include "ledger/ledger_store.h"
#include "sim/env.h"
#include "sim/recording.h"
#include "sim/world.h"
#include "tests/support/temp_dir.h"

namespace metajoule::experiments {
namespace {

// A short nav2d episode (a fixed action), enough to be a valid recording.
sim::EpisodeRecording ShortEpisode(double dx) {
  const sim::World world("nav2d");
  sim::Task task;
  task.family = "nav2d";
  task.goal_size = 2;
  task.goal = {0.3, -0.2, 0.0};
  sim::Env env(world, task, sim::EnvConfig{.horizon = 4});
  env.Reset(1);
  sim::EpisodeRecorder recorder;
  recorder.Begin(env, 1);
  const double action[2] = {dx, 0.05};
  for (int i = 0; i < 4; ++i) {
    const sim::StepResult result = env.Step(action);
    recorder.Record(env, action, result);
  }
  return recorder.recording();
}

std::string Error(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST_SUITE("experiments/episodes") {
  TEST_CASE("episodes are stored as episodes/<method>/agent-N-round-R-step-S.mjrec") {
    const test::TempDir run;
    const std::filesystem::path path =
        WriteRunEpisode(run.path(), "maml", 3, 10, 1, ShortEpisode(0.1));
    CHECK(path == run.path() / "episodes" / "maml" / "agent-3-round-10-step-1.mjrec");
    CHECK(std::filesystem::is_regular_file(path));
    CHECK(sim::ReadRecording(path.string()).num_frames() == 5);
    CHECK_THROWS_AS(RunEpisodePath(run.path(), "../x", 1, 1, 1), std::invalid_argument);
    CHECK_THROWS_AS(RunEpisodePath(run.path(), "maml", -1, 1, 1), std::invalid_argument);
  }

  TEST_CASE("FindRunEpisode picks the latest round by default and lists choices on errors") {
    const test::TempDir run;
    const sim::EpisodeRecording e = ShortEpisode(0.1);
    WriteRunEpisode(run.path(), "maml", 1, 0, 0, e);
    WriteRunEpisode(run.path(), "maml", 1, 0, 1, e);
    WriteRunEpisode(run.path(), "maml", 1, 9, 0, e);
    WriteRunEpisode(run.path(), "maml", 1, 9, 1, e);
    WriteRunEpisode(run.path(), "maml", 2, 9, 0, e);
    // files that do not follow the pattern are ignored
    std::ofstream(run.path() / "episodes" / "maml" / "notes.txt") << "x";

    const RunEpisode latest = FindRunEpisode(run.path(), std::nullopt, 1, std::nullopt, 1);
    CHECK(latest.method == "maml");
    CHECK(latest.round == 9);
    CHECK(latest.step == 1);
    CHECK(latest.Describe() == "maml agent 1 round 9 step 1");
    CHECK(FindRunEpisode(run.path(), std::string("maml"), 1, 0, 0).round == 0);
    CHECK(ListRunEpisodes(run.path()).size() == 5);

    CHECK(Error([&] { FindRunEpisode(run.path(), std::nullopt, 7, std::nullopt, 0); }) ==
          run.path().string() + ": --agent: no episode of agent 7 for maml (agents, by ledger "
                                "node id: 1, 2)");
    CHECK(Error([&] { FindRunEpisode(run.path(), std::nullopt, 2, std::nullopt, 1); }) ==
          run.path().string() +
              ": --step: agent 2 of maml has no episode at adaptation step 1 (steps: 0)");
    CHECK(Error([&] { FindRunEpisode(run.path(), std::nullopt, 1, 5, 0); }) ==
          run.path().string() +
              ": --round: agent 1 of maml has no episode at step 0 in round 5 (rounds: 0, 9)");
    CHECK(Error([&] { FindRunEpisode(run.path(), std::string("reptile"), 1, 0, 0); }) ==
          run.path().string() + ": --method: no episodes of method 'reptile' (recorded: maml)");

    // a second method makes the method a required choice
    WriteRunEpisode(run.path(), "scratch", 1, 9, 0, e);
    CHECK(Error([&] { FindRunEpisode(run.path(), std::nullopt, 1, std::nullopt, 0); }) ==
          run.path().string() +
              ": --method: episodes of several methods are recorded, choose one: maml, scratch");
    CHECK(FindRunEpisode(run.path(), std::string("scratch"), 1, std::nullopt, 0).round == 9);
  }

  TEST_CASE("a folder without episodes and a truncated recording are clear errors") {
    const test::TempDir run;
    CHECK(Error([&] { ListRunEpisodes(run.path()); }) ==
          run.path().string() + ": no episodes/ folder: this run recorded no episodes");
    CHECK(Error([&] { ListRunEpisodes(run.path() / "missing"); }) ==
          (run.path() / "missing").string() + ": not a run folder or a recording file");

    const std::filesystem::path path = WriteRunEpisode(run.path(), "maml", 1, 0, 0, ShortEpisode(0.1));
    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 20);
    const RunEpisode found = FindRunEpisode(run.path(), std::nullopt, 1, std::nullopt, 0);
    const std::string error = Error([&] { sim::ReadRecording(found.path.string()); });
    CHECK(error.find(path.string() + ": episode recording: truncated") == 0);
  }

  TEST_CASE("the energy overlay sums the method's ledger rounds up to the episode's round") {
    const test::TempDir run;
    CHECK(!RunEnergyThroughRound(run.path(), "maml", 3).has_value());  // no ledger
    {
      ledger::LedgerStore store((run.path() / "ledger.sqlite").string());
      ledger::RunInfo info;
      info.name = "x";
      info.method = "maml";
      const std::int64_t id = store.BeginRun(info);
      store.AddNode(id, {1, "agent", "a", "", ""});
      for (int round = 0; round < 4; ++round) {
        ledger::Event event;
        event.node = 1;
        event.round = round;
        event.energy_j = 10.0 * (round + 1);
        store.Append(id, event);
      }
      store.EndRun(id);
      // the later held-out deployment run of the same method is not the training bill
      info.name = "x:held-out";
      const std::int64_t held_out = store.BeginRun(info);
      store.AddNode(held_out, {1, "agent", "a", "", ""});
      ledger::Event event;
      event.node = 1;
      event.energy_j = 1000.0;
      store.Append(held_out, event);
      store.EndRun(held_out);
    }
    CHECK(RunEnergyThroughRound(run.path(), "maml", 1) == doctest::Approx(30.0));
    CHECK(RunEnergyThroughRound(run.path(), "maml", 9) == doctest::Approx(100.0));
    CHECK(!RunEnergyThroughRound(run.path(), "scratch", 1).has_value());
  }
}

}  // namespace
}  // namespace metajoule::experiments
