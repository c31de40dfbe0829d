#include "common/thread_pool.h"

#include <atomic>
#include <stdexcept>
#include <vector>

#include <doctest/doctest.h>

namespace metajoule {
namespace {

TEST_SUITE("common/thread_pool") {
  TEST_CASE("ParallelFor calls every index exactly once, for any thread count") {
    for (int threads : {1, 2, 3, 8}) {
      ThreadPool pool(threads);
      CHECK(pool.num_threads() == threads);
      for (std::size_t count : {0u, 1u, 7u, 1000u}) {
        std::vector<std::atomic<int>> calls(count);
        pool.ParallelFor(count, [&](std::size_t i, int thread) {
          CHECK(thread >= 0);
          CHECK(thread < threads);
          calls[i].fetch_add(1);
        });
        for (auto& c : calls) CHECK(c.load() == 1);
      }
    }
  }

  TEST_CASE("ParallelFor rethrows the first exception after the others finish") {
    ThreadPool pool(2);
    std::atomic<int> done{0};
    CHECK_THROWS_AS(pool.ParallelFor(100,
                                     [&](std::size_t i, int) {
                                       if (i == 3) throw std::runtime_error("boom");
                                       done.fetch_add(1);
                                     }),
                    std::runtime_error);
    // the pool is usable afterwards
    std::atomic<int> after{0};
    pool.ParallelFor(10, [&](std::size_t, int) { after.fetch_add(1); });
    CHECK(after.load() == 10);
  }

  TEST_CASE("a negative thread count is rejected") {
    CHECK_THROWS_AS(ThreadPool(-1), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule
