#include "experiments/transfer_accounting.h"

#include <cstdint>
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

}  // namespace metajoule::experiments
