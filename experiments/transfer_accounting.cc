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
                    const network::TransferRecord& transfer) {
  recorder.RecordTransfer(transmitter, round, ledger::Phase::kTransfer, LedgerLink(transfer.link),
                          static_cast<std::int64_t>(transfer.bits_on_air),
                          static_cast<std::int64_t>(transfer.payload_bits),
                          static_cast<std::int32_t>(transfer.attempts));
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
