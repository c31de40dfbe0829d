#include "sim/viewer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <GLFW/glfw3.h>

#include "sim/render_context.h"

namespace metajoule::sim {
namespace {

constexpr const char* kHeadlessHint =
    "render headless instead: metajoule replay ... --video out.mp4 (or out.gif, or --frames DIR)";

std::string g_glfw_error;  // the last GLFW error (GLFW reports errors through a callback)

// Everything the callbacks read and change.
struct Viewer {
  std::vector<std::unique_ptr<ReplayScene>> scenes;
  std::vector<std::unique_ptr<SceneView>> views;
  std::vector<OverlayText> texts;
  const ViewerOptions* options{nullptr};
  int frame{0};
  int num_frames{1};
  bool paused{false};
  bool show_text{true};
  double speed{1.0};
  double clock{0.0};  // simulated seconds since frame 0 at the current speed
  bool dragging[3]{false, false, false};
  double last_x{0.0}, last_y{0.0};

  void Seek(int to) {
    frame = std::clamp(to, 0, num_frames - 1);
    clock = frame * scenes.front()->frame_seconds();
  }
  void MoveCameras(int action, double dx, double dy) {
    for (std::size_t i = 0; i < views.size(); ++i) {
      mjv_moveCamera(&scenes[i]->model(), action, dx, dy, &views[i]->scene(),
                     &views[i]->camera());
    }
  }
};

Viewer& Of(GLFWwindow* window) { return *static_cast<Viewer*>(glfwGetWindowUserPointer(window)); }

void OnKey(GLFWwindow* window, int key, int, int action, int) {
  if (action == GLFW_RELEASE) return;
  Viewer& v = Of(window);
  switch (key) {
    case GLFW_KEY_SPACE:
      if (v.frame >= v.num_frames - 1) v.Seek(0);  // at the end: play again
      v.paused = !v.paused;
      break;
    case GLFW_KEY_RIGHT: v.paused = true; v.Seek(v.frame + 1); break;
    case GLFW_KEY_LEFT: v.paused = true; v.Seek(v.frame - 1); break;
    case GLFW_KEY_HOME: v.Seek(0); break;
    case GLFW_KEY_EQUAL:
    case GLFW_KEY_KP_ADD: v.speed = std::min(v.speed * 2.0, 16.0); break;
    case GLFW_KEY_MINUS:
    case GLFW_KEY_KP_SUBTRACT: v.speed = std::max(v.speed / 2.0, 1.0 / 16.0); break;
    case GLFW_KEY_T: v.show_text = !v.show_text; break;
    case GLFW_KEY_C:
      for (const auto& view : v.views) view->ResetCamera();
      break;
    case GLFW_KEY_Q:
    case GLFW_KEY_ESCAPE: glfwSetWindowShouldClose(window, GLFW_TRUE); break;
    default: break;
  }
}

void OnMouseButton(GLFWwindow* window, int button, int action, int) {
  Viewer& v = Of(window);
  if (button < 0 || button > 2) return;
  v.dragging[button] = action == GLFW_PRESS;
  glfwGetCursorPos(window, &v.last_x, &v.last_y);
}

// MuJoCo's camera convention (simulate.cc): left rotates, right moves, middle zooms; shift
// switches rotation and motion to the horizontal plane.
void OnCursor(GLFWwindow* window, double x, double y) {
  Viewer& v = Of(window);
  const double dx = x - v.last_x, dy = y - v.last_y;
  v.last_x = x;
  v.last_y = y;
  if (!v.dragging[0] && !v.dragging[1] && !v.dragging[2]) return;
  int height = 1, width = 1;
  glfwGetWindowSize(window, &width, &height);
  const bool shift = glfwGetKey(window, GLFW_KEY_LEFT_SHIFT) == GLFW_PRESS ||
                     glfwGetKey(window, GLFW_KEY_RIGHT_SHIFT) == GLFW_PRESS;
  int action = mjMOUSE_ZOOM;
  if (v.dragging[GLFW_MOUSE_BUTTON_RIGHT]) action = shift ? mjMOUSE_MOVE_H : mjMOUSE_MOVE_V;
  if (v.dragging[GLFW_MOUSE_BUTTON_LEFT]) action = shift ? mjMOUSE_ROTATE_H : mjMOUSE_ROTATE_V;
  v.MoveCameras(action, dx / std::max(height, 1), dy / std::max(height, 1));
}

void OnScroll(GLFWwindow* window, double, double yoffset) {
  Of(window).MoveCameras(mjMOUSE_ZOOM, 0.0, -0.05 * yoffset);
}

std::string SpeedText(double speed) {
  char text[32];
  if (speed >= 1.0) {
    std::snprintf(text, sizeof text, "%gx", speed);
  } else {
    std::snprintf(text, sizeof text, "1/%gx", 1.0 / speed);
  }
  return text;
}

// Owns glfwInit/glfwTerminate and the window.
struct Glfw {
  bool initialized{false};
  GLFWwindow* window{nullptr};
  ~Glfw() {
    if (window != nullptr) glfwDestroyWindow(window);
    if (initialized) glfwTerminate();
  }
};

}  // namespace

ViewerRun RunViewer(std::vector<ReplayEpisode> episodes, const ViewerOptions& options) {
  if (episodes.empty()) throw std::invalid_argument("RunViewer: expected an episode, got none");
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if ((display == nullptr || *display == '\0') && (wayland == nullptr || *wayland == '\0')) {
    throw NoDisplayError(std::string("no display to open a window on (DISPLAY is not set); ") +
                         kHeadlessHint);
  }
  // declared before the viewer so that MuJoCo's GL objects are freed while the window's
  // context still exists
  Glfw glfw;
  // scenes first: a bad recording fails before a window appears
  Viewer v;
  v.options = &options;
  for (ReplayEpisode& episode : episodes) {
    v.scenes.push_back(
        std::make_unique<ReplayScene>(std::move(episode.recording), episode.source_name));
    v.texts.push_back(episode.text);
    v.num_frames = std::max(v.num_frames, v.scenes.back()->num_frames());
  }

  glfwSetErrorCallback([](int, const char* message) { g_glfw_error = message; });
  if (glfwInit() != GLFW_TRUE) {
    throw NoDisplayError("cannot open the display (" + g_glfw_error + "); " + kHeadlessHint);
  }
  glfw.initialized = true;
  if (options.quality == RenderQuality::kHigh) glfwWindowHint(GLFW_SAMPLES, 4);
  glfw.window = glfwCreateWindow(options.width, options.height, "metajoule replay", nullptr, nullptr);
  if (glfw.window == nullptr) {
    throw std::runtime_error("cannot open an OpenGL window (" + g_glfw_error + "); " +
                             kHeadlessHint);
  }
  glfwMakeContextCurrent(glfw.window);
  glfwSwapInterval(1);
  ViewerRun run;
  using GetStringFn = const GLubyte* (*)(GLenum);
  if (const auto get_string = reinterpret_cast<GetStringFn>(glfwGetProcAddress("glGetString"))) {
    const auto* renderer = reinterpret_cast<const char*>(get_string(GL_RENDERER));
    const auto* version = reinterpret_cast<const char*>(get_string(GL_VERSION));
    run.gl = std::string(renderer ? renderer : "?") + ", OpenGL " + (version ? version : "?");
  }
  if (const std::string platform = MujocoGlPlatform(); platform != "GLX (X11)") {
    throw std::runtime_error("the window's OpenGL is GLX, but MuJoCo would load " + platform +
                             " in this process; " + kHeadlessHint);
  }

  for (const auto& scene : v.scenes) {
    v.views.push_back(
        std::make_unique<SceneView>(*scene, options.quality, options.camera, mjFONTSCALE_150));
    v.views.back()->UseBuffer(mjFB_WINDOW);
  }
  const int n = static_cast<int>(v.scenes.size());
  const int columns = options.columns > 0 ? std::min(options.columns, n)
                                          : (n <= 3 ? n : static_cast<int>(std::ceil(std::sqrt(n))));
  const int rows = (n + columns - 1) / columns;
  v.paused = options.paused;
  v.speed = options.speed > 0.0 ? options.speed : 1.0;

  glfwSetWindowUserPointer(glfw.window, &v);
  glfwSetKeyCallback(glfw.window, OnKey);
  glfwSetMouseButtonCallback(glfw.window, OnMouseButton);
  glfwSetCursorPosCallback(glfw.window, OnCursor);
  glfwSetScrollCallback(glfw.window, OnScroll);

  const double frame_seconds = v.scenes.front()->frame_seconds();
  double last = glfwGetTime();
  while (glfwWindowShouldClose(glfw.window) == GLFW_FALSE) {
    // advance the clock by wall time x speed; hold at the last frame
    const double now = glfwGetTime();
    if (!v.paused) {
      v.clock += (now - last) * v.speed;
      v.frame = static_cast<int>(v.clock / frame_seconds);
      if (v.frame >= v.num_frames - 1) {
        v.frame = v.num_frames - 1;
        v.paused = true;
      }
    }
    last = now;

    int width = 0, height = 0;
    glfwGetFramebufferSize(glfw.window, &width, &height);
    const int tile_w = std::max(1, width / columns), tile_h = std::max(1, height / rows);
    for (int t = 0; t < n; ++t) {
      const auto i = static_cast<std::size_t>(t);
      OverlayText text = v.texts[i];
      if (t == 0) {
        text.status = std::string(v.paused ? "paused" : "playing") + "  " + SpeedText(v.speed) +
                      "\nspace play  <- -> step  +/- speed\ndrag camera  t text  q quit";
      }
      v.scenes[i]->SetFrame(v.frame);  // a shorter episode holds its last frame
      const mjrRect viewport{(t % columns) * tile_w, (rows - 1 - t / columns) * tile_h, tile_w,
                             tile_h};
      v.views[i]->Draw(*v.scenes[i], viewport, text, v.show_text);
    }
    glfwSwapBuffers(glfw.window);
    ++run.frames_drawn;
    run.last_frame = v.frame;
    if (options.max_frames > 0 && run.frames_drawn >= options.max_frames) break;
    if (v.paused) {
      glfwWaitEventsTimeout(0.1);
    } else {
      glfwPollEvents();
    }
  }
  return run;
}

}  // namespace metajoule::sim
