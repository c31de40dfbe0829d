#pragma once
#include <string>
#include <vector>

namespace metajoule::sim {

/// Names of every registered task family, in registry order.
std::vector<std::string> TaskFamilyNames();

}  // namespace metajoule::sim
