#pragma once
// Rendering recorded episodes (docs/replay.md): a recorded state is put into an mjData
// (time, qpos, qvel, act, ctrl, then mj_forward), drawn with MuJoCo's renderer, marked with the
// task's goal and labelled with the step, the return so far and (when known) the energy so far.
//
// Offscreen, EpisodeRenderer draws one tile per episode (a montage when there are several) into
// an RGB image with rows top-down: mjr_readPixels returns OpenGL's bottom-up rows, which are
// flipped here, or left bottom-up (RowOrder::kBottomUp) for a consumer that reverses them itself
// (VideoWriter). The interactive viewer (sim/viewer.h) draws the same SceneView into a window.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mujoco/mujoco.h>

#include "sim/mujoco_handles.h"
#include "sim/recording.h"
#include "sim/render_context.h"
#include "sim/task_family.h"

namespace metajoule::sim {

/// kFast: no shadows, reflections or skybox, no multisampling (about 8x faster on llvmpipe);
/// kHigh: MuJoCo's defaults (shadows, reflections, skybox, 4x multisampling).
enum class RenderQuality { kFast, kHigh };
std::string_view ToString(RenderQuality quality);
/// Parses "fast" or "high". Throws std::invalid_argument listing the valid names.
RenderQuality ParseRenderQuality(std::string_view name);

/// Camera overrides; unset fields keep the family's default view (tracking the torso for the
/// runner and the quadruped, a fixed view of the workspace for the others).
struct CameraSettings {
  std::optional<double> azimuth_deg;
  std::optional<double> elevation_deg;
  std::optional<double> distance_m;
};

/// A recorded episode ready to be drawn: its family's embedded model with the recorded task
/// applied (goal site, payload, damping, gains) and an mjData holding one frame at a time.
class ReplayScene {
 public:
  /// `source_name` names the recording in messages. Throws ConfigError "source_name: ..." when
  /// the family is unknown, the embedded model changed since recording (hash), the sizes do not
  /// match the model, the task is invalid or the recording has no frame.
  ReplayScene(EpisodeRecording recording, const std::string& source_name);

  ReplayScene(const ReplayScene&) = delete;
  ReplayScene& operator=(const ReplayScene&) = delete;

  /// Restores frame `index` (clamped to [0, num_frames() - 1]): time, qpos, qvel, act, ctrl,
  /// then mj_forward.
  void SetFrame(int index);
  int frame() const { return frame_; }
  int num_frames() const { return recording_.num_frames(); }
  /// Sum of the rewards of steps 1..index (the return so far at frame index).
  double ReturnThrough(int index) const;
  /// Seconds of simulated time between two frames (frame_skip * timestep).
  double frame_seconds() const;

  const EpisodeRecording& recording() const { return recording_; }
  const TaskFamily& family() const { return *family_; }
  const ModelIds& ids() const { return ids_; }
  const mjModel& model() const { return *model_; }
  mjModel& mutable_model() { return *model_; }
  const mjData& data() const { return *data_; }
  mjData& mutable_data() { return *data_; }

 private:
  EpisodeRecording recording_;
  const TaskFamily* family_{nullptr};
  ModelIds ids_;
  MjModelPtr model_;
  MjDataPtr data_;
  std::vector<double> returns_;  // returns_[i]: return through frame i
  int frame_{-1};
};

/// Text drawn over a tile.
struct OverlayText {
  std::string label;                ///< e.g. "maml  agent 3  round 10  adapt step 1"
  std::optional<double> energy_j;   ///< energy so far (J), shown when set
  std::string status;               ///< e.g. "paused  speed 1x" (viewer)
};

/// MuJoCo's scene and GL resources for one scene (one tile): mjvScene, mjrContext, camera and
/// options. Needs a current GL context for its whole life (created, drawn and freed on it).
class SceneView {
 public:
  /// `scene`'s model must have vis.global.offwidth/offheight >= the largest viewport drawn
  /// offscreen (EpisodeRenderer sets them).
  /// `font_scale`: mjFONTSCALE_100, 150, 200, ... (text size).
  SceneView(const ReplayScene& scene, RenderQuality quality, const CameraSettings& camera,
            int font_scale = mjFONTSCALE_100);
  ~SceneView();
  SceneView(const SceneView&) = delete;
  SceneView& operator=(const SceneView&) = delete;

  /// Draws `scene`'s current frame into `viewport` of the current buffer (mjFB_OFFSCREEN or
  /// mjFB_WINDOW, chosen with UseBuffer): the model, the goal marker, then the overlay text.
  void Draw(ReplayScene& scene, mjrRect viewport, const OverlayText& text, bool show_text);
  /// Chooses where Draw and ReadPixels go: mjFB_OFFSCREEN (the default; this view's own
  /// framebuffer object) or mjFB_WINDOW.
  void UseBuffer(int framebuffer);
  /// Reads `viewport` of the offscreen buffer as RGB into `rgb` (3 * width * height bytes, row
  /// stride 3 * width), rows top-down (flipped here) or as OpenGL gives them (bottom-up).
  void ReadPixels(mjrRect viewport, std::span<std::uint8_t> rgb,
                  RowOrder order = RowOrder::kTopDown);

  mjvCamera& camera() { return camera_; }
  /// Back to the camera the view started with.
  void ResetCamera() { camera_ = initial_camera_; }
  mjvScene& scene() { return scene_; }
  const mjrContext& context() const { return context_; }

 private:
  mjvCamera camera_{};
  mjvCamera initial_camera_{};
  mjvOption option_{};
  mjvScene scene_{};
  mjrContext context_{};
  int buffer_{mjFB_OFFSCREEN};
  std::vector<std::uint8_t> flip_;  // bottom-up rows from mjr_readPixels
};

/// Adds the task's marker to a scene after mjv_updateScene: a translucent green sphere at the
/// goal (reach2d, reach3d, nav2d), or a green arrow above the torso, 0.8 m along the commanded
/// direction (runner_direction, quadruped_direction) or forward with 0.5 m per m/s of target
/// velocity (runner_velocity). Does nothing when the scene is full.
void AddTaskMarker(const ReplayScene& scene, mjvScene& vscene);

/// Options of EpisodeRenderer.
struct RenderOptions {
  int width{640};   ///< pixels of one tile
  int height{480};
  RenderQuality quality{RenderQuality::kFast};
  GlBackend backend{GlBackend::kAuto};
  CameraSettings camera{};
  bool text{true};  ///< draw the overlay text
  int columns{0};   ///< tiles per row of a montage; 0: all in one row up to 3, then a grid
};

/// One episode of a montage and its overlay text.
struct ReplayEpisode {
  EpisodeRecording recording;
  std::string source_name;  ///< file it came from, for messages
  OverlayText text;
};

/// Renders episodes offscreen, one tile each, into one RGB image per frame.
class EpisodeRenderer {
 public:
  /// Creates the GL context and one scene per episode. Throws std::invalid_argument for sizes
  /// out of [16, 8192] or no episode, ConfigError for a recording that does not fit its model
  /// (ReplayScene), std::runtime_error when no offscreen GL context can be created.
  EpisodeRenderer(std::vector<ReplayEpisode> episodes, const RenderOptions& options);
  ~EpisodeRenderer();
  EpisodeRenderer(const EpisodeRenderer&) = delete;
  EpisodeRenderer& operator=(const EpisodeRenderer&) = delete;

  int image_width() const { return columns_ * options_.width; }
  int image_height() const { return rows_ * options_.height; }
  /// Bytes of one RGB image (3 * image_width * image_height).
  std::size_t image_bytes() const;
  /// Frames of the longest episode; shorter ones hold their last frame.
  int num_frames() const;
  /// Seconds of simulated time per frame of the first episode (for a real-time video).
  double frame_seconds() const;

  /// Renders frame `index` of every episode into `rgb` (image_bytes()), rows in `order`.
  /// Throws std::invalid_argument on a wrong buffer size.
  void RenderFrame(int index, std::span<std::uint8_t> rgb, RowOrder order = RowOrder::kTopDown);
  /// Draws frame `index` of tile `tile` without reading the pixels back (benchmarks).
  void DrawOnly(int tile, int index);

  const OffscreenGlContext& gl() const { return *gl_; }

 private:
  RenderOptions options_;
  int columns_{1};
  int rows_{1};
  std::unique_ptr<OffscreenGlContext> gl_;
  std::vector<ReplayEpisode> episodes_;
  std::vector<std::unique_ptr<ReplayScene>> scenes_;
  std::vector<std::unique_ptr<SceneView>> views_;
  std::vector<std::uint8_t> tile_;
};

}  // namespace metajoule::sim
