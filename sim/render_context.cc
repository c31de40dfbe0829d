#include "sim/render_context.h"

#include <dlfcn.h>
#include <link.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

// headers only, for types and constants: both libraries are dlopen'ed, never linked
#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GL/osmesa.h>

#include "common/error.h"

namespace metajoule::sim {
namespace {

// the symbol by which MuJoCo's loader recognises each platform (see the header comment)
constexpr const char* kEglProc = "eglGetProcAddress";
constexpr const char* kOsmesaProc = "OSMesaGetProcAddress";
constexpr const char* kGlxProc = "glXGetProcAddressARB";

enum class Platform { kNone, kEgl, kOsmesa, kGlx };

const char* PlatformName(Platform p) {
  switch (p) {
    case Platform::kEgl: return "EGL";
    case Platform::kOsmesa: return "OSMesa";
    case Platform::kGlx: return "GLX (X11)";
    case Platform::kNone: break;
  }
  return "none";
}

bool StartsWith(const char* s, const char* prefix) {
  return std::strncmp(s, prefix, std::strlen(prefix)) == 0;
}

// The platform MuJoCo 2.2.2's glad loader would pick now (src/render/glad/glad.c,
// mjGlad_open_gl): a global *GetProcAddress first, else the first GL platform library loaded.
Platform MujocoWouldLoad() {
  if (void* self = dlopen(nullptr, RTLD_NOW | RTLD_GLOBAL)) {
    if (dlsym(self, kEglProc) != nullptr) return Platform::kEgl;
    if (dlsym(self, kOsmesaProc) != nullptr) return Platform::kOsmesa;
    if (dlsym(self, kGlxProc) != nullptr) return Platform::kGlx;
  }
  Platform found = Platform::kNone;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* out) -> int {
        const char* base = std::strrchr(info->dlpi_name, '/');
        base = base ? base + 1 : info->dlpi_name;
        Platform p = Platform::kNone;
        if (StartsWith(base, "libGLX.so") || StartsWith(base, "libGL.so")) p = Platform::kGlx;
        if (StartsWith(base, "libEGL.so")) p = Platform::kEgl;
        if (StartsWith(base, "libOSMesa.so")) p = Platform::kOsmesa;
        *static_cast<Platform*>(out) = p;
        return p != Platform::kNone;  // stop at the first one
      },
      &found);
  return found;
}

template <class F>
F Symbol(void* library, const char* name) {
  return reinterpret_cast<F>(dlsym(library, name));
}

std::string EglErrorName(EGLint code) {
  switch (code) {
    case EGL_SUCCESS: return "EGL_SUCCESS";
    case EGL_NOT_INITIALIZED: return "EGL_NOT_INITIALIZED";
    case EGL_BAD_ACCESS: return "EGL_BAD_ACCESS";
    case EGL_BAD_ALLOC: return "EGL_BAD_ALLOC";
    case EGL_BAD_ATTRIBUTE: return "EGL_BAD_ATTRIBUTE";
    case EGL_BAD_CONFIG: return "EGL_BAD_CONFIG";
    case EGL_BAD_CONTEXT: return "EGL_BAD_CONTEXT";
    case EGL_BAD_DISPLAY: return "EGL_BAD_DISPLAY";
    case EGL_BAD_MATCH: return "EGL_BAD_MATCH";
    case EGL_BAD_PARAMETER: return "EGL_BAD_PARAMETER";
    default: break;
  }
  char text[32];
  std::snprintf(text, sizeof text, "0x%04x", static_cast<unsigned>(code));
  return text;
}

// ---- process-wide state: the libraries and the EGL display, set up once ---------------------

struct Egl {
  void* library{nullptr};
  EGLDisplay display{EGL_NO_DISPLAY};
  PFNEGLGETERRORPROC GetError{};
  PFNEGLCHOOSECONFIGPROC ChooseConfig{};
  PFNEGLBINDAPIPROC BindAPI{};
  PFNEGLCREATECONTEXTPROC CreateContext{};
  PFNEGLMAKECURRENTPROC MakeCurrent{};
  PFNEGLDESTROYCONTEXTPROC DestroyContext{};
  PFNEGLGETPROCADDRESSPROC GetProcAddress{};
};

struct Osmesa {
  void* library{nullptr};
  decltype(&OSMesaCreateContextExt) CreateContextExt{};
  decltype(&OSMesaMakeCurrent) MakeCurrent{};
  decltype(&OSMesaDestroyContext) DestroyContext{};
  decltype(&OSMesaGetProcAddress) GetProcAddress{};
};

std::mutex g_mutex;
Egl g_egl;
std::string g_egl_failure;  // why EGL could not be set up (kept: setup is tried once)
bool g_egl_tried = false;
Osmesa g_osmesa;
std::optional<GlBackend> g_backend;  // the one this process committed to
thread_local const void* t_current = nullptr;  // the OffscreenGlContext current on this thread

// Loads libEGL (locally, so MuJoCo does not see it unless EGL is chosen) and initialises the
// surfaceless display. Returns "" on success, else the reason.
std::string SetUpEgl() {
  if (g_egl_tried) return g_egl_failure;
  g_egl_tried = true;
  auto fail = [](std::string why) { return g_egl_failure = "EGL: " + std::move(why); };
  g_egl.library = dlopen("libEGL.so.1", RTLD_NOW | RTLD_LOCAL);
  if (g_egl.library == nullptr) {
    return fail(std::string("cannot load libEGL.so.1 (") + dlerror() +
                "): install the Debian package libegl1");
  }
  auto get_platform_display =
      Symbol<PFNEGLGETPLATFORMDISPLAYPROC>(g_egl.library, "eglGetPlatformDisplay");
  auto initialize = Symbol<PFNEGLINITIALIZEPROC>(g_egl.library, "eglInitialize");
  g_egl.GetError = Symbol<PFNEGLGETERRORPROC>(g_egl.library, "eglGetError");
  g_egl.ChooseConfig = Symbol<PFNEGLCHOOSECONFIGPROC>(g_egl.library, "eglChooseConfig");
  g_egl.BindAPI = Symbol<PFNEGLBINDAPIPROC>(g_egl.library, "eglBindAPI");
  g_egl.CreateContext = Symbol<PFNEGLCREATECONTEXTPROC>(g_egl.library, "eglCreateContext");
  g_egl.MakeCurrent = Symbol<PFNEGLMAKECURRENTPROC>(g_egl.library, "eglMakeCurrent");
  g_egl.DestroyContext = Symbol<PFNEGLDESTROYCONTEXTPROC>(g_egl.library, "eglDestroyContext");
  g_egl.GetProcAddress = Symbol<PFNEGLGETPROCADDRESSPROC>(g_egl.library, kEglProc);
  if (!get_platform_display || !initialize || !g_egl.GetError || !g_egl.ChooseConfig ||
      !g_egl.BindAPI || !g_egl.CreateContext || !g_egl.MakeCurrent || !g_egl.DestroyContext ||
      !g_egl.GetProcAddress) {
    return fail("libEGL.so.1 lacks EGL 1.5 entry points");
  }
  // Mesa's surfaceless platform: no X server, no GPU device node needed
  g_egl.display = get_platform_display(EGL_PLATFORM_SURFACELESS_MESA,
                                       reinterpret_cast<void*>(EGL_DEFAULT_DISPLAY), nullptr);
  if (g_egl.display == EGL_NO_DISPLAY) {
    return fail("no surfaceless display (eglGetPlatformDisplay: " +
                EglErrorName(g_egl.GetError()) + ")");
  }
  EGLint major = 0, minor = 0;
  if (initialize(g_egl.display, &major, &minor) != EGL_TRUE) {
    return fail("eglInitialize failed: " + EglErrorName(g_egl.GetError()));
  }
  return "";
}

// Loads libOSMesa globally (MuJoCo then finds OSMesaGetProcAddress). Returns "" or the reason.
std::string SetUpOsmesa() {
  if (g_osmesa.library != nullptr) return "";
  for (const char* name : {"libOSMesa.so.8", "libOSMesa.so.6", "libOSMesa.so"}) {
    g_osmesa.library = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (g_osmesa.library != nullptr) break;
  }
  if (g_osmesa.library == nullptr) {
    return "OSMesa: cannot load libOSMesa.so.8: install the Debian package libosmesa6";
  }
  g_osmesa.CreateContextExt =
      Symbol<decltype(g_osmesa.CreateContextExt)>(g_osmesa.library, "OSMesaCreateContextExt");
  g_osmesa.MakeCurrent =
      Symbol<decltype(g_osmesa.MakeCurrent)>(g_osmesa.library, "OSMesaMakeCurrent");
  g_osmesa.DestroyContext =
      Symbol<decltype(g_osmesa.DestroyContext)>(g_osmesa.library, "OSMesaDestroyContext");
  g_osmesa.GetProcAddress =
      Symbol<decltype(g_osmesa.GetProcAddress)>(g_osmesa.library, kOsmesaProc);
  if (!g_osmesa.CreateContextExt || !g_osmesa.MakeCurrent || !g_osmesa.DestroyContext ||
      !g_osmesa.GetProcAddress) {
    g_osmesa.library = nullptr;
    return "OSMesa: libOSMesa lacks its entry points";
  }
  return "";
}

using GetStringFn = const GLubyte* (*)(GLenum);
using FinishFn = void (*)();

std::string RendererString(GetStringFn get_string) {
  if (get_string == nullptr) return "unknown renderer";
  const auto* renderer = reinterpret_cast<const char*>(get_string(GL_RENDERER));
  const auto* version = reinterpret_cast<const char*>(get_string(GL_VERSION));
  return std::string(renderer ? renderer : "?") + ", OpenGL " + (version ? version : "?");
}

}  // namespace

std::string MujocoGlPlatform() { return PlatformName(MujocoWouldLoad()); }

std::string_view ToString(GlBackend backend) {
  switch (backend) {
    case GlBackend::kAuto: return "auto";
    case GlBackend::kEgl: return "egl";
    case GlBackend::kOsmesa: return "osmesa";
  }
  return "?";
}

GlBackend ParseGlBackend(std::string_view name) {
  for (GlBackend b : {GlBackend::kAuto, GlBackend::kEgl, GlBackend::kOsmesa}) {
    if (ToString(b) == name) return b;
  }
  throw std::invalid_argument("unknown GL backend '" + std::string(name) +
                              "' (expected one of: auto, egl, osmesa)");
}

struct OffscreenGlContext::Impl {
  GlBackend backend{GlBackend::kAuto};
  std::string renderer;
  std::string fallback_reason;
  EGLContext egl_context{EGL_NO_CONTEXT};
  OSMesaContext osmesa_context{nullptr};
  std::vector<unsigned char> osmesa_buffer;  // OSMesa's drawable; MuJoCo draws into its own FBO
  FinishFn gl_finish{nullptr};

  // Creates an EGL context; "" on success, else why not.
  std::string CreateEgl() {
    if (std::string why = SetUpEgl(); !why.empty()) return why;
    const EGLint config_attributes[] = {EGL_SURFACE_TYPE, EGL_PBUFFER_BIT,
                                        EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT,
                                        EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8, EGL_BLUE_SIZE, 8,
                                        EGL_ALPHA_SIZE, 8, EGL_DEPTH_SIZE, 24,
                                        EGL_STENCIL_SIZE, 8, EGL_NONE};
    EGLConfig config{};
    EGLint count = 0;
    if (g_egl.ChooseConfig(g_egl.display, config_attributes, &config, 1, &count) != EGL_TRUE ||
        count < 1) {
      return "EGL: no RGBA8 + depth config with desktop OpenGL (eglChooseConfig: " +
             EglErrorName(g_egl.GetError()) + ")";
    }
    if (g_egl.BindAPI(EGL_OPENGL_API) != EGL_TRUE) {
      return "EGL: eglBindAPI(EGL_OPENGL_API) failed: " + EglErrorName(g_egl.GetError());
    }
    egl_context = g_egl.CreateContext(g_egl.display, config, EGL_NO_CONTEXT, nullptr);
    if (egl_context == EGL_NO_CONTEXT) {
      return "EGL: eglCreateContext failed: " + EglErrorName(g_egl.GetError());
    }
    // surfaceless: no draw or read surface (EGL_KHR_surfaceless_context)
    if (g_egl.MakeCurrent(g_egl.display, EGL_NO_SURFACE, EGL_NO_SURFACE, egl_context) !=
        EGL_TRUE) {
      const std::string error = EglErrorName(g_egl.GetError());
      g_egl.DestroyContext(g_egl.display, egl_context);
      egl_context = EGL_NO_CONTEXT;
      return "EGL: eglMakeCurrent without a surface failed: " + error;
    }
    renderer = RendererString(reinterpret_cast<GetStringFn>(g_egl.GetProcAddress("glGetString")));
    gl_finish = reinterpret_cast<FinishFn>(g_egl.GetProcAddress("glFinish"));
    return "";
  }

  std::string CreateOsmesa() {
    if (std::string why = SetUpOsmesa(); !why.empty()) return why;
    osmesa_context = g_osmesa.CreateContextExt(OSMESA_RGBA, 24, 8, 0, nullptr);
    if (osmesa_context == nullptr) return "OSMesa: OSMesaCreateContextExt failed";
    constexpr int kSize = 16;  // the drawable is never rendered to
    osmesa_buffer.assign(4 * kSize * kSize, 0);
    if (g_osmesa.MakeCurrent(osmesa_context, osmesa_buffer.data(), GL_UNSIGNED_BYTE, kSize,
                             kSize) == 0) {
      g_osmesa.DestroyContext(osmesa_context);
      osmesa_context = nullptr;
      return "OSMesa: OSMesaMakeCurrent failed";
    }
    renderer = RendererString(reinterpret_cast<GetStringFn>(g_osmesa.GetProcAddress("glGetString")));
    gl_finish = reinterpret_cast<FinishFn>(g_osmesa.GetProcAddress("glFinish"));
    return "";
  }
};

OffscreenGlContext::OffscreenGlContext(GlBackend backend) : impl_(std::make_unique<Impl>()) {
  const std::lock_guard lock(g_mutex);
  // a process that already committed to a backend keeps it (see the header comment)
  if (g_backend && backend != GlBackend::kAuto && backend != *g_backend) {
    throw std::runtime_error("GL backend " + std::string(ToString(backend)) +
                             " requested, but this process already renders with " +
                             std::string(ToString(*g_backend)) +
                             " (MuJoCo loads OpenGL once per process)");
  }
  if (g_backend) backend = *g_backend;

  std::string error;
  if (backend == GlBackend::kEgl || backend == GlBackend::kAuto) {
    error = impl_->CreateEgl();
    if (error.empty()) {
      impl_->backend = GlBackend::kEgl;
    } else if (backend == GlBackend::kAuto) {
      impl_->fallback_reason = error;
      backend = GlBackend::kOsmesa;
    }
  }
  if (backend == GlBackend::kOsmesa) {
    error = impl_->CreateOsmesa();
    if (error.empty()) impl_->backend = GlBackend::kOsmesa;
    if (!error.empty() && !impl_->fallback_reason.empty()) {
      error = impl_->fallback_reason + "; " + error;
    }
  }
  if (!error.empty()) throw std::runtime_error("cannot create an offscreen OpenGL context: " + error);
  t_current = this;  // current now (Create* made it so)

  // make the chosen library's symbols global so that MuJoCo's loader picks it
  if (impl_->backend == GlBackend::kEgl) {
    MJL_DEMAND(dlopen("libEGL.so.1", RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL) != nullptr);
  }
  const Platform expected =
      impl_->backend == GlBackend::kEgl ? Platform::kEgl : Platform::kOsmesa;
  const Platform mujoco = MujocoWouldLoad();
  if (mujoco != expected) {
    if (impl_->egl_context != EGL_NO_CONTEXT) {
      g_egl.MakeCurrent(g_egl.display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
      g_egl.DestroyContext(g_egl.display, impl_->egl_context);
    }
    if (impl_->osmesa_context != nullptr) g_osmesa.DestroyContext(impl_->osmesa_context);
    t_current = nullptr;
    throw std::runtime_error(std::string("cannot render with ") + PlatformName(expected) +
                             ": MuJoCo would load OpenGL through " + PlatformName(mujoco) +
                             ", already loaded in this process");
  }
  g_backend = impl_->backend;
}

OffscreenGlContext::~OffscreenGlContext() {
  const std::lock_guard lock(g_mutex);
  if (impl_->egl_context != EGL_NO_CONTEXT) {
    if (t_current == this) {  // never unbind another context that is current
      g_egl.MakeCurrent(g_egl.display, EGL_NO_SURFACE, EGL_NO_SURFACE, EGL_NO_CONTEXT);
    }
    g_egl.DestroyContext(g_egl.display, impl_->egl_context);
  }
  if (impl_->osmesa_context != nullptr) g_osmesa.DestroyContext(impl_->osmesa_context);
  if (t_current == this) t_current = nullptr;
}

GlBackend OffscreenGlContext::backend() const { return impl_->backend; }
const std::string& OffscreenGlContext::renderer() const { return impl_->renderer; }
const std::string& OffscreenGlContext::fallback_reason() const { return impl_->fallback_reason; }

void OffscreenGlContext::Finish() const {
  if (impl_->gl_finish != nullptr) impl_->gl_finish();
}

void OffscreenGlContext::MakeCurrent() const {
  if (t_current == this) return;
  t_current = this;
  if (impl_->egl_context != EGL_NO_CONTEXT) {
    MJL_DEMAND(g_egl.MakeCurrent(g_egl.display, EGL_NO_SURFACE, EGL_NO_SURFACE,
                                 impl_->egl_context) == EGL_TRUE);
  } else {
    constexpr int kSize = 16;
    MJL_DEMAND(g_osmesa.MakeCurrent(impl_->osmesa_context, impl_->osmesa_buffer.data(),
                                    GL_UNSIGNED_BYTE, kSize, kSize) != 0);
  }
}

}  // namespace metajoule::sim
