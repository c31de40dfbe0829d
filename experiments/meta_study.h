#pragma once
// The meta-learning study on the MuJoCo tasks (issue 4, "Real-task results"): meta-train on
// tasks drawn from one cluster's distribution, then run the evaluation protocol of Finn et al.
// 2017 on held-out tasks of the same distribution (meta/evaluation.h) for every method, the
// random initialisation (scratch) and the oracle; plus the per-phase benchmark of one
// meta-iteration (meta/benchmark.h) on the same tasks. Every environment is an
// agents::SimRolloutEnv; everything is deterministic per seed and thread count.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "meta/benchmark.h"
#include "meta/evaluation.h"
#include "meta/meta_config.h"
#include "meta/trainer.h"
#include "sim/task_config.h"

namespace metajoule::experiments {

struct MetaStudyConfig {
  /// The cluster's task distribution (family and goal box; empty box = the family default,
  /// nav2d: [-0.5, 0.5]^2 as Finn et al. 2017).
  sim::TaskDistributionConfig task{.family = "nav2d"};
  sim::EnvConfig env{};
  int train_tasks{40};  ///< tasks meta-training draws its meta-batches from
  int test_tasks{10};   ///< held-out tasks (a separate draw)
  std::vector<int> hidden_sizes{32, 32};  ///< tanh policy
  double init_log_std{0.0};
  /// Settings shared by every method (method is overwritten per row).
  meta::MetaConfig meta{};
  /// Methods meta-trained and evaluated, in table order (scratch and the oracle are added).
  std::vector<meta::MetaMethod> methods{meta::MetaMethod::kMaml, meta::MetaMethod::kFomaml,
                                        meta::MetaMethod::kReptile,
                                        meta::MetaMethod::kPretrained};
  /// Reptile's own settings: local SGD steps and the outer step size.
  int reptile_inner_steps{3};
  double reptile_epsilon{1.0};
  bool run_oracle{true};
  std::uint64_t seed{1};
  int threads{2};  ///< ThreadPool size for contributions and evaluation (0: every core)
};

/// One meta-trained method.
struct MetaStudyRun {
  std::string method;
  meta::TrainingResult training;
  double train_seconds{0.0};
  double eval_seconds{0.0};
};

struct MetaStudyResult {
  MetaStudyConfig config;
  std::vector<MetaStudyRun> runs;
  meta::EvaluationTable table;
  double oracle_seconds{0.0};
  double total_seconds{0.0};
};

/// Runs the study; progress lines go to `progress` when not null.
/// @throws std::invalid_argument for an invalid meta config or task distribution.
MetaStudyResult RunMetaStudy(const MetaStudyConfig& config, std::ostream* progress = nullptr);

/// Markdown: settings, the evaluation table, the gaps closed (vs scratch at 0 steps and the
/// oracle), MAML's margins over pretrained and scratch at 1 step (with the standard error of
/// the per-task differences: every row is evaluated on the same held-out tasks), and times.
std::string FormatMetaStudy(const MetaStudyResult& result);

/// Benchmark rows (meta/benchmark.h) for each method of config.methods, `iterations`
/// meta-iterations each, single-threaded, on config's training tasks.
std::vector<meta::MetaBenchmarkResult> RunMetaStudyBenchmark(const MetaStudyConfig& config,
                                                             int iterations);

/// The study's settings for 2-D navigation (nav2d) and for a 2-link reach cluster (reach2d,
/// goals in `goal_low`..`goal_high`), sized for 2 cores (docs/meta.md "Measured results").
MetaStudyConfig Nav2dStudy();
MetaStudyConfig Reach2dStudy();
/// Reach2dStudy with MAML-TRPO as the outer step (meta.outer = "trpo"), maml and pretrained
/// only (pretrained keeps its Adam step); docs/meta.md "MAML-TRPO on reach2d".
MetaStudyConfig Reach2dTrpoStudy();

}  // namespace metajoule::experiments
