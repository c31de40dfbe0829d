#pragma once
// Small statistics the benchmarks share.

#include <algorithm>
#include <cstddef>
#include <vector>

namespace metajoule {

/// The median of `values` (the mean of the two middle ones for an even count); `values` must not
/// be empty.
inline double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

}  // namespace metajoule
