#pragma once
// Conjugate gradient for A x = b with a symmetric positive-definite A given only through
// products A p (Hestenes & Stiefel 1952; Nocedal & Wright 2006, Algorithm 5.2), as TRPO uses it
// with Fisher-vector products (Schulman et al. 2015, appendix C).

#include <functional>

#include "agents/math/eigen.h"

namespace metajoule::agents {

/// Writes A p into its second argument (same size as p).
using LinearOperator =
    std::function<void(const Eigen::Ref<const Eigen::VectorXd>&, Eigen::Ref<Eigen::VectorXd>)>;

/// Solves A x = b approximately, starting from x = 0, for at most `max_iters` iterations or
/// until r.r < residual_tol. Writes x (b.size()) and returns the iterations used. Allocates
/// three work vectors.
/// @throws std::invalid_argument on a size mismatch or max_iters < 1.
int ConjugateGradient(const LinearOperator& apply_a, const Eigen::Ref<const Eigen::VectorXd>& b,
                      int max_iters, double residual_tol, Eigen::Ref<Eigen::VectorXd> x);

}  // namespace metajoule::agents
