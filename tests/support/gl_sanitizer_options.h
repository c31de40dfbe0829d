#pragma once
// Include once in each test executable that renders with Mesa's llvmpipe (EGL or OSMesa).
//
// Two findings of the sanitizers lie inside third-party code, and only those are turned off for
// these executables (every other ASan, LSan and UBSan check stays on):
//  - LLVM 15 (which llvmpipe uses to compile shaders) allocates a buffer with operator
//    new(nothrow) that Mesa frees with free(): ASan's alloc-dealloc-mismatch;
//  - OSMesa keeps the framebuffer it makes for each OSMesaMakeCurrent buffer in a process-wide
//    list that is never freed: LSan reports it at exit (suppressed for libOSMesa only).
#if defined(__SANITIZE_ADDRESS__)
extern "C" __attribute__((visibility("default"), used)) const char* __asan_default_options() {
  return "alloc_dealloc_mismatch=0";
}
extern "C" __attribute__((visibility("default"), used)) const char* __lsan_default_suppressions() {
  return "leak:libOSMesa.so\n";
}
#endif
