#include "network/network_config.h"

#include <array>
#include <cmath>
#include <string>
#include <utility>

namespace metajoule::network {
namespace {

constexpr std::array<std::pair<std::string_view, Transport>, 3> kTransportNames{{
    {"emulated", Transport::kEmulated},
    {"inproc", Transport::kInproc},
    {"tcp", Transport::kTcp},
}};

}  // namespace

std::span<const std::pair<std::string_view, Transport>> EnumNames(Transport) {
  return kTransportNames;
}

std::string_view ToString(Transport transport) {
  for (const auto& [name, value] : kTransportNames) {
    if (value == transport) return name;
  }
  return "unknown";
}

std::vector<FieldError> Validate(const NetworkConfig& config) {
  std::vector<FieldError> errors;
  auto add = [&errors](const char* prefix, std::vector<FieldError> part) {
    for (FieldError& error : part) {
      errors.push_back({std::string(prefix) + "." + error.key, std::move(error.message)});
    }
  };
  auto positive = [&errors](const char* key, double value) {
    // at most a week, so that the deadline fits a millisecond count
    if (!(std::isfinite(value) && value > 0.0 && value <= 604800.0)) {
      errors.push_back({key, "must be a number of seconds in (0, 604800], got " +
                                 std::to_string(value)});
    }
  };
  positive("round_timeout_s", config.round_timeout_s);
  positive("join_timeout_s", config.join_timeout_s);
  add("links", Validate(config.links));
  add("topology", Validate(config.topology));
  add("channel", Validate(config.channel));
  return errors;
}

}  // namespace metajoule::network
