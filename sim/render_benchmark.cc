#include "sim/render_benchmark.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <unistd.h>
#include <vector>

#include "sim/env.h"
#include "sim/random.h"
#include "sim/video_writer.h"
#include "sim/world.h"

namespace metajoule::sim {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Frames per second of the best of `repeats` runs of `frames` calls of body(i).
template <class Body>
double BestFps(int frames, int repeats, Body&& body) {
  double best = 0.0;
  for (int r = 0; r < repeats; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < frames; ++i) body(i);
    best = std::max(best, frames / Seconds(start));
  }
  return best;
}

}  // namespace

EpisodeRecording RecordRandomEpisode(const std::string& family, std::uint64_t seed) {
  const World world(family);
  TaskDistributionConfig config;
  config.family = family;
  std::mt19937_64 rng(seed);
  Env env(world, world.family().Sample(config, rng));
  env.Reset(seed);
  EpisodeRecorder recorder;
  recorder.Begin(env, seed);
  std::vector<double> action(static_cast<std::size_t>(env.action_size()));
  for (;;) {
    for (std::size_t i = 0; i < action.size(); ++i) {
      action[i] = UniformDouble(rng, env.action_low()[i], env.action_high()[i]);
    }
    const StepResult result = env.Step(action);
    recorder.Record(env, action, result);
    if (IsDone(result.status)) break;
  }
  return recorder.recording();
}

RenderBenchResult BenchmarkReplay(const RenderBenchOptions& options) {
  const EpisodeRecording recording = RecordRandomEpisode(options.family, 1);
  RenderOptions render;
  render.width = options.width;
  render.height = options.height;
  render.quality = options.quality;
  render.backend = options.backend;
  render.text = options.text;
  std::vector<ReplayEpisode> episodes(1);
  episodes[0].recording = recording;
  episodes[0].source_name = "bench";
  episodes[0].text.label = "bench replay";
  EpisodeRenderer renderer(std::move(episodes), render);
  const int nframes = renderer.num_frames();

  RenderBenchResult result;
  result.backend = std::string(ToString(renderer.gl().backend()));
  result.renderer = renderer.gl().renderer();

  // the baseline: the same model and state, MuJoCo's calls and nothing else
  ReplayScene raw_scene(recording, "bench");
  mjModel& m = raw_scene.mutable_model();
  m.vis.global.offwidth = options.width;
  m.vis.global.offheight = options.height;
  m.vis.quality.offsamples = options.quality == RenderQuality::kFast ? 0 : 4;
  if (options.quality == RenderQuality::kFast) m.vis.quality.shadowsize = 256;
  SceneView raw_view(raw_scene, options.quality, {});
  raw_view.UseBuffer(mjFB_OFFSCREEN);
  mjvOption option;
  mjv_defaultOption(&option);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(3 * options.width * options.height));
  const mjrRect viewport{0, 0, options.width, options.height};
  std::vector<std::uint8_t> image(renderer.image_bytes());

  const int frames = std::max(1, options.frames);
  const int repeats = std::max(1, options.repeats);
  for (int r = 0; r < repeats; ++r) {  // alternate the loops so drifting load hits them alike
    result.raw_fps = std::max(result.raw_fps, BestFps(frames, 1, [&](int i) {
      raw_scene.SetFrame(i % nframes);
      mjv_updateScene(&raw_scene.model(), &raw_scene.mutable_data(), &option, nullptr,
                      &raw_view.camera(), mjCAT_ALL, &raw_view.scene());
      mjr_render(viewport, &raw_view.scene(), &raw_view.context());
      mjr_readPixels(pixels.data(), nullptr, viewport, &raw_view.context());
    }));
    result.draw_fps = std::max(result.draw_fps, BestFps(frames, 1, [&](int i) {
      renderer.DrawOnly(0, i % nframes);
      renderer.gl().Finish();
    }));
    result.frame_fps = std::max(result.frame_fps, BestFps(frames, 1, [&](int i) {
      renderer.RenderFrame(i % nframes, image);
    }));
  }

  if (options.video) {
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("metajoule-bench-replay-" + std::to_string(getpid()) + ".mp4"))
                                 .string();
    VideoOptions video;
    video.width = renderer.image_width();
    video.height = renderer.image_height();
    video.fps = 1.0 / renderer.frame_seconds();
    video.x264_preset = options.x264_preset;
    for (int r = 0; r < repeats; ++r) {
      auto start = Clock::now();
      {
        VideoWriter writer(path, VideoFormat::kMp4, video);
        result.video_command.clear();
        for (const std::string& arg : writer.command()) result.video_command += arg + " ";
        for (int i = 0; i < frames; ++i) {
          renderer.RenderFrame(i % nframes, image);
          writer.WriteFrame(image);
        }
        writer.Finish();
      }
      result.video_fps = std::max(result.video_fps, frames / Seconds(start));

      start = Clock::now();
      {
        VideoWriter writer(path, VideoFormat::kMp4, video);
        for (int i = 0; i < frames; ++i) writer.WriteFrame(image);
        writer.Finish();
      }
      result.encode_fps = std::max(result.encode_fps, frames / Seconds(start));
    }
    std::filesystem::remove(path);
  }
  return result;
}

std::string FormatRenderBenchmark(const RenderBenchOptions& options,
                                  const RenderBenchResult& r) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line,
                "bench replay: %s, %dx%d, %s quality%s, %d frames per run, best of %d\n"
                "GL: %s (%s)\n",
                options.family.c_str(), options.width, options.height,
                std::string(ToString(options.quality)).c_str(), options.text ? "" : ", no text",
                options.frames, options.repeats,
                r.backend.c_str(), r.renderer.c_str());
  out += line;
  std::snprintf(line, sizeof line, "%-44s %10s %12s\n", "loop", "frames/s", "x raw loop");
  out += line;
  auto row = [&](const char* name, double fps) {
    std::snprintf(line, sizeof line, "%-44s %10.1f %12.3f\n", name, fps,
                  r.raw_fps > 0.0 ? fps / r.raw_fps : 0.0);
    out += line;
  };
  row("raw: mjv_updateScene+mjr_render+readPixels", r.raw_fps);
  row("replay: draw only (+glFinish)", r.draw_fps);
  row("replay: draw + readPixels + flip", r.frame_fps);
  if (options.video) {
    row(("replay piped to ffmpeg (h264 " + options.x264_preset + ")").c_str(), r.video_fps);
    row("ffmpeg alone (one frame repeated)", r.encode_fps);
    out += "ffmpeg: " + r.video_command + "\n";
  }
  return out;
}

}  // namespace metajoule::sim
