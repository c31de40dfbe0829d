#pragma once
// Counting allocator for zero-allocation tests (Drake's LimitMalloc idea): it replaces the global
// operator new of the test binary, so a test can count allocations in a code region:
//   test::counting = true; ...hot path...; test::counting = false; CHECK(test::allocations == 0);
// Include it from exactly ONE source file of a test executable (it defines the replaceable
// global allocation functions).

#include <atomic>
#include <cstdlib>
#include <new>

namespace metajoule::test {
inline std::atomic<bool> counting{false};
inline std::atomic<long> allocations{0};
}  // namespace metajoule::test

void* operator new(std::size_t size) {
  if (metajoule::test::counting.load(std::memory_order_relaxed)) {
    metajoule::test::allocations.fetch_add(1);
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
