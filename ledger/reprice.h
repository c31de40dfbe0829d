#pragma once
// Repricing: recompute every energy and carbon figure of a recorded run from its raw work under
// other device, link or grid parameters, without re-running it (`metajoule ledger reprice`).
//
// By default the result is a NEW run in the same ledger (runs.repriced_from points at the
// source run; nodes, events and evaluations are copied with new figures), so the measured
// original is never lost. `in_place` rewrites the source run's figures instead.
//
// Pricing runs inside SQLite: the C++ EnergyModel::Price is registered as an SQL function and
// applied by one INSERT ... SELECT (or UPDATE), so the figures are exactly those a live run would
// have recorded, and millions of events take seconds.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"

namespace metajoule::ledger {

/// What to reprice with.
struct RepriceOptions {
  /// The new coefficients. Its meter must be "modelled" or "cputime": a RAPL figure cannot be
  /// re-measured, so RAPL-measured events are recomputed from their raw work too.
  EnergyModelConfig energy{};
  /// Device profile renames applied to the run's nodes (old name -> new name), e.g.
  /// {"robot_board": "laptop"}: "what if the robots were laptops".
  std::map<std::string, std::string> device_map{};
  /// Location renames applied to the run's nodes (old -> new), e.g. {"world": "france"}.
  std::map<std::string, std::string> location_map{};
  /// Rewrite the source run instead of adding a repriced copy.
  bool in_place{false};
  /// Name of the new run; empty = "<source name> [repriced]".
  std::string new_name{};
};

/// What repricing did. Energies in J, carbon in gCO2e.
struct RepriceResult {
  std::int64_t run{0};  ///< the repriced run (the new copy, or the source when in place)
  std::int64_t events{0};
  double old_energy_j{0.0};
  double new_energy_j{0.0};
  double old_gco2e{0.0};
  double new_gco2e{0.0};
  double seconds{0.0};  ///< wall time of the repricing
};

/// Reprices `run` of `store` (flushing queued rows first). Throws std::invalid_argument for an
/// unknown run, an invalid energy config, meter "rapl", or a mapped/stored device or location
/// name that the new model does not know (the message lists the valid names); LedgerError for
/// database failures (the transaction is rolled back, the ledger left as it was).
RepriceResult RepriceRun(LedgerStore& store, std::int64_t run, const RepriceOptions& options);

}  // namespace metajoule::ledger
