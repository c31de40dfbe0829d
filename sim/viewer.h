#pragma once
// The interactive replay window (GLFW, docs/replay.md): recorded episodes play side by side in
// one window, with play/pause, single steps, speed and a mouse-driven camera.

#include <stdexcept>
#include <string>
#include <vector>

#include "sim/render.h"

namespace metajoule::sim {

struct ViewerOptions {
  int width{1280};  ///< initial window size (pixels)
  int height{720};
  RenderQuality quality{RenderQuality::kHigh};
  CameraSettings camera{};
  double speed{1.0};  ///< playback speed relative to simulated time
  bool paused{false};
  int columns{0};  ///< tiles per row; 0: as EpisodeRenderer
  /// Close the window by itself after drawing this many frames (0: only when asked to). For
  /// scripted checks that the window works, e.g. under xvfb-run (docs/replay.md "The window").
  int max_frames{0};
};

/// What a window session did.
struct ViewerRun {
  int frames_drawn{0};  ///< window frames drawn (buffer swaps)
  int last_frame{0};    ///< the episode frame shown last
  std::string gl;       ///< the window's GL_RENDERER and GL_VERSION
};

/// Thrown when no window can be opened (no display, or GLFW cannot reach it). The message points
/// to headless rendering (--video, --frames).
class NoDisplayError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Opens a window and plays `episodes` until it is closed. Keys: space play/pause, right/left
/// step one frame (and pause), +/- double/halve the speed, home back to frame 0, t text on/off,
/// c reset the camera, q or escape quit. Mouse: left drag rotates, right drag moves, scroll or
/// middle drag zooms (every tile's camera together).
/// Throws NoDisplayError without a display, ConfigError for a recording that does not fit its
/// model, std::runtime_error when the window cannot get an OpenGL context.
ViewerRun RunViewer(std::vector<ReplayEpisode> episodes, const ViewerOptions& options);

}  // namespace metajoule::sim
