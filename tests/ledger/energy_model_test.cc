#include "ledger/energy_model.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <doctest/doctest.h>

namespace metajoule::ledger {
namespace {

bool HasKey(const std::vector<FieldError>& errors, const std::string& key) {
  return std::any_of(errors.begin(), errors.end(), [&](const FieldError& e) { return e.key == key; });
}

const FieldError* Find(const std::vector<FieldError>& errors, const std::string& key) {
  for (const auto& error : errors) {
    if (error.key == key) return &error;
  }
  return nullptr;
}

DeviceProfile TestDevice() {
  return {"test", 20.0, 4.0, 1.5, 0.5, 1e9, 1e4, "test"};
}

TEST_SUITE("ledger/energy_model") {
  TEST_CASE("the built-in tables are valid and every entry names its source") {
    for (const auto& device : BuiltinDeviceProfiles()) {
      CHECK(Validate(device).empty());
      CHECK_FALSE(device.source.empty());
    }
    for (const auto& location : BuiltinGridLocations()) {
      CHECK(Validate(location).empty());
      CHECK(location.source.find("Ember") != std::string::npos);
    }
    CHECK(Validate(EnergyModelConfig{}).empty());
    CHECK_NOTHROW(EnergyModel{});
  }

  TEST_CASE("modelled compute energy is PUE x P x (steps / steps_per_s + flops / flops_per_s)") {
    const DeviceProfile device = TestDevice();
    // t = 5000 / 1e4 + 2e9 / 1e9 = 2.5 s; E = 1.5 × 20 × 2.5 = 75 J
    CHECK(ModelledDeviceSeconds(device, 5000, 2e9) == doctest::Approx(2.5).epsilon(1e-15));
    CHECK(ComputeEnergyJ(device, 2.5) == doctest::Approx(75.0).epsilon(1e-15));
    // idle adds PUE × P_idle × t_idle = 1.5 × 4 × 1 = 6 J
    CHECK(ComputeEnergyJ(device, 2.5, 1.0) == doctest::Approx(81.0).epsilon(1e-15));
    // cputime: t = cpu / speed = 3 / 0.5 = 6 s
    CHECK(CputimeDeviceSeconds(device, 3.0) == doctest::Approx(6.0).epsilon(1e-15));
  }

  TEST_CASE("comm energy is bits over bit/J and carbon is kWh x intensity") {
    CHECK(CommEnergyJ(1e6, 50e3) == 20.0);
    // 3.6e6 J = 1 kWh at 481 g/kWh
    CHECK(CarbonGrams(3.6e6, 481.0) == doctest::Approx(481.0).epsilon(1e-15));
  }

  TEST_CASE("Price fills energy, source and carbon for compute and comm events") {
    EnergyModelConfig config;
    config.devices.push_back(TestDevice());
    config.locations.push_back({"lab", 100.0, "test"});
    config.links.sidelink.efficiency_kbit_per_j = 200.0;
    const EnergyModel model(config);
    const NodePricing node = model.ForNode("test", "lab");

    Event compute;
    compute.sim_steps = 5000;
    compute.flops = 2e9;
    compute.cpu_seconds = 3.0;
    model.Price(node, EnergySource::kModelled, compute);
    CHECK(compute.energy_j == doctest::Approx(75.0).epsilon(1e-15));
    CHECK(compute.source == EnergySource::kModelled);
    CHECK(compute.gco2e == doctest::Approx(75.0 / 3.6e6 * 100.0).epsilon(1e-15));

    model.Price(node, EnergySource::kCputime, compute);
    CHECK(compute.energy_j == doctest::Approx(1.5 * 20.0 * 6.0).epsilon(1e-15));
    CHECK(compute.source == EnergySource::kCputime);

    model.Price(node, EnergySource::kRapl, compute, 10.0);
    CHECK(compute.energy_j == doctest::Approx(15.0).epsilon(1e-15));
    CHECK(compute.source == EnergySource::kRapl);
    CHECK_THROWS_AS(model.Price(node, EnergySource::kRapl, compute), std::invalid_argument);

    Event comm;
    comm.kind = EventKind::kComm;
    comm.link = LinkKind::kSidelink;
    comm.bits_on_air = 400'000;
    model.Price(node, EnergySource::kCputime, comm);
    CHECK(comm.energy_j == 2.0);  // 400 kbit at 200 kbit/J
    CHECK(comm.source == EnergySource::kModelled);
    comm.link = LinkKind::kNone;
    CHECK_THROWS_AS(model.Price(node, EnergySource::kModelled, comm), std::invalid_argument);
  }

  TEST_CASE("charge_idle adds idle power over the wall time not spent computing") {
    EnergyModelConfig config;
    config.devices.push_back(TestDevice());
    config.charge_idle = true;
    const EnergyModel model(config);
    Event event;
    event.sim_steps = 10000;  // 1 s of device time
    event.wall_seconds = 3.0;
    model.Price(model.ForNode("test", "world"), EnergySource::kModelled, event);
    CHECK(event.energy_j == doctest::Approx(1.5 * (20.0 * 1.0 + 4.0 * 2.0)).epsilon(1e-15));
  }

  TEST_CASE("zero or negative power, PUE below 1 and zero efficiency are FieldErrors naming the key") {
    EnergyModelConfig config;
    DeviceProfile bad = TestDevice();
    bad.active_power_w = 0.0;
    bad.idle_power_w = -1.0;
    bad.pue = 0.9;
    bad.flops_per_s = -5.0;
    config.devices.push_back(TestDevice());
    config.devices.push_back(bad);
    config.links.uplink.efficiency_kbit_per_j = 0.0;
    config.links.sidelink.efficiency_kbit_per_j = -25.0;
    config.locations.push_back({"neg", -1.0, ""});
    const auto errors = Validate(config);
    CHECK(HasKey(errors, "devices[1].active_power_w"));
    CHECK(HasKey(errors, "devices[1].idle_power_w"));
    CHECK(HasKey(errors, "devices[1].pue"));
    CHECK(HasKey(errors, "devices[1].flops_per_s"));
    CHECK(HasKey(errors, "links.uplink.efficiency_kbit_per_j"));
    CHECK(HasKey(errors, "links.sidelink.efficiency_kbit_per_j"));
    CHECK(HasKey(errors, "locations[0].gco2e_per_kwh"));
    CHECK(HasKey(errors, "devices[1].name"));  // duplicate "test"
    CHECK_FALSE(HasKey(errors, "devices[0].active_power_w"));
    CHECK(Find(errors, "devices[1].active_power_w")->message.find("got 0") != std::string::npos);
    CHECK_THROWS_WITH_AS(EnergyModel{config}, doctest::Contains("devices[1].pue"),
                         std::invalid_argument);
  }

  TEST_CASE("an unknown default device or location lists the valid names") {
    EnergyModelConfig config;
    config.default_device = "toaster";
    config.default_location = "atlantis";
    const auto errors = Validate(config);
    const FieldError* device = Find(errors, "default_device");
    REQUIRE(device != nullptr);
    CHECK(device->message.find("\"toaster\"") != std::string::npos);
    CHECK(device->message.find("robot_board, laptop, host_cpu_core, edge_server, gpu_node") !=
          std::string::npos);
    const FieldError* location = Find(errors, "default_location");
    REQUIRE(location != nullptr);
    CHECK(location->message.find("world") != std::string::npos);
    CHECK(location->message.find("france") != std::string::npos);
  }

  TEST_CASE("an unknown device or location name at lookup lists the valid names") {
    const EnergyModel model;
    CHECK_THROWS_WITH_AS(model.Device("toaster"),
                         doctest::Contains("valid profiles: robot_board, laptop"),
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(model.ForNode("", "atlantis"),
                         doctest::Contains("valid locations: world, "), std::invalid_argument);
    CHECK(model.Device("").name == "robot_board");
    CHECK(model.Location("").name == "world");
  }

  TEST_CASE("config entries override built-ins by name and extend them otherwise") {
    EnergyModelConfig config;
    DeviceProfile gpu = TestDevice();
    gpu.name = "gpu_node";
    gpu.pue = 1.1;
    config.devices.push_back(gpu);
    config.locations.push_back({"italy", 300.0, "user"});
    const EnergyModel model(config);
    CHECK(model.Device("gpu_node").pue == 1.1);
    CHECK(model.devices().size() == BuiltinDeviceProfiles().size());
    CHECK(model.Location("italy").gco2e_per_kwh == 300.0);
    CHECK(model.locations().size() == BuiltinGridLocations().size() + 1);
  }

  TEST_CASE("ToText writes every resolved coefficient with round-trip precision") {
    EnergyModelConfig config;
    config.links.uplink.efficiency_kbit_per_j = 0.1;
    const std::string text = EnergyModel(config).ToText();
    CHECK(text.find("meter = \"modelled\"") != std::string::npos);
    CHECK(text.find("uplink = { efficiency_kbit_per_j = 0.1 }") != std::string::npos);
    CHECK(text.find("name = \"gpu_node\"") != std::string::npos);
    CHECK(text.find("gco2e_per_kwh = 481.0") != std::string::npos);
    CHECK(FormatDouble(0.1) == "0.1");
    CHECK(FormatDouble(50.0) == "50.0");
    CHECK(FormatDouble(5e12) == "5e+12");
  }

  TEST_CASE("enum names round-trip") {
    CHECK(Name(LinkKind::kSidelink) == "sidelink");
    CHECK(FromName<Phase>("aggregate") == Phase::kAggregate);
    CHECK_FALSE(FromName<EnergySource>("joulemeter").has_value());
  }
}

}  // namespace
}  // namespace metajoule::ledger
