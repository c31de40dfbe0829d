#pragma once
// Argument checks shared by the agents module: tier 2 of STYLE.md section 5
// (std::invalid_argument reading "<where>: expected X, got Y").

#include "agents/math/eigen.h"
#include <stdexcept>
#include <string>

namespace metajoule::agents::internal {

/// @throws std::invalid_argument "<what>: expected <expected>, got <got>" when they differ.
inline void CheckSize(const char* what, Eigen::Index got, Eigen::Index expected) {
  if (got != expected) {
    throw std::invalid_argument(std::string(what) + ": expected " + std::to_string(expected) +
                                ", got " + std::to_string(got));
  }
}

/// @throws std::invalid_argument unless 1 <= batch <= max_batch.
inline void CheckBatch(const char* what, Eigen::Index batch, Eigen::Index max_batch) {
  if (batch < 1 || batch > max_batch) {
    throw std::invalid_argument(std::string(what) + ": expected 1.." + std::to_string(max_batch) +
                                " columns, got " + std::to_string(batch));
  }
}

}  // namespace metajoule::agents::internal
