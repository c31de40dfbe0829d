#pragma once
// What the ledger records: one Event per compute step or transfer, one Evaluation per measured
// return, and the enums that label them. The names returned by the *Name() functions are the
// exact strings stored in the database (docs/ledger.md, "Schema").

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace metajoule::ledger {

/// Where an energy figure came from (DESIGN.md "Energy model"): modelled device time, host CPU
/// time, or a measured RAPL counter. Also the name of the meter a run requests.
enum class EnergySource { kModelled, kCputime, kRapl };

/// Whether an event is computation on a node or a transfer over a link.
enum class EventKind { kCompute, kComm };

/// The link a transfer used; kNone for compute events. UL: agent to server or cluster head, DL:
/// server to agents, SL: device to device (consensus, hierarchical clusters).
enum class LinkKind { kNone, kUplink, kDownlink, kSidelink };

/// The part of the learning loop an event belongs to.
enum class Phase { kRollout, kInference, kLearn, kAggregate, kTransfer, kEvaluate, kOther };

/// Name tables, also used by the TOML loader for enum-valued config fields (ADL on the enum).
constexpr std::array<std::pair<std::string_view, EnergySource>, 3> EnumNames(EnergySource) {
  return {{{"modelled", EnergySource::kModelled},
           {"cputime", EnergySource::kCputime},
           {"rapl", EnergySource::kRapl}}};
}
constexpr std::array<std::pair<std::string_view, EventKind>, 2> EnumNames(EventKind) {
  return {{{"compute", EventKind::kCompute}, {"comm", EventKind::kComm}}};
}
constexpr std::array<std::pair<std::string_view, LinkKind>, 4> EnumNames(LinkKind) {
  return {{{"none", LinkKind::kNone},
           {"uplink", LinkKind::kUplink},
           {"downlink", LinkKind::kDownlink},
           {"sidelink", LinkKind::kSidelink}}};
}
constexpr std::array<std::pair<std::string_view, Phase>, 7> EnumNames(Phase) {
  return {{{"rollout", Phase::kRollout},
           {"inference", Phase::kInference},
           {"learn", Phase::kLearn},
           {"aggregate", Phase::kAggregate},
           {"transfer", Phase::kTransfer},
           {"evaluate", Phase::kEvaluate},
           {"other", Phase::kOther}}};
}

/// The stored name of an enum value ("rollout", "uplink", ...).
template <class E>
constexpr std::string_view Name(E value) {
  for (const auto& [name, v] : EnumNames(E{})) {
    if (v == value) return name;
  }
  return "?";
}

/// The enum value stored under `name`, or nullopt.
template <class E>
constexpr std::optional<E> FromName(std::string_view name) {
  for (const auto& [n, v] : EnumNames(E{})) {
    if (n == name) return v;
  }
  return std::nullopt;
}

/// Event::peer of an event without a receiver (compute events, and transfers recorded before
/// ledger schema version 3); stored as NULL.
inline constexpr std::int32_t kNoPeer = -1;

/// One compute step or one transfer of one node in one round. The raw work fields are what
/// repricing recomputes from, so record them even when a meter measured the energy.
struct Event {
  std::int64_t round{0};     ///< learning round (meta-iteration); monotone within a run
  std::int32_t node{0};      ///< node id, as registered with LedgerStore::AddNode
  Phase phase{Phase::kOther};
  EventKind kind{EventKind::kCompute};
  LinkKind link{LinkKind::kNone};  ///< kNone for compute events
  /// The receiving endpoint of a transfer (`node` is the transmitter): a node id, or for a
  /// broadcast the "cell" node that stands for its receivers (docs/ledger.md, "Endpoints");
  /// kNoPeer for compute events.
  std::int32_t peer{kNoPeer};

  // raw work of a compute event
  std::int64_t sim_steps{0};  ///< MuJoCo steps (mj_step calls)
  double flops{0.0};          ///< floating-point operations of the policy math
  double cpu_seconds{0.0};    ///< host CPU time of the thread doing the work (s)
  double wall_seconds{0.0};   ///< wall-clock duration (s)

  // raw work of a comm event
  std::int64_t bits_on_air{0};   ///< every bit transmitted: headers and retransmissions included
  std::int64_t payload_bits{0};  ///< the message's useful bits
  std::int32_t attempts{0};      ///< transmissions, 1 when no retransmission

  // priced figures
  double energy_j{0.0};  ///< joules charged to this event
  EnergySource source{EnergySource::kModelled};
  double gco2e{0.0};     ///< grams of CO2-equivalent: kWh x grid intensity of the node
};

/// One evaluation: the return of `method` on `task` after `adapt_step` adaptation steps, measured
/// at the end of `round` on `node`.
struct Evaluation {
  std::int64_t round{0};
  std::int32_t node{0};
  std::string task{};
  std::string method{};
  std::int32_t adapt_step{0};
  double value{0.0};  ///< the (mean) episode return
};

/// A node of a run and what prices its events: its device profile and grid location names.
struct NodeInfo {
  std::int32_t id{0};
  std::string role{};     ///< "agent", "server", "cell", "neighbour", ...
  std::string cluster{};  ///< cluster name, empty for nodes outside clusters
  std::string device{};   ///< device profile name (EnergyModel::DeviceNames())
  std::string location{};  ///< grid location name (EnergyModel::LocationNames())
};

/// The name of a run that deploys a trained meta-model to held-out tasks ends with this suffix
/// after the experiment's name (`quickstart:held-out`; experiments/deployment.h); reports and
/// queries tell training and deployment runs apart by it.
inline constexpr std::string_view kHeldOutRunSuffix = ":held-out";
/// `<experiment>:held-out`.
inline std::string HeldOutRunName(std::string_view experiment) {
  return std::string(experiment) + std::string(kHeldOutRunSuffix);
}
/// Whether `run_name` names a held-out deployment run.
inline bool IsHeldOutRun(std::string_view run_name) { return run_name.ends_with(kHeldOutRunSuffix); }
/// The status of a run that a later one replaces (a held-out deployment that `run --resume`
/// redid); reports leave such runs out.
inline constexpr std::string_view kSupersededStatus = "superseded";

}  // namespace metajoule::ledger
