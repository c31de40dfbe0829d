#include "agents/math/mlp.h"

#include <random>
#include <stdexcept>

#include <doctest/doctest.h>

#include "tests/support/finite_diff.h"
#include "tests/support/random.h"
#include "tests/support/tolerances.h"

namespace metajoule::agents {
namespace {

using test::NumericalGradient;
using test::RandomMatrix;
using test::RandomVector;
using test::RelativeError;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// L(theta, X) = sum(C .* Y(theta, X)) + 1/2 |Y|^2: dL/dY = C + Y, R{dL/dY} = R{Y}.
double Loss(const Mlp& mlp, const Eigen::VectorXd& theta, const Eigen::MatrixXd& x,
            const Eigen::MatrixXd& c, MlpWorkspace& ws) {
  Forward<double>(mlp, theta, x, ws);
  return (c.array() * ws.output().array()).sum() + 0.5 * ws.output().squaredNorm();
}

struct Fixture {
  explicit Fixture(Activation activation, int batch = 5)
      : mlp({3, 4, 5, 2}, activation), ws(mlp, batch), rng(7) {
    theta = Eigen::VectorXd(mlp.num_params());
    InitializeMlpParams<double>(mlp, rng, theta);
    theta += 0.1 * RandomVector(mlp.num_params(), rng);  // non-zero biases
    x = RandomMatrix(3, batch, rng);
    c = RandomMatrix(2, batch, rng);
  }
  Mlp mlp;
  MlpWorkspace ws;
  std::mt19937_64 rng;
  Eigen::VectorXd theta;
  Eigen::MatrixXd x, c;
};

TEST_SUITE("agents/mlp") {
  TEST_CASE("Mlp lays out W then b per layer in one flat vector") {
    const Mlp mlp({3, 4, 2}, Activation::kTanh);
    CHECK(mlp.num_params() == 4 * 3 + 4 + 2 * 4 + 2);
    CHECK(mlp.weight_offset(1) == 16);
    CHECK(mlp.bias_offset(1) == 24);
    CHECK(mlp.activation(0) == Activation::kTanh);
    CHECK(mlp.activation(1) == Activation::kIdentity);
    Eigen::VectorXd theta = Eigen::VectorXd::LinSpaced(mlp.num_params(), 0, 25);
    CHECK(mlp.Weights(theta.data(), 1)(1, 0) == 17.0);
    CHECK(mlp.Bias(theta.data(), 0)(0) == 12.0);
  }

  TEST_CASE("Forward matches a hand computation on a 1-2-1 tanh network") {
    const Mlp mlp({1, 2, 1}, Activation::kTanh);
    Eigen::VectorXd theta(7);
    theta << 0.5, -1.0, 0.1, 0.2, 2.0, 3.0, -0.5;  // W0, b0, W1, b1
    MlpWorkspace ws(mlp, 1);
    Eigen::MatrixXd x(1, 1);
    x << 0.3;
    Forward<double>(mlp, theta, x, ws);
    const double expected = 2.0 * std::tanh(0.15 + 0.1) + 3.0 * std::tanh(-0.3 + 0.2) - 0.5;
    CHECK(ws.output()(0, 0) == doctest::Approx(expected).epsilon(test::kExactTol));
  }

  TEST_CASE("Backward matches central differences for every layer with tanh and ReLU") {
    for (const Activation activation : {Activation::kTanh, Activation::kRelu}) {
      CAPTURE(ActivationName(activation));
      Fixture f(activation);
      Loss(f.mlp, f.theta, f.x, f.c, f.ws);
      const Eigen::MatrixXd dy = f.c + f.ws.output();
      Eigen::VectorXd grad = Eigen::VectorXd::Constant(f.mlp.num_params(), kNaN);
      Eigen::MatrixXd dx = Eigen::MatrixXd::Constant(3, 5, kNaN);
      Backward<double>(f.mlp, f.theta, dy, f.ws, grad, dx);
      REQUIRE(grad.allFinite());
      REQUIRE(dx.allFinite());
      const auto numeric = NumericalGradient(
          [&](const Eigen::VectorXd& t) { return Loss(f.mlp, t, f.x, f.c, f.ws); }, f.theta);
      for (int l = 0; l < f.mlp.num_layers(); ++l) {
        CAPTURE(l);
        const auto seg = [&](const Eigen::VectorXd& g) {
          return g.segment(f.mlp.weight_offset(l),
                           f.mlp.weight_offset(l + 1 < f.mlp.num_layers() ? l + 1 : l) -
                               f.mlp.weight_offset(l));
        };
        if (l + 1 < f.mlp.num_layers()) {
          CHECK(RelativeError(seg(grad), seg(numeric)) <= test::kFiniteDiffRelTol);
        }
      }
      CHECK(RelativeError(grad, numeric) <= test::kFiniteDiffRelTol);
      const Eigen::VectorXd x_flat = Eigen::Map<const Eigen::VectorXd>(f.x.data(), f.x.size());
      const auto numeric_dx = NumericalGradient(
          [&](const Eigen::VectorXd& xv) {
            return Loss(f.mlp, f.theta, Eigen::Map<const Eigen::MatrixXd>(xv.data(), 3, 5), f.c,
                        f.ws);
          },
          x_flat);
      CHECK(RelativeError(Eigen::Map<const Eigen::VectorXd>(dx.data(), dx.size()), numeric_dx) <=
            test::kFiniteDiffRelTol);
    }
  }

  TEST_CASE("ForwardTangent equals the directional derivative of the outputs") {
    Fixture f(Activation::kTanh);
    const Eigen::VectorXd v = RandomVector(f.mlp.num_params(), f.rng);
    Forward<double>(f.mlp, f.theta, f.x, f.ws);
    ForwardTangent<double>(f.mlp, f.theta, v, f.ws);
    const Eigen::MatrixXd tangent = f.ws.output_tangent();
    const auto numeric = test::NumericalDirectional(
        [&](const Eigen::VectorXd& t) {
          Forward<double>(f.mlp, t, f.x, f.ws);
          return Eigen::VectorXd(Eigen::Map<const Eigen::VectorXd>(f.ws.output().eval().data(),
                                                                   f.ws.output().size()));
        },
        f.theta, v);
    CHECK(RelativeError(Eigen::Map<const Eigen::VectorXd>(tangent.data(), tangent.size()),
                        numeric) <= test::kFiniteDiffRelTol);
  }

  TEST_CASE("BackwardTangent gives the exact Hessian-vector product with tanh and ReLU") {
    for (const Activation activation : {Activation::kTanh, Activation::kRelu}) {
      CAPTURE(ActivationName(activation));
      Fixture f(activation);
      const Eigen::VectorXd v = RandomVector(f.mlp.num_params(), f.rng);
      const auto gradient = [&](const Eigen::VectorXd& t) {
        Loss(f.mlp, t, f.x, f.c, f.ws);
        Eigen::VectorXd g(f.mlp.num_params());
        Backward<double>(f.mlp, t, f.c + f.ws.output(), f.ws, g);
        return g;
      };
      Loss(f.mlp, f.theta, f.x, f.c, f.ws);
      ForwardTangent<double>(f.mlp, f.theta, v, f.ws);
      const Eigen::MatrixXd dy = f.c + f.ws.output();
      const Eigen::MatrixXd rdy = f.ws.output_tangent();
      Eigen::VectorXd grad = Eigen::VectorXd::Constant(f.mlp.num_params(), kNaN);
      Eigen::VectorXd hvp = grad;
      BackwardTangent<double>(f.mlp, f.theta, v, dy, rdy, f.ws, grad, hvp);
      REQUIRE(hvp.allFinite());
      CHECK(RelativeError(grad, gradient(f.theta)) <= test::kExactTol);
      const auto numeric = test::NumericalDirectional(gradient, f.theta, v);
      CHECK(RelativeError(hvp, numeric) <= test::kHvpRelTol);
      // an empty grad skips the gradient: the same hvp to the last bit (the finite differences
      // above ran other forward passes in f.ws, so redo this one)
      Loss(f.mlp, f.theta, f.x, f.c, f.ws);
      ForwardTangent<double>(f.mlp, f.theta, v, f.ws);
      Eigen::VectorXd no_grad;
      Eigen::VectorXd hvp_only = Eigen::VectorXd::Constant(f.mlp.num_params(), kNaN);
      BackwardTangent<double>(f.mlp, f.theta, v, dy, rdy, f.ws, no_grad, hvp_only);
      CHECK(hvp_only == hvp);
    }
  }

  TEST_CASE("Forward and Backward and the tangent passes do not allocate once sized") {
    for (const int batch : {1, 1000}) {
      CAPTURE(batch);
      const Mlp mlp({20, 64, 64, 6}, Activation::kTanh);
      MlpWorkspace ws(mlp, 1000);
      std::mt19937_64 rng(1);
      Eigen::VectorXd theta(mlp.num_params());
      InitializeMlpParams<double>(mlp, rng, theta);
      const Eigen::MatrixXd x = RandomMatrix(20, batch, rng);
      const Eigen::MatrixXd dy = RandomMatrix(6, batch, rng);
      Eigen::VectorXd grad(mlp.num_params());
      Eigen::VectorXd hvp(mlp.num_params());
      Eigen::MatrixXd dx(20, batch);
      const Eigen::VectorXd v = RandomVector(mlp.num_params(), rng);
      test::WithoutEigenMalloc([&] {
        Forward<double>(mlp, theta, x, ws);
        Backward<double>(mlp, theta, dy, ws, grad);
        Backward<double>(mlp, theta, dy, ws, grad, dx);
        ForwardTangent<double>(mlp, theta, v, ws);
        BackwardTangent<double>(mlp, theta, v, dy, dy, ws, grad, hvp);
      });
      CHECK(grad.allFinite());
      CHECK(hvp.allFinite());
    }
  }

  TEST_CASE("FLOP counts follow the documented rule and accumulate in the workspace") {
    const Mlp mlp({2, 3, 1}, Activation::kTanh);
    // forward: 2*2*3 (W0 a + b0) + 3 (tanh) + 2*3*1 (W1 a + b1) = 21 per column
    CHECK(mlp.ForwardFlops(1) == 21);
    CHECK(mlp.ForwardFlops(10) == 210);
    // backward: layer 1: 2*1*3 + 1 + 2*3*1 + 3*3 = 22; layer 0: 2*3*2 + 3 = 15 (+ 2*2*3 for dx)
    CHECK(mlp.BackwardFlops(1, false) == 37);
    CHECK(mlp.BackwardFlops(1, true) == 49);
    MlpWorkspace ws(mlp, 4);
    Eigen::VectorXd theta = Eigen::VectorXd::Zero(mlp.num_params());
    Forward<double>(mlp, theta, Eigen::MatrixXd::Zero(2, 4), ws);
    Eigen::VectorXd grad(mlp.num_params());
    Backward<double>(mlp, theta, Eigen::MatrixXd::Zero(1, 4), ws, grad);
    CHECK(ws.flops == 4 * (21 + 37));
  }

  TEST_CASE("float and double networks agree") {
    Fixture f(Activation::kTanh);
    MlpWorkspaceT<float> wsf(f.mlp, 5);
    const Eigen::VectorXf theta_f = f.theta.cast<float>();
    Forward<float>(f.mlp, theta_f, f.x.cast<float>(), wsf);
    Forward<double>(f.mlp, f.theta, f.x, f.ws);
    CHECK(RelativeError(wsf.output().cast<double>(), f.ws.output()) <= test::kFloatRelTol);
  }

  TEST_CASE("wrong sizes throw invalid_argument with expected and got") {
    Fixture f(Activation::kTanh);
    CHECK_THROWS_WITH_AS(Forward<double>(f.mlp, f.theta, Eigen::MatrixXd::Zero(4, 2), f.ws),
                         "Forward: input rows: expected 3, got 4", std::invalid_argument);
    CHECK_THROWS_WITH_AS(Forward<double>(f.mlp, f.theta, Eigen::MatrixXd::Zero(3, 6), f.ws),
                         "Forward: input: expected 1..5 columns, got 6", std::invalid_argument);
    CHECK_THROWS_WITH_AS(
        Forward<double>(f.mlp, Eigen::VectorXd::Zero(3), f.x, f.ws),
        doctest::Contains("Forward: theta size: expected"), std::invalid_argument);
    CHECK_THROWS_AS(Mlp({3}, Activation::kTanh), std::invalid_argument);
    CHECK_THROWS_AS(Mlp({3, 0, 2}, Activation::kTanh), std::invalid_argument);
  }
}

}  // namespace
}  // namespace metajoule::agents
