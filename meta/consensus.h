#pragma once
// Consensus-based federated learning over a mesh (DESIGN.md "Methods": consensus, "SL models
// only; decentralised FL among neighbours; no server"). Each round every agent takes fedavg's
// local step on its own task (meta/contribution.h FedAvgContribution: theta_i -> theta'_i),
// sends theta'_i to its neighbours over sidelinks, and replaces its model with a weighted
// average of its own and its neighbours' models,
//   theta_i <- w_ii theta'_i + sum_{j in N(i)} w_ij theta'_j,
// with the Metropolis-Hastings weights of Xiao & Boyd 2004 ("Fast linear iterations for
// distributed averaging", eq. (19) there, "maximum-degree"/local-degree variant):
//   w_ij = 1 / (1 + max(d_i, d_j)) for each neighbour j,  w_ii = 1 - sum_{j in N(i)} w_ij,
// a symmetric, doubly stochastic matrix that needs only the neighbours' degrees; on a
// connected graph its powers converge to the plain average (1/n) 1 1^T. A neighbour's model
// that does not arrive (lost on its sidelink) gives its weight to the agent's own model for
// that round, so each row still sums to one.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "agents/math/eigen.h"

namespace metajoule::meta {

/// Row i of the mixing matrix: the weight of each neighbour (in the order of the neighbour
/// list) and the agent's own weight.
struct MixingRow {
  std::vector<double> neighbour;
  double self{1.0};
};

/// The Metropolis-Hastings weights of an undirected graph given as neighbour lists
/// (neighbours[i] holds the indices j != i linked to i; the relation must be symmetric).
/// @throws std::invalid_argument for an index out of range, a self-loop, a repeated neighbour
/// or an asymmetric list.
std::vector<MixingRow> MetropolisHastingsWeights(
    std::span<const std::vector<std::size_t>> neighbours);

/// Agent i's new model: the weighted sum over {i} and its neighbours whose model arrived
/// (received[n] for neighbour n of row.neighbour's order; nullptr: lost, its weight goes to
/// self), summed in ascending agent index so that agents holding the same models compute the
/// same sum. `out` may not alias `own` or a received model. Returns the FLOPs (2 per entry and
/// term).
/// @throws std::invalid_argument when the sizes disagree.
std::uint64_t MixModels(std::size_t i, std::span<const std::size_t> neighbours,
                        const MixingRow& row, const Eigen::VectorXd& own,
                        std::span<const Eigen::VectorXd* const> received, Eigen::VectorXd& out);

}  // namespace metajoule::meta
