#include "ledger/recorder.h"

#include <chrono>
#include <mutex>
#include <stdexcept>

#include "ledger/queries.h"

namespace metajoule::ledger {

RunRecorder::RunRecorder(LedgerStore& store, const EnergyModel& model, RunInfo info,
                         MeterSelection meter)
    : store_(store), model_(model), meter_(std::move(meter)) {
  info.energy_model = model_.ToText();
  info.meter_requested = meter_.requested;
  info.meter_status = meter_.status;
  run_ = store_.BeginRun(info);
}

RunRecorder::RunRecorder(LedgerStore& store, const EnergyModel& model, std::int64_t run,
                         MeterSelection meter)
    : store_(store), model_(model), meter_(std::move(meter)), run_(run) {
  store_.Run(run_);  // std::invalid_argument for an unknown run
  for (const NodeInfo& node : store_.Nodes(run_)) {
    NodePricing pricing = model_.ForNode(node.device, node.location);
    pricing.cluster = node.cluster;
    nodes_.insert_or_assign(node.id, std::move(pricing));
  }
  energy_j_.store(QueryBreakdown(store_, run_).total_j(), std::memory_order_relaxed);
}

void RunRecorder::AddNode(NodeInfo node) {
  NodePricing pricing = model_.ForNode(node.device, node.location);
  node.device = pricing.device.name;
  node.location = pricing.location.name;
  pricing.cluster = node.cluster;
  store_.AddNode(run_, node);
  std::unique_lock lock(mutex_);
  nodes_.insert_or_assign(node.id, std::move(pricing));
}

namespace {

// Adds the lifetime of the scope to a nanosecond counter.
class ScopeTimer {
 public:
  explicit ScopeTimer(std::atomic<std::int64_t>& total)
      : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~ScopeTimer() {
    total_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - start_)
                         .count(),
                     std::memory_order_relaxed);
  }
  ScopeTimer(const ScopeTimer&) = delete;
  ScopeTimer& operator=(const ScopeTimer&) = delete;

 private:
  std::atomic<std::int64_t>& total_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace

Event RunRecorder::Record(Event event, std::optional<double> measured_package_j) {
  const ScopeTimer timer(recording_ns_);
  {
    std::shared_lock lock(mutex_);
    const auto it = nodes_.find(event.node);
    if (it == nodes_.end()) {
      throw std::invalid_argument("RunRecorder::Record: node " + std::to_string(event.node) +
                                  " was never added with AddNode");
    }
    std::string_view peer_cluster;
    if (event.peer != kNoPeer) {
      const auto peer = nodes_.find(event.peer);
      if (peer == nodes_.end()) {
        throw std::invalid_argument("RunRecorder::Record: peer " + std::to_string(event.peer) +
                                    " was never added with AddNode");
      }
      peer_cluster = peer->second.cluster;
    }
    model_.Price(it->second, meter_.used, event, measured_package_j,
                 LinkCluster(it->second.cluster, peer_cluster));
  }
  store_.Append(run_, event);
  energy_j_.fetch_add(event.energy_j, std::memory_order_relaxed);
  return event;
}

Event RunRecorder::RecordCompute(std::int32_t node, std::int64_t round, Phase phase,
                                 std::int64_t sim_steps, double flops,
                                 const Measurement& measurement) {
  Event event;
  event.node = node;
  event.round = round;
  event.phase = phase;
  event.kind = EventKind::kCompute;
  event.sim_steps = sim_steps;
  event.flops = flops;
  event.cpu_seconds = measurement.cpu_seconds;
  event.wall_seconds = measurement.wall_seconds;
  return Record(event, measurement.package_j);
}

Event RunRecorder::RecordTransfer(std::int32_t node, std::int64_t round, Phase phase,
                                  LinkKind link, std::int64_t bits_on_air,
                                  std::int64_t payload_bits, std::int32_t attempts,
                                  std::int32_t peer) {
  Event event;
  event.node = node;
  event.round = round;
  event.phase = phase;
  event.kind = EventKind::kComm;
  event.link = link;
  event.bits_on_air = bits_on_air;
  event.payload_bits = payload_bits;
  event.attempts = attempts;
  event.peer = peer;
  return Record(event);
}

void RunRecorder::RecordEvaluation(const Evaluation& evaluation) {
  const ScopeTimer timer(recording_ns_);
  store_.AddEvaluation(run_, evaluation);
}

void RunRecorder::Finish(std::string_view status) {
  const ScopeTimer timer(recording_ns_);
  store_.EndRun(run_, status);
}

}  // namespace metajoule::ledger
