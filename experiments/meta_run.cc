#include "experiments/meta_run.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

#include "agents/sim_env.h"
#include "experiments/format.h"
#include "experiments/meta_agent.h"
#include "experiments/transfer_accounting.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "meta/contribution.h"
#include "meta/meta_learner.h"
#include "network/link.h"
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

// An expected report that never came: an uplink event of 0 bits and 0 attempts (phase other).
void RecordMissing(ledger::RunRecorder& recorder, std::int32_t node, int round) {
  recorder.RecordTransfer(node, round, ledger::Phase::kOther, ledger::LinkKind::kUplink, 0, 0, 0);
}

}  // namespace

MetaRunResult RunMeta(const ExperimentConfig& config, meta::MetaMethod method,
                      Population& population, ThreadPool& pool, ledger::RunRecorder& recorder,
                      const ledger::Meter& meter, std::ostream& out) {
  const std::unique_ptr<MetaExchange> exchange =
      MakeInProcessExchange(config, population, pool, meter);
  return RunMeta(config, method, population, *exchange, recorder, meter, out);
}

MetaRunResult RunMeta(const ExperimentConfig& config, meta::MetaMethod method,
                      const Population& population, MetaExchange& exchange,
                      ledger::RunRecorder& recorder, const ledger::Meter& meter,
                      std::ostream& out) {
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
  network::EmulatedLink downlink(network::LinkKind::kDownlink, config.network.links.downlink);
  network::EmulatedLink uplink(network::LinkKind::kUplink, config.network.links.uplink);
  constexpr std::int32_t kServer = 0;
  std::vector<int> consecutive_rejections(groups.size(), 0);
  double last_post = 0.0;
  int missing_total = 0;
  for (int round = 1; round <= config.training.rounds; ++round) {
    std::mt19937_64 link_rng(sim::DeriveSeed(sim::DeriveSeed(seed, seed_stream::kLinks),
                                             static_cast<std::uint64_t>(round)));
    double post_sum = 0.0;
    int post_count = 0;
    int lost = 0;
    int missing = 0;

    // downlink: each group's phi to its agents; a push the link loses is not sent
    std::vector<network::Message> pushes(groups.size());
    std::vector<std::vector<bool>> received(groups.size());
    std::vector<GroupPush> sent(groups.size());
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const std::vector<std::size_t>& members = groups[g];
      pushes[g] = MakeMetaPush(method, round, learners[g]->meta_params());
      const std::uint64_t push_bytes = network::EncodedSize(pushes[g], dl_encoding);
      received[g].assign(members.size(), true);
      if (config.network.links.downlink.broadcast) {
        std::vector<network::NodeId> receivers;
        for (const std::size_t k : members) {
          receivers.push_back(static_cast<network::NodeId>(population.nodes[k].id));
        }
        const network::BroadcastResult result = downlink.Broadcast(
            {static_cast<std::uint32_t>(round), 0, network::kAnyNode, push_bytes, 0.0}, receivers,
            link_rng);
        RecordTransfer(recorder, kServer, round, result.record);
        for (std::size_t i = 0; i < members.size(); ++i) received[g][i] = result.delivered[i];
      } else {
        for (std::size_t i = 0; i < members.size(); ++i) {
          const network::TransferRecord transfer = downlink.Transfer(
              {static_cast<std::uint32_t>(round), 0,
               static_cast<network::NodeId>(population.nodes[members[i]].id), push_bytes, 0.0},
              link_rng);
          RecordTransfer(recorder, kServer, round, transfer);
          received[g][i] = transfer.delivered;
        }
      }
      sent[g].push = &pushes[g];
      for (std::size_t i = 0; i < members.size(); ++i) {
        if (received[g][i]) sent[g].agents.push_back(members[i]);
      }
    }

    // the agents compute their contributions on their own tasks and report back; the reports
    // come back in the agents' order whatever order they arrived in
    const std::vector<std::optional<network::Message>> reports = exchange.Exchange(sent);

    for (std::size_t g = 0; g < groups.size(); ++g) {
      const std::vector<std::size_t>& members = groups[g];
      // each report's work and returns into the ledger, then its uplink, in member order
      std::vector<meta::Contribution> arrived;
      for (std::size_t i = 0; i < members.size(); ++i) {
        const std::size_t k = members[i];
        const std::int32_t node = population.nodes[k].id;
        if (!received[g][i]) {
          ++lost;
          continue;
        }
        std::string error;
        std::optional<MetaReport> report;
        if (reports[k]) report = ParseMetaReport(*reports[k], error);
        if (!report) {
          if (reports[k]) {
            out << "  " << method_name << " round " << round << ": node " << node
                << " sent a malformed report (" << error << ")\n";
          }
          RecordMissing(recorder, node, round);
          ++missing;
          continue;
        }
        const meta::Contribution& c = report->contribution;
        if (recorder.meter().used == ledger::EnergySource::kRapl &&
            !report->measurement.package_j) {
          throw std::runtime_error("node " + std::to_string(node) +
                                   " reported no RAPL energy, but this ledger measures compute "
                                   "with the rapl meter");
        }
        recorder.RecordCompute(node, round, ledger::Phase::kLearn, c.work.sim_steps,
                               static_cast<double>(c.work.policy_flops), report->measurement);
        const std::string task = population.tasks[k].Describe();
        if (std::isfinite(c.pre_adaptation_return)) {
          recorder.RecordEvaluation({round, node, task, method_name, 0, c.pre_adaptation_return});
        }
        if (std::isfinite(c.post_adaptation_return)) {
          recorder.RecordEvaluation({round, node, task, method_name, 1, c.post_adaptation_return});
        }
        // uplink: what the link loses is not aggregated
        const std::uint64_t report_bytes = network::EncodedSize(*reports[k], ul_encoding);
        const network::TransferRecord transfer = uplink.Transfer(
            {static_cast<std::uint32_t>(round), static_cast<network::NodeId>(node), 0,
             report_bytes, 0.0},
            link_rng);
        RecordTransfer(recorder, node, round, transfer);
        if (!transfer.delivered) {
          ++lost;
          continue;
        }
        arrived.push_back(c);
        arrived.back().method = method;
        // the return the method reports: after adaptation where it adapts (maml, fomaml),
        // else at the meta-model itself
        const double reported = std::isfinite(c.post_adaptation_return)
                                    ? c.post_adaptation_return
                                    : c.pre_adaptation_return;
        if (std::isfinite(reported)) {
          post_sum += reported;
          ++post_count;
        }
      }

      // server: aggregate the decoded contributions and update phi
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
    missing_total += missing;
    last_post = post_count > 0 ? post_sum / post_count : std::numeric_limits<double>::quiet_NaN();
    std::string notes;
    if (lost > 0) notes += Format(", %d messages lost", lost);
    if (missing > 0) notes += Format(", %d reports missing", missing);
    out << Format("  %s round %3d/%d: mean return %10.3f%s\n", method_name.c_str(), round,
                  config.training.rounds, last_post, notes.c_str());
    out.flush();
  }

  MetaRunResult result;
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
      if (!method && method_name == name && value != meta::MetaMethod::kScratch) method = value;
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
