#pragma once
// Seeding and sampling helpers with results fixed by this code alone (std::uniform_real_distribution
// and std::normal_distribution differ between standard libraries). Randomness is always an
// explicit std::mt19937_64& argument (STYLE.md section 6); there is no global generator.

#include <cstdint>
#include <random>

namespace metajoule::sim {

/// A well-mixed 64-bit seed for stream `stream` of `base` (SplitMix64 finaliser, Steele et al.
/// 2014), so that env k, episode e gets DeriveSeed(DeriveSeed(base, k), e) independent of the
/// order in which threads reach it.
std::uint64_t DeriveSeed(std::uint64_t base, std::uint64_t stream);

/// A double uniform in [lo, hi) from the top 53 bits of one draw; lo == hi returns lo but still
/// consumes a draw, so that later draws do not depend on whether an interval is degenerate.
double UniformDouble(std::mt19937_64& rng, double lo, double hi);

/// A standard normal sample (Box-Muller transform; two uniform draws per sample).
double StandardNormal(std::mt19937_64& rng);

}  // namespace metajoule::sim
