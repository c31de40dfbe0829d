#include "meta/benchmark.h"

#include <cstdio>
#include <stdexcept>
#include <vector>

#include "meta/task_sampler.h"
#include "meta/trainer.h"

namespace metajoule::meta {

MetaBenchmarkResult BenchmarkMetaIteration(const MetaConfig& config,
                                           const agents::GaussianMlpPolicy& policy,
                                           const Eigen::Ref<const Eigen::VectorXd>& meta_params,
                                           std::span<TaskEnv> tasks, int iterations,
                                           std::uint64_t seed) {
  if (iterations < 1 || config.method == MetaMethod::kScratch) {
    throw std::invalid_argument(
        "BenchmarkMetaIteration: expected iterations >= 1 and a method other than scratch, got " +
        std::to_string(iterations) + " iterations of " + std::string(MetaMethodName(config.method)));
  }
  MetaConfig run = config;
  run.iterations = iterations;
  // single-threaded (no pool): every phase runs on this thread, so its CPU clock covers them
  // the thread's CPU clocks at the start and after every iteration
  std::vector<double> cpu_marks{TaskSampler::ThreadCpuSeconds()};
  std::vector<double> sampling_marks{TaskSampler::ThreadSamplingCpuSeconds()};
  const double cpu_start = cpu_marks.front();
  const double sampling_cpu_start = sampling_marks.front();
  const TrainingResult trained =
      TrainMetaModel(run, policy, meta_params, tasks, seed, nullptr, [&](const IterationRecord&) {
        cpu_marks.push_back(TaskSampler::ThreadCpuSeconds());
        sampling_marks.push_back(TaskSampler::ThreadSamplingCpuSeconds());
      });
  const double sampling_cpu = TaskSampler::ThreadSamplingCpuSeconds() - sampling_cpu_start;
  const double cpu = TaskSampler::ThreadCpuSeconds() - cpu_start;
  MetaBenchmarkResult result;
  result.method = std::string(MetaMethodName(config.method));
  result.iterations = static_cast<int>(trained.history.size());
  for (const IterationRecord& record : trained.history) {
    result.tasks_per_iteration = static_cast<int>(record.tasks.size());
    result.sampling_seconds += record.timing.sampling_seconds;
    result.inner_seconds += record.timing.inner_seconds;
    result.outer_seconds += record.timing.outer_seconds;
    result.update_seconds += record.update_seconds;
    result.wall_seconds += record.wall_seconds;
    result.work += record.work;
  }
  const double n = result.iterations > 0 ? result.iterations : 1;
  result.sampling_seconds /= n;
  result.sampling_cpu_seconds = sampling_cpu / n;
  result.cpu_seconds = cpu / n;
  // iterations 2..N (the setup happens in the first); the whole run when there is one
  const std::size_t marks = cpu_marks.size();
  if (marks > 2) {
    const double steady = static_cast<double>(marks - 2);
    result.steady_cpu_seconds = (cpu_marks.back() - cpu_marks[1]) / steady;
    result.steady_sampling_cpu_seconds = (sampling_marks.back() - sampling_marks[1]) / steady;
    result.first_iteration_extra_cpu_seconds =
        (cpu_marks[1] - cpu_marks[0]) - result.steady_cpu_seconds;
  } else {
    result.steady_cpu_seconds = result.cpu_seconds;
    result.steady_sampling_cpu_seconds = result.sampling_cpu_seconds;
  }
  result.inner_seconds /= n;
  result.outer_seconds /= n;
  result.update_seconds /= n;
  result.wall_seconds /= n;
  result.work.env_steps = static_cast<std::int64_t>(static_cast<double>(result.work.env_steps) / n);
  result.work.sim_steps = static_cast<std::int64_t>(static_cast<double>(result.work.sim_steps) / n);
  result.work.episodes = static_cast<std::int64_t>(static_cast<double>(result.work.episodes) / n);
  result.work.policy_flops =
      static_cast<std::uint64_t>(static_cast<double>(result.work.policy_flops) / n);
  return result;
}

std::string FormatMetaBenchmark(std::span<const MetaBenchmarkResult> results) {
  std::string out =
      "| method | tasks | env steps | sampling ms | inner ms | outer ms | update ms | wall ms | "
      "sampling share | cpu ms | sampling cpu ms | sampling share by cpu | cpu ms, iterations "
      "2.. | sampling share by cpu, iterations 2.. | first-iteration extra cpu ms |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  char line[320];
  for (const auto& r : results) {
    std::snprintf(line, sizeof(line),
                  "| %s | %d | %lld | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f %% | %.1f | %.1f | "
                  "%.1f %% | %.1f | %.1f %% | %.1f |\n",
                  r.method.c_str(), r.tasks_per_iteration,
                  static_cast<long long>(r.work.env_steps), 1e3 * r.sampling_seconds,
                  1e3 * r.inner_seconds, 1e3 * r.outer_seconds, 1e3 * r.update_seconds,
                  1e3 * r.wall_seconds, 100.0 * r.sampling_fraction(), 1e3 * r.cpu_seconds,
                  1e3 * r.sampling_cpu_seconds, 100.0 * r.sampling_cpu_fraction(),
                  1e3 * r.steady_cpu_seconds, 100.0 * r.steady_sampling_cpu_fraction(),
                  1e3 * r.first_iteration_extra_cpu_seconds);
    out += line;
  }
  return out;
}

}  // namespace metajoule::meta
