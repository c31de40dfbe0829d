#include "experiments/local_methods.h"

#include <random>
#include <stdexcept>

#include "agents/agent.h"
#include "experiments/format.h"
#include "sim/random.h"
#include "sim/rollout.h"

namespace metajoule::experiments {
namespace {

ledger::Measurement AsMeasurement(const agents::WorkCounters& work) {
  return {work.cpu_seconds, work.wall_seconds, std::nullopt};
}

}  // namespace

// Method "random": every agent rolls out a seeded uniform random policy. Records one rollout
// compute event per agent (its simulator steps, thread CPU and wall time) and one evaluation.
double RunRandom(const ExperimentConfig& config, Population& population, ThreadPool& pool,
                 ledger::RunRecorder& recorder, const ledger::Meter& meter,
                 MethodCheckpoints* checkpoints) {
  if (checkpoints != nullptr && checkpoints->restored() != nullptr) {
    double restored = 0.0;
    checkpoints->Load([&](const StateArchive& state) { restored = state.Double("mean_return"); });
    return restored;
  }
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  std::vector<sim::Env> envs;
  for (std::size_t k = 0; k < population.tasks.size(); ++k) {
    envs.emplace_back(*population.env_worlds[k], population.tasks[k], *population.env_configs[k]);
  }
  sim::RandomPolicy policy(sim::RandomPolicy::Kind::kUniform, envs,
                           sim::DeriveSeed(seed, seed_stream::kPolicy));
  const sim::PolicyFn act = policy.AsFunction();
  std::vector<double> mean_returns(envs.size(), 0.0);
  ThreadPool single(1);
  pool.ParallelFor(envs.size(), [&](std::size_t k, int) {
    const ledger::MeterSample start = meter.Start();
    const std::int64_t sim_before = envs[k].sim_steps();
    // env k alone: reset seeds and policy draws are per environment, so this equals one batched
    // rollout over every environment (tests/sim/rollout_test.cc)
    const sim::RolloutBatch batch = sim::RolloutEpisodes(
        std::span<sim::Env>(&envs[k], 1),
        [&act, k](std::size_t, std::span<const double> obs, std::span<double> action) {
          act(k, obs, action);
        },
        config.rollout.episodes, sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kReset), k), single);
    const ledger::Measurement measurement = meter.Stop(start);
    double total = 0.0;
    for (const sim::Trajectory& trajectory : batch.trajectories[0]) total += trajectory.episode_return;
    mean_returns[k] = total / static_cast<double>(batch.trajectories[0].size());
    const std::int32_t node = population.nodes[k].id;
    recorder.RecordCompute(node, 0, ledger::Phase::kRollout,
                           envs[k].sim_steps() - sim_before, 0.0, measurement);
    recorder.RecordEvaluation({0, node, population.tasks[k].Describe(), "random", 0,
                               mean_returns[k]});
  });
  double mean = 0.0;
  for (double r : mean_returns) mean += r;
  mean /= static_cast<double>(mean_returns.size());
  if (checkpoints != nullptr) {
    checkpoints->EndRound(0, 0, [mean](StateArchive& state) { state.PutDouble("mean_return", mean); });
  }
  return mean;
}

// Method "scratch": every agent learns its own task from a random initialisation with the
// [agents] learner, training.rounds updates of agents.episodes_per_update episodes each (the
// no-transfer baseline of DESIGN.md). Round r records each agent's collection (rollout) and
// update (learn) as compute events and the batch's mean return as its evaluation.
ScratchResult RunScratch(const ExperimentConfig& config, Population& population, ThreadPool& pool,
                         ledger::RunRecorder& recorder, Progress& progress,
                         MethodCheckpoints* checkpoints) {
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  std::vector<agents::Agent> learners;
  learners.reserve(population.tasks.size());
  for (std::size_t k = 0; k < population.tasks.size(); ++k) {
    learners.emplace_back(population.nodes[k].id, *population.env_worlds[k],
                          population.tasks[k], *population.env_configs[k], config.agents,
                          seed);
  }
  if (config.ledger.energy.meter == ledger::EnergySource::kRapl) {
    throw std::runtime_error("method scratch: the rapl meter measures whole-package energy and "
                             "cannot be attributed to agents sharing a process; use modelled or "
                             "cputime");
  }
  std::vector<agents::IterationReport> reports(learners.size());
  progress.Begin("scratch", config.training.rounds);
  double mean = 0.0;
  // what carries over from one round to the next, for checkpoints: every agent's whole state
  auto save_state = [&](StateArchive& state) {
    for (std::size_t k = 0; k < learners.size(); ++k) {
      learners[k].SaveState(state, "agent-" + std::to_string(k) + "/");
    }
    state.PutDouble("mean_return", mean);
  };
  int first_round = 1;
  if (checkpoints != nullptr) {
    checkpoints->Load([&](const StateArchive& state) {
      for (std::size_t k = 0; k < learners.size(); ++k) {
        learners[k].LoadState(state, "agent-" + std::to_string(k) + "/");
      }
      mean = state.Double("mean_return");
    });
    first_round = checkpoints->first_round();
  }
  for (int round = first_round; round <= config.training.rounds; ++round) {
    pool.ParallelFor(learners.size(), [&](std::size_t k, int) {
      reports[k] = learners[k].Iterate();
      const std::int32_t node = learners[k].id();
      recorder.RecordCompute(node, round, ledger::Phase::kRollout, reports[k].collect.sim_steps,
                             static_cast<double>(reports[k].collect.policy_flops),
                             AsMeasurement(reports[k].collect));
      recorder.RecordCompute(node, round, ledger::Phase::kLearn, 0,
                             static_cast<double>(reports[k].learn.policy_flops),
                             AsMeasurement(reports[k].learn));
      recorder.RecordEvaluation({round, node, learners[k].task().Describe(), "scratch", 0,
                                 reports[k].mean_return});
    });
    mean = 0.0;
    int rejected = 0;
    for (const auto& report : reports) {
      mean += report.mean_return;
      rejected += report.update.ok() ? 0 : 1;
    }
    mean /= static_cast<double>(reports.size());
    progress.Round(round, mean, recorder.energy_so_far_j(),
                   rejected > 0 ? Format("%d updates rejected", rejected) : std::string());
    if (checkpoints != nullptr) checkpoints->EndRound(round, config.training.rounds, save_state);
  }
  progress.End();
  ScratchResult result;
  result.mean_return = mean;
  for (const agents::Agent& learner : learners) {
    result.policies.push_back(learner.policy());
    result.final_params.push_back(learner.theta());
  }
  return result;
}

}  // namespace metajoule::experiments
