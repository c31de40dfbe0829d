#pragma once
// Include once in each test executable that renders with Mesa's llvmpipe (EGL or OSMesa).
//
// Under AddressSanitizer, LLVM 15 (which llvmpipe uses to compile shaders) allocates a buffer with
// operator new(nothrow) that Mesa frees with free(): a mismatch inside third-party code that ASan
// reports as alloc-dealloc-mismatch and aborts on. This turns off that one check for these
// executables (ASAN_OPTIONS can still set it); every other ASan and UBSan check stays on.
#if defined(__SANITIZE_ADDRESS__)
extern "C" __attribute__((visibility("default"), used)) const char* __asan_default_options() {
  return "alloc_dealloc_mismatch=0";
}
#endif
