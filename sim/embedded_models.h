#pragma once
// The MJCF files of sim/models/, compiled into the library by sim/embed_models.cmake, so that
// `metajoule` runs from any directory without model files next to it.

#include <span>
#include <string_view>

namespace metajoule::sim {

/// One embedded MJCF file: its file name (e.g. "reach2d.xml") and its full text.
struct EmbeddedModel {
  std::string_view name;
  std::string_view xml;
};

/// Every file of sim/models/, in the order sim/CMakeLists.txt lists them.
std::span<const EmbeddedModel> EmbeddedModels();

}  // namespace metajoule::sim
