#include "sim/recording.h"

#include <cstdio>
#include <cstring>
#include <filesystem>

#include <doctest/doctest.h>

#include "common/error.h"
#include "sim/random.h"
#include "sim/world.h"

namespace metajoule::sim {
namespace {

// Records one episode of `family` under a seeded uniform random policy.
EpisodeRecording RecordEpisode(const std::string& family, int horizon) {
  const World world(family);
  TaskDistributionConfig config;
  config.family = family;
  config.payload_mass = {0.0, 0.1};
  std::mt19937_64 rng(5);
  Env env(world, world.family().Sample(config, rng), EnvConfig{.horizon = horizon});
  EpisodeRecorder recorder;
  env.Reset(77);
  recorder.Begin(env, 77);
  std::vector<double> action(static_cast<std::size_t>(env.action_size()));
  for (;;) {
    for (std::size_t i = 0; i < action.size(); ++i) {
      action[i] = UniformDouble(rng, 1.5 * env.action_low()[i], 1.5 * env.action_high()[i]);
    }
    const StepResult result = env.Step(action);
    recorder.Record(env, action, result);
    if (IsDone(result.status)) break;
  }
  return recorder.recording();
}

bool BitEqual(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

std::string DecodeError(const std::vector<std::uint8_t>& bytes) {
  try {
    DecodeRecording(bytes, "episode.bin");
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "";
}

TEST_SUITE("sim/recording") {
  TEST_CASE("re-simulating a recording reproduces qpos and qvel bit for bit") {
    for (const char* family : {"reach2d", "reach3d", "nav2d", "runner_velocity",
                               "quadruped_direction"}) {
      CAPTURE(family);
      const EpisodeRecording recording = RecordEpisode(family, 40);
      CHECK(recording.num_frames() == 41);
      const ResimulatedStates states = Resimulate(recording);
      CHECK(BitEqual(states.qpos, recording.qpos));
      CHECK(BitEqual(states.qvel, recording.qvel));
    }
  }

  TEST_CASE("encoding then decoding gives the same recording") {
    const EpisodeRecording recording = RecordEpisode("runner_direction", 10);
    const EpisodeRecording decoded = DecodeRecording(EncodeRecording(recording), "mem");
    CHECK(decoded.family == recording.family);
    CHECK(decoded.model_hash == recording.model_hash);
    CHECK(decoded.task == recording.task);
    CHECK(decoded.config.horizon == 10);
    CHECK(decoded.config.frame_skip == 5);
    CHECK(decoded.reset_seed == 77);
    CHECK(BitEqual(decoded.qpos, recording.qpos));
    CHECK(BitEqual(decoded.qacc_warmstart, recording.qacc_warmstart));
    CHECK(BitEqual(decoded.ctrl, recording.ctrl));
    CHECK(BitEqual(decoded.action, recording.action));
    CHECK(BitEqual(decoded.reward, recording.reward));
    CHECK(decoded.status == recording.status);
  }

  TEST_CASE("a file round trip works and a re-read file re-simulates exactly") {
    const std::string path =
        (std::filesystem::temp_directory_path() / "metajoule_sim_episode.bin").string();
    const EpisodeRecording recording = RecordEpisode("reach2d", 15);
    WriteRecording(recording, path);
    const EpisodeRecording read = ReadRecording(path);
    std::remove(path.c_str());
    CHECK(BitEqual(Resimulate(read).qpos, recording.qpos));
  }

  TEST_CASE("a truncated recording is a clear error") {
    std::vector<std::uint8_t> bytes = EncodeRecording(RecordEpisode("nav2d", 5));
    bytes.resize(bytes.size() - 20);
    const std::string error = DecodeError(bytes);
    CHECK(error.rfind("episode.bin: episode recording: truncated: 6 frames and the checksum need ",
                      0) == 0);
    bytes.resize(20);
    CHECK(DecodeError(bytes) ==
          "episode.bin: episode recording: truncated: family needs 5 bytes at offset 16, only 4 "
          "left");
  }

  TEST_CASE("a corrupt recording is detected by magic, version or checksum") {
    const std::vector<std::uint8_t> good = EncodeRecording(RecordEpisode("nav2d", 5));
    std::vector<std::uint8_t> bytes = good;
    bytes[0] = 'X';
    CHECK(DecodeError(bytes) ==
          "episode.bin: episode recording: not a metajoule episode recording (bad magic)");
    bytes = good;
    bytes[8] = 9;
    CHECK(DecodeError(bytes) ==
          "episode.bin: episode recording: unsupported version 9 (this build reads version 1)");
    bytes = good;
    bytes[bytes.size() - 30] ^= 0x40;
    CHECK(DecodeError(bytes) == "episode.bin: episode recording: checksum mismatch: the file is corrupt");
  }

  TEST_CASE("a missing recording file names its path") {
    CHECK_THROWS_WITH_AS(ReadRecording("/nonexistent/e.bin"),
                         "/nonexistent/e.bin: cannot open the episode recording", ConfigError);
  }
}

}  // namespace
}  // namespace metajoule::sim
