#include "sim/render_benchmark.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include "common/statistics.h"
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

// CPU seconds so far: every thread of this process, and the children waited for (ffmpeg).
double CpuSeconds() {
  double total = 0.0;
  for (const int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage usage{};
    getrusage(who, &usage);
    for (const timeval& t : {usage.ru_utime, usage.ru_stime}) {
      total += static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
    }
  }
  return total;
}

// The timings of one loop over the repeats.
struct Samples {
  std::string name;
  std::vector<double> fps;
  std::vector<double> cpu_ms;

  // Times one run of `frames` frames: body() does all of them.
  template <class Body>
  void Time(int frames, Body&& body) {
    const double cpu = CpuSeconds();
    const auto start = Clock::now();
    body();
    fps.push_back(frames / Seconds(start));
    cpu_ms.push_back(1e3 * (CpuSeconds() - cpu) / frames);
  }

  RenderBenchRow Row() const {
    return {name, Median(fps), *std::max_element(fps.begin(), fps.end()), Median(cpu_ms)};
  }
};

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
  result.distinct_frames = nframes;

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
  Samples raw{"raw: mjv_updateScene+mjr_render+readPixels", {}, {}};
  Samples draw{"replay: draw only (+glFinish)", {}, {}};
  Samples flip{"replay: draw + readPixels + flip", {}, {}};
  Samples no_flip{"replay: draw + readPixels (bottom-up)", {}, {}};
  Samples sync{"video, synchronous: render, flip, write", {}, {}};
  Samples pipelined{"video, pipelined (replay's path)", {}, {}};
  Samples encode{"ffmpeg alone on the pre-rendered frames", {}, {}};

  const std::string path = (std::filesystem::temp_directory_path() /
                            ("metajoule-bench-replay-" + std::to_string(getpid()) + ".mp4"))
                               .string();
  VideoOptions video;
  video.width = renderer.image_width();
  video.height = renderer.image_height();
  video.fps = 1.0 / renderer.frame_seconds();
  video.x264_preset = options.x264_preset;
  // the episode's frames, rendered once, for ffmpeg alone (the same content as the video loops)
  std::vector<std::vector<std::uint8_t>> rendered;
  if (options.video) {
    for (int i = 0; i < nframes; ++i) {
      rendered.emplace_back(renderer.image_bytes());
      renderer.RenderFrame(i, rendered.back());
    }
  }

  for (int r = 0; r < repeats; ++r) {  // alternate the loops so drifting load hits them alike
    raw.Time(frames, [&] {
      for (int i = 0; i < frames; ++i) {
        raw_scene.SetFrame(i % nframes);
        mjv_updateScene(&raw_scene.model(), &raw_scene.mutable_data(), &option, nullptr,
                        &raw_view.camera(), mjCAT_ALL, &raw_view.scene());
        mjr_render(viewport, &raw_view.scene(), &raw_view.context());
        mjr_readPixels(pixels.data(), nullptr, viewport, &raw_view.context());
      }
    });
    draw.Time(frames, [&] {
      for (int i = 0; i < frames; ++i) {
        renderer.DrawOnly(0, i % nframes);
        renderer.gl().Finish();
      }
    });
    flip.Time(frames, [&] {
      for (int i = 0; i < frames; ++i) renderer.RenderFrame(i % nframes, image);
    });
    no_flip.Time(frames, [&] {
      for (int i = 0; i < frames; ++i) renderer.RenderFrame(i % nframes, image, RowOrder::kBottomUp);
    });
    if (!options.video) continue;
    sync.Time(frames, [&] {  // the replay command's loop before the pipelined writer
      VideoWriter writer(path, VideoFormat::kMp4, video);
      result.video_command.clear();
      for (const std::string& arg : writer.command()) result.video_command += arg + " ";
      for (int i = 0; i < frames; ++i) {
        renderer.RenderFrame(i % nframes, image);
        writer.WriteFrame(image);
      }
      writer.Finish();
    });
    pipelined.Time(frames, [&] {
      std::vector<std::unique_ptr<VideoWriter>> writers;
      writers.push_back(std::make_unique<VideoWriter>(path, VideoFormat::kMp4, video));
      AsyncFrameWriter writer(std::move(writers), renderer.image_bytes(), RowOrder::kBottomUp);
      for (int i = 0; i < frames; ++i) {
        renderer.RenderFrame(i % nframes, writer.Acquire(), RowOrder::kBottomUp);
        writer.Submit();
      }
      writer.Finish();
    });
    encode.Time(frames, [&] {
      VideoWriter writer(path, VideoFormat::kMp4, video);
      for (int i = 0; i < frames; ++i) writer.WriteFrame(rendered[static_cast<std::size_t>(i % nframes)]);
      writer.Finish();
    });
  }
  std::filesystem::remove(path);
  for (const Samples* s : {&raw, &draw, &flip, &no_flip}) result.rows.push_back(s->Row());
  if (options.video) {
    for (const Samples* s : {&sync, &pipelined, &encode}) result.rows.push_back(s->Row());
  }
  return result;
}

std::string FormatRenderBenchmark(const RenderBenchOptions& options,
                                  const RenderBenchResult& r) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line,
                "bench replay: %s, %dx%d, %s quality%s, %d frames per run (cycling the "
                "episode's %d), %d runs per loop\n"
                "GL: %s (%s)\n",
                options.family.c_str(), options.width, options.height,
                std::string(ToString(options.quality)).c_str(), options.text ? "" : ", no text",
                options.frames, r.distinct_frames, options.repeats, r.backend.c_str(),
                r.renderer.c_str());
  out += line;
  std::snprintf(line, sizeof line, "%-44s %10s %10s %10s %12s\n", "loop", "median f/s",
                "best f/s", "x raw", "CPU ms/frame");
  out += line;
  const double base = r.rows.empty() ? 0.0 : r.rows.front().median_fps;
  for (const RenderBenchRow& row : r.rows) {
    std::snprintf(line, sizeof line, "%-44s %10.1f %10.1f %10.3f %12.2f\n", row.name.c_str(),
                  row.median_fps, row.best_fps, base > 0.0 ? row.median_fps / base : 0.0,
                  row.cpu_ms_per_frame);
    out += line;
  }
  out += "x raw: median against the raw loop's median; CPU: all threads of this process";
  out += options.video ? " and ffmpeg's\nffmpeg: " + r.video_command + "\n" : "\n";
  return out;
}

}  // namespace metajoule::sim
