#pragma once
// How a run charges a message it sends over an emulated link: its size as the wire format
// encodes it (docs/wire-format.md) and the ledger event of each transfer.

#include <cstdint>

#include <Eigen/Core>

#include "ledger/recorder.h"
#include "network/link.h"
#include "network/wire_format.h"

namespace metajoule::experiments {

/// Bytes of a `kind` message carrying one tensor of `size` values and `scalars` scalars, as
/// the wire format encodes it with `encoding` (header, scalars and quantisation included).
std::uint64_t WireBytes(network::MessageKind kind, network::Content content, Eigen::Index size,
                        int scalars, network::TensorEncoding encoding);

/// The ledger's name for a network link kind.
ledger::LinkKind LedgerLink(network::LinkKind kind);

/// Records `transfer` (sent by `transmitter` in `round`) as a comm event.
void RecordTransfer(ledger::RunRecorder& recorder, std::int32_t transmitter, std::int64_t round,
                    const network::TransferRecord& transfer);

}  // namespace metajoule::experiments
