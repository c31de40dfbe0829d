#include "sim/task_family.h"

namespace metajoule::sim {

std::vector<std::string> TaskFamilyNames() {
  return {"reach2d", "reach3d", "nav2d", "runner_velocity", "runner_direction",
          "quadruped_direction"};
}

}  // namespace metajoule::sim
