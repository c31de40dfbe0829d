#include "meta/evaluation.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>

#include "agents/learner_config.h"
#include "agents/math/checks.h"
#include "meta/meta_gradient.h"
#include "meta/task_sampler.h"
#include "meta/trainer.h"

namespace metajoule::meta {
namespace {

constexpr std::uint64_t kEvaluationStream = 2;
constexpr std::uint64_t kOracleStream = 3;

// runs fn(t) for every task, in parallel when a pool is given
void ForEachTask(std::size_t count, ThreadPool* pool, const std::function<void(std::size_t)>& fn) {
  if (pool != nullptr) {
    pool->ParallelFor(count, [&](std::size_t t, int /*thread*/) { fn(t); });
  } else {
    for (std::size_t t = 0; t < count; ++t) fn(t);
  }
}

// mean and standard error over tasks of per_task[t][s], into the curve, in task order
void Summarise(const std::vector<std::vector<double>>& per_task, int steps,
               AdaptationCurve& curve) {
  const auto n = static_cast<double>(per_task.size());
  curve.mean_return.assign(static_cast<std::size_t>(steps) + 1, 0.0);
  curve.std_error.assign(static_cast<std::size_t>(steps) + 1, 0.0);
  curve.task_returns = per_task;
  for (std::size_t s = 0; s <= static_cast<std::size_t>(steps); ++s) {
    double sum = 0.0;
    for (const auto& row : per_task) sum += row[s];
    const double mean = sum / n;
    double squares = 0.0;
    for (const auto& row : per_task) squares += (row[s] - mean) * (row[s] - mean);
    curve.mean_return[s] = mean;
    curve.std_error[s] = per_task.size() > 1 ? std::sqrt(squares / (n - 1.0) / n) : 0.0;
  }
}

}  // namespace

const AdaptationCurve* EvaluationTable::Find(const std::string& name) const {
  for (const auto& row : rows) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

double EvaluationTable::GapClosed(const std::string& name, int steps, const std::string& low,
                                  const std::string& high) const {
  const AdaptationCurve* row = Find(name);
  const AdaptationCurve* low_row = Find(low);
  const AdaptationCurve* high_row = Find(high);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (row == nullptr || low_row == nullptr || high_row == nullptr || steps < 0 ||
      steps >= static_cast<int>(row->mean_return.size()) || low_row->mean_return.empty() ||
      high_row->mean_return.empty()) {
    return nan;
  }
  const double base = low_row->mean_return.front();
  const double gap = high_row->mean_return.back() - base;
  if (gap == 0.0) return nan;
  return (row->mean_return[static_cast<std::size_t>(steps)] - base) / gap;
}

std::string EvaluationTable::Format() const {
  std::string out = "| method |";
  std::string rule = "|---|";
  char cell[64];
  for (int s = 0; s <= adaptation_steps; ++s) {
    std::snprintf(cell, sizeof(cell), " %d %s |", s, s == 1 ? "step" : "steps");
    out.append(cell);
    rule.append("---|");
  }
  out.append("\n").append(rule).append("\n");
  for (const auto& row : rows) {
    out.append("| ").append(row.name).append(" |");
    for (std::size_t s = 0; s < row.mean_return.size(); ++s) {
      std::snprintf(cell, sizeof(cell), " %.2f ± %.2f |", row.mean_return[s], row.std_error[s]);
      out += cell;
    }
    out += "\n";
  }
  std::snprintf(cell, sizeof(cell), "(mean undiscounted return over %d held-out tasks", num_tasks);
  out.append(cell).append(" ± standard error)\n");
  return out;
}

namespace {

// Checks meta_params' size and returns the adaptation rates: the learned ones of a Meta-SGD
// model [theta; alpha], else eval.adapt_lr (inner_lr when 0) as a 1-vector.
Eigen::VectorXd AdaptationRates(const char* caller, const MetaConfig& config,
                                const agents::GaussianMlpPolicy& policy,
                                const Eigen::Ref<const Eigen::VectorXd>& meta_params) {
  const Eigen::Index p = policy.num_params();
  if (meta_params.size() != p && meta_params.size() != 2 * p) {
    throw std::invalid_argument(std::string(caller) + ": meta_params size: expected " +
                                std::to_string(p) + " or " + std::to_string(2 * p) + ", got " +
                                std::to_string(meta_params.size()));
  }
  const double lr = config.eval.adapt_lr > 0.0 ? config.eval.adapt_lr : config.inner_lr;
  return meta_params.size() == 2 * p ? Eigen::VectorXd(meta_params.tail(p))
                                     : Eigen::VectorXd::Constant(1, lr);
}

WorkCounts Difference(const WorkCounts& after, const WorkCounts& before) {
  return {after.env_steps - before.env_steps, after.sim_steps - before.sim_steps,
          after.episodes - before.episodes, after.policy_flops - before.policy_flops};
}

TaskAdaptation Adapt(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                     const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                     const Eigen::VectorXd& alpha, TaskEnv& task, std::mt19937_64& rng,
                     const std::function<void(int, const TaskAdaptation&)>& after_step) {
  const Eigen::Index p = policy.num_params();
  const int steps = config.eval.adaptation_steps;
  TaskSampler sampler(policy, config.advantage, task, config.eval.episodes, rng);
  Eigen::VectorXd theta = meta_params.head(p);
  Eigen::VectorXd grad(p);
  Eigen::VectorXd next(p);
  LossBatch batch;
  std::string message;
  double ignored_seconds = 0.0;
  TaskAdaptation result;
  result.returns.assign(static_cast<std::size_t>(steps) + 1,
                        std::numeric_limits<double>::quiet_NaN());
  result.step_work.assign(static_cast<std::size_t>(steps) + 1, WorkCounts{});
  WorkCounts before = sampler.work();
  for (int s = 0; s <= steps; ++s) {
    const auto step = static_cast<std::size_t>(s);
    result.thetas.push_back(theta);
    double mean_return = std::numeric_limits<double>::quiet_NaN();
    const agents::UpdateStatus status = sampler.Sample(theta, config.eval.episodes, rng, batch,
                                                       mean_return, message, ignored_seconds);
    result.returns[step] = mean_return;
    if (s < steps) {
      if (status != agents::UpdateStatus::kOk) {
        ++result.failed_steps;
      } else {
        // theta_{s+1} = theta_s - alpha grad L_PG(theta_s; D_s); a non-finite step is rejected
        InnerStep(policy, theta, alpha, batch, sampler.loss_workspace(), grad, next);
        if (next.allFinite()) {
          theta.swap(next);
        } else {
          ++result.failed_steps;
        }
      }
    }
    const WorkCounts after = sampler.work();
    result.step_work[step] = Difference(after, before);
    before = after;
    if (after_step) after_step(s, result);
  }
  return result;
}

}  // namespace

TaskAdaptation AdaptOnTask(
    const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
    const Eigen::Ref<const Eigen::VectorXd>& meta_params, TaskEnv& task, std::mt19937_64& rng,
    const std::function<void(int step, const TaskAdaptation& result)>& after_step) {
  agents::ThrowIfInvalid("AdaptOnTask", Validate(config));
  const Eigen::VectorXd alpha = AdaptationRates("AdaptOnTask", config, policy, meta_params);
  return Adapt(config, policy, meta_params, alpha, task, rng, after_step);
}

AdaptationCurve EvaluateAdaptation(const std::string& name, const MetaConfig& config,
                                   const agents::GaussianMlpPolicy& policy,
                                   const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                   std::span<TaskEnv> tasks, std::uint64_t seed,
                                   ThreadPool* pool) {
  agents::ThrowIfInvalid("EvaluateAdaptation", Validate(config));
  if (tasks.empty()) throw std::invalid_argument("EvaluateAdaptation: expected >= 1 task, got 0");
  const Eigen::VectorXd alpha = AdaptationRates("EvaluateAdaptation", config, policy, meta_params);
  const int steps = config.eval.adaptation_steps;
  std::vector<std::vector<double>> returns(tasks.size());
  std::vector<WorkCounts> work(tasks.size());
  std::vector<int> failed(tasks.size(), 0);
  ForEachTask(tasks.size(), pool, [&](std::size_t t) {
    std::mt19937_64 rng(StreamSeed(seed, t, kEvaluationStream));
    TaskAdaptation adaptation = Adapt(config, policy, meta_params, alpha, tasks[t], rng, {});
    returns[t] = std::move(adaptation.returns);
    for (const WorkCounts& step : adaptation.step_work) work[t] += step;
    failed[t] = adaptation.failed_steps;
  });
  AdaptationCurve curve;
  curve.name = name;
  Summarise(returns, steps, curve);
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    curve.work += work[t];
    curve.failed_steps += failed[t];
  }
  return curve;
}

AdaptationCurve EvaluateOracle(const MetaConfig& config, const agents::GaussianMlpPolicy& policy,
                               const Eigen::Ref<const Eigen::VectorXd>& theta,
                               std::span<TaskEnv> tasks, std::uint64_t seed, ThreadPool* pool) {
  agents::ThrowIfInvalid("EvaluateOracle", Validate(config));
  if (tasks.empty()) throw std::invalid_argument("EvaluateOracle: expected >= 1 task, got 0");
  agents::internal::CheckSize("EvaluateOracle: theta size", theta.size(), policy.num_params());
  const int steps = config.eval.adaptation_steps;
  std::vector<std::vector<double>> returns(tasks.size());
  std::vector<WorkCounts> work(tasks.size());
  std::vector<int> failed(tasks.size(), 0);
  ForEachTask(tasks.size(), pool, [&](std::size_t t) {
    std::mt19937_64 train_rng(StreamSeed(seed, t, kOracleStream));
    const Eigen::VectorXd trained =
        TrainOracle(config, policy, theta, tasks[t], train_rng, &work[t], &failed[t]);
    std::mt19937_64 rng(StreamSeed(seed, t, kEvaluationStream));
    TaskSampler sampler(policy, config.advantage, tasks[t], config.eval.episodes, rng);
    LossBatch batch;
    std::string message;
    double ignored_seconds = 0.0;
    double mean_return = std::numeric_limits<double>::quiet_NaN();
    sampler.Sample(trained, config.eval.episodes, rng, batch, mean_return, message,
                   ignored_seconds);
    returns[t].assign(static_cast<std::size_t>(steps) + 1, mean_return);
    work[t] += sampler.work();
  });
  AdaptationCurve curve;
  curve.name = "oracle";
  Summarise(returns, steps, curve);
  for (std::size_t t = 0; t < tasks.size(); ++t) {
    curve.work += work[t];
    curve.failed_steps += failed[t];
  }
  return curve;
}

}  // namespace metajoule::meta
