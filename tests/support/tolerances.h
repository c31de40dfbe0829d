#pragma once
// Named tolerances of the test suites (STYLE.md section 8; MuJoCo's MjTol).

namespace metajoule::test {

/// Central finite differences use this step (STYLE.md section 6).
inline constexpr double kFiniteDiffStep = 1e-6;
/// Relative error |analytic - numeric| / max(|analytic|, |numeric|, kFiniteDiffFloor) allowed
/// between an analytic gradient and its central finite difference, in double.
inline constexpr double kFiniteDiffRelTol = 1e-6;
/// Below this norm, errors are compared absolutely (a gradient that should be ~0).
inline constexpr double kFiniteDiffFloor = 1e-3;
/// Exact R-operator Hessian-vector products against central differences of exact gradients.
inline constexpr double kHvpRelTol = 1e-6;
/// Closed-form references (GAE by hand, Gaussian formulas) computed in double.
inline constexpr double kExactTol = 1e-12;
/// Float against double results of the same network.
inline constexpr double kFloatRelTol = 1e-4;

}  // namespace metajoule::test
