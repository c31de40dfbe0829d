#include "ledger/meters.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/support/temp_dir.h"

namespace metajoule::ledger {
namespace {

// a fake /sys/class/powercap: writes <root>/<zone>/{name,energy_uj,max_energy_range_uj}
void WriteZone(const std::filesystem::path& root, const std::string& zone, const std::string& name,
               std::uint64_t energy_uj, std::uint64_t max_uj) {
  const auto directory = root / zone;
  std::filesystem::create_directories(directory);
  if (!name.empty()) std::ofstream(directory / "name") << name << "\n";
  std::ofstream(directory / "energy_uj") << energy_uj << "\n";
  std::ofstream(directory / "max_energy_range_uj") << max_uj << "\n";
}

void SetEnergy(const std::filesystem::path& root, const std::string& zone, std::uint64_t uj) {
  std::ofstream(root / zone / "energy_uj", std::ios::trunc) << uj << "\n";
}

TEST_SUITE("ledger/meters") {
  TEST_CASE("counter deltas handle wrap-around at max_energy_range_uj") {
    CHECK(CounterDeltaMicrojoules(100, 350, 1000) == 250);
    CHECK(CounterDeltaMicrojoules(900, 50, 1000) == 150);  // (1000 − 900) + 50
    CHECK(CounterDeltaMicrojoules(7, 7, 1000) == 0);
  }

  TEST_CASE("RAPL reads package zones of a fake sysfs tree and sums them across a wrap") {
    test::TempDir dir;
    const auto root = dir.path() / "powercap";
    constexpr std::uint64_t kMax = 262'143'328'850;  // a typical intel-rapl range (µJ)
    WriteZone(root, "intel-rapl:0", "package-0", kMax - 1'000'000, kMax);
    WriteZone(root, "intel-rapl:1", "package-1", 5'000'000, kMax);
    WriteZone(root, "intel-rapl:0:0", "core", 123, kMax);     // a sub-zone: not summed
    WriteZone(root, "intel-rapl:2", "psys", 999, kMax);       // overlaps the packages
    std::string why_not;
    const auto reader = RaplReader::Open(root.string(), &why_not);
    REQUIRE_MESSAGE(reader.has_value(), why_not);
    REQUIRE(reader->zones().size() == 2);
    CHECK(reader->zones()[0].name == "package-0");
    CHECK(reader->zones()[1].max_energy_range_uj == kMax);

    const auto before = reader->ReadMicrojoules();
    SetEnergy(root, "intel-rapl:0", 2'500'000);   // wrapped: 1 J to the top + 2.5 J
    SetEnergy(root, "intel-rapl:1", 7'000'000);   // +2 J
    const auto after = reader->ReadMicrojoules();
    CHECK(reader->DeltaJoules(before, after) == doctest::Approx(5.5).epsilon(1e-12));
    CHECK_THROWS_AS(reader->DeltaJoules(before, {1}), std::invalid_argument);
  }

  TEST_CASE("AMD zones are found too") {
    test::TempDir dir;
    WriteZone(dir.path(), "amd-rapl:0", "package-0", 10, 1000);
    std::string why_not;
    CHECK(RaplReader::Open(dir.path().string(), &why_not).has_value());
  }

  TEST_CASE("a Meter with RAPL reports package joules over an event") {
    test::TempDir dir;
    WriteZone(dir.path(), "intel-rapl:0", "package-0", 1'000'000, 10'000'000);
    MeterOptions options;
    options.powercap_root = dir.path().string();
    std::vector<std::string> warnings;
    const MeterSelection selection = SelectMeter(
        EnergySource::kRapl, options, [&](const std::string& w) { warnings.push_back(w); });
    CHECK(selection.available);
    CHECK(selection.used == EnergySource::kRapl);
    CHECK(warnings.empty());
    const Meter meter(selection, options);
    const MeterSample start = meter.Start();
    SetEnergy(dir.path(), "intel-rapl:0", 4'000'000);
    const Measurement measured = meter.Stop(start);
    REQUIRE(measured.package_j.has_value());
    CHECK(*measured.package_j == doctest::Approx(3.0));
    CHECK(measured.wall_seconds >= 0.0);
  }

  TEST_CASE("an unavailable RAPL meter is reported loudly and recorded, never silently replaced") {
    test::TempDir dir;
    std::vector<std::string> warnings;
    const auto warn = [&](const std::string& w) { warnings.push_back(w); };

    SUBCASE("no powercap directory (this VM)") {
      const MeterSelection s =
          SelectMeter(EnergySource::kRapl, {dir.File("absent")}, warn);
      CHECK_FALSE(s.available);
      CHECK(s.requested == EnergySource::kRapl);
      CHECK(s.used == EnergySource::kModelled);
      CHECK(s.status.find("unavailable: ") == 0);
      CHECK(s.status.find("does not exist") != std::string::npos);
    }
    SUBCASE("zones without a readable counter") {
      std::filesystem::create_directories(dir.path() / "intel-rapl:0");
      std::ofstream(dir.path() / "intel-rapl:0" / "max_energy_range_uj") << "1000\n";
      const MeterSelection s = SelectMeter(EnergySource::kRapl, {dir.path().string()}, warn);
      CHECK_FALSE(s.available);
      CHECK(s.status.find("energy_uj is not readable") != std::string::npos);
    }
    SUBCASE("no package zone") {
      const MeterSelection s = SelectMeter(EnergySource::kRapl, {dir.path().string()}, warn);
      CHECK_FALSE(s.available);
      CHECK(s.status.find("no intel-rapl:N or amd-rapl:N zone") != std::string::npos);
    }
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("METER UNAVAILABLE") == 0);
    CHECK(warnings[0].find("\"rapl\"") != std::string::npos);
    CHECK(warnings[0].find("MODELLED") != std::string::npos);
  }

  TEST_CASE("cputime and modelled meters are available without warnings") {
    std::vector<std::string> warnings;
    const auto warn = [&](const std::string& w) { warnings.push_back(w); };
    CHECK(SelectMeter(EnergySource::kCputime, {}, warn).used == EnergySource::kCputime);
    CHECK(SelectMeter(EnergySource::kModelled, {}, warn).status == "ok");
    CHECK(warnings.empty());
  }

  TEST_CASE("thread CPU time grows with work on the calling thread") {
    const Meter meter(SelectMeter(EnergySource::kCputime));
    const MeterSample start = meter.Start();
    volatile double sink = 0.0;
    for (int i = 0; i < 20'000'000; ++i) sink = sink + 1e-9 * i;
    const Measurement measured = meter.Stop(start);
    CHECK(measured.cpu_seconds > 0.0);
    CHECK(measured.cpu_seconds <= measured.wall_seconds + 0.01);
    CHECK_FALSE(measured.package_j.has_value());
    CHECK(ProcessCpuSeconds() >= measured.cpu_seconds);
  }
}

}  // namespace
}  // namespace metajoule::ledger
