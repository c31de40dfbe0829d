#pragma once
// An OpenGL context without a window, for MuJoCo's offscreen rendering (docs/replay.md).
//
// Two backends, both from Mesa on Debian (llvmpipe on a machine without a GPU):
//  - EGL on Mesa's surfaceless platform (EGL_MESA_platform_surfaceless): the default;
//  - OSMesa: the fallback, a software context that renders into a buffer in our memory.
// Neither library is linked: both are dlopen'ed at run time, so a binary without them still
// starts (and the interactive viewer, which uses GLX through GLFW, is not disturbed).
//
// One backend per process. MuJoCo 2.2.2 looks up its GL entry points through the first
// "*GetProcAddress" it finds in the process (glad loader: eglGetProcAddress, then
// OSMesaGetProcAddress, then glXGetProcAddressARB among global symbols, then the first GL
// platform library in load order), so the chosen library is made global and a second backend
// in the same process is refused with a clear error rather than left for MuJoCo to abort on.

#include <memory>
#include <string>
#include <string_view>

namespace metajoule::sim {

/// Row order of an RGB image: kTopDown (image files, ffmpeg's rawvideo) or kBottomUp (OpenGL's,
/// as glReadPixels returns it; no flip is needed when the consumer takes the rows in reverse, as
/// VideoWriter::WriteFrame does with writev).
enum class RowOrder { kTopDown, kBottomUp };

/// Which offscreen GL implementation to use. kAuto: EGL, and OSMesa if EGL cannot give a context.
enum class GlBackend { kAuto, kEgl, kOsmesa };

/// "auto", "egl" or "osmesa".
std::string_view ToString(GlBackend backend);

/// Parses "auto", "egl" or "osmesa". Throws std::invalid_argument listing the valid names.
GlBackend ParseGlBackend(std::string_view name);

/// The GL platform MuJoCo's loader would use if mjr_makeContext were called now: "EGL",
/// "OSMesa", "GLX (X11)" or "none" (the interactive viewer checks for GLX).
std::string MujocoGlPlatform();

/// An offscreen OpenGL context, current on the thread that created it. MuJoCo renders into its
/// own framebuffer object (mjFB_OFFSCREEN), so the context needs no drawable surface.
class OffscreenGlContext {
 public:
  /// Creates the context and makes it current on the calling thread. kAuto tries EGL first and
  /// falls back to OSMesa (fallback_reason() says why). Throws std::runtime_error naming the
  /// backend and the failing call (e.g. "EGL: eglInitialize failed: EGL_NOT_INITIALIZED"), or
  /// when another backend is already in use in this process.
  explicit OffscreenGlContext(GlBackend backend = GlBackend::kAuto);
  ~OffscreenGlContext();

  OffscreenGlContext(const OffscreenGlContext&) = delete;
  OffscreenGlContext& operator=(const OffscreenGlContext&) = delete;

  /// The backend in use: kEgl or kOsmesa, never kAuto.
  GlBackend backend() const;
  /// GL_RENDERER and GL_VERSION, e.g. "llvmpipe (LLVM 15.0.6, 256 bits), 4.5 (Compatibility ...)".
  const std::string& renderer() const;
  /// Why kAuto did not use EGL; empty otherwise.
  const std::string& fallback_reason() const;
  /// Makes the context current on the calling thread (one thread at a time).
  void MakeCurrent() const;
  /// glFinish(): returns when every GL command issued so far has run (for timing).
  void Finish() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace metajoule::sim
