#pragma once
// Central finite differences for gradient tests (STYLE.md section 6; mjpc norm_test,
// Pinocchio, tiny-dnn). Header-only; used by every suite that checks a derivative.

#include <algorithm>
#include <cmath>
#include <functional>

#include <Eigen/Core>

#include "tests/support/tolerances.h"

namespace metajoule::test {

/// Gradient of a scalar function by central differences, one coordinate at a time:
///   g_i = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps).
inline Eigen::VectorXd NumericalGradient(const std::function<double(const Eigen::VectorXd&)>& f,
                                         const Eigen::VectorXd& x,
                                         double eps = kFiniteDiffStep) {
  Eigen::VectorXd g(x.size());
  Eigen::VectorXd probe = x;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    probe(i) = x(i) + eps;
    const double plus = f(probe);
    probe(i) = x(i) - eps;
    const double minus = f(probe);
    probe(i) = x(i);
    g(i) = (plus - minus) / (2.0 * eps);
  }
  return g;
}

/// Jacobian-transpose-free check of a vector function: directional derivative
/// (F(x + eps d) - F(x - eps d)) / (2 eps).
inline Eigen::VectorXd NumericalDirectional(
    const std::function<Eigen::VectorXd(const Eigen::VectorXd&)>& f, const Eigen::VectorXd& x,
    const Eigen::VectorXd& direction, double eps = kFiniteDiffStep) {
  return (f(x + eps * direction) - f(x - eps * direction)) / (2.0 * eps);
}

/// |a - b|_inf / max(|a|_inf, |b|_inf, floor): the relative error used by every derivative test.
inline double RelativeError(const Eigen::Ref<const Eigen::MatrixXd>& a,
                            const Eigen::Ref<const Eigen::MatrixXd>& b,
                            double floor = kFiniteDiffFloor) {
  const double scale = std::max({a.cwiseAbs().maxCoeff(), b.cwiseAbs().maxCoeff(), floor});
  return (a - b).cwiseAbs().maxCoeff() / scale;
}

}  // namespace metajoule::test
