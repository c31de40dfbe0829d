#include "agents/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <random>

#include "agents/math/mlp.h"

namespace metajoule::agents {
namespace {

using Clock = std::chrono::steady_clock;

// Best-of-`repetitions` ns per call of `body`, each repetition running >= min_seconds.
template <class Body>
double NsPerCall(const MlpBenchmarkConfig& config, Body&& body) {
  double best = std::numeric_limits<double>::infinity();
  for (int rep = 0; rep < config.repetitions; ++rep) {
    std::int64_t calls = 0;
    const auto start = Clock::now();
    double elapsed = 0.0;
    do {
      body();
      ++calls;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    } while (elapsed < config.min_seconds);
    best = std::min(best, elapsed * 1e9 / static_cast<double>(calls));
  }
  return best;
}

// The reference: the textbook Eigen MLP with one matrix per weight and bias, tanh hidden
// layers, linear output; forward stores activations, backward writes dW and db.
template <class Scalar>
struct ReferenceMlp {
  using Mat = MatrixX<Scalar>;
  using Vec = VectorX<Scalar>;
  ReferenceMlp(const std::vector<int>& sizes, int batch, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> uniform(-0.3, 0.3);
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      Mat w(sizes[l + 1], sizes[l]);
      for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<Scalar>(uniform(rng));
      weights.push_back(w);
      biases.push_back(Vec::Zero(sizes[l + 1]));
      grad_w.push_back(Mat::Zero(sizes[l + 1], sizes[l]));
      grad_b.push_back(Vec::Zero(sizes[l + 1]));
    }
    for (const int size : sizes) acts.push_back(Mat::Zero(size, batch));
    delta = Mat::Zero(*std::max_element(sizes.begin(), sizes.end()), batch);
    delta_next = delta;
  }
  void ForwardBackward(const Mat& x, const Mat& dy) {
    const auto layers = weights.size();
    acts[0] = x;
    for (std::size_t l = 0; l < layers; ++l) {
      acts[l + 1].noalias() = weights[l] * acts[l];
      acts[l + 1].colwise() += biases[l];
      if (l + 1 < layers) acts[l + 1] = acts[l + 1].array().tanh();
    }
    Mat* d = &delta;
    Mat* next = &delta_next;
    d->topRows(dy.rows()) = dy;
    for (std::size_t l = layers; l-- > 0;) {
      const auto rows = weights[l].rows();
      grad_w[l].noalias() = d->topRows(rows) * acts[l].transpose();
      grad_b[l] = d->topRows(rows).rowwise().sum();
      if (l == 0) break;
      next->topRows(weights[l].cols()).noalias() = weights[l].transpose() * d->topRows(rows);
      next->topRows(weights[l].cols()).array() *= Scalar(1) - acts[l].array().square();
      std::swap(d, next);
    }
  }
  std::vector<Mat> weights, grad_w, acts;
  std::vector<Vec> biases, grad_b;
  Mat delta, delta_next;
};

template <class Scalar>
MlpBenchmarkRow RunOne(const MlpBenchmarkConfig& config, int batch, const char* name) {
  std::mt19937_64 rng(1);
  const Mlp mlp(config.layer_sizes, Activation::kTanh);
  MlpWorkspaceT<Scalar> ws(mlp, batch);
  VectorX<Scalar> theta(mlp.num_params());
  InitializeMlpParams<Scalar>(mlp, rng, theta);
  VectorX<Scalar> grad(mlp.num_params());
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  MatrixX<Scalar> x(mlp.num_inputs(), batch);
  MatrixX<Scalar> dy(mlp.num_outputs(), batch);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<Scalar>(uniform(rng));
  for (Eigen::Index i = 0; i < dy.size(); ++i) dy.data()[i] = static_cast<Scalar>(uniform(rng));
  ReferenceMlp<Scalar> reference(config.layer_sizes, batch, rng);

  MlpBenchmarkRow row;
  row.scalar = name;
  row.batch = batch;
  row.ours_ns_per_sample = NsPerCall(config, [&] {
                             Forward<Scalar>(mlp, theta, x, ws);
                             Backward<Scalar>(mlp, theta, dy, ws, grad);
                           }) /
                           batch;
  row.reference_ns_per_sample =
      NsPerCall(config, [&] { reference.ForwardBackward(x, dy); }) / batch;
  row.flops_per_sample = (mlp.ForwardFlops(batch) + mlp.BackwardFlops(batch, false)) /
                         static_cast<std::uint64_t>(batch);
  return row;
}

}  // namespace

std::vector<MlpBenchmarkRow> RunMlpBenchmark(const MlpBenchmarkConfig& config) {
  std::vector<MlpBenchmarkRow> rows;
  for (const int batch : config.batches) {
    rows.push_back(RunOne<float>(config, batch, "float"));
    rows.push_back(RunOne<double>(config, batch, "double"));
  }
  return rows;
}

std::string FormatMlpBenchmark(const std::vector<MlpBenchmarkRow>& rows) {
  std::string out =
      "| scalar | batch | ours ns/sample | reference ns/sample | ratio | FLOP/sample | GFLOP/s |\n"
      "|---|---|---|---|---|---|---|\n";
  char line[200];
  for (const auto& row : rows) {
    std::snprintf(line, sizeof line, "| %s | %d | %.0f | %.0f | %.2f | %llu | %.1f |\n",
                  row.scalar.c_str(), row.batch, row.ours_ns_per_sample,
                  row.reference_ns_per_sample, row.ratio(),
                  static_cast<unsigned long long>(row.flops_per_sample), row.gflops());
    out += line;
  }
  return out;
}

}  // namespace metajoule::agents
