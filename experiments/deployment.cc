#include "experiments/deployment.h"

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "agents/sim_env.h"
#include "common/build_info.h"
#include "experiments/meta_agent.h"
#include "experiments/transfer_accounting.h"
#include "ledger/recorder.h"
#include "meta/evaluation.h"
#include "meta/task_env.h"
#include "network/link.h"
#include "sim/random.h"

namespace metajoule::experiments {

meta::TaskEnv TaskEnvOf(agents::SimRolloutEnv& env) {
  return {&env, env.horizon(), [&env] { return env.sim_steps(); }};
}

std::optional<double> DeploymentSummary::adapt_j_per_task() const {
  if (!target || tasks == 0) return std::nullopt;
  return target->energy_j / static_cast<double>(tasks);
}

DeploymentSummary DeployToHeldOut(const ExperimentConfig& config, meta::MetaMethod method,
                                  const Population& population, const MetaRunResult& trained,
                                  const Population& held_out, ThreadPool& pool,
                                  ledger::LedgerStore& store, const ledger::EnergyModel& model,
                                  const ledger::MeterSelection& meter_selection,
                                  const ledger::Meter& meter) {
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  const std::string method_name(meta::MetaMethodName(method));
  meta::MetaConfig meta_config = config.meta.config;
  meta_config.method = method;

  // the meta-model of each cluster: the group its training agents belonged to
  std::map<std::string, std::size_t> group_of_cluster;
  for (std::size_t g = 0; g < trained.groups.size(); ++g) {
    for (const std::size_t k : trained.groups[g]) group_of_cluster[population.nodes[k].cluster] = g;
  }

  ledger::RunInfo info;
  info.name = ledger::HeldOutRunName(config.experiment.name);
  info.method = method_name;
  info.config_text = ResolvedToml(config);
  info.git_commit = kGitCommit;
  info.seed = config.experiment.seed;
  ledger::RunRecorder recorder(store, model, info, meter_selection);
  constexpr std::int32_t kServer = 0;
  // a mesh (consensus) has no server: a newcomer gets the model from a neighbour over the
  // sidelink; node 0 of this run stands for that neighbour
  const bool mesh = config.network.topology.kind == network::TopologyKind::kMesh;
  const network::LinkKind link_kind = mesh ? network::LinkKind::kSidelink
                                           : network::LinkKind::kDownlink;
  recorder.AddNode({kServer, mesh ? "neighbour" : "server", "", "edge_server", ""});
  for (const auto& node : held_out.nodes) recorder.AddNode(node);

  // downlink: θ to each newcomer, one unicast each (they join one at a time), in task order,
  // over its cluster's link (docs/links.md, "Per-cluster overrides")
  std::map<std::string, network::EmulatedLink> links;
  for (const sim::ClusterConfig& cluster : config.clusters) {
    links.emplace(cluster.name,
                  network::EmulatedLink(link_kind, config.network.Link(link_kind, cluster.name)));
  }
  const std::size_t count = held_out.size();
  std::vector<std::size_t> group(count);
  std::vector<bool> reached(count, false);
  // θ as the newcomers decode it (quantised as the downlink encodes it), per meta-model
  const network::TensorEncoding encoding = config.network.links.Get(link_kind).tensor_encoding;
  std::vector<std::uint64_t> push_bytes;
  std::vector<Eigen::VectorXd> received;
  for (const Eigen::VectorXd& phi : trained.meta_params) {
    // the model after the last training round
    const network::Message push = MakeMetaPush(method, config.training.rounds, phi);
    push_bytes.push_back(network::EncodedSize(push, encoding));
    std::string error;
    const std::optional<MetaPush> parsed = ParseMetaPush(RoundTrip(push, encoding), error);
    MJL_DEMAND(parsed.has_value());  // our own message
    received.push_back(parsed->phi);
  }
  for (std::size_t k = 0; k < count; ++k) {
    group[k] = group_of_cluster.at(held_out.nodes[k].cluster);
    std::mt19937_64 link_rng(sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kHeldOutLinks), k));
    const network::TransferRecord transfer = links.at(held_out.nodes[k].cluster).Transfer(
        {0, 0, static_cast<network::NodeId>(held_out.nodes[k].id), push_bytes[group[k]], 0.0},
        link_rng);
    RecordTransfer(recorder, kServer, 0, transfer);
    reached[k] = transfer.delivered;
  }

  // adaptation: meta.eval's VPG steps on each reached task, in parallel; step s is round s
  const int steps = meta_config.eval.adaptation_steps;
  pool.ParallelFor(count, [&](std::size_t k, int) {
    if (!reached[k]) return;
    agents::SimRolloutEnv env(*held_out.env_worlds[k], held_out.tasks[k], *held_out.env_configs[k]);
    meta::TaskEnv task = TaskEnvOf(env);
    std::mt19937_64 rng(sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kHeldOutAdapt), k));
    const std::int32_t node = held_out.nodes[k].id;
    const std::string description = held_out.tasks[k].Describe();
    ledger::MeterSample start = meter.Start();
    meta::AdaptOnTask(meta_config, *trained.policies[group[k]], received[group[k]],
                      task, rng, [&](int s, const meta::TaskAdaptation& result) {
                        const ledger::Measurement measurement = meter.Stop(start);
                        const meta::WorkCounts& work = result.step_work[static_cast<std::size_t>(s)];
                        recorder.RecordCompute(node, s, ledger::Phase::kLearn, work.sim_steps,
                                               static_cast<double>(work.policy_flops), measurement);
                        const double value = result.returns[static_cast<std::size_t>(s)];
                        if (std::isfinite(value)) {
                          recorder.RecordEvaluation({s, node, description, method_name, s, value});
                        }
                        start = meter.Start();
                      });
  });
  recorder.Finish();

  // every figure back from the ledger
  DeploymentSummary summary;
  summary.ledger_run = recorder.run();
  for (const bool r : reached) (r ? summary.tasks : summary.unreachable) += 1;
  const std::vector<ledger::RoundEnergy> energy = ledger::QueryEnergyByRound(store, summary.ledger_run);
  std::vector<ledger::RoundReturn> returns;
  summary.energy_j.assign(static_cast<std::size_t>(steps) + 1, 0.0);
  summary.mean_return.assign(static_cast<std::size_t>(steps) + 1,
                             std::numeric_limits<double>::quiet_NaN());
  for (const ledger::RoundEnergy& e : energy) {
    if (e.round >= 0 && e.round <= steps) summary.energy_j[static_cast<std::size_t>(e.round)] = e.energy_j;
  }
  for (int s = 0; s <= steps; ++s) {
    for (const ledger::RoundReturn& r :
         ledger::QueryReturns(store, summary.ledger_run, method_name, s)) {
      if (r.round == s) {
        summary.mean_return[static_cast<std::size_t>(s)] = r.value;
        returns.push_back(r);
      }
    }
  }
  if (config.evaluation.target_return && summary.tasks > 0) {
    summary.target = ledger::EnergyToTarget(energy, returns, *config.evaluation.target_return);
    summary.target->method = method_name;
  }
  return summary;
}

}  // namespace metajoule::experiments
