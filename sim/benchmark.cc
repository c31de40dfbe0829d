#include "sim/benchmark.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>
#include <stdexcept>
#include <vector>

#include "sim/env.h"
#include "sim/random.h"
#include "sim/world.h"

namespace metajoule::sim {
namespace {

constexpr int kActionRows = 1024;

using Clock = std::chrono::steady_clock;

// CPU time of the calling thread, in seconds.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// A table of uniform random actions, shared by both loops so they simulate the same inputs.
std::vector<double> ActionTable(const Env& env, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> table;
  const int n = env.action_size();
  table.reserve(static_cast<std::size_t>(kActionRows * n));
  for (int r = 0; r < kActionRows; ++r) {
    for (int i = 0; i < n; ++i) {
      table.push_back(UniformDouble(rng, env.action_low()[i], env.action_high()[i]));
    }
  }
  return table;
}

// Env loop: returns the number of mj_step calls made.
std::int64_t RunEnv(Env& env, const std::vector<double>& table, std::int64_t env_steps) {
  const std::int64_t before = env.sim_steps();
  const auto n = static_cast<std::size_t>(env.action_size());
  std::uint64_t episode = 0;
  env.Reset(episode);
  for (std::int64_t t = 0; t < env_steps; ++t) {
    const std::span<const double> action(table.data() + (t % kActionRows) * static_cast<std::int64_t>(n), n);
    if (IsDone(env.Step(action).status)) env.Reset(++episode);
  }
  return env.sim_steps() - before;
}

// Raw loop on the environment's own (task-applied) model with a separate mjData.
std::int64_t RunRaw(const mjModel& m, mjData* d, const std::vector<double>& table,
                    std::int64_t env_steps, int frame_skip, int horizon) {
  const auto n = static_cast<std::size_t>(m.nu);
  std::int64_t calls = 0;
  mj_resetData(&m, d);
  mj_forward(&m, d);
  int t_episode = 0;
  for (std::int64_t t = 0; t < env_steps; ++t) {
    const double* row = table.data() + (t % kActionRows) * static_cast<std::int64_t>(n);
    std::copy(row, row + n, d->ctrl);
    for (int k = 0; k < frame_skip; ++k) mj_step(&m, d);
    calls += frame_skip;
    if (++t_episode >= horizon) {
      mj_resetData(&m, d);
      mj_forward(&m, d);
      t_episode = 0;
    }
  }
  return calls;
}

}  // namespace

SimBenchResult BenchmarkSim(const std::string& family, ThreadPool& pool, double seconds,
                            int repeats) {
  if (!(seconds > 0.0) || repeats < 1) {
    throw std::invalid_argument("BenchmarkSim: expected seconds > 0 and repeats >= 1, got " +
                                std::to_string(seconds) + " and " + std::to_string(repeats));
  }
  const World world(family);
  if (world.family().dynamics() != Dynamics::kPhysics) {
    throw std::invalid_argument("BenchmarkSim: expected a physics family, got " + family);
  }
  std::mt19937_64 rng(1);
  const Task task = world.family().Sample(TaskDistributionConfig{.family = family}, rng);
  const auto threads = static_cast<std::size_t>(pool.num_threads());

  std::vector<Env> envs;
  std::vector<MjDataPtr> raw_data;
  std::vector<std::vector<double>> tables;
  for (std::size_t k = 0; k < threads; ++k) {
    envs.emplace_back(world, task);
    raw_data.push_back(MakeData(envs.back().model()));
    tables.push_back(ActionTable(envs.back(), DeriveSeed(7, k)));
  }
  const int frame_skip = envs[0].frame_skip();
  const int horizon = envs[0].horizon();

  // calibrate the step count on one thread so that each timed run lasts about `seconds`
  const auto calibration_start = Clock::now();
  const std::int64_t calibration_steps = 2000;
  RunEnv(envs[0], tables[0], calibration_steps);
  const double calibration =
      std::chrono::duration<double>(Clock::now() - calibration_start).count();
  const auto steps = std::max<std::int64_t>(
      1000, static_cast<std::int64_t>(seconds / std::max(calibration, 1e-9) *
                                      static_cast<double>(calibration_steps)));

  SimBenchResult result;
  result.family = family;
  result.threads = pool.num_threads();
  result.frame_skip = frame_skip;
  result.data_bytes = DataSizeBytes(envs[0].model());
  std::vector<std::int64_t> calls(threads, 0);
  std::vector<double> cpu(threads, 0.0);
  double env_per_cpu = 0.0, raw_per_cpu = 0.0;
  // mj_step calls per CPU-second, summed over threads
  auto per_cpu = [&calls, &cpu] {
    double rate = 0.0;
    for (std::size_t k = 0; k < calls.size(); ++k) {
      rate += static_cast<double>(calls[k]) / std::max(cpu[k], 1e-9);
    }
    return rate;
  };
  auto total = [&calls] {
    std::int64_t sum = 0;
    for (const std::int64_t c : calls) sum += c;
    return static_cast<double>(sum);
  };
  for (int r = 0; r < repeats; ++r) {
    auto start = Clock::now();
    pool.ParallelFor(threads, [&](std::size_t k, int) {
      const double cpu_start = ThreadCpuSeconds();
      calls[k] = RunEnv(envs[k], tables[k], steps);
      cpu[k] = ThreadCpuSeconds() - cpu_start;
    });
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    result.env_mj_steps_per_second = std::max(result.env_mj_steps_per_second, total() / elapsed);
    env_per_cpu = std::max(env_per_cpu, per_cpu());

    start = Clock::now();
    pool.ParallelFor(threads, [&](std::size_t k, int) {
      const double cpu_start = ThreadCpuSeconds();
      calls[k] = RunRaw(envs[k].model(), raw_data[k].get(), tables[k], steps, frame_skip, horizon);
      cpu[k] = ThreadCpuSeconds() - cpu_start;
    });
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    result.raw_mj_steps_per_second = std::max(result.raw_mj_steps_per_second, total() / elapsed);
    raw_per_cpu = std::max(raw_per_cpu, per_cpu());
  }
  result.ratio = result.env_mj_steps_per_second / result.raw_mj_steps_per_second;
  result.cpu_ratio = env_per_cpu / raw_per_cpu;
  return result;
}

}  // namespace metajoule::sim
