#pragma once
// Elementwise activations of the policy and critic MLPs, with the first and second derivatives
// that hand-written backprop (Rumelhart et al. 1986) and the R-operator (Pearlmutter 1994) need.
// Every derivative is expressed through the activation's *output* y = f(z), so a backward pass
// needs only the stored forward activations:
//   tanh:     f'(z) = 1 - y^2,    f''(z) = -2 y (1 - y^2)
//   ReLU:     f'(z) = [y > 0],    f''(z) = 0 (almost everywhere)
//   identity: f'(z) = 1,          f''(z) = 0

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "agents/math/eigen.h"

namespace metajoule::agents {

/// The nonlinearity of a layer. The output layer of every MLP here is kIdentity.
enum class Activation : std::uint8_t { kTanh, kRelu, kIdentity };

/// Config names ("tanh", "relu", "identity"), for the TOML loader (experiments/toml_config.h).
constexpr std::array<std::pair<std::string_view, Activation>, 3> EnumNames(Activation /*tag*/) {
  return {{{"tanh", Activation::kTanh}, {"relu", Activation::kRelu},
           {"identity", Activation::kIdentity}}};
}

/// "tanh", "relu" or "identity".
std::string_view ActivationName(Activation activation);

/// FLOPs charged per element by the counting rule of docs/agents.md: one per evaluation of f
/// (tanh counts as one operation; ReLU as one comparison; identity as zero).
constexpr std::uint64_t ActivationFlops(Activation activation) {
  return activation == Activation::kIdentity ? 0 : 1;
}
/// FLOPs per element of delta = f'(z) * g computed from y (tanh: y*y, 1-., *g = 3; ReLU: one
/// select = 1; identity: 0).
constexpr std::uint64_t ActivationBackwardFlops(Activation activation) {
  switch (activation) {
    case Activation::kTanh: return 3;
    case Activation::kRelu: return 1;
    case Activation::kIdentity: return 0;
  }
  return 0;
}

/// In place: y <- f(y). `y` is any Eigen matrix block (features x batch).
template <class Derived>
void ApplyActivation(Activation activation, const Eigen::MatrixBase<Derived>& y_const) {
  auto& y = const_cast<Eigen::MatrixBase<Derived>&>(y_const);  // Eigen's idiom for writable temporaries
  switch (activation) {
    case Activation::kTanh: y.array() = y.array().tanh(); break;
    case Activation::kRelu: y.array() = y.array().max(typename Derived::Scalar(0)); break;
    case Activation::kIdentity: break;
  }
}

/// In place: g <- f'(z) * g, with f'(z) computed from the activation output y (same shape as g).
template <class DerivedY, class DerivedG>
void MultiplyByActivationDerivative(Activation activation, const Eigen::MatrixBase<DerivedY>& y,
                                    const Eigen::MatrixBase<DerivedG>& g_const) {
  using Scalar = typename DerivedG::Scalar;
  auto& g = const_cast<Eigen::MatrixBase<DerivedG>&>(g_const);
  switch (activation) {
    case Activation::kTanh: g.array() *= Scalar(1) - y.array().square(); break;
    case Activation::kRelu: g.array() = (y.array() > Scalar(0)).select(g.array(), Scalar(0)); break;
    case Activation::kIdentity: break;
  }
}

/// out += f''(z) * rz * g (the curvature term of the R-operator on a backward pass), with f''
/// computed from y. All arguments have the same shape. No-op for ReLU and identity.
template <class DerivedY, class DerivedR, class DerivedG, class DerivedO>
void AddActivationCurvature(Activation activation, const Eigen::MatrixBase<DerivedY>& y,
                            const Eigen::MatrixBase<DerivedR>& rz,
                            const Eigen::MatrixBase<DerivedG>& g,
                            const Eigen::MatrixBase<DerivedO>& out_const) {
  using Scalar = typename DerivedO::Scalar;
  auto& out = const_cast<Eigen::MatrixBase<DerivedO>&>(out_const);
  if (activation == Activation::kTanh) {
    out.array() -= Scalar(2) * y.array() * (Scalar(1) - y.array().square()) * rz.array() * g.array();
  }
}

}  // namespace metajoule::agents
