#include "sim/world.h"

#include <stdexcept>
#include <vector>

#include "common/error.h"
#include "sim/embedded_models.h"

namespace metajoule::sim {

std::string_view EmbeddedModelXml(std::string_view file_name) {
  std::vector<std::string> names;
  for (const EmbeddedModel& model : EmbeddedModels()) {
    if (model.name == file_name) return model.xml;
    names.emplace_back(model.name);
  }
  throw std::invalid_argument("no embedded model \"" + std::string(file_name) +
                              "\"; embedded models: " + JoinNames(names));
}

std::uint64_t HashText(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a offset basis
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;  // FNV prime
  }
  return hash;
}

World::World(std::string_view family_name)
    : World(family_name, EmbeddedModelXml(FindTaskFamily(family_name).model_file()),
            std::string(FindTaskFamily(family_name).model_file())) {}

World::World(std::string_view family_name, std::string_view xml, const std::string& file_name)
    : family_(&FindTaskFamily(family_name)),
      model_(LoadModelFromXml(xml, file_name)),
      ids_(family_->Bind(*model_, file_name)),
      model_name_(file_name),
      model_hash_(HashText(xml)) {}

}  // namespace metajoule::sim
