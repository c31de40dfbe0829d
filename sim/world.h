#pragma once
// sim::World: the immutable description every environment of one task family starts from (the
// "model" half of the model/workspace split, STYLE.md section 4). Environments copy its mjModel
// and apply their own task to the copy, so a World is never modified after construction and
// can be shared by any number of threads.

#include <string>
#include <string_view>

#include "sim/mujoco_handles.h"
#include "sim/task_family.h"

namespace metajoule::sim {

class World {
 public:
  /// The family's embedded model (sim/models/<family.model_file()>). Throws
  /// std::invalid_argument for an unknown family name (listing the valid ones).
  explicit World(std::string_view family_name);

  /// A family on a model given as MJCF text (tests, custom robots); `file_name` names it in
  /// messages. Throws ConfigError "file_name: <MuJoCo's message>" if MuJoCo rejects the text,
  /// or "file_name: the model has no site named ..." if the family cannot bind to it.
  World(std::string_view family_name, std::string_view xml, const std::string& file_name);

  World(const World&) = delete;
  World& operator=(const World&) = delete;
  World(World&&) = default;
  World& operator=(World&&) = default;

  const TaskFamily& family() const { return *family_; }
  const mjModel& model() const { return *model_; }
  const ModelIds& ids() const { return ids_; }
  /// The file name the model was loaded as (e.g. "reach2d.xml").
  const std::string& model_name() const { return model_name_; }
  /// FNV-1a hash of the MJCF text, stored in recordings to detect a changed model.
  std::uint64_t model_hash() const { return model_hash_; }

 private:
  const TaskFamily* family_;
  MjModelPtr model_;
  ModelIds ids_;
  std::string model_name_;
  std::uint64_t model_hash_{0};
};

/// The embedded MJCF text of `file_name` (e.g. "reach2d.xml"). Throws std::invalid_argument
/// listing the embedded files if there is none of that name.
std::string_view EmbeddedModelXml(std::string_view file_name);

/// FNV-1a 64-bit hash of `text`.
std::uint64_t HashText(std::string_view text);

}  // namespace metajoule::sim
