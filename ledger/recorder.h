#pragma once
// RunRecorder: the one object a running experiment talks to. It starts a run in a LedgerStore
// (storing the resolved config, the energy model and the meter selection), registers nodes,
// prices every event with the EnergyModel, and queues it in the store.

#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <unordered_map>

#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/meters.h"

namespace metajoule::ledger {

/// Records one run. Record*/AddNode are safe to call from several threads; the store and model
/// must outlive the recorder.
class RunRecorder {
 public:
  /// Begins a run in `store`. `info.energy_model`, `info.meter_requested` and
  /// `info.meter_status` are filled from `model` and `meter`.
  RunRecorder(LedgerStore& store, const EnergyModel& model, RunInfo info, MeterSelection meter);

  /// Continues `run`, already in `store` (after LedgerStore::TruncateRun): re-registers its
  /// stored nodes for pricing and starts energy_so_far_j() at the run's committed total. The
  /// model must price as the one the run started with (`metajoule run --resume` checks the
  /// stored config). Throws std::invalid_argument for an unknown run.
  RunRecorder(LedgerStore& store, const EnergyModel& model, std::int64_t run,
              MeterSelection meter);
  std::int64_t run() const { return run_; }
  const MeterSelection& meter() const { return meter_; }

  /// Registers a node (empty device/location take the model's defaults and are stored
  /// resolved). Throws std::invalid_argument listing the valid names for an unknown device or
  /// location.
  void AddNode(NodeInfo node);

  /// Prices `event` (energy_j, source, gco2e) and queues it; returns the priced event.
  /// Compute events use the meter in use: with RAPL, `measured_package_j` is required
  /// (std::invalid_argument otherwise). Throws std::invalid_argument for an unregistered node
  /// or peer.
  Event Record(Event event, std::optional<double> measured_package_j = std::nullopt);

  /// A compute event from its work and a Meter measurement (cpu, wall and, with RAPL, joules).
  Event RecordCompute(std::int32_t node, std::int64_t round, Phase phase, std::int64_t sim_steps,
                      double flops, const Measurement& measurement);

  /// A transfer over `link` from `node` to `peer` (a registered node; for a broadcast, the cell
  /// node of its receivers; kNoPeer when unknown): bits_on_air includes headers and every
  /// retransmission. It pays the efficiency of the link of LinkCluster(node's cluster, peer's
  /// cluster).
  Event RecordTransfer(std::int32_t node, std::int64_t round, Phase phase, LinkKind link,
                       std::int64_t bits_on_air, std::int64_t payload_bits,
                       std::int32_t attempts = 1, std::int32_t peer = kNoPeer);

  /// Queues an evaluation.
  void RecordEvaluation(const Evaluation& evaluation);

  /// Commits everything and marks the run finished (or `status`).
  void Finish(std::string_view status = "finished");

  /// Seconds spent inside this recorder's calls (pricing, queueing, committing), summed over
  /// every calling thread: the ledger's own overhead, for comparison with a run's wall time.
  double recording_seconds() const {
    return static_cast<double>(recording_ns_.load(std::memory_order_relaxed)) * 1e-9;
  }

  /// Energy of the events recorded so far (J), for progress displays. Summed in arrival order,
  /// so its last bits may differ between runs: the ledger's own sums are the figures.
  double energy_so_far_j() const { return energy_j_.load(std::memory_order_relaxed); }

 private:
  LedgerStore& store_;
  const EnergyModel& model_;
  MeterSelection meter_;
  std::int64_t run_{0};
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::int32_t, NodePricing> nodes_;
  std::atomic<std::int64_t> recording_ns_{0};
  std::atomic<double> energy_j_{0.0};
};

}  // namespace metajoule::ledger
