#pragma once
// Meters: where the time or energy of a compute event comes from (DESIGN.md "Energy model").
//   modelled - nothing is measured; device time follows from the recorded work (deterministic);
//   cputime  - the calling thread's CPU time, clock_gettime(CLOCK_THREAD_CPUTIME_ID);
//   rapl     - Linux powercap package counters, /sys/class/powercap/intel-rapl:N/energy_uj
//              (AMD Zen packages appear under the same driver since Linux 5.8).
// A requested meter that is unavailable is never replaced silently: SelectMeter() warns loudly,
// and the selection (requested, used, why) is stored with the run (runs.meter_requested,
// runs.meter_status) while every event records the source actually used.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ledger/events.h"

namespace metajoule::ledger {

/// CPU time of the calling thread (s), CLOCK_THREAD_CPUTIME_ID.
double ThreadCpuSeconds();
/// CPU time of the whole process, user + system (s), getrusage(RUSAGE_SELF).
double ProcessCpuSeconds();
/// A monotonic clock (s), CLOCK_MONOTONIC.
double MonotonicSeconds();

/// µJ consumed between two readings of a counter that wraps to 0 after max_range_uj:
/// after − before, or (max_range_uj − before) + after when the counter wrapped (at most once).
std::uint64_t CounterDeltaMicrojoules(std::uint64_t before, std::uint64_t after,
                                      std::uint64_t max_range_uj);

/// One top-level powercap zone (a CPU package).
struct RaplZone {
  std::string directory{};  ///< e.g. /sys/class/powercap/intel-rapl:0
  std::string name{};       ///< content of its "name" file, e.g. "package-0"
  std::uint64_t max_energy_range_uj{0};
};

/// Reads the package energy counters under a powercap root. Only top-level zones named
/// "package-*" (or without a name file) are summed: sub-zones (core, uncore, dram) are parts of a
/// package and "psys" overlaps it. Stateless after Open, so safe to share between threads.
class RaplReader {
 public:
  /// Discovers readable zones under `root` (default /sys/class/powercap; tests pass a fake
  /// tree). Returns nullopt with the reason in *why_not when there is none.
  static std::optional<RaplReader> Open(const std::string& root, std::string* why_not);

  const std::vector<RaplZone>& zones() const { return zones_; }
  /// The raw counters (µJ), one per zone. Throws std::runtime_error when a read fails.
  std::vector<std::uint64_t> ReadMicrojoules() const;
  /// Joules between two readings of ReadMicrojoules(), summed over zones, wrap-around handled.
  double DeltaJoules(const std::vector<std::uint64_t>& before,
                     const std::vector<std::uint64_t>& after) const;

 private:
  explicit RaplReader(std::vector<RaplZone> zones) : zones_(std::move(zones)) {}
  std::vector<RaplZone> zones_;
};

/// Where the meters look.
struct MeterOptions {
  std::string powercap_root{"/sys/class/powercap"};
};

/// The outcome of asking for a meter.
struct MeterSelection {
  EnergySource requested{EnergySource::kModelled};
  EnergySource used{EnergySource::kModelled};  ///< kModelled when the requested one is missing
  bool available{true};   ///< whether `requested` could be used
  std::string status{};   ///< "ok", or why the requested meter is unavailable (for runs.meter_status)
};

/// Receives warnings; the default prints "warning: ..." to stderr.
using WarningSink = std::function<void(const std::string&)>;
void StderrWarning(const std::string& message);

/// Probes the requested meter. When it is unavailable, `warn` receives a loud message naming
/// the meter, the reason and the replacement, and the selection says so (available = false,
/// used = kModelled, status = reason). Never throws for an unavailable meter.
MeterSelection SelectMeter(EnergySource requested, const MeterOptions& options = {},
                           const WarningSink& warn = StderrWarning);

/// A reading taken at the start of an event.
struct MeterSample {
  double thread_cpu_s{0.0};
  double wall_s{0.0};
  std::vector<std::uint64_t> rapl_uj{};
};

/// What a meter measured over an event.
struct Measurement {
  double cpu_seconds{0.0};
  double wall_seconds{0.0};
  std::optional<double> package_j{};  ///< RAPL package joules, when the rapl meter is used
};

/// Measures events on the calling thread: Start() before the work, Stop() after it, on the same
/// thread. CPU and wall time are always measured (they are raw work the ledger keeps); package
/// energy only when the selection uses RAPL. Note that RAPL counts the whole package, so with
/// several busy threads each event's figure includes the others' energy (docs/ledger.md).
class Meter {
 public:
  explicit Meter(MeterSelection selection, const MeterOptions& options = {});
  const MeterSelection& selection() const { return selection_; }
  MeterSample Start() const;
  Measurement Stop(const MeterSample& start) const;

 private:
  MeterSelection selection_;
  std::optional<RaplReader> rapl_;
};

}  // namespace metajoule::ledger
