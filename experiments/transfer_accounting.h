#pragma once
// How a run treats a message it sends over an emulated link: what the receiver decodes
// (docs/wire-format.md) and the ledger event of each transfer.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "experiments/experiment_config.h"
#include "experiments/meta_agent.h"
#include "experiments/population.h"
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

/// Records `transfer` (sent by `transmitter` in `round`) as a comm event whose receiving
/// endpoint is the transfer's to_node, or for a broadcast (to_node kAnyNode) `cell`, the cell
/// node of its receivers (BroadcastCells).
void RecordTransfer(ledger::RunRecorder& recorder, std::int32_t transmitter, std::int64_t round,
                    const network::TransferRecord& transfer,
                    std::int32_t cell = ledger::kNoPeer);

/// The "cell" nodes a broadcast is recorded against (docs/ledger.md, "Endpoints"): a broadcast
/// has many receivers, and its one ledger event names a node of role "cell" that stands for
/// them. Cluster c of the experiment (config.clusters order) has the cell node
/// population.size() + 1 + c (its cluster set); a broadcast whose receivers span several
/// clusters (one meta-model for every cluster over the shared base downlink) goes to the shared
/// cell, node population.size() + 1 + clusters, outside every cluster.
class BroadcastCells {
 public:
  /// `config` and `population` must outlive the object.
  BroadcastCells(const ExperimentConfig& config, const Population& population);
  /// Registers the cell nodes with `recorder` when the run may broadcast (some link kind, base
  /// or per-cluster, has broadcast = true); else nothing, so non-broadcast runs keep their
  /// nodes.
  void Register(ledger::RunRecorder& recorder) const;
  /// The cell node of a broadcast to the agents `agents` (population indices, not empty).
  std::int32_t Of(std::span<const std::size_t> agents) const;
  /// The cell node of cluster `cluster` (a config.clusters name).
  std::int32_t OfCluster(std::string_view cluster) const;

 private:
  const ExperimentConfig& config_;
  const Population& population_;
};

/// Records what agent `node` reported for `round`: its work as a compute event in phase
/// "learn" (with the report's measurement) and its returns as evaluations of `task` under
/// `method` at adaptation step 0 (before) and 1 (after), where finite. Throws
/// std::runtime_error when the ledger measures compute with RAPL and the report carries no
/// energy.
void RecordAgentReport(ledger::RunRecorder& recorder, std::int32_t node, std::int64_t round,
                       const std::string& task, const std::string& method,
                       const MetaReport& report);

}  // namespace metajoule::experiments
