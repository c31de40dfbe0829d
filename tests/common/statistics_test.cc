#include "common/statistics.h"

#include <doctest/doctest.h>

namespace metajoule {
namespace {

TEST_SUITE("common/statistics") {
  TEST_CASE("the median of an odd count is the middle value, of an even count the middle mean") {
    CHECK(Median({3.0}) == 3.0);
    CHECK(Median({5.0, 1.0, 3.0}) == 3.0);
    CHECK(Median({4.0, 1.0, 3.0, 2.0}) == 2.5);
    CHECK(Median({2.0, 2.0, 9.0, -1.0, 2.0}) == 2.0);
  }
}

}  // namespace
}  // namespace metajoule
