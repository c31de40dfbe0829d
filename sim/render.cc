#include "sim/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "common/error.h"
#include "sim/world.h"

namespace metajoule::sim {
namespace {

constexpr int kMaxGeoms = 2000;
constexpr int kMinSize = 16;
constexpr int kMaxSize = 8192;

std::string Printf(const char* format, double value) {
  char text[64];
  std::snprintf(text, sizeof text, format, value);
  return text;
}

std::string EnergyText(double joules) {
  if (std::abs(joules) < 1e3) return Printf("%.2f J", joules);
  if (std::abs(joules) < 1e6) return Printf("%.2f kJ", joules / 1e3);
  return Printf("%.3f MJ", joules / 1e6);
}

// The default view of each family: a fixed view of the workspace, or the torso tracked from the
// side for the walkers.
void DefaultCamera(const ReplayScene& scene, mjvCamera& camera) {
  mjv_defaultFreeCamera(&scene.model(), &camera);
  const std::string_view family = scene.family().name();
  if (scene.ids().root_body >= 0) {
    camera.type = mjCAMERA_TRACKING;
    camera.trackbodyid = scene.ids().root_body;
    camera.fixedcamid = -1;
    camera.azimuth = family == "quadruped_direction" ? 135.0 : 90.0;
    camera.elevation = -15.0;
    camera.distance = family == "quadruped_direction" ? 4.0 : 3.2;
    return;
  }
  camera.lookat[0] = 0.0;
  camera.lookat[1] = 0.0;
  camera.lookat[2] = 0.0;
  camera.azimuth = 90.0;
  if (family == "reach2d") {
    camera.elevation = -60.0;
    camera.distance = 0.75;
  } else if (family == "reach3d") {
    camera.lookat[2] = 0.15;
    camera.azimuth = 135.0;
    camera.elevation = -30.0;
    camera.distance = 1.3;
  } else if (family == "nav2d") {
    camera.elevation = -60.0;
    camera.distance = 1.9;
  }
}

}  // namespace

std::string_view ToString(RenderQuality quality) {
  return quality == RenderQuality::kFast ? "fast" : "high";
}

RenderQuality ParseRenderQuality(std::string_view name) {
  if (name == "fast") return RenderQuality::kFast;
  if (name == "high") return RenderQuality::kHigh;
  throw std::invalid_argument("unknown render quality '" + std::string(name) +
                              "' (expected one of: fast, high)");
}

// ---- ReplayScene --------------------------------------------------------------------------------

ReplayScene::ReplayScene(EpisodeRecording recording, const std::string& source_name)
    : recording_(std::move(recording)) {
  const EpisodeRecording& r = recording_;
  auto fail = [&source_name](const std::string& message) {
    throw ConfigError({source_name}, "", "episode recording: " + message);
  };
  try {
    family_ = &FindTaskFamily(r.family);
  } catch (const std::invalid_argument& error) {
    fail(error.what());
  }
  const World world(r.family);
  if (world.model_hash() != r.model_hash) {
    fail("the embedded model " + world.model_name() +
         " differs from the one the episode was recorded with (model hash)");
  }
  model_ = CopyModel(world.model());
  ids_ = world.ids();
  try {
    family_->Apply(r.task, ids_, *model_);
  } catch (const std::invalid_argument& error) {
    fail(std::string("invalid task: ") + error.what());
  }
  const auto frames = static_cast<std::size_t>(r.num_frames());
  if (r.num_frames() < 1) fail("no frame to replay");
  if (model_->nq != r.nq || model_->nv != r.nv || model_->na != r.na || model_->nu != r.nu ||
      r.qpos.size() != frames * static_cast<std::size_t>(r.nq) ||
      r.qvel.size() != frames * static_cast<std::size_t>(r.nv) ||
      r.act.size() != frames * static_cast<std::size_t>(r.na) ||
      r.ctrl.size() != frames * static_cast<std::size_t>(r.nu) || r.reward.size() != frames) {
    fail("the recording's sizes do not match the model " + world.model_name());
  }
  data_ = MakeData(*model_);
  returns_.resize(frames);
  double sum = 0.0;
  for (std::size_t i = 0; i < frames; ++i) {
    if (i > 0) sum += r.reward[i];  // frame 0 has no step, and a reward of 0
    returns_[i] = sum;
  }
  SetFrame(0);
}

void ReplayScene::SetFrame(int index) {
  index = std::clamp(index, 0, num_frames() - 1);
  const auto i = static_cast<std::size_t>(index);
  const mjModel& m = *model_;
  mjData* d = data_.get();
  const EpisodeRecording& r = recording_;
  d->time = r.time[i];
  std::copy_n(r.qpos.begin() + static_cast<std::ptrdiff_t>(i * m.nq), m.nq, d->qpos);
  std::copy_n(r.qvel.begin() + static_cast<std::ptrdiff_t>(i * m.nv), m.nv, d->qvel);
  std::copy_n(r.act.begin() + static_cast<std::ptrdiff_t>(i * m.na), m.na, d->act);
  std::copy_n(r.ctrl.begin() + static_cast<std::ptrdiff_t>(i * m.nu), m.nu, d->ctrl);
  mj_forward(&m, d);
  frame_ = index;
}

double ReplayScene::ReturnThrough(int index) const {
  return returns_[static_cast<std::size_t>(std::clamp(index, 0, num_frames() - 1))];
}

double ReplayScene::frame_seconds() const {
  return std::max(1, recording_.config.frame_skip) * recording_.timestep;
}

// ---- task marker --------------------------------------------------------------------------------

void AddTaskMarker(const ReplayScene& scene, mjvScene& vscene) {
  if (vscene.ngeom >= vscene.maxgeom) return;
  const mjModel& m = scene.model();
  const mjData& d = scene.data();
  const Task& task = scene.recording().task;
  const ModelIds& ids = scene.ids();
  const std::string_view family = scene.family().name();
  const float green[4] = {0.1f, 0.85f, 0.25f, 0.55f};
  mjvGeom* g = vscene.geoms + vscene.ngeom;
  const mjtNum zero[3] = {0.0, 0.0, 0.0};

  if (task.goal_size > 0 && ids.goal_site >= 0) {
    // a sphere around the goal site (which Apply moved to the task's goal)
    const mjtNum r = std::max(2.5 * m.site_size[3 * ids.goal_site], 0.02);
    const mjtNum size[3] = {r, r, r};
    mjv_initGeom(g, mjGEOM_SPHERE, size, d.site_xpos + 3 * ids.goal_site, nullptr, green);
  } else if (ids.root_body >= 0) {
    // an arrow above the torso: the commanded direction, or forward scaled by the target speed
    double dx = 1.0, dy = 0.0, length = 0.8;
    if (family == "runner_velocity") {
      length = 0.5 * task.target_velocity;
    } else {
      const double theta = task.direction_deg * M_PI / 180.0;
      dx = std::cos(theta);
      dy = family == "quadruped_direction" ? std::sin(theta) : 0.0;  // the runner is planar
    }
    if (std::abs(length) * std::hypot(dx, dy) < 1e-3) return;
    const mjtNum* p = d.xpos + 3 * ids.root_body;
    const mjtNum z = p[2] + 0.45;
    mjv_initGeom(g, mjGEOM_ARROW, zero, zero, nullptr, green);
    mjv_makeConnector(g, mjGEOM_ARROW, 0.05, p[0], p[1], z, p[0] + length * dx,
                      p[1] + length * dy, z);
  } else {
    return;
  }
  g->category = mjCAT_DECOR;
  g->objtype = mjOBJ_UNKNOWN;
  g->objid = -1;
  g->segid = vscene.ngeom;
  ++vscene.ngeom;
}

// ---- SceneView ----------------------------------------------------------------------------------

SceneView::SceneView(const ReplayScene& scene, RenderQuality quality,
                     const CameraSettings& camera, int font_scale) {
  const mjModel& m = scene.model();
  mjv_defaultOption(&option_);
  mjv_defaultScene(&scene_);
  mjr_defaultContext(&context_);
  mjv_makeScene(&m, &scene_, kMaxGeoms);
  // offscreen size, multisampling and shadow map size are read from the model at this point
  mjr_makeContext(&m, &context_, font_scale);
  const bool fast = quality == RenderQuality::kFast;
  scene_.flags[mjRND_SHADOW] = fast ? 0 : 1;
  scene_.flags[mjRND_REFLECTION] = fast ? 0 : 1;
  scene_.flags[mjRND_SKYBOX] = fast ? 0 : 1;

  DefaultCamera(scene, camera_);
  if (camera.azimuth_deg) camera_.azimuth = *camera.azimuth_deg;
  if (camera.elevation_deg) camera_.elevation = *camera.elevation_deg;
  if (camera.distance_m) camera_.distance = *camera.distance_m;
  initial_camera_ = camera_;
}

SceneView::~SceneView() {
  mjr_freeContext(&context_);
  mjv_freeScene(&scene_);
}

void SceneView::UseBuffer(int framebuffer) {
  buffer_ = framebuffer;
  mjr_setBuffer(buffer_, &context_);
}

void SceneView::Draw(ReplayScene& scene, mjrRect viewport, const OverlayText& text,
                     bool show_text) {
  // each view has its own offscreen framebuffer: bind this one (another view may be bound)
  mjr_setBuffer(buffer_, &context_);
  mjv_updateScene(&scene.model(), &scene.mutable_data(), &option_, nullptr, &camera_, mjCAT_ALL,
                  &scene_);
  AddTaskMarker(scene, scene_);
  mjr_render(viewport, &scene_, &context_);
  if (!show_text) return;

  // top left: where the episode is; bottom left: what it is
  const int frame = scene.frame();
  std::string titles = "step\ntime\nreturn";
  std::string values = std::to_string(frame) + " / " + std::to_string(scene.num_frames() - 1) +
                       "\n" + Printf("%.2f s", scene.data().time) + "\n" +
                       Printf("%.3f", scene.ReturnThrough(frame));
  if (text.energy_j) {
    titles.append("\nenergy");
    values.append("\n").append(EnergyText(*text.energy_j));
  }
  mjr_overlay(mjFONT_NORMAL, mjGRID_TOPLEFT, viewport, titles.c_str(), values.c_str(), &context_);
  std::string about = text.label;
  const std::string task = scene.recording().task.Describe();
  if (!task.empty()) {
    if (!about.empty()) about.append("\n");
    about.append("task: ").append(task);
  }
  if (!about.empty()) {
    mjr_overlay(mjFONT_NORMAL, mjGRID_BOTTOMLEFT, viewport, about.c_str(), nullptr, &context_);
  }
  if (!text.status.empty()) {
    mjr_overlay(mjFONT_NORMAL, mjGRID_TOPRIGHT, viewport, text.status.c_str(), nullptr,
                &context_);
  }
}

void SceneView::ReadPixels(mjrRect viewport, std::span<std::uint8_t> rgb, RowOrder order) {
  const auto row = static_cast<std::size_t>(3 * viewport.width);
  const auto rows = static_cast<std::size_t>(viewport.height);
  if (rgb.size() != row * rows) {
    throw std::invalid_argument("SceneView::ReadPixels: expected " + std::to_string(row * rows) +
                                " bytes, got " + std::to_string(rgb.size()));
  }
  mjr_setBuffer(buffer_, &context_);
  if (order == RowOrder::kBottomUp) {
    mjr_readPixels(rgb.data(), nullptr, viewport, &context_);
    return;
  }
  flip_.resize(row * rows);
  mjr_readPixels(flip_.data(), nullptr, viewport, &context_);
  // OpenGL's first row is the bottom one
  for (std::size_t y = 0; y < rows; ++y) {
    std::memcpy(rgb.data() + y * row, flip_.data() + (rows - 1 - y) * row, row);
  }
}

// ---- EpisodeRenderer ----------------------------------------------------------------------------

EpisodeRenderer::EpisodeRenderer(std::vector<ReplayEpisode> episodes,
                                 const RenderOptions& options)
    : options_(options) {
  if (episodes.empty()) throw std::invalid_argument("EpisodeRenderer: expected an episode, got none");
  for (const int size : {options.width, options.height}) {
    if (size < kMinSize || size > kMaxSize) {
      throw std::invalid_argument("EpisodeRenderer: expected a tile size in [16, 8192] pixels, got " +
                                  std::to_string(options.width) + "x" +
                                  std::to_string(options.height));
    }
  }
  const int n = static_cast<int>(episodes.size());
  columns_ = options.columns > 0 ? std::min(options.columns, n)
                                 : (n <= 3 ? n : static_cast<int>(std::ceil(std::sqrt(n))));
  rows_ = (n + columns_ - 1) / columns_;

  // scenes first: a bad recording fails before any GL work
  for (ReplayEpisode& episode : episodes) {
    auto scene = std::make_unique<ReplayScene>(std::move(episode.recording), episode.source_name);
    mjModel& m = scene->mutable_model();
    m.vis.global.offwidth = options.width;
    m.vis.global.offheight = options.height;
    const bool fast = options.quality == RenderQuality::kFast;
    m.vis.quality.offsamples = fast ? 0 : 4;
    if (fast) m.vis.quality.shadowsize = 256;  // shadows are off: a small unused map
    scenes_.push_back(std::move(scene));
    episode.recording = EpisodeRecording{};
  }
  episodes_ = std::move(episodes);
  gl_ = std::make_unique<OffscreenGlContext>(options.backend);
  for (const auto& scene : scenes_) {
    views_.push_back(std::make_unique<SceneView>(*scene, options.quality, options.camera));
    views_.back()->UseBuffer(mjFB_OFFSCREEN);
  }
  tile_.resize(static_cast<std::size_t>(3 * options.width * options.height));
}

EpisodeRenderer::~EpisodeRenderer() {
  // MuJoCo's GL objects go while their context is current
  if (gl_) gl_->MakeCurrent();
  views_.clear();
}

std::size_t EpisodeRenderer::image_bytes() const {
  return static_cast<std::size_t>(image_width()) * static_cast<std::size_t>(image_height()) * 3;
}

int EpisodeRenderer::num_frames() const {
  int frames = 0;
  for (const auto& scene : scenes_) frames = std::max(frames, scene->num_frames());
  return frames;
}

double EpisodeRenderer::frame_seconds() const { return scenes_.front()->frame_seconds(); }

void EpisodeRenderer::DrawOnly(int tile, int index) {
  gl_->MakeCurrent();  // another renderer may have made its own context current
  ReplayScene& scene = *scenes_.at(static_cast<std::size_t>(tile));
  scene.SetFrame(index);
  views_[static_cast<std::size_t>(tile)]->Draw(scene, {0, 0, options_.width, options_.height},
                                               episodes_[static_cast<std::size_t>(tile)].text,
                                               options_.text);
}

void EpisodeRenderer::RenderFrame(int index, std::span<std::uint8_t> rgb, RowOrder order) {
  if (rgb.size() != image_bytes()) {
    throw std::invalid_argument("EpisodeRenderer::RenderFrame: expected a buffer of " +
                                std::to_string(image_bytes()) + " bytes, got " +
                                std::to_string(rgb.size()));
  }
  const mjrRect viewport{0, 0, options_.width, options_.height};
  const auto tile_row = static_cast<std::size_t>(3 * options_.width);
  const auto image_row = static_cast<std::size_t>(3 * image_width());
  const int tiles = static_cast<int>(scenes_.size());
  if (tiles == 1) {  // the image is the tile
    DrawOnly(0, index);
    views_[0]->ReadPixels(viewport, rgb, order);
    return;
  }
  std::fill(rgb.begin(), rgb.end(), std::uint8_t{0});  // empty grid cells stay black
  for (int t = 0; t < tiles; ++t) {
    DrawOnly(t, index);  // a shorter episode holds its last frame (SetFrame clamps)
    views_[static_cast<std::size_t>(t)]->ReadPixels(viewport, tile_, order);
    const auto x0 = static_cast<std::size_t>((t % columns_) * options_.width) * 3;
    // tile row t of the grid, counted from the top (top-down) or from the bottom (bottom-up)
    const int grid_row = order == RowOrder::kTopDown ? t / columns_ : rows_ - 1 - t / columns_;
    const auto y0 = static_cast<std::size_t>(grid_row * options_.height);
    for (std::size_t y = 0; y < static_cast<std::size_t>(options_.height); ++y) {
      std::memcpy(rgb.data() + (y0 + y) * image_row + x0, tile_.data() + y * tile_row, tile_row);
    }
  }
}

}  // namespace metajoule::sim
