#include "meta/consensus.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace metajoule::meta {

std::vector<MixingRow> MetropolisHastingsWeights(
    std::span<const std::vector<std::size_t>> neighbours) {
  const std::size_t n = neighbours.size();
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t a = 0; a < neighbours[i].size(); ++a) {
      const std::size_t j = neighbours[i][a];
      if (j >= n || j == i) {
        throw std::invalid_argument("MetropolisHastingsWeights: agent " + std::to_string(i) +
                                    " lists neighbour " + std::to_string(j) +
                                    ", expected an index in [0, " + std::to_string(n) +
                                    ") other than itself");
      }
      if (std::count(neighbours[i].begin(), neighbours[i].end(), j) != 1 ||
          std::count(neighbours[j].begin(), neighbours[j].end(), i) != 1) {
        throw std::invalid_argument("MetropolisHastingsWeights: the link " + std::to_string(i) +
                                    " - " + std::to_string(j) +
                                    " is repeated or not listed both ways");
      }
    }
  }
  // w_ij = 1 / (1 + max(d_i, d_j)), w_ii = 1 - sum_j w_ij (Xiao & Boyd 2004)
  std::vector<MixingRow> rows(n);
  for (std::size_t i = 0; i < n; ++i) {
    double sum = 0.0;
    for (const std::size_t j : neighbours[i]) {
      const double w =
          1.0 / (1.0 + static_cast<double>(std::max(neighbours[i].size(), neighbours[j].size())));
      rows[i].neighbour.push_back(w);
      sum += w;
    }
    rows[i].self = 1.0 - sum;
  }
  return rows;
}

std::uint64_t MixModels(std::size_t i, std::span<const std::size_t> neighbours,
                        const MixingRow& row, const Eigen::VectorXd& own,
                        std::span<const Eigen::VectorXd* const> received, Eigen::VectorXd& out) {
  if (neighbours.size() != row.neighbour.size() || received.size() != neighbours.size()) {
    throw std::invalid_argument("MixModels: " + std::to_string(neighbours.size()) +
                                " neighbours, " + std::to_string(row.neighbour.size()) +
                                " weights and " + std::to_string(received.size()) +
                                " received models, expected as many of each");
  }
  // the terms (agent index, weight, model); a lost model's weight goes to self
  std::vector<std::pair<std::size_t, std::pair<double, const Eigen::VectorXd*>>> terms;
  double self = row.self;
  for (std::size_t a = 0; a < neighbours.size(); ++a) {
    if (received[a] == nullptr) {
      self += row.neighbour[a];
      continue;
    }
    if (received[a]->size() != own.size()) {
      throw std::invalid_argument("MixModels: neighbour " + std::to_string(neighbours[a]) +
                                  "'s model has " + std::to_string(received[a]->size()) +
                                  " entries, expected " + std::to_string(own.size()));
    }
    terms.push_back({neighbours[a], {row.neighbour[a], received[a]}});
  }
  terms.push_back({i, {self, &own}});
  std::sort(terms.begin(), terms.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  out.setZero(own.size());
  for (const auto& [index, term] : terms) out += term.first * *term.second;
  return 2 * static_cast<std::uint64_t>(own.size()) * terms.size();
}

}  // namespace metajoule::meta
