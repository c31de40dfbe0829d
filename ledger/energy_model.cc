#include "ledger/energy_model.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace metajoule::ledger {
namespace {

// Built-in device profiles. Every figure and its source is listed in docs/ledger.md, "Device
// profiles"; "assumption" there marks figures that are ours rather than a publisher's.
const std::vector<DeviceProfile>& BuiltinDevices() {
  static const std::vector<DeviceProfile> kDevices = {
      {"robot_board", 10.0, 2.0, 1.0, 0.25, 5e9, 5e3,
       "Jetson Nano-class board: 10 W power mode (NVIDIA data sheet); idle, speed and "
       "throughputs are assumptions"},
      {"laptop", 28.0, 5.0, 1.0, 1.0, 2e10, 2e4,
       "28 W configurable TDP of a mobile Core i7 (Intel ARK); idle and throughputs are "
       "assumptions"},
      {"host_cpu_core", 10.0, 0.0, 1.0, 1.0, 2e10, 2e4,
       "one busy server core, ~10 W (assumption: a ~200 W package over ~20 cores)"},
      {"edge_server", 150.0, 60.0, 1.5, 2.0, 1e11, 4e4,
       "1-socket edge server: power, idle, speed and throughputs are assumptions; PUE 1.5 "
       "assumed near the Uptime Institute 2023 survey average (1.58)"},
      {"gpu_node", 400.0, 50.0, 1.58, 2.0, 5e12, 4e4,
       "one A100 SXM: 400 W TDP (NVIDIA data sheet); PUE 1.58 = Uptime Institute 2023 survey "
       "average; 5 TFLOP/s sustained (about 25% of FP32 peak) and idle are assumptions"},
  };
  return kDevices;
}

// Built-in grid intensities: Ember yearly electricity data, 2023 values (lifecycle gCO2e/kWh of
// generation), as published by Our World in Data's "carbon intensity of electricity" chart.
const std::vector<GridLocation>& BuiltinLocations() {
  static const std::string kEmber = "Ember yearly electricity data, 2023 (via Our World in Data)";
  static const std::vector<GridLocation> kLocations = {
      {"world", 481.0, kEmber},     {"austria", 111.0, kEmber},   {"australia", 549.0, kEmber},
      {"belgium", 138.0, kEmber},   {"brazil", 98.0, kEmber},     {"canada", 170.0, kEmber},
      {"china", 582.0, kEmber},     {"denmark", 152.0, kEmber},   {"finland", 79.0, kEmber},
      {"france", 56.0, kEmber},     {"germany", 381.0, kEmber},   {"india", 713.0, kEmber},
      {"norway", 30.0, kEmber},     {"poland", 662.0, kEmber},    {"sweden", 41.0, kEmber},
  };
  return kLocations;
}

void Prefix(const std::string& prefix, std::vector<FieldError> inner,
            std::vector<FieldError>& out) {
  for (auto& error : inner) out.push_back({prefix + "." + error.key, std::move(error.message)});
}

template <class T>
void Merge(const std::vector<T>& builtins, const std::vector<T>& extra, std::vector<T>& out) {
  out = builtins;
  for (const T& entry : extra) {
    auto it = std::find_if(out.begin(), out.end(), [&](const T& e) { return e.name == entry.name; });
    if (it != out.end()) {
      *it = entry;
    } else {
      out.push_back(entry);
    }
  }
}

template <class T>
std::vector<std::string> NamesOf(const std::vector<T>& entries) {
  std::vector<std::string> names;
  names.reserve(entries.size());
  for (const T& entry : entries) names.push_back(entry.name);
  return names;
}

template <class T>
void CheckUniqueNames(const char* key, const std::vector<T>& entries,
                      std::vector<FieldError>& errors) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (entries[i].name == entries[j].name) {
        errors.push_back({std::string(key) + "[" + std::to_string(i) + "].name",
                          "duplicate name \"" + entries[i].name + "\""});
      }
    }
  }
}

std::string Positive(const char* what, double value) {
  return std::string("must be > 0 ") + what + ", got " + FormatDouble(value);
}

void AppendToml(std::string& out, std::string_view key, double value) {
  out.append(key).append(" = ").append(FormatDouble(value)).append("\n");
}

void AppendToml(std::string& out, std::string_view key, std::string_view value) {
  out.append(key).append(" = \"");
  for (const char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.append("\"\n");
}

}  // namespace

std::string FormatDouble(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, result.ptr);
  // keep TOML floats floats: "50" -> "50.0"
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

std::vector<FieldError> Validate(const DeviceProfile& profile) {
  std::vector<FieldError> errors;
  if (profile.name.empty()) errors.push_back({"name", "every device profile needs a name"});
  if (!(profile.active_power_w > 0)) {
    errors.push_back({"active_power_w", Positive("(W)", profile.active_power_w)});
  }
  if (!(profile.idle_power_w >= 0)) {
    errors.push_back({"idle_power_w", "must be >= 0 (W), got " + FormatDouble(profile.idle_power_w)});
  }
  if (!(profile.pue >= 1)) {
    errors.push_back({"pue", "must be >= 1 (facility energy / IT energy), got " +
                                 FormatDouble(profile.pue)});
  }
  if (!(profile.speed_vs_host > 0)) {
    errors.push_back({"speed_vs_host", Positive("(device speed / host speed)", profile.speed_vs_host)});
  }
  if (!(profile.flops_per_s > 0)) {
    errors.push_back({"flops_per_s", Positive("(FLOP/s)", profile.flops_per_s)});
  }
  if (!(profile.sim_steps_per_s > 0)) {
    errors.push_back({"sim_steps_per_s", Positive("(steps/s)", profile.sim_steps_per_s)});
  }
  return errors;
}

std::vector<FieldError> Validate(const GridLocation& location) {
  std::vector<FieldError> errors;
  if (location.name.empty()) errors.push_back({"name", "every location needs a name"});
  if (!(location.gco2e_per_kwh >= 0)) {
    errors.push_back({"gco2e_per_kwh", "must be >= 0 (gCO2e/kWh), got " +
                                           FormatDouble(location.gco2e_per_kwh)});
  }
  return errors;
}

std::vector<FieldError> Validate(const LinkEfficiency& link) {
  std::vector<FieldError> errors;
  if (!(link.efficiency_kbit_per_j > 0)) {
    errors.push_back({"efficiency_kbit_per_j", Positive("(kbit/J)", link.efficiency_kbit_per_j)});
  }
  return errors;
}

std::vector<FieldError> Validate(const LinksConfig& links) {
  std::vector<FieldError> errors;
  Prefix("uplink", Validate(links.uplink), errors);
  Prefix("downlink", Validate(links.downlink), errors);
  Prefix("sidelink", Validate(links.sidelink), errors);
  return errors;
}

std::vector<FieldError> Validate(const ClusterLinkEfficiency& link) {
  std::vector<FieldError> errors;
  if (link.cluster.empty()) errors.push_back({"cluster", "must name a cluster"});
  const std::pair<const char*, const std::optional<double>*> kinds[] = {
      {"uplink_kbit_per_j", &link.uplink_kbit_per_j},
      {"downlink_kbit_per_j", &link.downlink_kbit_per_j},
      {"sidelink_kbit_per_j", &link.sidelink_kbit_per_j}};
  for (const auto& [key, value] : kinds) {
    if (*value && !(**value > 0 && std::isfinite(**value))) {
      errors.push_back({key, Positive("(kbit/J)", **value)});
    }
  }
  return errors;
}

std::string_view LinkCluster(std::string_view transmitter_cluster,
                             std::string_view receiver_cluster) {
  return transmitter_cluster.empty() ? receiver_cluster : transmitter_cluster;
}

std::vector<FieldError> Validate(const EnergyModelConfig& config) {
  std::vector<FieldError> errors;
  Prefix("links", Validate(config.links), errors);
  for (std::size_t i = 0; i < config.cluster_links.size(); ++i) {
    const std::string key = "cluster_links[" + std::to_string(i) + "]";
    Prefix(key, Validate(config.cluster_links[i]), errors);
    for (std::size_t j = 0; j < i; ++j) {
      if (config.cluster_links[j].cluster == config.cluster_links[i].cluster) {
        errors.push_back({key + ".cluster",
                          "duplicate cluster \"" + config.cluster_links[i].cluster + "\""});
      }
    }
  }
  for (std::size_t i = 0; i < config.devices.size(); ++i) {
    Prefix("devices[" + std::to_string(i) + "]", Validate(config.devices[i]), errors);
  }
  for (std::size_t i = 0; i < config.locations.size(); ++i) {
    Prefix("locations[" + std::to_string(i) + "]", Validate(config.locations[i]), errors);
  }
  CheckUniqueNames("devices", config.devices, errors);
  CheckUniqueNames("locations", config.locations, errors);

  // default names must exist in the merged tables
  std::vector<DeviceProfile> devices;
  Merge(BuiltinDevices(), config.devices, devices);
  std::vector<GridLocation> locations;
  Merge(BuiltinLocations(), config.locations, locations);
  const auto device_names = NamesOf(devices);
  if (std::find(device_names.begin(), device_names.end(), config.default_device) ==
      device_names.end()) {
    errors.push_back({"default_device", "unknown device profile \"" + config.default_device +
                                            "\"; valid profiles: " + JoinNames(device_names)});
  }
  const auto location_names = NamesOf(locations);
  if (std::find(location_names.begin(), location_names.end(), config.default_location) ==
      location_names.end()) {
    errors.push_back({"default_location", "unknown location \"" + config.default_location +
                                              "\"; valid locations: " + JoinNames(location_names)});
  }
  return errors;
}

std::vector<DeviceProfile> BuiltinDeviceProfiles() { return BuiltinDevices(); }
std::vector<GridLocation> BuiltinGridLocations() { return BuiltinLocations(); }

double ModelledDeviceSeconds(const DeviceProfile& device, std::int64_t sim_steps, double flops) {
  return static_cast<double>(sim_steps) / device.sim_steps_per_s + flops / device.flops_per_s;
}

double CputimeDeviceSeconds(const DeviceProfile& device, double cpu_seconds) {
  return cpu_seconds / device.speed_vs_host;
}

double ComputeEnergyJ(const DeviceProfile& device, double device_seconds, double idle_seconds) {
  return device.pue *
         (device.active_power_w * device_seconds + device.idle_power_w * idle_seconds);
}

double CommEnergyJ(double bits_on_air, double efficiency_bit_per_j) {
  return bits_on_air / efficiency_bit_per_j;
}

double CarbonGrams(double joules, double gco2e_per_kwh) {
  return joules / kJoulesPerKwh * gco2e_per_kwh;
}

EnergyModel::EnergyModel(EnergyModelConfig config) : config_(std::move(config)) {
  const std::vector<FieldError> errors = Validate(config_);
  if (!errors.empty()) {
    std::string message = "invalid energy model: ";
    for (std::size_t i = 0; i < errors.size(); ++i) {
      if (i > 0) message += "; ";
      message += errors[i].key + ": " + errors[i].message;
    }
    throw std::invalid_argument(message);
  }
  Merge(BuiltinDevices(), config_.devices, devices_);
  Merge(BuiltinLocations(), config_.locations, locations_);
}

const DeviceProfile& EnergyModel::Device(std::string_view name) const {
  if (name.empty()) name = config_.default_device;
  for (const auto& device : devices_) {
    if (device.name == name) return device;
  }
  throw std::invalid_argument("unknown device profile \"" + std::string(name) +
                              "\"; valid profiles: " + JoinNames(DeviceNames()));
}

const GridLocation& EnergyModel::Location(std::string_view name) const {
  if (name.empty()) name = config_.default_location;
  for (const auto& location : locations_) {
    if (location.name == name) return location;
  }
  throw std::invalid_argument("unknown location \"" + std::string(name) +
                              "\"; valid locations: " + JoinNames(LocationNames()));
}

std::vector<std::string> EnergyModel::DeviceNames() const { return NamesOf(devices_); }
std::vector<std::string> EnergyModel::LocationNames() const { return NamesOf(locations_); }

double EnergyModel::LinkEfficiencyBitPerJ(LinkKind link, std::string_view cluster) const {
  if (!cluster.empty()) {
    for (const ClusterLinkEfficiency& entry : config_.cluster_links) {
      if (entry.cluster != cluster) continue;
      const std::optional<double>& value = link == LinkKind::kUplink     ? entry.uplink_kbit_per_j
                                           : link == LinkKind::kDownlink ? entry.downlink_kbit_per_j
                                                                         : entry.sidelink_kbit_per_j;
      if (link != LinkKind::kNone && value) return *value * 1e3;
    }
  }
  switch (link) {
    case LinkKind::kUplink: return config_.links.uplink.efficiency_kbit_per_j * 1e3;
    case LinkKind::kDownlink: return config_.links.downlink.efficiency_kbit_per_j * 1e3;
    case LinkKind::kSidelink: return config_.links.sidelink.efficiency_kbit_per_j * 1e3;
    case LinkKind::kNone: break;
  }
  throw std::invalid_argument("LinkEfficiencyBitPerJ: expected uplink, downlink or sidelink, "
                              "got none");
}

NodePricing EnergyModel::ForNode(std::string_view device, std::string_view location) const {
  return NodePricing{Device(device), Location(location)};
}

void EnergyModel::Price(const NodePricing& node, EnergySource compute_source, Event& event,
                        std::optional<double> measured_package_j,
                        std::string_view link_cluster) const {
  if (event.kind == EventKind::kComm) {
    // E = bits_on_air / EE_link (DESIGN.md "Energy model", communication), EE of the link that
    // carried the transfer
    event.energy_j = CommEnergyJ(static_cast<double>(event.bits_on_air),
                                 LinkEfficiencyBitPerJ(event.link, link_cluster));
    event.source = EnergySource::kModelled;
  } else {
    double device_seconds = 0.0;
    switch (compute_source) {
      case EnergySource::kModelled:
        device_seconds = ModelledDeviceSeconds(node.device, event.sim_steps, event.flops);
        break;
      case EnergySource::kCputime:
        device_seconds = CputimeDeviceSeconds(node.device, event.cpu_seconds);
        break;
      case EnergySource::kRapl:
        if (!measured_package_j) {
          throw std::invalid_argument("Price: source rapl expected a measured package energy, "
                                      "got none");
        }
        device_seconds = event.wall_seconds;
        break;
    }
    const double idle_seconds =
        config_.charge_idle ? std::max(0.0, event.wall_seconds - device_seconds) : 0.0;
    if (compute_source == EnergySource::kRapl) {
      // the package counter already includes active and idle power: E = PUE × E_package
      event.energy_j = node.device.pue * *measured_package_j;
    } else {
      // E = PUE × (P_active × t_e + P_idle × t_idle)
      event.energy_j = ComputeEnergyJ(node.device, device_seconds, idle_seconds);
    }
    event.source = compute_source;
  }
  // g = kWh × CI
  event.gco2e = CarbonGrams(event.energy_j, node.location.gco2e_per_kwh);
}

std::string EnergyModel::ToText() const {
  std::string out;
  AppendToml(out, "meter", Name(config_.meter));
  out.append("charge_idle = ").append(config_.charge_idle ? "true" : "false").append("\n");
  AppendToml(out, "default_device", config_.default_device);
  AppendToml(out, "default_location", config_.default_location);
  out.append("links = { uplink = { efficiency_kbit_per_j = ")
      .append(FormatDouble(config_.links.uplink.efficiency_kbit_per_j))
      .append(" }, downlink = { efficiency_kbit_per_j = ")
      .append(FormatDouble(config_.links.downlink.efficiency_kbit_per_j))
      .append(" }, sidelink = { efficiency_kbit_per_j = ")
      .append(FormatDouble(config_.links.sidelink.efficiency_kbit_per_j))
      .append(" } }\n");
  // per-cluster efficiencies only when there are some, so that runs without them keep the text
  if (!config_.cluster_links.empty()) {
    out.append("cluster_links = [");
    for (std::size_t i = 0; i < config_.cluster_links.size(); ++i) {
      const ClusterLinkEfficiency& entry = config_.cluster_links[i];
      out.append(i == 0 ? " { cluster = \"" : ", { cluster = \"").append(entry.cluster).append("\"");
      const std::pair<const char*, const std::optional<double>*> kinds[] = {
          {"uplink", &entry.uplink_kbit_per_j},
          {"downlink", &entry.downlink_kbit_per_j},
          {"sidelink", &entry.sidelink_kbit_per_j}};
      for (const auto& [kind, value] : kinds) {
        if (*value) {
          out.append(", ").append(kind).append(" = { efficiency_kbit_per_j = ")
              .append(FormatDouble(**value)).append(" }");
        }
      }
      out.append(" }");
    }
    out.append(" ]\n");
  }
  for (const auto& device : devices_) {
    out.append("\n[[devices]]\n");
    AppendToml(out, "name", device.name);
    AppendToml(out, "active_power_w", device.active_power_w);
    AppendToml(out, "idle_power_w", device.idle_power_w);
    AppendToml(out, "pue", device.pue);
    AppendToml(out, "speed_vs_host", device.speed_vs_host);
    AppendToml(out, "flops_per_s", device.flops_per_s);
    AppendToml(out, "sim_steps_per_s", device.sim_steps_per_s);
    AppendToml(out, "source", device.source);
  }
  for (const auto& location : locations_) {
    out.append("\n[[locations]]\n");
    AppendToml(out, "name", location.name);
    AppendToml(out, "gco2e_per_kwh", location.gco2e_per_kwh);
    AppendToml(out, "source", location.source);
  }
  return out;
}

}  // namespace metajoule::ledger
