#include "meta/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>

#include "agents/learner_config.h"
#include "agents/math/checks.h"
#include "agents/vpg.h"

namespace metajoule::meta {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// the tasks of round `round`: all of them, or meta_batch drawn without replacement (partial
// Fisher-Yates with explicit index draws, so the result is fixed by the seed alone), ascending
std::vector<int> SelectTasks(int num_tasks, int meta_batch, std::uint64_t seed, int round) {
  std::vector<int> order(static_cast<std::size_t>(num_tasks));
  std::iota(order.begin(), order.end(), 0);
  if (meta_batch >= num_tasks) return order;
  std::mt19937_64 rng(StreamSeed(seed, static_cast<std::uint64_t>(round), kSelectStream));
  for (int i = 0; i < meta_batch; ++i) {
    const auto span = static_cast<std::uint64_t>(num_tasks - i);
    const int j = i + static_cast<int>(rng() % span);
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  order.resize(static_cast<std::size_t>(meta_batch));
  std::sort(order.begin(), order.end());
  return order;
}

double MeanOfFinite(const std::vector<Contribution>& contributions, double Contribution::*field) {
  double sum = 0.0;
  int count = 0;
  for (const auto& c : contributions) {
    if (c.ok() && std::isfinite(c.*field)) {
      sum += c.*field;
      ++count;
    }
  }
  return count > 0 ? sum / count : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

TrainingResult TrainMetaModel(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                              const Eigen::Ref<const Eigen::VectorXd>& initial_meta_params,
                              std::span<TaskEnv> tasks, std::uint64_t seed, ThreadPool* pool,
                              const IterationCallback& on_iteration) {
  agents::ThrowIfInvalid("TrainMetaModel", Validate(config));
  if (tasks.empty()) throw std::invalid_argument("TrainMetaModel: expected >= 1 task, got 0");
  agents::internal::CheckSize("TrainMetaModel: initial_meta_params size",
                              initial_meta_params.size(), MetaParamCount(config, policy));
  TrainingResult result;
  result.meta_params = initial_meta_params;
  if (config.method == MetaMethod::kScratch) return result;

  MetaLearner learner(config, policy, initial_meta_params);
  int consecutive_rejections = 0;
  for (int round = 0; round < config.iterations; ++round) {
    const auto round_start = std::chrono::steady_clock::now();
    IterationRecord record;
    record.iteration = round;
    record.tasks = SelectTasks(static_cast<int>(tasks.size()), config.meta_batch, seed, round);

    // contributions: each task with its own stream, written to its own slot
    std::vector<Contribution> contributions(record.tasks.size());
    const Eigen::VectorXd phi = learner.meta_params();
    auto compute = [&](std::size_t i, int /*thread*/) {
      const auto task = static_cast<std::size_t>(record.tasks[i]);
      std::mt19937_64 rng(StreamSeed(seed, static_cast<std::uint64_t>(round), task));
      contributions[i] = ComputeContribution(config, policy, phi, tasks[task], rng);
    };
    if (pool != nullptr) {
      pool->ParallelFor(contributions.size(), compute);
    } else {
      for (std::size_t i = 0; i < contributions.size(); ++i) compute(i, 0);
    }
    for (const auto& c : contributions) {
      record.work += c.work;
      record.timing.sampling_seconds += c.timing.sampling_seconds;
      record.timing.inner_seconds += c.timing.inner_seconds;
      record.timing.outer_seconds += c.timing.outer_seconds;
    }
    record.mean_pre_return = MeanOfFinite(contributions, &Contribution::pre_adaptation_return);
    record.mean_post_return = MeanOfFinite(contributions, &Contribution::post_adaptation_return);

    // aggregation in task order, then the outer step
    const auto update_start = std::chrono::steady_clock::now();
    record.update = learner.Update(contributions);
    record.update_seconds = SecondsSince(update_start);
    record.work.policy_flops += record.update.flops;
    result.work += record.work;
    record.wall_seconds = SecondsSince(round_start);
    if (record.update.ok()) {
      consecutive_rejections = 0;
    } else {
      ++result.rejected_updates;
      ++consecutive_rejections;
    }
    result.history.push_back(record);
    if (on_iteration) on_iteration(result.history.back());
    if (consecutive_rejections >= config.max_rejected_steps) {
      result.status = TrainingStatus::kDiverged;
      result.message = "stopped after " + std::to_string(consecutive_rejections) +
                       " consecutive rejected meta-updates at iteration " +
                       std::to_string(round) + ": " + record.update.message;
      break;
    }
  }
  result.meta_params = learner.meta_params();
  return result;
}

std::vector<TrainingResult> TrainClusterModels(
    const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
    const Eigen::Ref<const Eigen::VectorXd>& initial_meta_params,
    std::span<std::vector<TaskEnv>> clusters, std::uint64_t seed, ThreadPool* pool) {
  if (clusters.empty()) throw std::invalid_argument("TrainClusterModels: expected >= 1 cluster");
  std::vector<TrainingResult> results;
  if (config.per_cluster) {
    for (std::size_t c = 0; c < clusters.size(); ++c) {
      results.push_back(TrainMetaModel(config, policy, initial_meta_params, clusters[c],
                                       StreamSeed(seed, c, 1), pool));
    }
    return results;
  }
  // one global model on every task, clusters concatenated in order
  std::vector<TaskEnv> all;
  for (const auto& cluster : clusters) all.insert(all.end(), cluster.begin(), cluster.end());
  TrainingResult global = TrainMetaModel(config, policy, initial_meta_params, all, seed, pool);
  results.assign(clusters.size(), global);
  return results;
}

Eigen::VectorXd TrainOracle(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                            const Eigen::Ref<const Eigen::VectorXd>& theta, TaskEnv& task,
                            std::mt19937_64& rng, WorkCounts* work, int* failed_updates) {
  agents::ThrowIfInvalid("TrainOracle", Validate(config));
  agents::internal::CheckSize("TrainOracle: theta size", theta.size(), policy.num_params());
  if (task.env == nullptr) throw std::invalid_argument("TrainOracle: task.env is null");
  agents::VpgConfig vpg;
  vpg.advantage = config.advantage;
  vpg.optimizer = agents::OptimizerKind::kAdam;
  vpg.adam.learning_rate = config.eval.oracle_lr;
  agents::VpgLearner learner(policy, vpg, rng);
  agents::PolicyWorkspace ws(policy, 1);
  Eigen::VectorXd current = theta;
  WorkCounts total;
  int failed = 0;
  for (int i = 0; i < config.eval.oracle_iterations; ++i) {
    const std::int64_t sim_before = task.sim_steps ? task.sim_steps() : 0;
    const agents::TrajectoryBatch batch = agents::CollectEpisodes(
        policy, current, *task.env, config.eval.oracle_episodes, task.max_steps, rng, ws);
    if (task.sim_steps) total.sim_steps += task.sim_steps() - sim_before;
    total.env_steps += batch.num_steps();
    total.episodes += config.eval.oracle_episodes;
    const agents::UpdateReport report = learner.Update(batch, rng, current);
    total.policy_flops += report.flops;
    if (!report.ok()) ++failed;
  }
  total.policy_flops += ws.total_flops();
  if (work != nullptr) *work += total;
  if (failed_updates != nullptr) *failed_updates = failed;
  return current;
}

}  // namespace metajoule::meta
