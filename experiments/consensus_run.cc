#include "experiments/consensus_run.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "agents/sim_env.h"
#include "experiments/format.h"
#include "experiments/meta_agent.h"
#include "experiments/transfer_accounting.h"
#include "meta/consensus.h"
#include "meta/contribution.h"
#include "network/link.h"
#include "network/topology.h"
#include "network/wire_format.h"
#include "sim/random.h"

namespace metajoule::experiments {

MetaRunResult RunConsensus(const ExperimentConfig& config, const Population& population,
                           ThreadPool& pool, ledger::RunRecorder& recorder,
                           const ledger::Meter& meter, std::ostream& out,
                           MethodCheckpoints* checkpoints) {
  constexpr meta::MetaMethod kMethod = meta::MetaMethod::kConsensus;
  const std::string method_name(meta::MetaMethodName(kMethod));
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  meta::MetaConfig meta_config = config.meta.config;
  meta_config.method = kMethod;
  meta_config.iterations = config.training.rounds;
  meta_config.threads = 1;
  const std::size_t n = population.size();

  // the mesh, drawn from its own stream; node k + 1 is agent k (network/topology.h)
  std::vector<int> sizes;
  for (const sim::ClusterConfig& cluster : config.clusters) sizes.push_back(cluster.agents);
  std::mt19937_64 mesh_rng(sim::DeriveSeed(seed, seed_stream::kMesh));
  network::Topology topology = [&] {
    try {
      return network::BuildTopology(config.network.topology, sizes, mesh_rng);
    } catch (const std::invalid_argument& error) {
      throw ConfigError({}, "network.topology", error.what());
    }
  }();
  MJL_DEMAND(topology.num_agents() == n);

  // the groups (one model per cluster with meta.per_cluster) and their neighbour lists
  std::vector<std::vector<std::size_t>> groups;
  std::vector<std::size_t> group_of(n);
  std::map<std::string, std::size_t> group_of_cluster;
  for (std::size_t k = 0; k < n; ++k) {
    MJL_DEMAND(population.nodes[k].id == static_cast<std::int32_t>(k + 1));
    const std::string key = meta_config.per_cluster ? population.nodes[k].cluster : "";
    auto [it, inserted] = group_of_cluster.emplace(key, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(k);
    group_of[k] = it->second;
  }
  std::vector<std::vector<std::size_t>> neighbours(n);
  for (std::size_t k = 0; k < n; ++k) {
    for (const network::NodeId node : topology.Neighbours(static_cast<network::NodeId>(k + 1))) {
      const std::size_t j = node - 1;
      if (group_of[j] == group_of[k]) neighbours[k].push_back(j);
    }
  }
  if (config.network.topology.require_connected) {
    for (const std::vector<std::size_t>& group : groups) {
      // breadth-first over the group's own edges
      std::vector<bool> seen(n, false);
      std::vector<std::size_t> frontier{group.front()};
      seen[group.front()] = true;
      std::size_t reached = 1;
      while (!frontier.empty()) {
        const std::size_t k = frontier.back();
        frontier.pop_back();
        for (const std::size_t j : neighbours[k]) {
          if (!seen[j]) {
            seen[j] = true;
            ++reached;
            frontier.push_back(j);
          }
        }
      }
      if (reached != group.size()) {
        throw ConfigError({}, "network.topology",
                          "the mesh inside cluster \"" + population.nodes[group.front()].cluster +
                              "\" is not connected (with meta.per_cluster = true consensus mixes "
                              "only within a cluster): its models could never agree; use another "
                              "mesh, meta.per_cluster = false, or require_connected = false");
      }
    }
  }
  const std::vector<meta::MixingRow> weights = meta::MetropolisHastingsWeights(neighbours);

  // the agents, their policies and their models, each group's agents from the group's seeded
  // initial model (as RunMeta's meta-models)
  const auto& policy_config = config.agents.policy;
  MetaRunResult result;
  std::vector<Eigen::VectorXd> models(n);
  std::vector<std::unique_ptr<MetaAgent>> agents;
  for (std::size_t k = 0; k < n; ++k) {
    agents.push_back(std::make_unique<MetaAgent>(config, population, k));
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const agents::SimRolloutEnv env(*population.env_worlds[groups[g].front()],
                                    population.tasks[groups[g].front()],
                                    *population.env_configs[groups[g].front()]);
    result.policies.push_back(std::make_unique<agents::GaussianMlpPolicy>(
        env.obs_dim(), env.act_dim(), policy_config.hidden_sizes, policy_config.activation));
    for (const std::size_t k : groups[g]) {
      const agents::SimRolloutEnv other(*population.env_worlds[k], population.tasks[k],
                                        *population.env_configs[k]);
      if (other.obs_dim() != env.obs_dim() || other.act_dim() != env.act_dim()) {
        throw ConfigError({}, "meta.per_cluster",
                          "one model needs one observation and action size; the clusters mix "
                          "task families (set meta.per_cluster = true)");
      }
    }
    std::mt19937_64 init_rng(sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kMetaInit), g));
    const Eigen::VectorXd initial = meta::InitialMetaParams(
        meta_config, *result.policies[g], policy_config.init_log_std, init_rng);
    for (const std::size_t k : groups[g]) models[k] = initial;
  }

  const network::TensorEncoding sl_encoding = config.network.links.sidelink.tensor_encoding;
  // each transmitter sends over its own cluster's sidelink (docs/links.md, "Per-cluster
  // overrides": an edge between two clusters uses the transmitter's), one link per cluster
  std::map<std::string, network::EmulatedLink> sidelinks;
  for (const sim::ClusterConfig& cluster : config.clusters) {
    sidelinks.emplace(cluster.name,
                      network::EmulatedLink(network::LinkKind::kSidelink,
                                            config.network.Link(network::LinkKind::kSidelink,
                                                                cluster.name)));
  }
  // the receiver a broadcast is recorded against: the cell of its receivers' cluster
  const BroadcastCells cells(config, population);
  cells.Register(recorder);
  double last_return = std::numeric_limits<double>::quiet_NaN();
  // what carries over from one round to the next, for checkpoints: every agent's model
  auto save_state = [&](StateArchive& state) {
    for (std::size_t k = 0; k < n; ++k) {
      state.PutVector("agent-" + std::to_string(k) + "/model",
                      {models[k].data(), static_cast<std::size_t>(models[k].size())});
    }
    state.PutDouble("last_return", last_return);
  };
  int first_round = 1;
  if (checkpoints != nullptr) {
    checkpoints->Load([&](const StateArchive& state) {
      for (std::size_t k = 0; k < n; ++k) {
        const std::span<const double> model =
            state.Vector("agent-" + std::to_string(k) + "/model", models[k].size());
        models[k] = Eigen::Map<const Eigen::VectorXd>(model.data(), models[k].size());
      }
      last_return = state.Double("last_return");
    });
    first_round = checkpoints->first_round();
  }
  for (int round = first_round; round <= config.training.rounds; ++round) {
    // local step: fedavg's on every agent's own task, from its own model, on the pool
    std::vector<std::optional<network::Message>> reports(n);
    std::vector<std::string> errors(n);
    pool.ParallelFor(n, [&](std::size_t k, int) {
      reports[k] = agents[k]->Answer(MakeMetaPush(kMethod, round, models[k]), meter, errors[k]);
    });
    std::vector<Eigen::VectorXd> local(n);
    double return_sum = 0.0;
    int return_count = 0;
    int failed = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const auto node = static_cast<std::int32_t>(k + 1);
      MJL_DEMAND(reports[k].has_value());  // our own push
      std::string error;
      const std::optional<MetaReport> report = ParseMetaReport(*reports[k], error);
      MJL_DEMAND(report.has_value());  // our own report
      RecordAgentReport(recorder, node, round, population.tasks[k].Describe(), method_name,
                        *report);
      const meta::Contribution& c = report->contribution;
      const double reported = std::isfinite(c.post_adaptation_return) ? c.post_adaptation_return
                                                                      : c.pre_adaptation_return;
      if (std::isfinite(reported)) {
        return_sum += reported;
        ++return_count;
      }
      // a failed local step keeps the model it started from
      if (c.ok() && c.vector.size() == models[k].size() && c.vector.allFinite()) {
        local[k] = c.vector;
      } else {
        local[k] = models[k];
        ++failed;
      }
    }

    // sidelinks: each agent's model to each neighbour, in agent order, decoded as the sidelink
    // encodes it; arrived[k][a]: neighbour a of k got k's model
    std::mt19937_64 link_rng(sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kLinks),
                                             static_cast<std::uint64_t>(round)));
    std::vector<Eigen::VectorXd> decoded(n);
    std::vector<std::vector<bool>> arrived(n);
    int lost = 0;
    for (std::size_t k = 0; k < n; ++k) {
      if (neighbours[k].empty()) continue;
      const auto node = static_cast<network::NodeId>(k + 1);
      const network::Message message = MakeMetaPush(kMethod, round, local[k]);
      const std::uint64_t bytes = network::EncodedSize(message, sl_encoding);
      std::string error;
      const std::optional<MetaPush> parsed = ParseMetaPush(RoundTrip(message, sl_encoding), error);
      MJL_DEMAND(parsed.has_value());  // our own message
      decoded[k] = parsed->phi;
      network::EmulatedLink& sidelink = sidelinks.at(population.nodes[k].cluster);
      if (sidelink.config().broadcast) {
        std::vector<network::NodeId> receivers;
        for (const std::size_t j : neighbours[k]) {
          receivers.push_back(static_cast<network::NodeId>(j + 1));
        }
        const network::BroadcastResult sent = sidelink.Broadcast(
            {static_cast<std::uint32_t>(round), node, network::kAnyNode, bytes, 0.0}, receivers,
            link_rng);
        RecordTransfer(recorder, static_cast<std::int32_t>(node), round, sent.record,
                       cells.Of(neighbours[k]));
        arrived[k] = sent.delivered;
      } else {
        for (const std::size_t j : neighbours[k]) {
          const network::TransferRecord transfer = sidelink.Transfer(
              {static_cast<std::uint32_t>(round), node, static_cast<network::NodeId>(j + 1),
               bytes, 0.0},
              link_rng);
          RecordTransfer(recorder, static_cast<std::int32_t>(node), round, transfer);
          arrived[k].push_back(transfer.delivered);
        }
      }
      for (const bool delivered : arrived[k]) lost += delivered ? 0 : 1;
    }

    // mixing: each agent averages its own model with the ones that arrived (meta/consensus.h)
    for (std::size_t k = 0; k < n; ++k) {
      std::vector<const Eigen::VectorXd*> received;
      for (const std::size_t j : neighbours[k]) {
        // where k sits in j's list, i.e. whether j's message reached k
        const auto& back = neighbours[j];
        const auto a = static_cast<std::size_t>(std::find(back.begin(), back.end(), k) -
                                                back.begin());
        received.push_back(arrived[j][a] ? &decoded[j] : nullptr);
      }
      const ledger::MeterSample start = meter.Start();
      Eigen::VectorXd mixed;
      const std::uint64_t flops =
          meta::MixModels(k, neighbours[k], weights[k], local[k], received, mixed);
      recorder.RecordCompute(static_cast<std::int32_t>(k + 1), round, ledger::Phase::kAggregate,
                             0, static_cast<double>(flops), meter.Stop(start));
      models[k] = std::move(mixed);
    }

    last_return = return_count > 0 ? return_sum / return_count
                                   : std::numeric_limits<double>::quiet_NaN();
    std::string notes;
    if (lost > 0) notes += Format(", %d models lost", lost);
    if (failed > 0) notes += Format(", %d local steps failed", failed);
    out << Format("  %s round %3d/%d: mean return %10.3f%s\n", method_name.c_str(), round,
                  config.training.rounds, last_return, notes.c_str());
    out.flush();
    if (checkpoints != nullptr) checkpoints->EndRound(round, config.training.rounds, save_state);
  }

  // per group: the network average of the agents' models
  result.last_return = last_return;
  result.transport = "sidelinks (in memory)";
  result.exchange.compute_known = false;
  for (const std::vector<std::size_t>& group : groups) {
    Eigen::VectorXd average = Eigen::VectorXd::Zero(models[group.front()].size());
    for (const std::size_t k : group) average += models[k];
    result.meta_params.push_back(average / static_cast<double>(group.size()));
  }
  result.groups = std::move(groups);
  result.agent_models = std::move(models);
  return result;
}

}  // namespace metajoule::experiments
