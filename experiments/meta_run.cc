#include "experiments/meta_run.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <stdexcept>
#include <string>

#include "agents/sim_env.h"
#include "experiments/consensus_run.h"
#include "experiments/format.h"
#include "experiments/meta_agent.h"
#include "experiments/transfer_accounting.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "meta/contribution.h"
#include "meta/meta_learner.h"
#include "network/link.h"
#include "network/topology.h"
#include "network/wire_format.h"
#include "sim/random.h"

namespace metajoule::experiments {
namespace {

// Observation and action sizes of agent k's task (from a throwaway environment).
std::pair<int, int> TaskDims(const Population& population, std::size_t k) {
  const agents::SimRolloutEnv env(*population.env_worlds[k], population.tasks[k],
                                  *population.env_configs[k]);
  return {env.obs_dim(), env.act_dim()};
}

// An expected report that never came: an event of 0 bits and 0 attempts (phase other) on the
// link it should have come over (uplink; sidelink for a member of a hierarchy), to the node it
// should have reached (`peer`: the server, or the member's head).
void RecordMissing(ledger::RunRecorder& recorder, std::int32_t node, int round,
                   ledger::LinkKind link, std::int32_t peer) {
  recorder.RecordTransfer(node, round, ledger::Phase::kOther, link, 0, 0, 0, peer);
}

// The return a report stands for: after adaptation where the method adapts (maml, fomaml),
// else at the meta-model itself.
double ReportedReturn(const meta::Contribution& c) {
  return std::isfinite(c.post_adaptation_return) ? c.post_adaptation_return
                                                 : c.pre_adaptation_return;
}

// The clusters of the population in order (agents are contiguous per cluster); in a hierarchy
// a cluster's first agent is its head (network/topology.h).
std::vector<std::vector<std::size_t>> ClustersOf(const Population& population) {
  std::vector<std::vector<std::size_t>> clusters;
  std::map<std::string, std::size_t> index;
  for (std::size_t k = 0; k < population.nodes.size(); ++k) {
    auto [it, inserted] = index.emplace(population.nodes[k].cluster, clusters.size());
    if (inserted) clusters.emplace_back();
    clusters[it->second].push_back(k);
  }
  return clusters;
}

// What a round of a hierarchy lost, by leg.
struct HierarchyLosses {
  int reports{0};     // member reports lost on the sidelink
  int aggregates{0};  // cluster aggregates lost on the uplink
};

}  // namespace

MetaRunResult RunMeta(const ExperimentConfig& config, meta::MetaMethod method,
                      Population& population, ThreadPool& pool, ledger::RunRecorder& recorder,
                      const ledger::Meter& meter, std::ostream& out,
                      MethodCheckpoints* checkpoints) {
  if (method == meta::MetaMethod::kConsensus) {
    return RunConsensus(config, population, pool, recorder, meter, out, checkpoints);
  }
  const std::unique_ptr<MetaExchange> exchange =
      MakeInProcessExchange(config, population, pool, meter);
  return RunMeta(config, method, population, *exchange, recorder, meter, out, checkpoints);
}

MetaRunResult RunMeta(const ExperimentConfig& config, meta::MetaMethod method,
                      const Population& population, MetaExchange& exchange,
                      ledger::RunRecorder& recorder, const ledger::Meter& meter,
                      std::ostream& out, MethodCheckpoints* checkpoints) {
  if (method == meta::MetaMethod::kConsensus) {
    throw ConfigError({}, "experiment.methods",
                      "consensus has no server (agents mix over mesh sidelinks); run it with "
                      "`metajoule run`");
  }
  const auto seed = static_cast<std::uint64_t>(config.experiment.seed);
  meta::MetaConfig meta_config = config.meta.config;
  meta_config.method = method;
  meta_config.iterations = config.training.rounds;
  meta_config.threads = 1;
  const std::string method_name(meta::MetaMethodName(method));

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
    const auto [obs_dim, act_dim] = TaskDims(population, groups[g].front());
    policies.push_back(std::make_unique<agents::GaussianMlpPolicy>(
        obs_dim, act_dim, policy_config.hidden_sizes, policy_config.activation));
    for (const std::size_t k : groups[g]) {
      if (TaskDims(population, k) != std::pair{obs_dim, act_dim}) {
        throw ConfigError({}, "meta.per_cluster",
                          "one meta-model needs one observation and action size; the clusters "
                          "mix task families (set meta.per_cluster = true)");
      }
    }
    std::mt19937_64 init_rng(sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kMetaInit), g));
    learners.push_back(std::make_unique<meta::MetaLearner>(
        meta_config, *policies[g],
        meta::InitialMetaParams(meta_config, *policies[g], policy_config.init_log_std, init_rng)));
  }

  const network::TensorEncoding ul_encoding = config.network.links.uplink.tensor_encoding;
  const network::TensorEncoding dl_encoding = config.network.links.downlink.tensor_encoding;
  const network::TensorEncoding sl_encoding = config.network.links.sidelink.tensor_encoding;
  constexpr std::int32_t kServer = 0;
  const bool hierarchical = config.network.topology.kind == network::TopologyKind::kHierarchical;
  // a hierarchy: the clusters of each group, each cluster's own sidelink channel (docs/links.md)
  const std::vector<std::vector<std::size_t>> clusters = ClustersOf(population);
  std::vector<std::vector<std::size_t>> group_clusters(groups.size());
  // each cluster's links: [network.links] with the cluster's overrides (docs/links.md,
  // "Per-cluster overrides"); the clusters without a downlink override share the base downlink
  // (downlinks[0], one cell for a broadcast), each one with an override has its own
  std::vector<std::size_t> cluster_of(population.size());
  std::vector<network::EmulatedLink> uplinks;
  std::vector<network::EmulatedLink> sidelinks;
  std::vector<network::EmulatedLink> downlinks{
      network::EmulatedLink(network::LinkKind::kDownlink, config.network.links.downlink)};
  std::vector<std::size_t> downlink_of(clusters.size(), 0);
  for (std::size_t c = 0; c < clusters.size(); ++c) {
    const std::size_t head = clusters[c].front();
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (std::find(groups[g].begin(), groups[g].end(), head) != groups[g].end()) {
        group_clusters[g].push_back(c);
      }
    }
    const std::string& name = population.nodes[head].cluster;
    for (const std::size_t k : clusters[c]) cluster_of[k] = c;
    uplinks.emplace_back(network::LinkKind::kUplink,
                         config.network.Link(network::LinkKind::kUplink, name));
    sidelinks.emplace_back(network::LinkKind::kSidelink,
                           config.network.Link(network::LinkKind::kSidelink, name));
    if (config.network.Overrides(name, network::LinkKind::kDownlink)) {
      downlink_of[c] = downlinks.size();
      downlinks.emplace_back(network::LinkKind::kDownlink,
                             config.network.Link(network::LinkKind::kDownlink, name));
    }
  }
  // the receiver a broadcast is recorded against (docs/ledger.md, "Endpoints")
  const BroadcastCells cells(config, population);
  cells.Register(recorder);
  auto node_of = [&](std::size_t k) { return population.nodes[k].id; };

  std::vector<int> consecutive_rejections(groups.size(), 0);
  double last_post = 0.0;
  int missing_total = 0;
  HierarchyLosses losses_total;
  // what carries over from one round to the next, for checkpoints (the agents draw each round
  // from streams of their own, so the server's side is all there is)
  auto save_state = [&](StateArchive& state) {
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const std::string prefix = "group-" + std::to_string(g) + "/";
      learners[g]->SaveState(state, prefix);
      state.PutInt(prefix + "consecutive_rejections", consecutive_rejections[g]);
    }
    state.PutDouble("last_return", last_post);
    state.PutInt("missing_reports", missing_total);
    state.PutInt("lost_reports", losses_total.reports);
    state.PutInt("lost_aggregates", losses_total.aggregates);
  };
  int first_round = 1;
  if (checkpoints != nullptr) {
    checkpoints->Load([&](const StateArchive& state) {
      for (std::size_t g = 0; g < groups.size(); ++g) {
        const std::string prefix = "group-" + std::to_string(g) + "/";
        learners[g]->LoadState(state, prefix);
        consecutive_rejections[g] = static_cast<int>(state.Int(prefix + "consecutive_rejections"));
      }
      last_post = state.Double("last_return");
      missing_total = static_cast<int>(state.Int("missing_reports"));
      losses_total.reports = static_cast<int>(state.Int("lost_reports"));
      losses_total.aggregates = static_cast<int>(state.Int("lost_aggregates"));
    });
    first_round = checkpoints->first_round();
  }

  // the server's update of group g from the contributions that arrived
  auto server_update = [&](std::size_t g, int round, std::span<const meta::Contribution> arrived,
                           std::uint64_t extra_flops) {
    const ledger::MeterSample start = meter.Start();
    const meta::AggregateReport report = learners[g]->Update(arrived);
    recorder.RecordCompute(kServer, round, ledger::Phase::kAggregate, 0,
                           static_cast<double>(report.flops + extra_flops), meter.Stop(start));
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
  };
  // the report of agent k as the server (or its head) decodes it: its work and returns go to
  // the ledger; nullopt (recorded missing on `link`) when it never came or is malformed
  auto take_report = [&](const std::vector<std::optional<network::Message>>& reports,
                         std::size_t k, int round,
                         ledger::LinkKind link) -> std::optional<MetaReport> {
    const std::int32_t node = node_of(k);
    std::string error;
    std::optional<MetaReport> report;
    if (reports[k]) report = ParseMetaReport(*reports[k], error);
    if (!report) {
      if (reports[k]) {
        out << "  " << method_name << " round " << round << ": node " << node
            << " sent a malformed report (" << error << ")\n";
      }
      RecordMissing(recorder, node, round, link,
                    link == ledger::LinkKind::kSidelink ? node_of(clusters[cluster_of[k]].front())
                                                        : kServer);
      return std::nullopt;
    }
    RecordAgentReport(recorder, node, round, population.tasks[k].Describe(), method_name,
                      *report);
    report->contribution.method = method;
    return report;
  };

  for (int round = first_round; round <= config.training.rounds; ++round) {
    std::mt19937_64 link_rng(sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kLinks),
                                             static_cast<std::uint64_t>(round)));
    double post_sum = 0.0;
    int post_count = 0;
    int lost = 0;
    int missing = 0;
    HierarchyLosses losses;

    // downlink: each group's phi to its agents (star) or its cluster heads (hierarchical); a
    // push the link loses is not sent
    std::vector<network::Message> pushes(groups.size());
    // received[k]: agent k holds phi this round
    std::vector<bool> received(population.size(), false);
    for (std::size_t g = 0; g < groups.size(); ++g) {
      pushes[g] = MakeMetaPush(method, round, learners[g]->meta_params());
      const std::uint64_t push_bytes = network::EncodedSize(pushes[g], dl_encoding);
      std::vector<std::size_t> targets;
      if (hierarchical) {
        for (const std::size_t c : group_clusters[g]) targets.push_back(clusters[c].front());
      } else {
        targets = groups[g];
      }
      // the targets by downlink (without overrides: all of them on the base downlink)
      std::vector<std::vector<std::size_t>> cell_targets(downlinks.size());
      for (const std::size_t k : targets) cell_targets[downlink_of[cluster_of[k]]].push_back(k);
      for (std::size_t d = 0; d < downlinks.size(); ++d) {
        const std::vector<std::size_t>& cell = cell_targets[d];
        if (cell.empty()) continue;
        network::EmulatedLink& downlink = downlinks[d];
        if (downlink.config().broadcast) {
          std::vector<network::NodeId> receivers;
          for (const std::size_t k : cell) {
            receivers.push_back(static_cast<network::NodeId>(node_of(k)));
          }
          const network::BroadcastResult result = downlink.Broadcast(
              {static_cast<std::uint32_t>(round), 0, network::kAnyNode, push_bytes, 0.0},
              receivers, link_rng);
          RecordTransfer(recorder, kServer, round, result.record, cells.Of(cell));
          for (std::size_t i = 0; i < cell.size(); ++i) received[cell[i]] = result.delivered[i];
        } else {
          for (const std::size_t k : cell) {
            const network::TransferRecord transfer = downlink.Transfer(
                {static_cast<std::uint32_t>(round), 0, static_cast<network::NodeId>(node_of(k)),
                 push_bytes, 0.0},
                link_rng);
            RecordTransfer(recorder, kServer, round, transfer);
            received[k] = transfer.delivered;
          }
        }
      }
    }

    // hierarchical: each head that got phi relays it to its members over the cluster's
    // sidelink, as it decoded it and re-encoded in the sidelink's encoding
    std::vector<network::Message> relays(clusters.size());
    if (hierarchical) {
      for (std::size_t g = 0; g < groups.size(); ++g) {
        const network::Message at_head = RoundTrip(pushes[g], dl_encoding);
        for (const std::size_t c : group_clusters[g]) {
          const std::vector<std::size_t>& agents = clusters[c];
          if (!received[agents.front()] || agents.size() < 2) continue;
          relays[c] = RoundTrip(at_head, sl_encoding);
          const std::uint64_t relay_bytes = network::EncodedSize(at_head, sl_encoding);
          const auto head = static_cast<network::NodeId>(node_of(agents.front()));
          if (sidelinks[c].config().broadcast) {
            std::vector<network::NodeId> receivers;
            for (std::size_t i = 1; i < agents.size(); ++i) {
              receivers.push_back(static_cast<network::NodeId>(node_of(agents[i])));
            }
            const network::BroadcastResult result = sidelinks[c].Broadcast(
                {static_cast<std::uint32_t>(round), head, network::kAnyNode, relay_bytes, 0.0},
                receivers, link_rng);
            RecordTransfer(recorder, static_cast<std::int32_t>(head), round, result.record,
                           cells.Of(std::span(agents).subspan(1)));
            for (std::size_t i = 1; i < agents.size(); ++i) {
              received[agents[i]] = result.delivered[i - 1];
            }
          } else {
            for (std::size_t i = 1; i < agents.size(); ++i) {
              const network::TransferRecord transfer = sidelinks[c].Transfer(
                  {static_cast<std::uint32_t>(round), head,
                   static_cast<network::NodeId>(node_of(agents[i])), relay_bytes, 0.0},
                  link_rng);
              RecordTransfer(recorder, static_cast<std::int32_t>(head), round, transfer);
              received[agents[i]] = transfer.delivered;
            }
          }
        }
      }
    }

    // what the exchange delivers: star: each group's push to its reached agents; hierarchical:
    // the group's push to its reached heads, each cluster's relay to its reached members
    std::vector<GroupPush> sent;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      GroupPush group;
      group.push = &pushes[g];
      for (const std::size_t k : groups[g]) {
        const bool head = std::any_of(group_clusters[g].begin(), group_clusters[g].end(),
                                      [&](std::size_t c) { return clusters[c].front() == k; });
        if (received[k] && (!hierarchical || head)) group.agents.push_back(k);
      }
      sent.push_back(std::move(group));
    }
    if (hierarchical) {
      for (std::size_t c = 0; c < clusters.size(); ++c) {
        GroupPush group;
        group.push = &relays[c];
        for (std::size_t i = 1; i < clusters[c].size(); ++i) {
          if (received[clusters[c][i]]) group.agents.push_back(clusters[c][i]);
        }
        if (!group.agents.empty()) sent.push_back(std::move(group));
      }
    }

    // the agents compute their contributions on their own tasks and report back; the reports
    // come back in the agents' order whatever order they arrived in
    const std::vector<std::optional<network::Message>> reports = exchange.Exchange(sent);

    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (!hierarchical) {
        // star: each report's work and returns into the ledger, then its uplink, in member order
        std::vector<meta::Contribution> arrived;
        for (const std::size_t k : groups[g]) {
          const std::int32_t node = node_of(k);
          if (!received[k]) {
            ++lost;
            continue;
          }
          const std::optional<MetaReport> report =
              take_report(reports, k, round, ledger::LinkKind::kUplink);
          if (!report) {
            ++missing;
            continue;
          }
          // uplink: what the link loses is not aggregated
          const std::uint64_t report_bytes = network::EncodedSize(*reports[k], ul_encoding);
          const network::TransferRecord transfer = uplinks[cluster_of[k]].Transfer(
              {static_cast<std::uint32_t>(round), static_cast<network::NodeId>(node), 0,
               report_bytes, 0.0},
              link_rng);
          RecordTransfer(recorder, node, round, transfer);
          if (!transfer.delivered) {
            ++lost;
            continue;
          }
          arrived.push_back(report->contribution);
          const double reported = ReportedReturn(report->contribution);
          if (std::isfinite(reported)) {
            post_sum += reported;
            ++post_count;
          }
        }
        // server: aggregate the decoded contributions and update phi
        server_update(g, round, arrived, 0);
        continue;
      }

      // hierarchical: per cluster, the members' reports over the sidelink to the head, the
      // head's aggregate over the uplink to the server
      const Eigen::Index size = learners[g]->meta_params().size();
      Eigen::VectorXd total = Eigen::VectorXd::Zero(size);
      double total_weight = 0.0;
      int aggregates = 0;
      for (const std::size_t c : group_clusters[g]) {
        const std::vector<std::size_t>& agents = clusters[c];
        const std::int32_t head = node_of(agents.front());
        if (!received[agents.front()]) {
          lost += static_cast<int>(agents.size());
          continue;
        }
        std::vector<meta::Contribution> at_head;
        std::vector<double> returns;
        for (std::size_t i = 0; i < agents.size(); ++i) {
          const std::size_t k = agents[i];
          const std::int32_t node = node_of(k);
          if (!received[k]) {
            ++lost;
            continue;
          }
          const ledger::LinkKind leg = i == 0 ? ledger::LinkKind::kUplink
                                              : ledger::LinkKind::kSidelink;
          std::optional<MetaReport> report = take_report(reports, k, round, leg);
          if (!report) {
            ++missing;
            continue;
          }
          if (i > 0) {
            // member -> head over the sidelink; the head decodes the sidelink's encoding
            const std::uint64_t report_bytes = network::EncodedSize(*reports[k], sl_encoding);
            const network::TransferRecord transfer = sidelinks[c].Transfer(
                {static_cast<std::uint32_t>(round), static_cast<network::NodeId>(node),
                 static_cast<network::NodeId>(head), report_bytes, 0.0},
                link_rng);
            RecordTransfer(recorder, node, round, transfer);
            if (!transfer.delivered) {
              // lost after max_attempts: missing from this round's aggregate (marked)
              RecordMissing(recorder, node, round, ledger::LinkKind::kSidelink, head);
              ++lost;
              ++losses.reports;
              continue;
            }
            std::string error;
            report = ParseMetaReport(RoundTrip(*reports[k], sl_encoding), error);
            MJL_DEMAND(report.has_value());  // parsed once already
            report->contribution.method = method;
          }
          at_head.push_back(report->contribution);
          returns.push_back(ReportedReturn(report->contribution));
        }

        // the head: sum_i w_i v_i of the accepted contributions, in member order (a compute
        // event of the head's node)
        const ledger::MeterSample start = meter.Start();
        ClusterAggregate aggregate;
        Eigen::VectorXd mean;
        std::vector<int> rejected;
        meta::AggregateContributions(method, at_head, size, mean, &rejected);
        aggregate.sum = Eigen::VectorXd::Zero(size);
        for (std::size_t i = 0; i < at_head.size(); ++i) {
          if (std::find(rejected.begin(), rejected.end(), static_cast<int>(i)) != rejected.end()) {
            continue;
          }
          const double weight = method == meta::MetaMethod::kFedAvg ? at_head[i].weight : 1.0;
          aggregate.sum += weight * at_head[i].vector;
          aggregate.weight += weight;
          ++aggregate.count;
        }
        aggregate.rejected = static_cast<int>(rejected.size());
        const network::Message message = MakeClusterAggregate(method, aggregate);
        recorder.RecordCompute(
            head, round, ledger::Phase::kAggregate, 0,
            2.0 * static_cast<double>(size) * static_cast<double>(aggregate.count),
            meter.Stop(start));

        // head -> server over the uplink: one aggregate per cluster
        const network::TransferRecord transfer = uplinks[c].Transfer(
            {static_cast<std::uint32_t>(round), static_cast<network::NodeId>(head), 0,
             network::EncodedSize(message, ul_encoding), 0.0},
            link_rng);
        RecordTransfer(recorder, head, round, transfer);
        if (!transfer.delivered) {
          RecordMissing(recorder, head, round, ledger::LinkKind::kUplink, kServer);
          ++lost;
          ++losses.aggregates;
          continue;
        }
        std::string error;
        const std::optional<ClusterAggregate> decoded =
            ParseClusterAggregate(RoundTrip(message, ul_encoding), error);
        MJL_DEMAND(decoded.has_value());  // our own message
        ++aggregates;
        if (decoded->count > 0) {
          total += decoded->sum;
          total_weight += decoded->weight;
        }
        for (const double value : returns) {
          if (std::isfinite(value)) {
            post_sum += value;
            ++post_count;
          }
        }
      }
      // server: the mean over every report the aggregates hold, sum / weight, as one
      // contribution (the star's mean up to the float32 rounding of the sums on the wire)
      std::vector<meta::Contribution> arrived;
      if (total_weight > 0.0) {
        meta::Contribution combined;
        combined.method = method;
        combined.vector = total / total_weight;
        arrived.push_back(std::move(combined));
      }
      server_update(g, round, arrived,
                    2 * static_cast<std::uint64_t>(size) * static_cast<std::uint64_t>(aggregates));
    }
    missing_total += missing;
    losses_total.reports += losses.reports;
    losses_total.aggregates += losses.aggregates;
    last_post = post_count > 0 ? post_sum / post_count : std::numeric_limits<double>::quiet_NaN();
    std::string notes;
    if (lost > 0) notes += Format(", %d messages lost", lost);
    if (missing > 0) notes += Format(", %d reports missing", missing);
    out << Format("  %s round %3d/%d: mean return %10.3f%s\n", method_name.c_str(), round,
                  config.training.rounds, last_post, notes.c_str());
    out.flush();
    if (checkpoints != nullptr) checkpoints->EndRound(round, config.training.rounds, save_state);
  }

  MetaRunResult result;
  result.lost_reports = losses_total.reports;
  result.lost_aggregates = losses_total.aggregates;
  result.last_return = last_post;
  result.missing_reports = missing_total;
  result.exchange = exchange.stats();
  result.transport = exchange.name();
  const ExchangeStats& stats = result.exchange;
  if (stats.compute_known && stats.exchange_seconds > 0.0) {
    const double overhead = std::max(0.0, stats.exchange_seconds - stats.compute_seconds);
    out << Format("  %s transport %s: %.1f ms of %.2f s of exchanges outside the agents' "
                  "compute (%.2f %%)\n",
                  method_name.c_str(), result.transport.c_str(), overhead * 1e3,
                  stats.exchange_seconds, 100.0 * overhead / stats.exchange_seconds);
  }
  result.groups = std::move(groups);
  result.policies = std::move(policies);
  for (const auto& learner : learners) result.meta_params.push_back(learner->meta_params());
  return result;
}

TransportMeasurement MeasureTransport(const ExperimentConfig& config, std::ostream& out) {
  std::optional<meta::MetaMethod> method;
  for (const std::string& name : config.experiment.methods) {
    for (const auto& [method_name, value] : meta::EnumNames(meta::MetaMethod{})) {
      if (!method && method_name == name && value != meta::MetaMethod::kScratch &&
          value != meta::MetaMethod::kConsensus) {
        method = value;  // consensus has no transport to measure
      }
    }
  }
  if (!method) {
    throw ConfigError({}, "experiment.methods", "no meta method to measure the transport with");
  }
  const ledger::EnergyModel model(EnergyConfigOf(config));
  Population population(config);
  ThreadPool pool(config.sim.threads);
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("metajoule-transport-" + std::to_string(static_cast<long>(getpid())) + ".sqlite");
  std::filesystem::remove(path);
  TransportMeasurement measurement;
  {
    ledger::LedgerStore store(path.string(), config.ledger.store);
    const ledger::MeterSelection selection =
        ledger::SelectMeter(config.ledger.energy.meter, {}, ledger::StderrWarning);
    const ledger::Meter meter(selection);
    ledger::RunInfo info;
    info.name = config.experiment.name;
    info.method = std::string(meta::MetaMethodName(*method));
    info.seed = config.experiment.seed;
    ledger::RunRecorder recorder(store, model, info, selection);
    recorder.AddNode({0, "server", "", "edge_server", ""});
    for (const auto& node : population.nodes) recorder.AddNode(node);
    const MetaRunResult result = RunMeta(config, *method, population, pool, recorder, meter, out);
    recorder.Finish();
    measurement.method = info.method;
    measurement.transport = result.transport;
    measurement.rounds = config.training.rounds;
    measurement.exchange = result.exchange;
  }
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path.string() + suffix);
  }
  return measurement;
}

}  // namespace metajoule::experiments
