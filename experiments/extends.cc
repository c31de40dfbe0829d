#include "experiments/extends.h"

#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "common/error.h"
#include "experiments/toml_config.h"

namespace metajoule::experiments {
namespace {

namespace fs = std::filesystem;

// one file of an extends chain: its path as written in messages, and as compared for cycles
struct ChainLink {
  std::string shown;
  fs::path canonical;
};

fs::path Canonical(const fs::path& path) {
  std::error_code error;
  fs::path canonical = fs::weakly_canonical(path, error);
  return error ? fs::absolute(path).lexically_normal() : canonical;
}

toml::table ParseFile(const std::string& path) {
  try {
    return toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    SourceLocation where = LocationOf(error.source());
    if (where.path.empty()) where.path = path;
    throw ConfigError(where, "", std::string(error.description()));
  }
}

void Resolve(toml::table& document, const std::string& source_path, std::vector<ChainLink>& chain) {
  chain.push_back({source_path, Canonical(source_path)});
  const toml::node* extends = document.get(kExtendsKey);
  if (extends == nullptr) return;
  const std::string key(kExtendsKey);
  if (!extends->is_string()) {
    ThrowAt(extends->source(), key,
            "expected a string: the path of the base file, relative to this file");
  }
  const std::string named = *extends->value<std::string>();
  if (named.empty()) ThrowAt(extends->source(), key, "must not be empty");
  const fs::path base_path = fs::path(named).is_absolute()
                                 ? fs::path(named)
                                 : (fs::path(source_path).parent_path() / named).lexically_normal();
  const fs::path canonical = Canonical(base_path);
  for (const ChainLink& link : chain) {
    if (link.canonical != canonical) continue;
    std::string cycle;
    for (const ChainLink& each : chain) cycle += each.shown + " -> ";
    ThrowAt(
        extends->source(), key,
        "the chain of base files returns to a file it came from: " + cycle + base_path.string());
  }
  std::error_code error;
  if (!fs::is_regular_file(base_path, error)) {
    ThrowAt(extends->source(), key,
            "cannot read the base file \"" + named + "\" (looked for " + base_path.string() + ")");
  }

  toml::table base = ParseFile(base_path.string());
  Resolve(base, base_path.string(), chain);
  document.erase(kExtendsKey);
  MergeTables(base, std::move(document));
  document = std::move(base);
}

}  // namespace

void MergeTables(toml::table& base, toml::table&& overlay) {
  for (auto&& [key, node] : overlay) {
    toml::table* base_table = base.get_as<toml::table>(key.str());
    if (base_table != nullptr && node.is_table()) {
      MergeTables(*base_table, std::move(*node.as_table()));
      continue;
    }
    // erase first so the key, too, carries the overlay's source region
    base.erase(key.str());
    base.insert(toml::key(key), std::move(node));
  }
}

void ResolveExtends(toml::table& document, const std::string& source_path) {
  std::vector<ChainLink> chain;
  Resolve(document, source_path, chain);
}

toml::table ReadTomlFile(const std::string& path) {
  toml::table document = ParseFile(path);
  ResolveExtends(document, path);
  return document;
}

}  // namespace metajoule::experiments
