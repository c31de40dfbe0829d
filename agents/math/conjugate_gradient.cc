#include "agents/math/conjugate_gradient.h"

#include <stdexcept>
#include <string>

#include "agents/math/checks.h"

namespace metajoule::agents {

int ConjugateGradient(const LinearOperator& apply_a, const Eigen::Ref<const Eigen::VectorXd>& b,
                      int max_iters, double residual_tol, Eigen::Ref<Eigen::VectorXd> x) {
  internal::CheckSize("ConjugateGradient: x size", x.size(), b.size());
  if (max_iters < 1) {
    throw std::invalid_argument("ConjugateGradient: expected max_iters >= 1, got " +
                                std::to_string(max_iters));
  }
  // Nocedal & Wright 2006, Algorithm 5.2 with x0 = 0 (so r0 = b, p0 = r0)
  x.setZero();
  Eigen::VectorXd r = b;
  Eigen::VectorXd p = b;
  Eigen::VectorXd ap(b.size());
  double rr = r.squaredNorm();
  int iter = 0;
  while (iter < max_iters && rr >= residual_tol) {
    apply_a(p, ap);
    const double p_ap = p.dot(ap);
    if (!(p_ap > 0.0)) break;  // A is not positive definite along p (or NaN): stop here
    const double alpha = rr / p_ap;
    x += alpha * p;
    r -= alpha * ap;
    const double rr_next = r.squaredNorm();
    p = r + (rr_next / rr) * p;
    rr = rr_next;
    ++iter;
  }
  return iter;
}

}  // namespace metajoule::agents
