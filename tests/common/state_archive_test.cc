#include "common/state_archive.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <doctest/doctest.h>

namespace metajoule {
namespace {

TEST_SUITE("common/state_archive") {
TEST_CASE("a state archive gives back vectors, numbers and engines bit for bit") {
  StateArchive archive;
  const std::vector<double> values{0.1, -0.0, std::numeric_limits<double>::denorm_min(), 1e308};
  archive.PutVector("a/theta", values);
  archive.PutDouble("a/last", 1.0 / 3.0);
  archive.PutInt("a/steps", -9'007'199'254'740'993);
  std::mt19937_64 engine(42);
  for (int i = 0; i < 1000; ++i) engine();
  archive.PutRng("a/rng", engine);

  const std::span<const double> read = archive.Vector("a/theta", 4);
  REQUIRE(read.size() == 4);
  CHECK(std::memcmp(read.data(), values.data(), 4 * sizeof(double)) == 0);
  CHECK(archive.Double("a/last") == 1.0 / 3.0);
  CHECK(archive.Int("a/steps") == -9'007'199'254'740'993);
  std::mt19937_64 restored;
  archive.Rng("a/rng", restored);
  for (int i = 0; i < 100; ++i) CHECK(restored() == engine());
}

TEST_CASE("a state archive names a missing or mis-sized entry") {
  StateArchive archive;
  archive.PutVector("theta", std::vector<double>{1.0, 2.0});
  archive.PutText("steps", "12x");
  CHECK_THROWS_WITH_AS(archive.Vector("theta", 3), "theta: holds 2 values, expected 3",
                       StateError);
  CHECK_THROWS_WITH_AS(archive.Vector("phi"), "phi: missing", StateError);
  CHECK_THROWS_WITH_AS(archive.Int("steps"), "steps: not an integer: \"12x\"", StateError);
  std::mt19937_64 engine;
  CHECK_THROWS_WITH_AS(archive.Rng("steps", engine), "steps: not a random-engine state",
                       StateError);
  try {
    archive.Double("theta");
    FAIL("expected a StateError");
  } catch (const StateError& error) {
    CHECK(error.entry() == "theta");
  }
}
}

}  // namespace
}  // namespace metajoule
