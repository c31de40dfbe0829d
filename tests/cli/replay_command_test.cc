#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "cli/command.h"
#include "experiments/episodes.h"
#include "sim/recording.h"
#include "sim/render_benchmark.h"
#include "tests/support/gl_sanitizer_options.h"
#include "tests/support/temp_dir.h"

namespace metajoule::cli {
namespace {

int Run(std::vector<std::string> args) { return RunCli(args); }

TEST_SUITE("cli/replay") {
  TEST_CASE("replay writes a video of a recording file") {
    const test::TempDir dir;
    const std::string file = dir.File("e.mjrec");
    sim::WriteRecording(sim::RecordRandomEpisode("reach2d", 2), file);
    CHECK(Run({"replay", file, "--video", dir.File("e.gif"), "--width", "64", "--height", "48"}) ==
          kExitOk);
    CHECK(std::filesystem::file_size(dir.File("e.gif")) > 1000);
  }

  TEST_CASE("replay of a run folder plays the chosen agent's steps side by side") {
    const test::TempDir run;
    const sim::EpisodeRecording e = sim::RecordRandomEpisode("reach2d", 4);
    experiments::WriteRunEpisode(run.path(), "maml", 1, 3, 0, e);
    experiments::WriteRunEpisode(run.path(), "maml", 1, 3, 1, e);
    experiments::WriteRunEpisode(run.path(), "maml", 2, 3, 0, e);
    const std::string video = run.File("a1.mp4");
    CHECK(Run({"replay", run.path().string(), "--agent", "1", "--video", video, "--width", "64",
               "--height", "48"}) == kExitOk);
    // two tiles in a row: step 0 and step 1
    std::string probe;
    if (FILE* pipe = popen(("ffprobe -v error -show_entries stream=width,height -of csv=p=0 '" +
                            video + "'").c_str(), "r")) {
      char line[64] = {};
      if (std::fgets(line, sizeof line, pipe) != nullptr) probe = line;
      pclose(pipe);
    }
    CHECK(probe == "128,48\n");
    // two agents recorded: the agent must be chosen; unknown rounds are refused
    CHECK(Run({"replay", run.path().string(), "--video", video}) == kExitUsageOrConfig);
    CHECK(Run({"replay", run.path().string(), "--agent", "2", "--round", "7", "--video", video}) ==
          kExitUsageOrConfig);
  }

  TEST_CASE("replay renders the episodes a real run recorded") {
    // a one-round maml run of one reach2d arm with 10-step episodes: steps 0 and 1 recorded
    const test::TempDir dir;
    const std::string experiment = dir.File("tiny.toml");
    std::ofstream(experiment) << R"(
[experiment]
name = "tiny-replay"
methods = ["maml"]
output_dir = ")" << dir.File("runs") << R"("
[training]
rounds = 1
[agents]
policy = { hidden_sizes = [8] }
[meta]
inner_episodes = 2
outer_episodes = 2
eval = { adaptation_steps = 1, episodes = 2 }
[evaluation]
held_out_tasks = 0
[[clusters]]
name = "a"
agents = 1
task = { family = "reach2d" }
env = { horizon = 10 }
)";
    REQUIRE(Run({"run", experiment}) == kExitOk);
    std::vector<std::filesystem::path> runs;
    for (const auto& entry :
         std::filesystem::directory_iterator(dir.path() / "runs" / "tiny-replay")) {
      runs.push_back(entry.path());
    }
    REQUIRE(runs.size() == 1);
    const std::string frames = dir.File("frames");
    CHECK(Run({"replay", runs[0].string(), "--agent", "1", "--frames", frames, "--width", "32",
               "--height", "24"}) == kExitOk);
    int pngs = 0;
    for (const auto& entry : std::filesystem::directory_iterator(frames)) {
      pngs += entry.path().extension() == ".png" ? 1 : 0;
    }
    CHECK(pngs == 11);  // frame 0 and 10 steps
    CHECK(Run({"replay", runs[0].string(), "--agent", "2", "--frames", frames}) ==
          kExitUsageOrConfig);  // one agent recorded
  }

  TEST_CASE("bad input: corrupt or truncated recordings, unknown formats, no display") {
    const test::TempDir dir;
    const std::string file = dir.File("e.mjrec");
    sim::WriteRecording(sim::RecordRandomEpisode("nav2d", 2), file);
    std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
    CHECK(Run({"replay", file, "--video", dir.File("e.mp4")}) == kExitUsageOrConfig);
    CHECK(!std::filesystem::exists(dir.File("e.mp4")));
    CHECK(Run({"replay", dir.File("missing.mjrec"), "--video", dir.File("e.mp4")}) ==
          kExitUsageOrConfig);
    sim::WriteRecording(sim::RecordRandomEpisode("nav2d", 2), file);
    CHECK(Run({"replay", file, "--video", dir.File("e.avi")}) == kExitUsageOrConfig);
    CHECK(Run({"replay", file, "--gl", "vulkan", "--video", dir.File("e.mp4")}) ==
          kExitUsageOrConfig);
    CHECK(Run({"replay", file, "--agent", "3", "--video", dir.File("e.mp4")}) ==
          kExitUsageOrConfig);  // selection flags need a run folder
    // no display: the window cannot open, the message points to --video
    const char* display = std::getenv("DISPLAY");
    const std::string saved = display ? display : "";
    unsetenv("DISPLAY");
    unsetenv("WAYLAND_DISPLAY");
    CHECK(Run({"replay", file}) == kExitUsageOrConfig);
    setenv("DISPLAY", ":98765", 1);  // a display that is not there: GLFW cannot open it
    CHECK(Run({"replay", file}) == kExitUsageOrConfig);
    if (display) {
      setenv("DISPLAY", saved.c_str(), 1);
    } else {
      unsetenv("DISPLAY");
    }
  }
}

}  // namespace
}  // namespace metajoule::cli
