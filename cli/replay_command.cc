// `metajoule replay`: recorded episodes in a window, or headless to a video or PNG frames
// (docs/replay.md).
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/error.h"
#include "experiments/episodes.h"
#include "sim/recording.h"
#include "sim/render.h"
#include "sim/video_writer.h"
#include "sim/viewer.h"

namespace metajoule::cli {
namespace {

struct ReplayOptions {
  std::vector<std::string> sources;
  std::vector<std::string> methods;
  std::vector<int> agents;
  std::optional<int> round;
  std::vector<int> steps;
  std::string video;
  std::string frames;
  int width{640};
  int height{480};
  double fps{0.0};
  std::string quality;
  std::string gl{"auto"};
  std::string preset{sim::VideoOptions{}.x264_preset};
  int columns{0};
  std::optional<double> azimuth, elevation, distance;
  bool no_text{false};
  bool paused{false};
  int max_frames{0};
};

// The episodes one run folder contributes: methods x agents x steps (each omitted list takes
// every value recorded, the method only when it is the only one).
void AddRunEpisodes(const ReplayOptions& o, const std::filesystem::path& run,
                    std::vector<sim::ReplayEpisode>& out, int& columns) {
  const std::vector<experiments::RunEpisode> all = experiments::ListRunEpisodes(run);
  std::vector<std::optional<std::string>> methods(o.methods.begin(), o.methods.end());
  if (methods.empty()) methods.push_back(std::nullopt);
  for (const auto& method : methods) {
    // resolve the method and list what it recorded (FindRunEpisode reports a bad choice)
    std::string chosen = method.value_or("");
    std::set<int> agents;
    if (!method) {
      std::set<std::string> names;
      for (const auto& e : all) names.insert(e.method);
      if (names.size() == 1) chosen = *names.begin();
    }
    for (const auto& e : all) {
      if (e.method == chosen) agents.insert(e.agent);
    }
    std::vector<int> agent_list = o.agents;
    if (agent_list.empty()) {
      // an unknown or ambiguous method: FindRunEpisode names the choices
      if (agents.empty()) experiments::FindRunEpisode(run, method, 0, o.round, 0);
      if (agents.size() > 1) {
        std::vector<std::string> names;
        for (const int a : agents) names.push_back(std::to_string(a));
        throw ConfigError({run.string()}, "--agent",
                          "episodes of several agents are recorded for " + chosen +
                              ", choose one or more (agents, by ledger node id: " +
                              JoinNames(names) + ")");
      }
      agent_list.assign(agents.begin(), agents.end());
    }
    for (const int agent : agent_list) {
      std::vector<int> steps = o.steps;
      if (steps.empty()) {
        std::set<int> recorded;
        for (const auto& e : all) {
          if (e.method == chosen && e.agent == agent) recorded.insert(e.step);
        }
        steps.assign(recorded.begin(), recorded.end());
        if (steps.empty()) steps.push_back(0);  // FindRunEpisode explains
      }
      columns = std::max(columns, static_cast<int>(steps.size()));
      for (const int step : steps) {
        const experiments::RunEpisode found =
            experiments::FindRunEpisode(run, method, agent, o.round, step);
        sim::ReplayEpisode episode;
        episode.recording = sim::ReadRecording(found.path.string());
        episode.source_name = found.path.string();
        episode.text.label = found.Describe();
        try {
          episode.text.energy_j =
              experiments::RunEnergyThroughRound(run, found.method, found.round);
        } catch (const std::exception& error) {
          std::cerr << "replay: no energy overlay (" << error.what() << ")\n";
        }
        out.push_back(std::move(episode));
      }
    }
  }
}

std::vector<sim::ReplayEpisode> LoadEpisodes(const ReplayOptions& o, int& columns) {
  std::vector<sim::ReplayEpisode> episodes;
  columns = 0;
  for (const std::string& source : o.sources) {
    std::error_code error;
    if (std::filesystem::is_directory(source, error)) {
      AddRunEpisodes(o, source, episodes, columns);
      continue;
    }
    if (!o.methods.empty() || !o.agents.empty() || o.round || !o.steps.empty()) {
      throw ConfigError({source}, "",
                        "--method, --agent, --round and --step select episodes of a run folder, "
                        "not of a recording file");
    }
    sim::ReplayEpisode episode;
    episode.recording = sim::ReadRecording(source);  // ConfigError naming the file
    episode.source_name = source;
    episode.text.label = std::filesystem::path(source).filename().string();
    episodes.push_back(std::move(episode));
  }
  if (columns <= 1) columns = 0;  // files only, or one step per agent: the default grid
  return episodes;
}

int Replay(const ReplayOptions& o) {
  int columns = 0;
  std::vector<sim::ReplayEpisode> episodes = LoadEpisodes(o, columns);
  if (o.columns > 0) columns = o.columns;
  const bool headless = !o.video.empty() || !o.frames.empty();
  sim::CameraSettings camera{o.azimuth, o.elevation, o.distance};

  if (!headless) {
    sim::ViewerOptions viewer;
    viewer.quality = o.quality.empty() ? sim::RenderQuality::kHigh
                                       : sim::ParseRenderQuality(o.quality);
    viewer.camera = camera;
    viewer.columns = columns;
    viewer.paused = o.paused;
    viewer.max_frames = o.max_frames;
    sim::ViewerRun run;
    try {
      run = sim::RunViewer(std::move(episodes), viewer);
    } catch (const sim::NoDisplayError& error) {
      throw ConfigError({}, "", error.what());
    }
    std::printf(
        "replay: window closed after %d frames drawn (episode frame %d shown last), GL %s\n",
        run.frames_drawn, run.last_frame, run.gl.c_str());
    return kExitOk;
  }

  sim::RenderOptions render;
  render.width = o.width;
  render.height = o.height;
  render.quality = o.quality.empty() ? sim::RenderQuality::kFast
                                     : sim::ParseRenderQuality(o.quality);
  render.backend = sim::ParseGlBackend(o.gl);
  render.camera = camera;
  render.text = !o.no_text;
  render.columns = columns;
  // check the outputs before any rendering work
  std::optional<sim::VideoFormat> video_format;
  if (!o.video.empty()) video_format = sim::VideoFormatForPath(o.video);
  const std::size_t count = episodes.size();
  sim::EpisodeRenderer renderer(std::move(episodes), render);

  sim::VideoOptions video;
  video.width = renderer.image_width();
  video.height = renderer.image_height();
  video.fps = o.fps > 0.0 ? o.fps : 1.0 / renderer.frame_seconds();  // real time by default
  video.x264_preset = o.preset;
  std::vector<std::unique_ptr<sim::VideoWriter>> writers;
  if (video_format) {
    writers.push_back(std::make_unique<sim::VideoWriter>(o.video, *video_format, video));
  }
  if (!o.frames.empty()) {
    writers.push_back(std::make_unique<sim::VideoWriter>(o.frames, sim::VideoFormat::kPng, video));
  }
  // a writer thread sends frame i down the pipe(s) while frame i + 1 renders; the rows stay
  // bottom-up as OpenGL reads them and go out top-down (docs/replay.md, "Speed")
  constexpr sim::RowOrder kOrder = sim::RowOrder::kBottomUp;
  sim::AsyncFrameWriter writer(std::move(writers), renderer.image_bytes(), kOrder);

  std::printf("replay: %zu episode%s, %d frames, %dx%d at %g fps, %s quality, GL %s (%s)\n",
              count, count == 1 ? "" : "s", renderer.num_frames(), video.width, video.height,
              video.fps, std::string(sim::ToString(render.quality)).c_str(),
              std::string(sim::ToString(renderer.gl().backend())).c_str(),
              renderer.gl().renderer().c_str());
  if (!renderer.gl().fallback_reason().empty()) {
    std::printf("replay: using OSMesa because %s\n", renderer.gl().fallback_reason().c_str());
  }
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < renderer.num_frames(); ++i) {
    renderer.RenderFrame(i, writer.Acquire(), kOrder);
    writer.Submit();
  }
  writer.Finish();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!o.video.empty()) std::printf("replay: wrote %s\n", o.video.c_str());
  if (!o.frames.empty()) {
    std::printf("replay: wrote %d PNG frames to %s/frame-NNNNNN.png\n", renderer.num_frames(),
                o.frames.c_str());
  }
  std::printf("replay: %d frames in %.2f s (%.0f frames/s)\n", renderer.num_frames(), seconds,
              renderer.num_frames() / seconds);
  return kExitOk;
}

}  // namespace

std::function<int()> ConfigureReplay(CLI::App& app) {
  auto o = std::make_shared<ReplayOptions>();
  app.add_option("source", o->sources,
                 "run folder(s) or recording file(s) (.mjrec); several make a side-by-side montage")
      ->required();
  app.add_option("--method", o->methods,
                 "run folder: the method (default: the only one recorded); repeat for a montage");
  app.add_option("--agent", o->agents,
                 "run folder: agent ledger node id (default: the only one); repeat for a montage");
  app.add_option("--round", o->round, "run folder: round (default: the latest recorded)");
  app.add_option("--step", o->steps,
                 "run folder: adaptation step (default: every step recorded, side by side)");
  app.add_option("--video", o->video, "headless: write a video, .mp4 (H.264) or .gif");
  app.add_option("--frames", o->frames, "headless: write PNG frames into this folder");
  app.add_option("--width", o->width, "headless: tile width in pixels")->capture_default_str();
  app.add_option("--height", o->height, "headless: tile height in pixels")->capture_default_str();
  app.add_option("--fps", o->fps, "headless: frames per second of the video (default: real time)");
  app.add_option("--quality", o->quality,
                 "fast (no shadows, reflections, multisampling) or high; default: fast headless, "
                 "high in the window");
  app.add_option("--gl", o->gl, "headless GL: auto (EGL, else OSMesa), egl or osmesa")
      ->capture_default_str();
  app.add_option("--preset", o->preset, "libx264 preset for .mp4 (ultrafast ... veryslow)")
      ->capture_default_str();
  app.add_option("--columns", o->columns, "montage tiles per row (default: one per step)");
  app.add_option("--azimuth", o->azimuth, "camera azimuth in degrees");
  app.add_option("--elevation", o->elevation, "camera elevation in degrees");
  app.add_option("--distance", o->distance, "camera distance in metres");
  app.add_flag("--no-text", o->no_text, "no overlay text");
  app.add_flag("--paused", o->paused, "window: start paused");
  app.add_option("--max-frames", o->max_frames,
                 "window: close by itself after drawing N frames (scripted checks, xvfb-run)")
      ->check(CLI::NonNegativeNumber);
  return [o] { return Replay(*o); };
}

}  // namespace metajoule::cli
