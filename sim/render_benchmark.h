#pragma once
// `metajoule bench replay`: offscreen replay frames per second against a raw
// mjv_updateScene + mjr_render + mjr_readPixels loop on the same model and GL context, measured
// in the same run, and the same frames piped into ffmpeg, synchronously and pipelined.

#include <cstdint>
#include <string>
#include <vector>

#include "sim/recording.h"
#include "sim/render.h"
#include "sim/render_context.h"
#include "sim/video_writer.h"

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
  int repeats{3};    ///< timed runs per loop (the loops alternate); median and best are kept
  bool video{true};  ///< also time rendering piped into ffmpeg (H.264, preset below)
  bool text{true};   ///< draw the overlay text (the raw loop never does)
  std::string x264_preset{VideoOptions{}.x264_preset};  ///< the replay command's default
};

/// One timed loop: frames per second over the repeats, and CPU time per frame (this process's
/// threads, including llvmpipe's, plus ffmpeg's once it has exited).
struct RenderBenchRow {
  std::string name;
  double median_fps{0.0};
  double best_fps{0.0};
  double cpu_ms_per_frame{0.0};  ///< median over the repeats
};

struct RenderBenchResult {
  std::string backend;   ///< "egl" or "osmesa"
  std::string renderer;  ///< GL_RENDERER, GL_VERSION
  /// rows[0] is the baseline: mj_forward on the recorded state, mjv_updateScene, mjr_render,
  /// mjr_readPixels. Then ours (draw only; draw + read-back + flip; read-back without flip),
  /// and with video: synchronous pipe, pipelined pipe (the replay command's path) and ffmpeg
  /// alone on the same frames, pre-rendered (the encoder's ceiling).
  std::vector<RenderBenchRow> rows;
  int distinct_frames{0};     ///< frames of the episode (the loops cycle through them)
  std::string video_command;  ///< the ffmpeg command line used
};

/// Runs the loops. Throws std::runtime_error when no GL context can be made or ffmpeg fails.
RenderBenchResult BenchmarkReplay(const RenderBenchOptions& options);

/// A table of the result with ratios against the baseline's median.
std::string FormatRenderBenchmark(const RenderBenchOptions& options,
                                  const RenderBenchResult& result);

}  // namespace metajoule::sim
