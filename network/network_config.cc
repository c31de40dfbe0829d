#include "network/network_config.h"

#include <string>
#include <utility>

namespace metajoule::network {

std::vector<FieldError> Validate(const NetworkConfig& config) {
  std::vector<FieldError> errors;
  auto add = [&errors](const char* prefix, std::vector<FieldError> part) {
    for (FieldError& error : part) {
      errors.push_back({std::string(prefix) + "." + error.key, std::move(error.message)});
    }
  };
  add("links", Validate(config.links));
  add("topology", Validate(config.topology));
  add("channel", Validate(config.channel));
  return errors;
}

}  // namespace metajoule::network
