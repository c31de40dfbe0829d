#include "agents/math/activations.h"

namespace metajoule::agents {

std::string_view ActivationName(Activation activation) {
  for (const auto& [name, value] : EnumNames(activation)) {
    if (value == activation) return name;
  }
  return "unknown";
}

}  // namespace metajoule::agents
