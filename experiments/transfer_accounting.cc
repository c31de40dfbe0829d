#include "experiments/transfer_accounting.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "common/error.h"

namespace metajoule::experiments {

network::Message RoundTrip(const network::Message& message, network::TensorEncoding encoding) {
  const std::vector<std::uint8_t> bytes = network::Encode(message, encoding);
  network::Message decoded;
  const network::DecodeStatus status = network::Decode(bytes, decoded, network::WireLimits{
      .hello_bytes = 0xFFFFFFFFu, .task_assignment_bytes = 0xFFFFFFFFu,
      .model_push_bytes = 0xFFFFFFFFu, .update_report_bytes = 0xFFFFFFFFu,
      .evaluation_report_bytes = 0xFFFFFFFFu, .heartbeat_bytes = 0xFFFFFFFFu,
      .leave_bytes = 0xFFFFFFFFu, .ack_bytes = 0xFFFFFFFFu});
  MJL_DEMAND(status == network::DecodeStatus::kOk);  // our own encoding
  return decoded;
}

ledger::LinkKind LedgerLink(network::LinkKind kind) {
  switch (kind) {
    case network::LinkKind::kUplink: return ledger::LinkKind::kUplink;
    case network::LinkKind::kDownlink: return ledger::LinkKind::kDownlink;
    case network::LinkKind::kSidelink: return ledger::LinkKind::kSidelink;
  }
  return ledger::LinkKind::kNone;
}

void RecordTransfer(ledger::RunRecorder& recorder, std::int32_t transmitter, std::int64_t round,
                    const network::TransferRecord& transfer, std::int32_t cell) {
  const bool broadcast = transfer.to_node == network::kAnyNode;
  MJL_DEMAND(!broadcast || cell != ledger::kNoPeer);  // a broadcast names its cell
  const std::int32_t peer = broadcast ? cell : static_cast<std::int32_t>(transfer.to_node);
  recorder.RecordTransfer(transmitter, round, ledger::Phase::kTransfer, LedgerLink(transfer.link),
                          static_cast<std::int64_t>(transfer.bits_on_air),
                          static_cast<std::int64_t>(transfer.payload_bits),
                          static_cast<std::int32_t>(transfer.attempts), peer);
}

BroadcastCells::BroadcastCells(const ExperimentConfig& config, const Population& population)
    : config_(config), population_(population) {}

void BroadcastCells::Register(ledger::RunRecorder& recorder) const {
  const network::NetworkConfig& network = config_.network;
  bool any = network.links.uplink.broadcast || network.links.downlink.broadcast ||
             network.links.sidelink.broadcast;
  for (const network::ClusterLinksConfig& entry : network.cluster_links) {
    for (const auto kind : {network::LinkKind::kUplink, network::LinkKind::kDownlink,
                            network::LinkKind::kSidelink}) {
      any = any || entry.Get(kind).broadcast.value_or(false);
    }
  }
  if (!any) return;
  const auto first = static_cast<std::int32_t>(population_.size() + 1);
  for (std::size_t c = 0; c < config_.clusters.size(); ++c) {
    recorder.AddNode({first + static_cast<std::int32_t>(c), "cell", config_.clusters[c].name,
                      "", ""});
  }
  recorder.AddNode(
      {first + static_cast<std::int32_t>(config_.clusters.size()), "cell", "", "", ""});
}

std::int32_t BroadcastCells::OfCluster(std::string_view cluster) const {
  const auto first = static_cast<std::int32_t>(population_.size() + 1);
  for (std::size_t c = 0; c < config_.clusters.size(); ++c) {
    if (config_.clusters[c].name == cluster) return first + static_cast<std::int32_t>(c);
  }
  return first + static_cast<std::int32_t>(config_.clusters.size());
}

std::int32_t BroadcastCells::Of(std::span<const std::size_t> agents) const {
  MJL_DEMAND(!agents.empty());
  const std::string& cluster = population_.nodes[agents.front()].cluster;
  for (const std::size_t k : agents) {
    if (population_.nodes[k].cluster != cluster) return OfCluster("");
  }
  return OfCluster(cluster);
}

void RecordAgentReport(ledger::RunRecorder& recorder, std::int32_t node, std::int64_t round,
                       const std::string& task, const std::string& method,
                       const MetaReport& report) {
  const meta::Contribution& c = report.contribution;
  if (recorder.meter().used == ledger::EnergySource::kRapl && !report.measurement.package_j) {
    throw std::runtime_error("node " + std::to_string(node) +
                             " reported no RAPL energy, but this ledger measures compute "
                             "with the rapl meter");
  }
  recorder.RecordCompute(node, round, ledger::Phase::kLearn, c.work.sim_steps,
                         static_cast<double>(c.work.policy_flops), report.measurement);
  if (std::isfinite(c.pre_adaptation_return)) {
    recorder.RecordEvaluation({round, node, task, method, 0, c.pre_adaptation_return});
  }
  if (std::isfinite(c.post_adaptation_return)) {
    recorder.RecordEvaluation({round, node, task, method, 1, c.post_adaptation_return});
  }
}

}  // namespace metajoule::experiments
