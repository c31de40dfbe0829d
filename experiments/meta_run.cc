#include "experiments/meta_run.h"

#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <string>

#include "agents/sim_env.h"
#include "experiments/format.h"
#include "meta/contribution.h"
#include "meta/meta_learner.h"
#include "network/link.h"
#include "network/wire_format.h"
#include "sim/random.h"

namespace metajoule::experiments {
namespace {

// Bytes of `kind` carrying one tensor of `size` values, as the wire format encodes it on `link`
// (header, scalars and quantisation included: docs/wire-format.md).
std::uint64_t WireBytes(network::MessageKind kind, network::Content content, Eigen::Index size,
                        int scalars, network::TensorEncoding encoding) {
  network::Message message;
  message.kind = kind;
  message.content = content;
  message.tensors.push_back({"v", std::vector<float>(static_cast<std::size_t>(size), 0.0f)});
  for (int i = 0; i < scalars; ++i) {
    std::string name = "s";  // appended, not concatenated: GCC 12 -Wrestrict false positive
    name += std::to_string(i);
    message.scalars.push_back({std::move(name), 0.0});
  }
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

}  // namespace

MetaRunResult RunMeta(const ExperimentConfig& config, meta::MetaMethod method,
                      Population& population, ThreadPool& pool, ledger::RunRecorder& recorder,
                      const ledger::Meter& meter, std::ostream& out) {
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
    std::mt19937_64 init_rng(sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kMetaInit), g));
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
    std::mt19937_64 link_rng(sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kLinks), static_cast<std::uint64_t>(round)));
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
            sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kContribution), static_cast<std::uint64_t>(round)), k));
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
  MetaRunResult result;
  result.last_return = last_post;
  result.groups = std::move(groups);
  result.policies = std::move(policies);
  for (const auto& learner : learners) result.meta_params.push_back(learner->meta_params());
  return result;
}

}  // namespace metajoule::experiments
