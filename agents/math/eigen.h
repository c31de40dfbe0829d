#pragma once
// The one include of Eigen/Core for the agents module.
//
// GCC 12 reports false "'__Y' may be used uninitialized" warnings inside its own AVX-512
// intrinsics header when Eigen's packet math is inlined with -march=native (GCC bug 105593,
// fixed in GCC 13). The pragma silences that warning for the intrinsics header's lines only;
// our own code keeps -Wmaybe-uninitialized.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include <Eigen/Core>  // IWYU pragma: export
