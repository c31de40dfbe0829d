#include "experiments/runner.h"

#include <cstdio>
#include <map>
#include <memory>
#include <ostream>

#include "agents/agent.h"
#include "common/build_info.h"
#include "common/thread_pool.h"
#include "experiments/run_folder.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/meters.h"
#include "ledger/queries.h"
#include "ledger/recorder.h"
#include "sim/env.h"
#include "sim/random.h"
#include "sim/rollout.h"
#include "sim/task_family.h"
#include "sim/world.h"

namespace metajoule::experiments {
namespace {

// seed streams derived from experiment.seed (sim::DeriveSeed), one per purpose
constexpr std::uint64_t kTaskStream = 0;  // cluster c samples its tasks from stream c
constexpr std::uint64_t kPolicyStream = 1'000'000;
constexpr std::uint64_t kResetStream = 1'000'001;

std::string Format(const char* format, auto... args) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, format, args...);
  return buffer;
}

// The robots of a run: one environment per agent, tasks drawn per cluster from the seed.
struct Population {
  std::map<std::string, std::unique_ptr<sim::World>> worlds;  // one per family, shared
  std::vector<sim::Env> envs;
  std::vector<const sim::World*> env_worlds;      // the world of each environment
  std::vector<const sim::EnvConfig*> env_configs;  // its cluster's episode settings
  std::vector<ledger::NodeInfo> nodes;  // node id = index + 1; 0 is the server

  explicit Population(const ExperimentConfig& config) {
    const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
    for (std::size_t c = 0; c < config.clusters.size(); ++c) {
      const sim::ClusterConfig& cluster = config.clusters[c];
      auto& world = worlds[cluster.task.family];
      if (!world) world = std::make_unique<sim::World>(cluster.task.family);
      std::mt19937_64 rng(sim::DeriveSeed(seed, kTaskStream + c));
      const std::vector<sim::Task> tasks = sim::SampleTasks(cluster.task, cluster.agents, rng);
      for (const sim::Task& task : tasks) {
        envs.emplace_back(*world, task, cluster.env);
        env_worlds.push_back(world.get());
        env_configs.push_back(&cluster.env);
        nodes.push_back({static_cast<std::int32_t>(nodes.size() + 1), "agent", cluster.name, "", ""});
      }
    }
  }
};

// Method "random": every agent rolls out a seeded uniform random policy. Records one rollout
// compute event per agent (its simulator steps, thread CPU and wall time) and one evaluation.
double RunRandom(const ExperimentConfig& config, Population& population, ThreadPool& pool,
                 ledger::RunRecorder& recorder, const ledger::Meter& meter) {
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  sim::RandomPolicy policy(sim::RandomPolicy::Kind::kUniform, population.envs,
                           sim::DeriveSeed(seed, kPolicyStream));
  const sim::PolicyFn act = policy.AsFunction();
  std::vector<double> mean_returns(population.envs.size(), 0.0);
  ThreadPool single(1);
  pool.ParallelFor(population.envs.size(), [&](std::size_t k, int) {
    const ledger::MeterSample start = meter.Start();
    const std::int64_t sim_before = population.envs[k].sim_steps();
    // env k alone: reset seeds and policy draws are per environment, so this equals one batched
    // rollout over every environment (tests/sim/rollout_test.cc)
    const sim::RolloutBatch batch = sim::RolloutEpisodes(
        std::span<sim::Env>(&population.envs[k], 1),
        [&act, k](std::size_t, std::span<const double> obs, std::span<double> action) {
          act(k, obs, action);
        },
        config.rollout.episodes, sim::DeriveSeed(sim::DeriveSeed(seed, kResetStream), k), single);
    const ledger::Measurement measurement = meter.Stop(start);
    double total = 0.0;
    for (const sim::Trajectory& trajectory : batch.trajectories[0]) total += trajectory.episode_return;
    mean_returns[k] = total / static_cast<double>(batch.trajectories[0].size());
    const std::int32_t node = population.nodes[k].id;
    recorder.RecordCompute(node, 0, ledger::Phase::kRollout,
                           population.envs[k].sim_steps() - sim_before, 0.0, measurement);
    recorder.RecordEvaluation({0, node, population.envs[k].task().Describe(), "random", 0,
                               mean_returns[k]});
  });
  double mean = 0.0;
  for (double r : mean_returns) mean += r;
  return mean / static_cast<double>(mean_returns.size());
}

ledger::Measurement AsMeasurement(const agents::WorkCounters& work) {
  return {work.cpu_seconds, work.wall_seconds, std::nullopt};
}

// Method "scratch": every agent learns its own task from a random initialisation with the
// [agents] learner, training.rounds updates of agents.episodes_per_update episodes each (the
// no-transfer baseline of DESIGN.md). Round r records each agent's collection (rollout) and
// update (learn) as compute events and the batch's mean return as its evaluation.
double RunScratch(const ExperimentConfig& config, Population& population, ThreadPool& pool,
                  ledger::RunRecorder& recorder, std::ostream& out) {
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  std::vector<agents::Agent> learners;
  learners.reserve(population.envs.size());
  for (std::size_t k = 0; k < population.envs.size(); ++k) {
    learners.emplace_back(population.nodes[k].id, *population.env_worlds[k],
                          population.envs[k].task(), *population.env_configs[k], config.agents,
                          seed);
  }
  if (config.ledger.energy.meter == ledger::EnergySource::kRapl) {
    throw std::runtime_error("method scratch: the rapl meter measures whole-package energy and "
                             "cannot be attributed to agents sharing a process; use modelled or "
                             "cputime");
  }
  std::vector<agents::IterationReport> reports(learners.size());
  double mean = 0.0;
  for (int round = 1; round <= config.training.rounds; ++round) {
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
    out << Format("  scratch round %3d/%d: mean return %10.3f, env steps/agent %8lld%s\n", round,
                  config.training.rounds, mean,
                  static_cast<long long>(reports.front().total_env_steps),
                  rejected > 0 ? Format(", %d updates rejected", rejected).c_str() : "");
    out.flush();
  }
  return mean;
}

}  // namespace

RunSummary RunExperiment(const ExperimentConfig& config, std::ostream& out) {
  const ledger::EnergyModel model(EnergyConfigOf(config));
  Population population(config);
  for (const auto& node : population.nodes) model.ForNode(node.device, node.location);

  RunSummary summary;
  const RunFolder folder = CreateRunFolder(config);
  summary.folder = folder.path;
  ledger::LedgerStore store(folder.ledger_file().string(), config.ledger.store);
  const ledger::MeterSelection meter_selection =
      ledger::SelectMeter(config.ledger.energy.meter, {}, ledger::StderrWarning);
  const ledger::Meter meter(meter_selection);
  ThreadPool pool(config.sim.threads);

  out << "run: " << config.experiment.name << " (seed " << config.experiment.seed << ", "
      << population.envs.size() << " agents in " << config.clusters.size() << " clusters, "
      << pool.num_threads() << " threads)\n"
      << "run folder: " << folder.path.string() << "\n";

  for (const std::string& method : config.experiment.methods) {
    ledger::RunInfo info;
    info.name = config.experiment.name;
    info.method = method;
    info.config_text = ResolvedToml(config);
    info.git_commit = kGitCommit;
    info.seed = config.experiment.seed;
    ledger::RunRecorder recorder(store, model, info, meter_selection);
    recorder.AddNode({0, "server", "", "", ""});
    for (const auto& node : population.nodes) recorder.AddNode(node);

    const double start = ledger::MonotonicSeconds();
    MethodSummary row;
    row.method = method;
    row.ledger_run = recorder.run();
    try {
      if (method == "random") {
        row.mean_return = RunRandom(config, population, pool, recorder, meter);
      } else if (method == "scratch") {
        row.mean_return = RunScratch(config, population, pool, recorder, out);
      } else {
        MJL_DEMAND(false);  // Validate(ExperimentSection) admits only MethodNames()
      }
    } catch (...) {
      recorder.Finish("failed");
      throw;
    }
    recorder.Finish();
    row.wall_seconds = ledger::MonotonicSeconds() - start;

    // every figure of the table comes back from the ledger
    const ledger::EnergyBreakdown breakdown = ledger::QueryBreakdown(store, row.ledger_run);
    row.compute_j = breakdown.compute_j;
    row.uplink_j = breakdown.uplink_j;
    row.downlink_j = breakdown.downlink_j;
    row.sidelink_j = breakdown.sidelink_j;
    row.gco2e = breakdown.gco2e;
    summary.methods.push_back(row);
  }

  out << "\n"
      << Format("%-12s %12s %12s %12s %12s %12s %12s %12s %9s\n", "method", "return", "compute J",
                "UL J", "DL J", "SL J", "total J", "gCO2e", "wall s");
  for (const MethodSummary& row : summary.methods) {
    out << Format("%-12s %12.3f %12.4g %12.4g %12.4g %12.4g %12.4g %12.4g %9.2f\n",
                  row.method.c_str(), row.mean_return, row.compute_j, row.uplink_j, row.downlink_j,
                  row.sidelink_j, row.total_j(), row.gco2e, row.wall_seconds);
  }
  out << "energy source: " << ledger::Name(meter_selection.used)
      << (meter_selection.used == ledger::EnergySource::kModelled ? " (work x device speed)" : "")
      << "; ledger: " << folder.ledger_file().string() << "\n";
  return summary;
}

}  // namespace metajoule::experiments
