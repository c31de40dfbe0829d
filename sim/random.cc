#include "sim/random.h"

#include <cmath>
#include <numbers>

namespace metajoule::sim {

std::uint64_t DeriveSeed(std::uint64_t base, std::uint64_t stream) {
  // SplitMix64 applied to base + (stream + 1) * golden gamma
  std::uint64_t z = base + (stream + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double UniformDouble(std::mt19937_64& rng, double lo, double hi) {
  const double unit = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // in [0, 1)
  return lo + (hi - lo) * unit;
}

double StandardNormal(std::mt19937_64& rng) {
  // Box-Muller: u1 in (0, 1] keeps the logarithm finite
  const double u1 = 1.0 - UniformDouble(rng, 0.0, 1.0);
  const double u2 = UniformDouble(rng, 0.0, 1.0);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

}  // namespace metajoule::sim
