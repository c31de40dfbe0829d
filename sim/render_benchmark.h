#pragma once
// `metajoule bench replay`: offscreen replay frames per second against a raw
// mjv_updateScene + mjr_render + mjr_readPixels loop on the same model and GL context, measured
// in the same run, and the same frames piped into ffmpeg.

#include <cstdint>
#include <string>

#include "sim/recording.h"
#include "sim/render.h"
#include "sim/render_context.h"

namespace metajoule::sim {

/// An episode of `family` (its default task, horizon and frame skip) under uniform random
/// actions drawn from `seed`: a stand-in for a policy's episode in benchmarks and tests.
EpisodeRecording RecordRandomEpisode(const std::string& family, std::uint64_t seed);

struct RenderBenchOptions {
  std::string family{"quadruped_direction"};
  int width{640};
  int height{480};
  RenderQuality quality{RenderQuality::kFast};
  GlBackend backend{GlBackend::kAuto};
  int frames{300};   ///< frames per timed run
  int repeats{3};    ///< timed runs per loop; the best is kept
  bool video{true};  ///< also time rendering piped into ffmpeg (H.264, preset below)
  bool text{true};   ///< draw the overlay text (the raw loop never does)
  std::string x264_preset{"ultrafast"};
};

/// Frames per second of each loop (best of `repeats`).
struct RenderBenchResult {
  std::string backend;   ///< "egl" or "osmesa"
  std::string renderer;  ///< GL_RENDERER, GL_VERSION
  /// Baseline: mj_forward on the recorded state, mjv_updateScene, mjr_render, mjr_readPixels.
  double raw_fps{0.0};
  /// Ours without reading back: SetFrame, scene, task marker, mjr_render, overlay, glFinish.
  double draw_fps{0.0};
  /// Ours: EpisodeRenderer::RenderFrame (draw + mjr_readPixels + row flip).
  double frame_fps{0.0};
  /// EpisodeRenderer::RenderFrame piped into ffmpeg, until ffmpeg has written the file.
  double video_fps{0.0};
  /// ffmpeg alone: one pre-rendered frame written `frames` times (the encoder's ceiling).
  double encode_fps{0.0};
  std::string video_command;  ///< the ffmpeg command line used
};

/// Runs the loops. Throws std::runtime_error when no GL context can be made or ffmpeg fails.
RenderBenchResult BenchmarkReplay(const RenderBenchOptions& options);

/// A table of the result with ratios against raw_fps.
std::string FormatRenderBenchmark(const RenderBenchOptions& options,
                                  const RenderBenchResult& result);

}  // namespace metajoule::sim
