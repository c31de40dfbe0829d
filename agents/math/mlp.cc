#include "agents/math/mlp.h"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "agents/math/checks.h"
#include "common/error.h"

namespace metajoule::agents {
namespace {

using internal::CheckSize;

using U64 = std::uint64_t;

U64 Prod(Eigen::Index a, Eigen::Index b, Eigen::Index c) {
  return static_cast<U64>(a) * static_cast<U64>(b) * static_cast<U64>(c);
}

// FLOPs per element of the tanh curvature term -2 y (1 - y^2) rz g accumulated into an output:
// y*y, 1-., *y, *2, *rz, *g, -= : 7.
constexpr U64 kTanhCurvatureFlops = 7;

U64 CurvatureFlops(Activation activation) {
  return activation == Activation::kTanh ? kTanhCurvatureFlops : 0;
}

}  // namespace

Mlp::Mlp(std::vector<int> layer_sizes, Activation hidden_activation)
    : sizes_(std::move(layer_sizes)), hidden_activation_(hidden_activation) {
  if (sizes_.size() < 2) {
    throw std::invalid_argument("Mlp: expected at least 2 layer sizes, got " +
                                std::to_string(sizes_.size()));
  }
  offsets_.push_back(0);
  for (std::size_t i = 0; i < sizes_.size(); ++i) {
    if (sizes_[i] < 1) {
      throw std::invalid_argument("Mlp: expected layer sizes >= 1, got " +
                                  std::to_string(sizes_[i]) + " at index " + std::to_string(i));
    }
    max_width_ = std::max(max_width_, sizes_[i]);
    if (i + 1 < sizes_.size()) {
      offsets_.push_back(offsets_.back() + Eigen::Index{sizes_[i + 1]} * (sizes_[i] + 1));
    }
  }
}

U64 Mlp::ForwardFlops(int batch) const {
  U64 flops = 0;
  for (int l = 0; l < num_layers(); ++l) {
    flops += 2 * Prod(sizes_[l], sizes_[l + 1], batch);                      // W a + b
    flops += ActivationFlops(activation(l)) * Prod(sizes_[l + 1], batch, 1);  // f
  }
  return flops;
}

U64 Mlp::BackwardFlops(int batch, bool input_gradient) const {
  U64 flops = 0;
  for (int l = num_layers() - 1; l >= 0; --l) {
    flops += 2 * Prod(sizes_[l + 1], sizes_[l], batch);  // dW = delta a^T
    flops += Prod(sizes_[l + 1], batch, 1);              // db = row sums
    if (l > 0 || input_gradient) flops += 2 * Prod(sizes_[l], sizes_[l + 1], batch);  // W^T delta
    if (l > 0) flops += ActivationBackwardFlops(activation(l - 1)) * Prod(sizes_[l], batch, 1);
  }
  return flops;
}

U64 Mlp::ForwardTangentFlops(int batch) const {
  U64 flops = 0;
  for (int l = 0; l < num_layers(); ++l) {
    flops += 2 * Prod(sizes_[l], sizes_[l + 1], batch);  // V_W a + V_b
    if (l > 0) flops += 2 * Prod(sizes_[l], sizes_[l + 1], batch);  // += W R{a}
    flops += ActivationBackwardFlops(activation(l)) * Prod(sizes_[l + 1], batch, 1);
  }
  return flops;
}

U64 Mlp::BackwardTangentFlops(int batch) const {
  U64 flops = 0;
  for (int l = num_layers() - 1; l >= 0; --l) {
    const U64 mm = 2 * Prod(sizes_[l + 1], sizes_[l], batch);
    flops += mm;                                 // dW = delta a^T
    flops += mm;                                 // R{dW} = R{delta} a^T
    if (l > 0) flops += mm;                      // R{dW} += delta R{a}^T
    flops += 2 * Prod(sizes_[l + 1], batch, 1);  // db, R{db}
    if (l > 0) {
      flops += 3 * mm;  // W^T delta, V_W^T delta, W^T R{delta}
      const U64 n = Prod(sizes_[l], batch, 1);
      const Activation f = activation(l - 1);
      flops += 2 * ActivationBackwardFlops(f) * n + CurvatureFlops(f) * n;
    }
  }
  return flops;
}

template <class Scalar>
MlpWorkspaceT<Scalar>::MlpWorkspaceT(const Mlp& mlp, int max_batch_in) : max_batch(max_batch_in) {
  if (max_batch < 1) {
    throw std::invalid_argument("MlpWorkspace: expected max_batch >= 1, got " +
                                std::to_string(max_batch));
  }
  for (int l = 0; l <= mlp.num_layers(); ++l) {
    activations.emplace_back(MatrixX<Scalar>::Zero(mlp.layer_size(l), max_batch));
    tangent_activations.emplace_back(MatrixX<Scalar>::Zero(mlp.layer_size(l), max_batch));
    if (l > 0) {
      tangent_preactivations.emplace_back(MatrixX<Scalar>::Zero(mlp.layer_size(l), max_batch));
    }
  }
  delta = MatrixX<Scalar>::Zero(mlp.max_width(), max_batch);
  delta_next = delta;
  rdelta = delta;
  rdelta_next = delta;
}

template <class Scalar>
void InitializeMlpParams(const Mlp& mlp, std::mt19937_64& rng,
                         Eigen::Ref<VectorX<Scalar>> theta) {
  CheckSize("InitializeMlpParams: theta size", theta.size(), mlp.num_params());
  for (int l = 0; l < mlp.num_layers(); ++l) {
    // Glorot & Bengio 2010, eq. (16): U[-sqrt(6/(n_in+n_out)), +sqrt(6/(n_in+n_out))]
    const double limit = std::sqrt(6.0 / (mlp.layer_size(l) + mlp.layer_size(l + 1)));
    std::uniform_real_distribution<double> uniform(-limit, limit);
    auto w = mlp.Weights(theta.data(), l);
    for (Eigen::Index j = 0; j < w.cols(); ++j) {
      for (Eigen::Index i = 0; i < w.rows(); ++i) w(i, j) = static_cast<Scalar>(uniform(rng));
    }
    mlp.Bias(theta.data(), l).setZero();
  }
}

template <class Scalar>
void ActivationMemoT<Scalar>::Start(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta_in,
                                    Eigen::Index capacity) {
  CheckSize("ActivationMemo::Start: theta size", theta_in.size(), mlp.num_params());
  theta = theta_in;
  activations.resize(static_cast<std::size_t>(mlp.num_layers()) + 1);
  for (int l = 0; l <= mlp.num_layers(); ++l) {
    auto& a = activations[static_cast<std::size_t>(l)];
    if (a.rows() != mlp.layer_size(l) || a.cols() < capacity) a.resize(mlp.layer_size(l), capacity);
  }
  columns = 0;
}

namespace {

template <class Scalar>
bool SameBits(const Scalar* a, const Scalar* b, Eigen::Index n) {
  return std::memcmp(a, b, static_cast<std::size_t>(n) * sizeof(Scalar)) == 0;
}

}  // namespace

template <class Scalar>
bool ActivationMemoT<Scalar>::Matches(const Eigen::Ref<const VectorX<Scalar>>& mlp_theta,
                                      const Eigen::Ref<const MatrixX<Scalar>>& x) const {
  if (x.cols() != columns || columns == 0 || mlp_theta.size() != theta.size() ||
      x.rows() != activations.front().rows() ||
      !SameBits(mlp_theta.data(), theta.data(), theta.size())) {
    return false;
  }
  // x may be a block with a stride; the recorded inputs are contiguous columns
  for (Eigen::Index j = 0; j < columns; ++j) {
    if (!SameBits(x.col(j).data(), activations.front().col(j).data(), x.rows())) return false;
  }
  return true;
}

template <class Scalar>
void Forward(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
             const Eigen::Ref<const MatrixX<Scalar>>& x, MlpWorkspaceT<Scalar>& ws) {
  CheckSize("Forward: theta size", theta.size(), mlp.num_params());
  CheckSize("Forward: input rows", x.rows(), mlp.num_inputs());
  internal::CheckBatch("Forward: input", x.cols(), ws.max_batch);
  const Eigen::Index batch = x.cols();
  ws.batch = static_cast<int>(batch);
  if (ws.memo != nullptr && ws.memo->Matches(theta, x)) {
    // the recorded pass of these inputs at this theta (ActivationMemoT)
    for (int l = 0; l <= mlp.num_layers(); ++l) {
      const auto i = static_cast<std::size_t>(l);
      ws.activations[i].leftCols(batch) = ws.memo->activations[i].leftCols(batch);
    }
    ++ws.memo_hits;
    ws.flops += mlp.ForwardFlops(ws.batch);
    return;
  }
  ActivationMemoT<Scalar>* record = ws.record;
  if (record != nullptr) {
    // recording needs a Start for this MLP, and room for the batch
    MJL_DEMAND(record->theta.size() == theta.size() &&
               record->activations.size() == static_cast<std::size_t>(mlp.num_layers()) + 1);
    MJL_DEMAND(record->columns + batch <= record->activations.front().cols());
  }
  ws.activations[0].leftCols(batch) = x;
  for (int l = 0; l < mlp.num_layers(); ++l) {
    auto z = ws.activations[l + 1].leftCols(batch);
    // z_{l+1} = W_l a_l + b_l 1^T, then a_{l+1} = f_l(z_{l+1}) in place
    z.noalias() = mlp.Weights(theta.data(), l) * ws.activations[l].leftCols(batch);
    z.colwise() += mlp.Bias(theta.data(), l);
    ApplyActivation(mlp.activation(l), z);
  }
  if (record != nullptr) {
    for (int l = 0; l <= mlp.num_layers(); ++l) {
      const auto i = static_cast<std::size_t>(l);
      record->activations[i].middleCols(record->columns, batch) = ws.activations[i].leftCols(batch);
    }
    record->columns += batch;
  }
  ws.flops += mlp.ForwardFlops(ws.batch);
}

namespace {

template <class Scalar>
void BackwardImpl(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
                  const Eigen::Ref<const MatrixX<Scalar>>& dy, MlpWorkspaceT<Scalar>& ws,
                  Eigen::Ref<VectorX<Scalar>> grad, Eigen::Ref<MatrixX<Scalar>>* dx) {
  CheckSize("Backward: theta size", theta.size(), mlp.num_params());
  CheckSize("Backward: grad size", grad.size(), mlp.num_params());
  CheckSize("Backward: dy rows", dy.rows(), mlp.num_outputs());
  CheckSize("Backward: dy columns (batch of the last Forward)", dy.cols(), ws.batch);
  if (dx != nullptr) {
    CheckSize("Backward: dx rows", dx->rows(), mlp.num_inputs());
    CheckSize("Backward: dx columns", dx->cols(), ws.batch);
  }
  const Eigen::Index batch = ws.batch;
  ws.delta.topLeftCorner(mlp.num_outputs(), batch) = dy;
  for (int l = mlp.num_layers() - 1; l >= 0; --l) {
    const int n_in = mlp.layer_size(l);
    const int n_out = mlp.layer_size(l + 1);
    const auto delta = ws.delta.topLeftCorner(n_out, batch);
    const auto a = ws.activations[l].leftCols(batch);
    // dL/dW_l = delta_{l+1} a_l^T, dL/db_l = delta_{l+1} 1
    mlp.Weights(grad.data(), l).noalias() = delta * a.transpose();
    mlp.Bias(grad.data(), l).noalias() = delta.rowwise().sum();
    if (l == 0) {
      if (dx != nullptr) dx->noalias() = mlp.Weights(theta.data(), l).transpose() * delta;
      break;
    }
    // delta_l = f'(z_l) * (W_l^T delta_{l+1})
    auto next = ws.delta_next.topLeftCorner(n_in, batch);
    next.noalias() = mlp.Weights(theta.data(), l).transpose() * delta;
    MultiplyByActivationDerivative(mlp.activation(l - 1), a, next);
    ws.delta.swap(ws.delta_next);
  }
  ws.flops += mlp.BackwardFlops(ws.batch, dx != nullptr);
}

}  // namespace

template <class Scalar>
void Backward(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
              const Eigen::Ref<const MatrixX<Scalar>>& dy, MlpWorkspaceT<Scalar>& ws,
              Eigen::Ref<VectorX<Scalar>> grad) {
  BackwardImpl<Scalar>(mlp, theta, dy, ws, grad, nullptr);
}

template <class Scalar>
void Backward(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
              const Eigen::Ref<const MatrixX<Scalar>>& dy, MlpWorkspaceT<Scalar>& ws,
              Eigen::Ref<VectorX<Scalar>> grad, Eigen::Ref<MatrixX<Scalar>> dx) {
  BackwardImpl<Scalar>(mlp, theta, dy, ws, grad, &dx);
}

template <class Scalar>
void ForwardTangent(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
                    const Eigen::Ref<const VectorX<Scalar>>& v, MlpWorkspaceT<Scalar>& ws) {
  CheckSize("ForwardTangent: theta size", theta.size(), mlp.num_params());
  CheckSize("ForwardTangent: v size", v.size(), mlp.num_params());
  const Eigen::Index batch = ws.batch;
  for (int l = 0; l < mlp.num_layers(); ++l) {
    // R{z_{l+1}} = V_W a_l + V_b 1^T + W_l R{a_l}   (R{a_0} = 0: the inputs are data)
    auto rz = ws.tangent_preactivations[l].leftCols(batch);
    rz.noalias() = mlp.Weights(v.data(), l) * ws.activations[l].leftCols(batch);
    rz.colwise() += mlp.Bias(v.data(), l);
    if (l > 0) {
      rz.noalias() += mlp.Weights(theta.data(), l) * ws.tangent_activations[l].leftCols(batch);
    }
    // R{a_{l+1}} = f'(z_{l+1}) * R{z_{l+1}}
    auto ra = ws.tangent_activations[l + 1].leftCols(batch);
    ra = rz;
    MultiplyByActivationDerivative(mlp.activation(l), ws.activations[l + 1].leftCols(batch), ra);
  }
  ws.flops += mlp.ForwardTangentFlops(ws.batch);
}

template <class Scalar>
void BackwardTangent(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
                     const Eigen::Ref<const VectorX<Scalar>>& v,
                     const Eigen::Ref<const MatrixX<Scalar>>& dy,
                     const Eigen::Ref<const MatrixX<Scalar>>& rdy, MlpWorkspaceT<Scalar>& ws,
                     Eigen::Ref<VectorX<Scalar>> grad, Eigen::Ref<VectorX<Scalar>> hvp) {
  CheckSize("BackwardTangent: theta size", theta.size(), mlp.num_params());
  CheckSize("BackwardTangent: v size", v.size(), mlp.num_params());
  // an empty grad skips the gradient (its products are independent of the hvp's)
  const bool want_grad = grad.size() != 0;
  if (want_grad) CheckSize("BackwardTangent: grad size", grad.size(), mlp.num_params());
  CheckSize("BackwardTangent: hvp size", hvp.size(), mlp.num_params());
  CheckSize("BackwardTangent: dy rows", dy.rows(), mlp.num_outputs());
  CheckSize("BackwardTangent: dy columns", dy.cols(), ws.batch);
  CheckSize("BackwardTangent: rdy rows", rdy.rows(), mlp.num_outputs());
  CheckSize("BackwardTangent: rdy columns", rdy.cols(), ws.batch);
  const Eigen::Index batch = ws.batch;
  ws.delta.topLeftCorner(mlp.num_outputs(), batch) = dy;
  ws.rdelta.topLeftCorner(mlp.num_outputs(), batch) = rdy;
  for (int l = mlp.num_layers() - 1; l >= 0; --l) {
    const int n_in = mlp.layer_size(l);
    const int n_out = mlp.layer_size(l + 1);
    const auto delta = ws.delta.topLeftCorner(n_out, batch);
    const auto rdelta = ws.rdelta.topLeftCorner(n_out, batch);
    const auto a = ws.activations[l].leftCols(batch);
    // gradient as in Backward, and its R-op (Pearlmutter 1994, eq. 4.3 generalised to layers):
    // R{dW} = R{delta} a^T + delta R{a}^T,  R{db} = R{delta} 1
    if (want_grad) {
      mlp.Weights(grad.data(), l).noalias() = delta * a.transpose();
      mlp.Bias(grad.data(), l).noalias() = delta.rowwise().sum();
    }
    auto rgw = mlp.Weights(hvp.data(), l);
    rgw.noalias() = rdelta * a.transpose();
    if (l > 0) rgw.noalias() += delta * ws.tangent_activations[l].leftCols(batch).transpose();
    mlp.Bias(hvp.data(), l).noalias() = rdelta.rowwise().sum();
    if (l == 0) break;
    // g = W^T delta, R{g} = V_W^T delta + W^T R{delta};
    // delta_l = f' g, R{delta_l} = f' R{g} + f'' R{z_l} g
    const auto w = mlp.Weights(theta.data(), l);
    auto g = ws.delta_next.topLeftCorner(n_in, batch);
    auto rg = ws.rdelta_next.topLeftCorner(n_in, batch);
    g.noalias() = w.transpose() * delta;
    rg.noalias() = mlp.Weights(v.data(), l).transpose() * delta;
    rg.noalias() += w.transpose() * rdelta;
    const Activation f = mlp.activation(l - 1);
    MultiplyByActivationDerivative(f, a, rg);
    AddActivationCurvature(f, a, ws.tangent_preactivations[l - 1].leftCols(batch), g, rg);
    MultiplyByActivationDerivative(f, a, g);
    ws.delta.swap(ws.delta_next);
    ws.rdelta.swap(ws.rdelta_next);
  }
  ws.flops += mlp.BackwardTangentFlops(ws.batch);
}

// explicit instantiations: double for learning and finite-difference tests, float for the
// benchmark comparison (docs/agents.md, "Float or double")
#define METAJOULE_INSTANTIATE_MLP(Scalar)                                                       \
  template struct MlpWorkspaceT<Scalar>;                                                        \
  template struct ActivationMemoT<Scalar>;                                                      \
  template void InitializeMlpParams<Scalar>(const Mlp&, std::mt19937_64&,                       \
                                            Eigen::Ref<VectorX<Scalar>>);                       \
  template void Forward<Scalar>(const Mlp&, const Eigen::Ref<const VectorX<Scalar>>&,           \
                                const Eigen::Ref<const MatrixX<Scalar>>&, MlpWorkspaceT<Scalar>&); \
  template void Backward<Scalar>(const Mlp&, const Eigen::Ref<const VectorX<Scalar>>&,          \
                                 const Eigen::Ref<const MatrixX<Scalar>>&,                      \
                                 MlpWorkspaceT<Scalar>&, Eigen::Ref<VectorX<Scalar>>);          \
  template void Backward<Scalar>(const Mlp&, const Eigen::Ref<const VectorX<Scalar>>&,          \
                                 const Eigen::Ref<const MatrixX<Scalar>>&,                      \
                                 MlpWorkspaceT<Scalar>&, Eigen::Ref<VectorX<Scalar>>,           \
                                 Eigen::Ref<MatrixX<Scalar>>);                                  \
  template void ForwardTangent<Scalar>(const Mlp&, const Eigen::Ref<const VectorX<Scalar>>&,    \
                                       const Eigen::Ref<const VectorX<Scalar>>&,                \
                                       MlpWorkspaceT<Scalar>&);                                 \
  template void BackwardTangent<Scalar>(                                                        \
      const Mlp&, const Eigen::Ref<const VectorX<Scalar>>&,                                     \
      const Eigen::Ref<const VectorX<Scalar>>&, const Eigen::Ref<const MatrixX<Scalar>>&,       \
      const Eigen::Ref<const MatrixX<Scalar>>&, MlpWorkspaceT<Scalar>&,                         \
      Eigen::Ref<VectorX<Scalar>>, Eigen::Ref<VectorX<Scalar>>);

METAJOULE_INSTANTIATE_MLP(float)
METAJOULE_INSTANTIATE_MLP(double)
#undef METAJOULE_INSTANTIATE_MLP

}  // namespace metajoule::agents
