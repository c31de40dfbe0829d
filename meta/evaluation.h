#pragma once
// The evaluation protocol of Finn et al. 2017 (section 5.3, Figure 4): on held-out tasks,
// the average return after 0, 1, ..., S adaptation steps, each step a VPG step
//   theta_{s+1} = theta_s - alpha grad L_PG(theta_s; D_s)
// on the batch D_s of eval.episodes trajectories sampled at theta_s (the same batch whose
// mean undiscounted return is reported for step s), alpha = eval.adapt_lr (0: inner_lr; the
// learned rates of a Meta-SGD model). Rows: maml, fomaml, reptile, pretrained, scratch (random
// init) adapted the same way, and the oracle (trained on each task separately; its return is
// the same at every step). Task t of any row samples with StreamSeed(seed, t, 2), so every row
// sees the same environment seeds.

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "agents/math/eigen.h"
#include "agents/math/gaussian_policy.h"
#include "common/thread_pool.h"
#include "meta/meta_config.h"
#include "meta/task_env.h"

namespace metajoule::meta {

/// One row of the table: a method's mean return (over tasks) after each adaptation step.
struct AdaptationCurve {
  std::string name;
  std::vector<double> mean_return;  ///< S + 1 entries, step 0..S
  std::vector<double> std_error;    ///< standard error over tasks, S + 1 entries
  /// task_returns[t][s]: mean return of held-out task t after s steps (for paired comparisons:
  /// every row uses the same tasks in the same order).
  std::vector<std::vector<double>> task_returns;
  WorkCounts work{};                ///< evaluation (and, for the oracle, training) work
  int failed_steps{0};              ///< adaptation steps rejected (non-finite); theta kept
};

/// The evaluation table.
struct EvaluationTable {
  int adaptation_steps{0};
  int num_tasks{0};
  std::vector<AdaptationCurve> rows;
  /// The row called `name`, or null.
  const AdaptationCurve* Find(const std::string& name) const;
  /// Fraction of the gap between `low` (e.g. "scratch") at 0 steps and `high` (e.g. "oracle")
  /// closed by `name` after `steps` steps: (R_name(steps) - R_low(0)) / (R_high - R_low(0)).
  /// NaN when a row is missing or the gap is 0.
  double GapClosed(const std::string& name, int steps, const std::string& low = "scratch",
                   const std::string& high = "oracle") const;
  /// A Markdown table: one row per method, columns "0 steps" .. "S steps" (mean ± s.e.).
  std::string Format() const;
};

/// One task's adaptation: the return of each step's batch and the work each step cost.
struct TaskAdaptation {
  std::vector<double> returns;       ///< S + 1 entries, step 0..S (NaN where sampling failed)
  /// S + 1 entries: theta_s, the parameters step s sampled at (a rejected step keeps theta_s)
  std::vector<Eigen::VectorXd> thetas;
  std::vector<WorkCounts> step_work;  ///< S + 1 entries: sampling step s's batch and, for s < S,
                                      ///< the VPG step that follows it
  int failed_steps{0};
};

/// Adapts `meta_params` (P or 2 P entries, as below) on one task: S = eval.adaptation_steps
/// VPG steps, the batch of step s sampled at theta_s from `rng`. EvaluateAdaptation's per-task
/// loop, exposed for callers that account for each step (experiments' held-out deployment):
/// `after_step(s, result)`, when given, runs once step s's work and return are in `result`.
/// @throws std::invalid_argument as EvaluateAdaptation.
TaskAdaptation AdaptOnTask(
    const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
    const Eigen::Ref<const Eigen::VectorXd>& meta_params, TaskEnv& task, std::mt19937_64& rng,
    const std::function<void(int step, const TaskAdaptation& result)>& after_step = {});

/// Adapts `meta_params` on each task as in the file comment: P entries (theta; rate
/// eval.adapt_lr, or inner_lr when that is 0) or 2 P (a Meta-SGD model [theta; alpha]; its
/// learned rates). Results do not depend on `pool`.
/// @throws std::invalid_argument when config fails Validate, `tasks` is empty or
/// meta_params has neither P nor 2 P entries.
AdaptationCurve EvaluateAdaptation(const std::string& name, const MetaConfig& config,
                                   const agents::GaussianMlpPolicy& policy,
                                   const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                   std::span<TaskEnv> tasks, std::uint64_t seed,
                                   ThreadPool* pool = nullptr);

/// The oracle row: TrainOracle from `theta` (P) on each task (rng StreamSeed(seed, t, 3)), then
/// the mean return of eval.episodes trajectories of the trained policy (StreamSeed(seed, t, 2)),
/// repeated for every step.
AdaptationCurve EvaluateOracle(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                               const Eigen::Ref<const Eigen::VectorXd>& theta,
                               std::span<TaskEnv> tasks, std::uint64_t seed,
                               ThreadPool* pool = nullptr);

}  // namespace metajoule::meta
