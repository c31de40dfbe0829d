#pragma once
// Meta-training in one process: the round loop of DESIGN.md ("The run, as data flows") with
// every agent a TaskEnv, for tests, studies and benchmarks. Each round r picks meta_batch tasks
// (all of them when meta_batch >= the number of tasks, else a uniform draw without replacement
// from StreamSeed(seed, r, kSelectStream), sorted), computes their contributions (in parallel
// when a pool is given) with rng StreamSeed(seed, r, task index), and hands them to the
// MetaLearner in task order. The networked run calls the same ComputeContribution on the
// agents and the same MetaLearner::Update on the server.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "agents/math/eigen.h"
#include "agents/math/gaussian_policy.h"
#include "common/thread_pool.h"
#include "meta/contribution.h"
#include "meta/meta_config.h"
#include "meta/meta_learner.h"
#include "meta/task_env.h"

namespace metajoule::meta {

/// The stream id that seeds the task selection of a round.
inline constexpr std::uint64_t kSelectStream = 0xFFFFFFFFULL;

/// One meta-iteration.
struct IterationRecord {
  int iteration{0};
  std::vector<int> tasks;         ///< indices of the tasks used, ascending
  AggregateReport update{};       ///< the meta-update (status, rejected contributions)
  double mean_pre_return{0.0};    ///< mean over ok contributions of pre_adaptation_return
  double mean_post_return{0.0};   ///< ... of post_adaptation_return (NaN if none reported)
  WorkCounts work{};              ///< summed over the round's contributions
  ContributionTiming timing{};    ///< summed over the round's contributions
  double update_seconds{0.0};     ///< MetaLearner::Update
  double wall_seconds{0.0};       ///< the whole round
};

enum class TrainingStatus : std::uint8_t {
  kCompleted,  ///< every iteration ran (some updates may have been rejected)
  kDiverged,   ///< max_rejected_steps consecutive updates were rejected; training stopped
};

struct TrainingResult {
  Eigen::VectorXd meta_params;  ///< the final phi (the last accepted one)
  TrainingStatus status{TrainingStatus::kCompleted};
  std::string message{};        ///< why training stopped early
  std::vector<IterationRecord> history;
  WorkCounts work{};            ///< every contribution's work, summed
  int rejected_updates{0};
};

/// Called after every iteration (progress printing, ledger rows); may be empty.
using IterationCallback = std::function<void(const IterationRecord&)>;

/// Runs config.iterations rounds from `initial_meta_params` on `tasks`. scratch returns the
/// initial parameters unchanged. Results are bit-identical for any `pool` (or none).
/// @throws std::invalid_argument when config fails Validate, `tasks` is empty, or phi has the
/// wrong size (and whatever ComputeContribution throws for a bad TaskEnv).
TrainingResult TrainMetaModel(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                              const Eigen::Ref<const Eigen::VectorXd>& initial_meta_params,
                              std::span<TaskEnv> tasks, std::uint64_t seed,
                              ThreadPool* pool = nullptr, const IterationCallback& on_iteration = {});

/// One meta-model per cluster (config.per_cluster, cluster c trained with seed StreamSeed(seed,
/// c, 1)) or one global model trained on the concatenation of every cluster's tasks and returned
/// for each cluster. Returns one result per cluster.
std::vector<TrainingResult> TrainClusterModels(
    const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
    const Eigen::Ref<const Eigen::VectorXd>& initial_meta_params,
    std::span<std::vector<TaskEnv>> clusters, std::uint64_t seed, ThreadPool* pool = nullptr);

/// The oracle of the evaluation protocol: a policy trained on this task alone, from `theta`,
/// by eval.oracle_iterations Adam VPG updates (learning rate eval.oracle_lr) of
/// eval.oracle_episodes trajectories, advantages as config.advantage. Failed updates leave
/// theta unchanged and are counted in `failed_updates` (may be null).
Eigen::VectorXd TrainOracle(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                            const Eigen::Ref<const Eigen::VectorXd>& theta, TaskEnv& task,
                            std::mt19937_64& rng, WorkCounts* work = nullptr,
                            int* failed_updates = nullptr);

}  // namespace metajoule::meta
