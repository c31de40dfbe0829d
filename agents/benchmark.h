#pragma once
// Micro-benchmark of the policy MLP (wired as `metajoule bench agents` by the CLI): forward +
// backward ns per sample of agents::Forward/Backward against a plain Eigen implementation of
// the same network written in benchmark.cc (separate W and b matrices, no flat vector, no
// workspace checks), in float and double, at several batch sizes.

#include <cstdint>
#include <string>
#include <vector>

namespace metajoule::agents {

struct MlpBenchmarkConfig {
  /// {inputs, hidden..., outputs}; the default is the 64x64 tanh policy of machine-notes s.5.
  std::vector<int> layer_sizes{20, 64, 64, 6};
  std::vector<int> batches{1, 1000};
  double min_seconds{0.3};  ///< per repetition
  int repetitions{5};       ///< the best repetition is reported
};

struct MlpBenchmarkRow {
  std::string scalar;  ///< "float" or "double"
  int batch{0};
  double ours_ns_per_sample{0.0};       ///< Forward + Backward (parameter gradient)
  double reference_ns_per_sample{0.0};  ///< the plain Eigen reference, same work
  std::uint64_t flops_per_sample{0};    ///< Mlp::ForwardFlops + BackwardFlops, per sample
  double ratio() const { return ours_ns_per_sample / reference_ns_per_sample; }
  double gflops() const { return static_cast<double>(flops_per_sample) / ours_ns_per_sample; }
};

/// Runs the benchmark on the calling thread (single-threaded Eigen). Takes about
/// 2 scalars x batches x 2 implementations x repetitions x min_seconds.
std::vector<MlpBenchmarkRow> RunMlpBenchmark(const MlpBenchmarkConfig& config = {});

/// A Markdown table of the rows.
std::string FormatMlpBenchmark(const std::vector<MlpBenchmarkRow>& rows);

}  // namespace metajoule::agents
