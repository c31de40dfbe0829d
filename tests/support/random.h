#pragma once
// Seeded random test data (no Eigen::Random: STYLE.md section 6 wants an explicit RNG).

#include <random>

#include <Eigen/Core>

namespace metajoule::test {

/// rows x cols matrix with entries uniform in [lo, hi), drawn column by column from `rng`.
inline Eigen::MatrixXd RandomMatrix(Eigen::Index rows, Eigen::Index cols, std::mt19937_64& rng,
                                    double lo = -1.0, double hi = 1.0) {
  std::uniform_real_distribution<double> uniform(lo, hi);
  Eigen::MatrixXd m(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j) {
    for (Eigen::Index i = 0; i < rows; ++i) m(i, j) = uniform(rng);
  }
  return m;
}

inline Eigen::VectorXd RandomVector(Eigen::Index size, std::mt19937_64& rng, double lo = -1.0,
                                    double hi = 1.0) {
  return RandomMatrix(size, 1, rng, lo, hi);
}

/// Runs `body` with Eigen's heap allocations forbidden (they abort) when the tests are built
/// with EIGEN_RUNTIME_NO_MALLOC (METAJOULE_EIGEN_NO_MALLOC_CHECKS); otherwise just runs it.
template <class Body>
void WithoutEigenMalloc(Body&& body) {
#ifdef EIGEN_RUNTIME_NO_MALLOC
  Eigen::internal::set_is_malloc_allowed(false);
  body();
  Eigen::internal::set_is_malloc_allowed(true);
#else
  body();
#endif
}

}  // namespace metajoule::test
