#include "experiments/runner.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <ostream>

#include "agents/agent.h"
#include "agents/sim_env.h"
#include "common/build_info.h"
#include "common/thread_pool.h"
#include "experiments/run_folder.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/meters.h"
#include "ledger/queries.h"
#include "ledger/recorder.h"
#include "meta/contribution.h"
#include "meta/meta_learner.h"
#include "network/link.h"
#include "network/wire_format.h"
#include "sim/env.h"
#include "sim/random.h"
#include "sim/rollout.h"
#include "sim/task_family.h"
#include "sim/world.h"

namespace metajoule::experiments {
namespace {

// seed streams derived from experiment.seed (sim::DeriveSeed), one per purpose; a purpose with
// several members (clusters, rounds, agents) derives one more level from its stream
constexpr std::uint64_t kTaskStream = 0;  // cluster c samples its tasks from stream c
constexpr std::uint64_t kPolicyStream = 1'000'000;
constexpr std::uint64_t kResetStream = 1'000'001;
constexpr std::uint64_t kMetaInitStream = 1'000'002;  // initial meta-parameters, per group
constexpr std::uint64_t kLinkStream = 1'000'003;      // link losses, per round
constexpr std::uint64_t kContributionStream = 1'000'004;

std::string Format(const char* format, auto... args) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, format, args...);
  return buffer;
}

// The robots of a run: each agent's task, drawn per cluster from the seed, with its world and
// episode settings. Each method builds the environments it needs from these.
struct Population {
  std::map<std::string, std::unique_ptr<sim::World>> worlds;  // one per family, shared
  std::vector<sim::Task> tasks;
  std::vector<const sim::World*> env_worlds;      // the world of each agent's task
  std::vector<const sim::EnvConfig*> env_configs;  // its cluster's episode settings
  std::vector<ledger::NodeInfo> nodes;  // node id = index + 1; 0 is the server

  explicit Population(const ExperimentConfig& config) {
    const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
    for (std::size_t c = 0; c < config.clusters.size(); ++c) {
      const sim::ClusterConfig& cluster = config.clusters[c];
      auto& world = worlds[cluster.task.family];
      if (!world) world = std::make_unique<sim::World>(cluster.task.family);
      std::mt19937_64 rng(sim::DeriveSeed(seed, kTaskStream + c));
      for (sim::Task& task : sim::SampleTasks(cluster.task, cluster.agents, rng)) {
        tasks.push_back(std::move(task));
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
  std::vector<sim::Env> envs;
  for (std::size_t k = 0; k < population.tasks.size(); ++k) {
    envs.emplace_back(*population.env_worlds[k], population.tasks[k], *population.env_configs[k]);
  }
  sim::RandomPolicy policy(sim::RandomPolicy::Kind::kUniform, envs,
                           sim::DeriveSeed(seed, kPolicyStream));
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
        config.rollout.episodes, sim::DeriveSeed(sim::DeriveSeed(seed, kResetStream), k), single);
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

// Bytes of `kind` carrying one tensor of `size` values, as the wire format encodes it on `link`
// (header, scalars and quantisation included: docs/wire-format.md).
std::uint64_t WireBytes(network::MessageKind kind, network::Content content, Eigen::Index size,
                        int scalars, network::TensorEncoding encoding) {
  network::Message message;
  message.kind = kind;
  message.content = content;
  message.tensors.push_back({"v", std::vector<float>(static_cast<std::size_t>(size), 0.0f)});
  for (int i = 0; i < scalars; ++i) message.scalars.push_back({"s" + std::to_string(i), 0.0});
  return network::EncodedSize(message, encoding);
}

ledger::LinkKind LedgerLink(network::LinkKind kind) {
  switch (kind) {
    case network::LinkKind::kUplink: return ledger::LinkKind::kUplink;
    case network::LinkKind::kDownlink: return ledger::LinkKind::kDownlink;
    case network::LinkKind::kSidelink: return ledger::LinkKind::kSidelink;
  }
  return ledger::LinkKind::kNone;
}

void RecordTransfer(ledger::RunRecorder& recorder, std::int32_t transmitter, int round,
                    const network::TransferRecord& transfer) {
  recorder.RecordTransfer(transmitter, round, ledger::Phase::kTransfer, LedgerLink(transfer.link),
                          static_cast<std::int64_t>(transfer.bits_on_air),
                          static_cast<std::int64_t>(transfer.payload_bits),
                          static_cast<std::int32_t>(transfer.attempts));
}

// Meta methods (maml, fomaml, reptile, pretrained, fedavg) on the star topology, in one process
// with emulated links (DESIGN.md "The run, as data flows"). Per round and meta-model: the server
// pushes phi over the downlink (one broadcast, or one unicast per agent); every agent of the
// group computes its contribution on its own task (meta/contribution.h) and reports it over the
// uplink; the server aggregates what arrived and updates phi. Each agent's work is one compute
// event, each transfer one comm event, the server's update one compute event. A message the
// link loses after max_attempts is not delivered: the agent skips the round, or its report is
// dropped. Returns the mean return of the last round's reports: after adaptation for maml and
// fomaml, at the meta-model for the others.
double RunMeta(const ExperimentConfig& config, meta::MetaMethod method, Population& population,
               ThreadPool& pool, ledger::RunRecorder& recorder, const ledger::Meter& meter,
               std::ostream& out) {
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  meta::MetaConfig meta_config = config.meta.config;
  meta_config.method = method;
  meta_config.iterations = config.training.rounds;
  meta_config.threads = 1;
  const std::string method_name(meta::MetaMethodName(method));

  // every agent's task as a TaskEnv over its own simulator copy
  std::vector<std::unique_ptr<agents::SimRolloutEnv>> envs;
  std::vector<meta::TaskEnv> tasks;
  for (std::size_t k = 0; k < population.tasks.size(); ++k) {
    envs.push_back(std::make_unique<agents::SimRolloutEnv>(
        *population.env_worlds[k], population.tasks[k], *population.env_configs[k]));
  }
  for (auto& env : envs) {
    agents::SimRolloutEnv* raw = env.get();
    tasks.push_back({raw, raw->horizon(), [raw] { return raw->sim_steps(); }});
  }

  // one meta-model per cluster, or one for every agent
  std::vector<std::vector<std::size_t>> groups;
  std::map<std::string, std::size_t> group_of_cluster;
  for (std::size_t k = 0; k < population.nodes.size(); ++k) {
    const std::string key = meta_config.per_cluster ? population.nodes[k].cluster : "";
    auto [it, inserted] = group_of_cluster.emplace(key, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(k);
  }
  const auto& policy_config = config.agents.policy;
  std::vector<std::unique_ptr<agents::GaussianMlpPolicy>> policies;
  std::vector<std::unique_ptr<meta::MetaLearner>> learners;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const agents::RolloutEnv& first = *tasks[groups[g].front()].env;
    policies.push_back(std::make_unique<agents::GaussianMlpPolicy>(
        first.obs_dim(), first.act_dim(), policy_config.hidden_sizes, policy_config.activation));
    for (const std::size_t k : groups[g]) {
      if (tasks[k].env->obs_dim() != first.obs_dim() || tasks[k].env->act_dim() != first.act_dim()) {
        throw ConfigError({}, "meta.per_cluster",
                          "one meta-model needs one observation and action size; the clusters "
                          "mix task families (set meta.per_cluster = true)");
      }
    }
    std::mt19937_64 init_rng(sim::DeriveSeed(sim::DeriveSeed(seed, kMetaInitStream), g));
    learners.push_back(std::make_unique<meta::MetaLearner>(
        meta_config, *policies[g],
        meta::InitialMetaParams(meta_config, *policies[g], policy_config.init_log_std, init_rng)));
  }

  network::EmulatedLink downlink(network::LinkKind::kDownlink, config.network.links.downlink);
  network::EmulatedLink uplink(network::LinkKind::kUplink, config.network.links.uplink);
  constexpr std::int32_t kServer = 0;
  std::vector<int> consecutive_rejections(groups.size(), 0);
  double last_post = 0.0;
  for (int round = 1; round <= config.training.rounds; ++round) {
    std::mt19937_64 link_rng(sim::DeriveSeed(sim::DeriveSeed(seed, kLinkStream), static_cast<std::uint64_t>(round)));
    double post_sum = 0.0;
    int post_count = 0;
    int lost = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const std::vector<std::size_t>& members = groups[g];
      const Eigen::VectorXd phi = learners[g]->meta_params();

      // downlink: phi to every agent of the group
      const std::uint64_t push_bytes =
          WireBytes(network::MessageKind::kModelPush, network::Content::kModel, phi.size(), 0,
                    config.network.links.downlink.tensor_encoding);
      std::vector<bool> received(members.size(), true);
      if (config.network.links.downlink.broadcast) {
        std::vector<network::NodeId> receivers;
        for (const std::size_t k : members) receivers.push_back(static_cast<network::NodeId>(population.nodes[k].id));
        const network::BroadcastResult result = downlink.Broadcast(
            {static_cast<std::uint32_t>(round), 0, network::kAnyNode, push_bytes, 0.0}, receivers,
            link_rng);
        RecordTransfer(recorder, kServer, round, result.record);
        for (std::size_t i = 0; i < members.size(); ++i) received[i] = result.delivered[i];
      } else {
        for (std::size_t i = 0; i < members.size(); ++i) {
          const network::TransferRecord transfer = downlink.Transfer(
              {static_cast<std::uint32_t>(round), 0,
               static_cast<network::NodeId>(population.nodes[members[i]].id), push_bytes, 0.0},
              link_rng);
          RecordTransfer(recorder, kServer, round, transfer);
          received[i] = transfer.delivered;
        }
      }

      // agents: contributions on their own tasks, in parallel; each its own seeded stream
      std::vector<meta::Contribution> contributions(members.size());
      pool.ParallelFor(members.size(), [&](std::size_t i, int) {
        if (!received[i]) return;
        const std::size_t k = members[i];
        std::mt19937_64 rng(sim::DeriveSeed(
            sim::DeriveSeed(sim::DeriveSeed(seed, kContributionStream), static_cast<std::uint64_t>(round)), k));
        const ledger::MeterSample start = meter.Start();
        contributions[i] = meta::ComputeContribution(meta_config, *policies[g], phi, tasks[k], rng);
        const ledger::Measurement measurement = meter.Stop(start);
        const meta::Contribution& c = contributions[i];
        const std::int32_t node = population.nodes[k].id;
        recorder.RecordCompute(node, round, ledger::Phase::kLearn, c.work.sim_steps,
                               static_cast<double>(c.work.policy_flops), measurement);
        const std::string task = population.tasks[k].Describe();
        if (std::isfinite(c.pre_adaptation_return)) {
          recorder.RecordEvaluation({round, node, task, method_name, 0, c.pre_adaptation_return});
        }
        if (std::isfinite(c.post_adaptation_return)) {
          recorder.RecordEvaluation({round, node, task, method_name, 1, c.post_adaptation_return});
        }
      });

      // uplink: each report to the server; what is lost is not aggregated
      std::vector<meta::Contribution> arrived;
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (!received[i]) {
          ++lost;
          continue;
        }
        const meta::Contribution& c = contributions[i];
        const std::uint64_t report_bytes =
            WireBytes(network::MessageKind::kUpdateReport, network::Content::kGradient,
                      c.vector.size(), 4, config.network.links.uplink.tensor_encoding);
        const std::int32_t node = population.nodes[members[i]].id;
        const network::TransferRecord transfer = uplink.Transfer(
            {static_cast<std::uint32_t>(round), static_cast<network::NodeId>(node), 0, report_bytes, 0.0},
            link_rng);
        RecordTransfer(recorder, node, round, transfer);
        if (transfer.delivered) {
          arrived.push_back(c);
          // the return the method reports: after adaptation where it adapts (maml, fomaml),
          // else at the meta-model itself
          const double reported = std::isfinite(c.post_adaptation_return)
                                      ? c.post_adaptation_return
                                      : c.pre_adaptation_return;
          if (std::isfinite(reported)) {
            post_sum += reported;
            ++post_count;
          }
        } else {
          ++lost;
        }
      }

      // server: aggregate and update phi
      const ledger::MeterSample start = meter.Start();
      const meta::AggregateReport report = learners[g]->Update(arrived);
      recorder.RecordCompute(kServer, round, ledger::Phase::kAggregate, 0,
                             static_cast<double>(report.flops), meter.Stop(start));
      if (report.ok()) {
        consecutive_rejections[g] = 0;
      } else {
        out << "  " << method_name << " round " << round << ": update rejected: " << report.message
            << "\n";
        if (++consecutive_rejections[g] >= meta_config.max_rejected_steps) {
          throw std::runtime_error(method_name + ": " + std::to_string(consecutive_rejections[g]) +
                                   " consecutive meta-updates rejected (meta.max_rejected_steps); "
                                   "the run stops, its ledger keeps every round so far");
        }
      }
    }
    last_post = post_count > 0 ? post_sum / post_count : std::numeric_limits<double>::quiet_NaN();
    out << Format("  %s round %3d/%d: mean return %10.3f%s\n", method_name.c_str(),
                  round, config.training.rounds, last_post,
                  lost > 0 ? Format(", %d messages lost", lost).c_str() : "");
    out.flush();
  }
  return last_post;
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
      << population.tasks.size() << " agents in " << config.clusters.size() << " clusters, "
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
    recorder.AddNode({0, "server", "", "edge_server", ""});
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
        meta::MetaMethod meta_method{};
        bool found = false;
        for (const auto& [name, value] : meta::EnumNames(meta::MetaMethod{})) {
          if (name == method) {
            meta_method = value;
            found = true;
          }
        }
        MJL_DEMAND(found);  // Validate(ExperimentSection) admits only MethodNames()
        row.mean_return = RunMeta(config, meta_method, population, pool, recorder, meter, out);
      }
    } catch (...) {
      recorder.Finish("failed");
      throw;
    }
    recorder.Finish();
    row.wall_seconds = ledger::MonotonicSeconds() - start;
    row.ledger_seconds = recorder.recording_seconds();

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
  double wall = 0.0;
  double ledger_time = 0.0;
  for (const MethodSummary& row : summary.methods) {
    wall += row.wall_seconds;
    ledger_time += row.ledger_seconds;
  }
  out << Format("ledger overhead: %.1f ms recording (summed over threads) in %.2f s of runs: %.3f %%\n",
                ledger_time * 1e3, wall, wall > 0.0 ? 100.0 * ledger_time / wall : 0.0);
  out << "energy source: " << ledger::Name(meter_selection.used)
      << (meter_selection.used == ledger::EnergySource::kModelled ? " (work x device speed)" : "")
      << "; ledger: " << folder.ledger_file().string() << "\n";
  return summary;
}

}  // namespace metajoule::experiments
