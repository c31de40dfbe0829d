#pragma once
// The energy and carbon model (DESIGN.md "Energy model"; docs/ledger.md has every default with
// its source). Every coefficient is a config input; the built-in tables are documented defaults
// that a [ledger.energy] table can override or extend.
//
//   compute:  E = PUE × P_active × t_e            [J]     (+ PUE × P_idle × t_idle, if charged)
//             t_e = sim_steps / sim_steps_per_s + flops / flops_per_s     (meter "modelled")
//             t_e = cpu_seconds / speed_vs_host                           (meter "cputime")
//             E   = PUE × E_package                                      (meter "rapl")
//   comm:     E = bits_on_air / EE_link,  EE_link = efficiency_kbit_per_j × 1000   [bit/J]
//   carbon:   g = E / 3.6e6 × CI(location)   [gCO2e], CI in gCO2e/kWh

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "ledger/events.h"

namespace metajoule::ledger {

/// Joules in one kilowatt-hour.
inline constexpr double kJoulesPerKwh = 3.6e6;

/// A compute device: what one node's computation costs. All fields are required when a profile
/// is given in a config (an entry with a built-in name replaces that profile entirely).
struct DeviceProfile {
  std::string name{};
  double active_power_w{0.0};   ///< power drawn while computing (W), > 0
  double idle_power_w{0.0};     ///< power while idle (W), >= 0; charged only with charge_idle
  double pue{1.0};              ///< power usage effectiveness of the facility, >= 1
  double speed_vs_host{1.0};    ///< device speed / host speed; cputime meter: t = cpu_s / speed
  double flops_per_s{0.0};      ///< sustained policy-math throughput (FLOP/s), > 0
  double sim_steps_per_s{0.0};  ///< sustained MuJoCo steps per second, > 0
  std::string source{};         ///< where the figures come from (free text)
  template <class V>
  void Visit(V& v) {
    v("name", name);
    v("active_power_w", active_power_w);
    v("idle_power_w", idle_power_w);
    v("pue", pue);
    v("speed_vs_host", speed_vs_host);
    v("flops_per_s", flops_per_s);
    v("sim_steps_per_s", sim_steps_per_s);
    v("source", source);
  }
};

/// A grid location and its average carbon intensity.
struct GridLocation {
  std::string name{};
  double gco2e_per_kwh{0.0};  ///< gCO2e per kWh consumed, >= 0
  std::string source{};       ///< publisher and year of the figure
  template <class V>
  void Visit(V& v) {
    v("name", name);
    v("gco2e_per_kwh", gco2e_per_kwh);
    v("source", source);
  }
};

/// Energy efficiency of one link kind, in kbit/J (the papers' operating points: 25, 50, 200).
struct LinkEfficiency {
  double efficiency_kbit_per_j{50.0};  ///< > 0; 50 kbit/J = 50,000 bit/J = 20 µJ/bit
  template <class V>
  void Visit(V& v) {
    v("efficiency_kbit_per_j", efficiency_kbit_per_j);
  }
};

/// Efficiencies of the three link kinds.
struct LinksConfig {
  LinkEfficiency uplink{};
  LinkEfficiency downlink{};
  LinkEfficiency sidelink{};
  template <class V>
  void Visit(V& v) {
    v("uplink", uplink);
    v("downlink", downlink);
    v("sidelink", sidelink);
  }
};

/// The link efficiencies of one cluster where they differ from LinksConfig, kbit/J (unset: the
/// link kind's base efficiency). Set by an experiment from [network.cluster_links].
struct ClusterLinkEfficiency {
  std::string cluster{};
  std::optional<double> uplink_kbit_per_j{};
  std::optional<double> downlink_kbit_per_j{};
  std::optional<double> sidelink_kbit_per_j{};
};

/// The cluster whose link carried a transfer, which prices it (docs/ledger.md, "Endpoints"):
/// the transmitter's cluster, or the receiver's when the transmitter is outside every cluster
/// (the server's downlink to an agent or a cell, a deployment neighbour's sidelink). Empty: the
/// base link of the kind.
std::string_view LinkCluster(std::string_view transmitter_cluster,
                             std::string_view receiver_cluster);

/// [ledger.energy]: every coefficient of the model.
struct EnergyModelConfig {
  /// Requested meter for compute energy: "modelled" (deterministic, default), "cputime", "rapl".
  EnergySource meter{EnergySource::kModelled};
  /// When true, compute events also pay PUE × P_idle × max(0, wall_seconds − t_e). Off by
  /// default because wall time is not deterministic.
  bool charge_idle{false};
  /// Profile and location of nodes that do not name their own.
  std::string default_device{"robot_board"};
  std::string default_location{"world"};
  LinksConfig links{};
  /// Per-cluster link efficiencies (not a key of [ledger.energy]: an experiment sets them from
  /// [network.cluster_links]); at most one entry per cluster.
  std::vector<ClusterLinkEfficiency> cluster_links{};
  /// Added to (or, by name, replacing) BuiltinDeviceProfiles().
  std::vector<DeviceProfile> devices{};
  /// Added to (or, by name, replacing) BuiltinGridLocations().
  std::vector<GridLocation> locations{};
  template <class V>
  void Visit(V& v) {
    v("meter", meter);
    v("charge_idle", charge_idle);
    v("default_device", default_device);
    v("default_location", default_location);
    // `links` is not a key of [ledger.energy]: an experiment sets it from the one place link
    // efficiencies live, [network.links.<kind>.efficiency_kbit_per_j] (docs/config.md).
    v("devices", devices);
    v("locations", locations);
  }
};

/// Semantic checks; keys are relative to the struct ("devices[1].pue",
/// "links.uplink.efficiency_kbit_per_j"). Unknown default names list the valid ones.
std::vector<FieldError> Validate(const DeviceProfile& profile);
std::vector<FieldError> Validate(const GridLocation& location);
std::vector<FieldError> Validate(const LinkEfficiency& link);
std::vector<FieldError> Validate(const LinksConfig& links);
std::vector<FieldError> Validate(const ClusterLinkEfficiency& link);
std::vector<FieldError> Validate(const EnergyModelConfig& config);

/// The documented default device profiles (docs/ledger.md, "Device profiles").
std::vector<DeviceProfile> BuiltinDeviceProfiles();
/// The documented default grid intensities (docs/ledger.md, "Grid carbon intensity").
std::vector<GridLocation> BuiltinGridLocations();

// ---- the formulas, as pure functions ------------------------------------------------------

/// Modelled device time (s): t_e = sim_steps / sim_steps_per_s + flops / flops_per_s.
double ModelledDeviceSeconds(const DeviceProfile& device, std::int64_t sim_steps, double flops);
/// Device time from host CPU time (s): t_e = cpu_seconds / speed_vs_host.
double CputimeDeviceSeconds(const DeviceProfile& device, double cpu_seconds);
/// Compute energy (J): E = PUE × (P_active × device_seconds + P_idle × idle_seconds).
double ComputeEnergyJ(const DeviceProfile& device, double device_seconds, double idle_seconds = 0);
/// Communication energy (J): E = bits_on_air / efficiency_bit_per_j.
double CommEnergyJ(double bits_on_air, double efficiency_bit_per_j);
/// Carbon (gCO2e): g = joules / 3.6e6 × gco2e_per_kwh.
double CarbonGrams(double joules, double gco2e_per_kwh);

/// What prices one node's events: its resolved device profile and grid location, and its
/// cluster (which link efficiencies its transfers pay, see LinkCluster).
struct NodePricing {
  DeviceProfile device{};
  GridLocation location{};
  std::string cluster{};
};

/// The resolved model: built-in tables merged with the config's entries. Immutable and safe to
/// share between threads.
class EnergyModel {
 public:
  /// Validates and resolves `config`. Throws std::invalid_argument listing every FieldError
  /// ("key: message; key: message") when the config is invalid.
  explicit EnergyModel(EnergyModelConfig config = {});

  const EnergyModelConfig& config() const { return config_; }
  const std::vector<DeviceProfile>& devices() const { return devices_; }
  const std::vector<GridLocation>& locations() const { return locations_; }

  /// The profile called `name` (empty = default_device). Throws std::invalid_argument
  /// "unknown device profile "x"; valid profiles: a, b, c".
  const DeviceProfile& Device(std::string_view name) const;
  /// The location called `name` (empty = default_location). Throws std::invalid_argument
  /// listing the valid locations.
  const GridLocation& Location(std::string_view name) const;
  std::vector<std::string> DeviceNames() const;
  std::vector<std::string> LocationNames() const;

  /// Link efficiency in bit/J (config kbit/J × 1000) of the `link` of `cluster`: the cluster's
  /// override where cluster_links has one, else the base link's. Throws std::invalid_argument
  /// for kNone.
  double LinkEfficiencyBitPerJ(LinkKind link, std::string_view cluster = {}) const;

  /// Device and location of a node (empty names take the defaults); throws like Device().
  NodePricing ForNode(std::string_view device, std::string_view location) const;

  /// Fills event.energy_j, event.source and event.gco2e from its raw work.
  /// Compute events use `compute_source`: kModelled and kCputime follow the formulas above;
  /// kRapl needs `measured_package_j` (joules read from the counters over the event) and charges
  /// PUE × measured_package_j. Comm events are always kModelled and pay the efficiency of the
  /// `link_cluster`'s link (LinkCluster; empty: the base link). Throws std::invalid_argument
  /// for kRapl without a measurement or a comm event with link kNone.
  void Price(const NodePricing& node, EnergySource compute_source, Event& event,
             std::optional<double> measured_package_j = std::nullopt,
             std::string_view link_cluster = {}) const;

  /// Every resolved coefficient as TOML text (stored with each run, for traceability).
  std::string ToText() const;

 private:
  EnergyModelConfig config_;
  std::vector<DeviceProfile> devices_;
  std::vector<GridLocation> locations_;
};

/// Shortest decimal text that reads back to exactly `value` (std::to_chars).
std::string FormatDouble(double value);

}  // namespace metajoule::ledger
