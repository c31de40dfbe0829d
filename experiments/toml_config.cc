#include "experiments/toml_config.h"

namespace metajoule::experiments {

SourceLocation LocationOf(const toml::source_region& source) {
  SourceLocation where;
  if (source.path) where.path = *source.path;
  if (where.path == "--set") return where;  // overrides: line and column say nothing
  where.line = source.begin.line;
  where.column = source.begin.column;
  return where;
}

void ThrowAt(const toml::source_region& source, const std::string& key, const std::string& message) {
  throw ConfigError(LocationOf(source), key, message);
}

std::string JoinKey(const std::string& prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  return prefix + "." + std::string(key);
}

namespace internal {

const toml::node* FindKey(const toml::table& table, std::string_view relative_key) {
  const toml::node* node = &table;
  std::string_view rest = relative_key;
  while (!rest.empty() && node != nullptr) {
    const std::size_t dot = rest.find('.');
    std::string_view part = rest.substr(0, dot);
    rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
    // "name[3]": a table key followed by an array index
    std::size_t index = std::string_view::npos;
    if (const std::size_t bracket = part.find('['); bracket != std::string_view::npos) {
      index = std::stoul(std::string(part.substr(bracket + 1)));
      part = part.substr(0, bracket);
    }
    const toml::table* as_table = node->as_table();
    node = as_table != nullptr ? as_table->get(part) : nullptr;
    if (node != nullptr && index != std::string_view::npos) {
      const toml::array* array = node->as_array();
      node = array != nullptr ? array->get(index) : nullptr;
    }
  }
  return node;
}

}  // namespace internal
}  // namespace metajoule::experiments
