#pragma once
// How a run treats a message it sends over an emulated link: what the receiver decodes
// (docs/wire-format.md) and the ledger event of each transfer.

#include <cstdint>
#include <string>

#include "experiments/meta_agent.h"
#include "ledger/recorder.h"
#include "network/link.h"
#include "network/wire_format.h"

namespace metajoule::experiments {

/// What the receiver of `message` decodes after a trip through the wire format with
/// `encoding` (quantisation included), for in-memory exchanges that must see exactly what a
/// socket would deliver.
network::Message RoundTrip(const network::Message& message, network::TensorEncoding encoding);

/// The ledger's name for a network link kind.
ledger::LinkKind LedgerLink(network::LinkKind kind);

/// Records `transfer` (sent by `transmitter` in `round`) as a comm event.
void RecordTransfer(ledger::RunRecorder& recorder, std::int32_t transmitter, std::int64_t round,
                    const network::TransferRecord& transfer);

/// Records what agent `node` reported for `round`: its work as a compute event in phase
/// "learn" (with the report's measurement) and its returns as evaluations of `task` under
/// `method` at adaptation step 0 (before) and 1 (after), where finite. Throws
/// std::runtime_error when the ledger measures compute with RAPL and the report carries no
/// energy.
void RecordAgentReport(ledger::RunRecorder& recorder, std::int32_t node, std::int64_t round,
                       const std::string& task, const std::string& method,
                       const MetaReport& report);

}  // namespace metajoule::experiments
