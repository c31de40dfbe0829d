#pragma once
// A multilayer perceptron with hand-written backprop, in the model/params/workspace split of
// STYLE.md section 4 (Drake's MultilayerPerceptron keeps the same flat-vector layout):
//   - Mlp: the description (layer sizes and activations), immutable;
//   - parameters: one flat vector theta (Eigen::VectorX<Scalar>, "MlpParams"), with per-layer
//     Map views returned by Mlp::Weights / Mlp::Bias;
//   - MlpWorkspaceT: preallocated activations and backprop buffers for up to max_batch columns.
//
// Notation (batches are columns): a_0 = X (n_0 x B); for layer l = 0..L-1,
//   z_{l+1} = W_l a_l + b_l 1^T,  a_{l+1} = f_l(z_{l+1}),
// with W_l: n_{l+1} x n_l, b_l: n_{l+1}, f_l the hidden activation and f_{L-1} = identity.
// Flat layout: for each layer in order, W_l column-major, then b_l.
//
// Backward computes the vector-Jacobian product of Y = a_L with a given dL/dY (n_L x B):
// gradients wrt theta and optionally wrt X. The tangent functions implement Pearlmutter's
// R-operator (Pearlmutter 1994, "Fast exact multiplication by the Hessian", sections 3-4):
// ForwardTangent pushes a parameter direction v forward (a Jacobian-vector product), and
// BackwardTangent differentiates the backward pass along v, which gives exact Hessian-vector
// products of any loss whose output gradient and its R-op are supplied.
//
// FLOP counting rule (docs/agents.md): an inner product of length k counts 2k (k fused
// multiply-adds), so W a + b counts 2 n_in n_out per column including the bias; each elementwise
// add, multiply or activation evaluation counts 1 (tanh's derivative from y counts 3). The
// counts are exact under this rule and are added to MlpWorkspaceT::flops by every call.

#include <cstdint>
#include <random>
#include <vector>

#include "agents/math/eigen.h"

#include "agents/math/activations.h"

namespace metajoule::agents {

template <class Scalar>
using MatrixX = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using VectorX = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

/// The flat parameter vector of an Mlp (layout in the file comment).
using MlpParams = Eigen::VectorXd;

/// The description of an MLP: sizes and activations. Cheap to copy.
class Mlp {
 public:
  /// `layer_sizes` = {num_inputs, hidden..., num_outputs} (at least two entries, all >= 1);
  /// hidden layers use `hidden_activation`, the output layer is linear.
  /// @throws std::invalid_argument on fewer than two sizes or a size < 1.
  Mlp(std::vector<int> layer_sizes, Activation hidden_activation);

  int num_inputs() const { return sizes_.front(); }
  int num_outputs() const { return sizes_.back(); }
  /// Number of affine layers L (= layer_sizes.size() - 1).
  int num_layers() const { return static_cast<int>(sizes_.size()) - 1; }
  /// n_l for l = 0..L.
  int layer_size(int l) const { return sizes_[l]; }
  const std::vector<int>& layer_sizes() const { return sizes_; }
  /// The widest layer, inputs included.
  int max_width() const { return max_width_; }
  Eigen::Index num_params() const { return offsets_.back(); }
  Activation hidden_activation() const { return hidden_activation_; }
  /// f_l: the hidden activation for l < L-1, identity for the output layer.
  Activation activation(int l) const {
    return l + 1 < num_layers() ? hidden_activation_ : Activation::kIdentity;
  }
  /// Offset of W_l in the flat vector; b_l follows it at weight_offset(l) + n_{l+1} n_l.
  Eigen::Index weight_offset(int l) const { return offsets_[l]; }
  Eigen::Index bias_offset(int l) const {
    return offsets_[l] + Eigen::Index{sizes_[l + 1]} * sizes_[l];
  }

  /// Map views of W_l (n_{l+1} x n_l) and b_l (n_{l+1}) inside a flat vector `theta` of
  /// num_params() entries (not checked: pass theta.data() of a vector of the right size).
  template <class Scalar>
  Eigen::Map<const MatrixX<Scalar>> Weights(const Scalar* theta, int l) const {
    return {theta + weight_offset(l), sizes_[l + 1], sizes_[l]};
  }
  template <class Scalar>
  Eigen::Map<MatrixX<Scalar>> Weights(Scalar* theta, int l) const {
    return {theta + weight_offset(l), sizes_[l + 1], sizes_[l]};
  }
  template <class Scalar>
  Eigen::Map<const VectorX<Scalar>> Bias(const Scalar* theta, int l) const {
    return {theta + bias_offset(l), sizes_[l + 1]};
  }
  template <class Scalar>
  Eigen::Map<VectorX<Scalar>> Bias(Scalar* theta, int l) const {
    return {theta + bias_offset(l), sizes_[l + 1]};
  }

  /// Exact FLOPs of Forward on `batch` columns.
  std::uint64_t ForwardFlops(int batch) const;
  /// Exact FLOPs of Backward on `batch` columns (with the input gradient when `input_gradient`).
  std::uint64_t BackwardFlops(int batch, bool input_gradient) const;
  /// Exact FLOPs of ForwardTangent and of BackwardTangent on `batch` columns.
  std::uint64_t ForwardTangentFlops(int batch) const;
  std::uint64_t BackwardTangentFlops(int batch) const;

 private:
  std::vector<int> sizes_;
  std::vector<Eigen::Index> offsets_;  // weight offsets per layer, then num_params
  Activation hidden_activation_;
  int max_width_{0};
};

/// A recorded forward pass, served again (docs/meta.md "Benchmark"): the activations a_0..a_L of
/// the Forward calls made while it is recording (the rollout's batch-1 calls; call t fills
/// column t), for the parameters `theta` given to Start. A later Forward with bitwise the same
/// theta on bitwise the same inputs (the recorded columns, all of them) copies a_1..a_L from here
/// instead of computing them. The values are those the rollout computed, one column at a time:
/// they can differ from a batch Forward's in the last bits (a matrix-vector and a matrix-matrix
/// product round differently), and they are the ones the sampled actions were drawn from. Any
/// other theta or input computes the pass. The FLOPs counted are those of a plain Forward either
/// way (the counted work is the algorithm's, docs/agents.md).
template <class Scalar>
struct ActivationMemoT {
  /// Empties the memo and sizes it for `capacity` recorded columns of `mlp` at `theta`.
  void Start(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta, Eigen::Index capacity);
  /// Whether Forward may serve `x` at `mlp_theta` from this memo: theta and x bitwise equal to
  /// the recorded ones, x having exactly the recorded columns.
  bool Matches(const Eigen::Ref<const VectorX<Scalar>>& mlp_theta,
               const Eigen::Ref<const MatrixX<Scalar>>& x) const;

  VectorX<Scalar> theta;                     ///< the MLP parameters of the recorded calls
  std::vector<MatrixX<Scalar>> activations;  ///< a_0..a_L: n_l x capacity
  Eigen::Index columns{0};                   ///< columns recorded so far
};
using ActivationMemo = ActivationMemoT<double>;

/// Preallocated buffers for forward, backward and tangent passes on up to max_batch columns.
/// One per thread; no call allocates once it is constructed. Members are read-only for users
/// except `flops`, which callers may reset.
template <class Scalar>
struct MlpWorkspaceT {
  MlpWorkspaceT(const Mlp& mlp, int max_batch);

  /// Y = a_L of the last Forward: num_outputs x batch.
  auto output() const { return activations.back().leftCols(batch); }
  /// R{Y} of the last ForwardTangent: num_outputs x batch.
  auto output_tangent() const { return tangent_activations.back().leftCols(batch); }

  int max_batch{0};
  int batch{0};                                     ///< columns of the last Forward
  std::vector<MatrixX<Scalar>> activations;         ///< a_0..a_L, n_l x max_batch
  std::vector<MatrixX<Scalar>> tangent_activations;  ///< R{a_l}, n_l x max_batch (R{a_0} = 0)
  std::vector<MatrixX<Scalar>> tangent_preactivations;  ///< R{z_l}, l = 1..L at index l-1
  MatrixX<Scalar> delta;        ///< backprop buffers, max_width x max_batch each
  MatrixX<Scalar> delta_next;
  MatrixX<Scalar> rdelta;
  MatrixX<Scalar> rdelta_next;
  std::uint64_t flops{0};  ///< FLOPs of every call since construction or the last reset
  /// When set, each Forward appends its activations to it (ActivationMemoT).
  ActivationMemoT<Scalar>* record{nullptr};
  /// When set, a Forward that it matches copies its activations (ActivationMemoT).
  const ActivationMemoT<Scalar>* memo{nullptr};
  std::uint64_t memo_hits{0};  ///< Forward calls served from a memo
};
using MlpWorkspace = MlpWorkspaceT<double>;

/// Sets ws.memo for its lifetime (null: none), then restores the previous one.
template <class Scalar>
class ScopedActivationMemo {
 public:
  ScopedActivationMemo(MlpWorkspaceT<Scalar>& ws, const ActivationMemoT<Scalar>* memo)
      : ws_(ws), previous_(ws.memo) {
    ws_.memo = memo;
  }
  ~ScopedActivationMemo() { ws_.memo = previous_; }
  ScopedActivationMemo(const ScopedActivationMemo&) = delete;
  ScopedActivationMemo& operator=(const ScopedActivationMemo&) = delete;

 private:
  MlpWorkspaceT<Scalar>& ws_;
  const ActivationMemoT<Scalar>* previous_;
};

/// Fills theta with Glorot/Xavier-uniform weights (Glorot & Bengio 2010, eq. 16), as the
/// public MAML-RL code initialises its policies, and zero biases.
/// @throws std::invalid_argument when theta.size() != mlp.num_params().
template <class Scalar>
void InitializeMlpParams(const Mlp& mlp, std::mt19937_64& rng,
                         Eigen::Ref<VectorX<Scalar>> theta);

/// Forward pass: stores a_0..a_L in `ws` (Y = ws.output()).
/// `x`: num_inputs x B with 1 <= B <= ws.max_batch; `theta`: num_params.
/// @throws std::invalid_argument on a size mismatch ("expected X, got Y").
template <class Scalar>
void Forward(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
             const Eigen::Ref<const MatrixX<Scalar>>& x, MlpWorkspaceT<Scalar>& ws);

/// Vector-Jacobian product after Forward with the same theta: given `dy` = dL/dY
/// (num_outputs x B), writes `grad` = dL/dtheta (num_params; overwritten).
/// @throws std::invalid_argument on a size mismatch.
template <class Scalar>
void Backward(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
              const Eigen::Ref<const MatrixX<Scalar>>& dy, MlpWorkspaceT<Scalar>& ws,
              Eigen::Ref<VectorX<Scalar>> grad);

/// As Backward, and also writes `dx` = dL/dX (num_inputs x B).
template <class Scalar>
void Backward(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
              const Eigen::Ref<const MatrixX<Scalar>>& dy, MlpWorkspaceT<Scalar>& ws,
              Eigen::Ref<VectorX<Scalar>> grad, Eigen::Ref<MatrixX<Scalar>> dx);

/// R-operator forward pass after Forward: for a parameter direction `v` (num_params), stores
/// R{z_l}, R{a_l}; ws.output_tangent() = (dY/dtheta) v (num_outputs x B), the inputs held fixed.
template <class Scalar>
void ForwardTangent(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
                    const Eigen::Ref<const VectorX<Scalar>>& v, MlpWorkspaceT<Scalar>& ws);

/// R-operator backward pass after Forward and ForwardTangent (same theta and v). For a loss L
/// with output gradient `dy` = dL/dY and its directional derivative `rdy` = R{dL/dY} =
/// (d/dr) dL/dY(theta + r v) at r = 0 (both num_outputs x B), writes `grad` = dL/dtheta and
/// `hvp` = (d^2 L/dtheta^2) v (both num_params, overwritten). An empty `grad` (size 0) skips
/// the gradient's products; the hvp is the same to the last bit. The FLOPs added are those of
/// the full pass either way (the counted work, which the energy model charges, stays that of the
/// algorithm and does not depend on this shortcut).
template <class Scalar>
void BackwardTangent(const Mlp& mlp, const Eigen::Ref<const VectorX<Scalar>>& theta,
                     const Eigen::Ref<const VectorX<Scalar>>& v,
                     const Eigen::Ref<const MatrixX<Scalar>>& dy,
                     const Eigen::Ref<const MatrixX<Scalar>>& rdy, MlpWorkspaceT<Scalar>& ws,
                     Eigen::Ref<VectorX<Scalar>> grad, Eigen::Ref<VectorX<Scalar>> hvp);

}  // namespace metajoule::agents
