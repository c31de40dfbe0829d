#include "ledger/meters.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace metajoule::ledger {
namespace {

double Seconds(const timespec& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// reads one unsigned decimal from a sysfs file; nullopt when unreadable or malformed
std::optional<std::uint64_t> ReadCounter(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::uint64_t value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

std::string ReadLine(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

double ThreadCpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return Seconds(t);
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

double MonotonicSeconds() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return Seconds(t);
}

std::uint64_t CounterDeltaMicrojoules(std::uint64_t before, std::uint64_t after,
                                      std::uint64_t max_range_uj) {
  if (after >= before) return after - before;
  // the counter passed max_energy_range_uj and restarted from 0
  return (max_range_uj - before) + after;
}

std::optional<RaplReader> RaplReader::Open(const std::string& root, std::string* why_not) {
  const auto fail = [&](std::string reason) {
    if (why_not != nullptr) *why_not = std::move(reason);
    return std::nullopt;
  };
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) {
    return fail(root + " does not exist (no powercap driver; e.g. a VM or a kernel without "
                       "CONFIG_INTEL_RAPL)");
  }
  // top-level package zones only: "intel-rapl:0", not "intel-rapl:0:0" (a part of package 0)
  static const std::regex kPackageZone(R"((intel-rapl|amd-rapl):[0-9]+)");
  std::vector<std::filesystem::path> candidates;
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    if (std::regex_match(entry.path().filename().string(), kPackageZone)) {
      candidates.push_back(entry.path());
    }
  }
  std::sort(candidates.begin(), candidates.end());
  if (candidates.empty()) return fail("no intel-rapl:N or amd-rapl:N zone under " + root);

  std::vector<RaplZone> zones;
  std::string problems;
  for (const auto& directory : candidates) {
    RaplZone zone;
    zone.directory = directory.string();
    zone.name = ReadLine(directory / "name");
    if (!zone.name.empty() && zone.name.rfind("package", 0) != 0) continue;  // psys overlaps
    const auto energy = ReadCounter(directory / "energy_uj");
    const auto range = ReadCounter(directory / "max_energy_range_uj");
    if (!energy) {
      problems += zone.directory + "/energy_uj is not readable (root-only since Linux 5.10); ";
      continue;
    }
    if (!range || *range == 0) {
      problems += zone.directory + "/max_energy_range_uj is missing or zero; ";
      continue;
    }
    zone.max_energy_range_uj = *range;
    zones.push_back(std::move(zone));
  }
  if (zones.empty()) {
    return fail(problems.empty() ? "no package zone under " + root : problems);
  }
  return RaplReader(std::move(zones));
}

std::vector<std::uint64_t> RaplReader::ReadMicrojoules() const {
  std::vector<std::uint64_t> values;
  values.reserve(zones_.size());
  for (const auto& zone : zones_) {
    const auto value = ReadCounter(std::filesystem::path(zone.directory) / "energy_uj");
    if (!value) throw std::runtime_error("cannot read " + zone.directory + "/energy_uj");
    values.push_back(*value);
  }
  return values;
}

double RaplReader::DeltaJoules(const std::vector<std::uint64_t>& before,
                               const std::vector<std::uint64_t>& after) const {
  if (before.size() != zones_.size() || after.size() != zones_.size()) {
    throw std::invalid_argument("RaplReader::DeltaJoules: expected " +
                                std::to_string(zones_.size()) + " readings, got " +
                                std::to_string(before.size()) + " and " +
                                std::to_string(after.size()));
  }
  std::uint64_t total_uj = 0;
  for (std::size_t i = 0; i < zones_.size(); ++i) {
    total_uj += CounterDeltaMicrojoules(before[i], after[i], zones_[i].max_energy_range_uj);
  }
  return static_cast<double>(total_uj) * 1e-6;
}

void StderrWarning(const std::string& message) {
  std::fprintf(stderr, "warning: %s\n", message.c_str());
  std::fflush(stderr);
}

MeterSelection SelectMeter(EnergySource requested, const MeterOptions& options,
                           const WarningSink& warn) {
  MeterSelection selection{requested, requested, true, "ok"};
  std::string why_not;
  switch (requested) {
    case EnergySource::kModelled:
      return selection;
    case EnergySource::kCputime: {
      timespec t{};
      if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) == 0) return selection;
      why_not = "CLOCK_THREAD_CPUTIME_ID is not supported";
      break;
    }
    case EnergySource::kRapl:
      if (RaplReader::Open(options.powercap_root, &why_not)) return selection;
      break;
  }
  selection.used = EnergySource::kModelled;
  selection.available = false;
  selection.status = "unavailable: " + why_not;
  if (warn) {
    warn("METER UNAVAILABLE: the requested meter \"" + std::string(Name(requested)) +
         "\" cannot be used (" + why_not +
         "). Compute energy will be MODELLED instead; every event records source \"modelled\" "
         "and the run records this fallback.");
  }
  return selection;
}

Meter::Meter(MeterSelection selection, const MeterOptions& options)
    : selection_(std::move(selection)) {
  if (selection_.used == EnergySource::kRapl) {
    std::string why_not;
    rapl_ = RaplReader::Open(options.powercap_root, &why_not);
    if (!rapl_) throw std::runtime_error("RAPL meter vanished after selection: " + why_not);
  }
}

MeterSample Meter::Start() const {
  MeterSample sample;
  if (rapl_) sample.rapl_uj = rapl_->ReadMicrojoules();
  sample.wall_s = MonotonicSeconds();
  sample.thread_cpu_s = ThreadCpuSeconds();
  return sample;
}

Measurement Meter::Stop(const MeterSample& start) const {
  Measurement measurement;
  measurement.cpu_seconds = ThreadCpuSeconds() - start.thread_cpu_s;
  measurement.wall_seconds = MonotonicSeconds() - start.wall_s;
  if (rapl_) measurement.package_j = rapl_->DeltaJoules(start.rapl_uj, rapl_->ReadMicrojoules());
  return measurement;
}

}  // namespace metajoule::ledger
