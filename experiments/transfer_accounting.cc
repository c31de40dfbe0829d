#include "experiments/transfer_accounting.h"

#include <string>
#include <vector>

namespace metajoule::experiments {

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

void RecordTransfer(ledger::RunRecorder& recorder, std::int32_t transmitter, std::int64_t round,
                    const network::TransferRecord& transfer) {
  recorder.RecordTransfer(transmitter, round, ledger::Phase::kTransfer, LedgerLink(transfer.link),
                          static_cast<std::int64_t>(transfer.bits_on_air),
                          static_cast<std::int64_t>(transfer.payload_bits),
                          static_cast<std::int32_t>(transfer.attempts));
}

}  // namespace metajoule::experiments
