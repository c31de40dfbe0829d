// docs/config.md and the schema (the Visit lists) cannot drift apart: every key the loader
// accepts is documented, and every documented key is accepted.
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "experiments/experiment_config.h"
#include "experiments/toml_config.h"

namespace metajoule::experiments {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A schema key as the docs write it. Sub-tables that recur share one set of rows:
//   network.links.<kind>.x   for uplink, downlink and sidelink (and network.cluster_links[].<kind>.x);
//   <advantage>.x   for agents.vpg, agents.ppo, agents.trpo and meta advantage tables;
//   <adam>.x   for every Adam table (agents.vpg.adam, agents.ppo.adam, ...critic.adam).
std::string DocumentedForm(const std::string& key) {
  static const std::regex kLinks(R"(^network\.links\.(uplink|downlink|sidelink)\.)");
  static const std::regex kAdvantage(R"(^(agents\.(vpg|ppo|trpo)|meta)\.advantage\.)");
  static const std::regex kAdam(R"(^.*\.adam\.)");
  static const std::regex kClusterLinks(
      R"(^network\.cluster_links\[\]\.(uplink|downlink|sidelink)\.)");
  std::string form = std::regex_replace(key, kLinks, "network.links.<kind>.");
  form = std::regex_replace(form, kClusterLinks, "network.cluster_links[].<kind>.");
  form = std::regex_replace(form, kAdam, "<adam>.");
  return std::regex_replace(form, kAdvantage, "<advantage>.");
}

// Keys documented as the first cell of a table row: "| `a.b.c` | ...".
std::set<std::string> DocumentedKeys(const std::string& markdown) {
  std::set<std::string> keys;
  const std::regex row(R"(^\| `([a-z0-9_<>\[\]\.]+)` \|)", std::regex::multiline);
  for (auto it = std::sregex_iterator(markdown.begin(), markdown.end(), row);
       it != std::sregex_iterator(); ++it) {
    keys.insert((*it)[1].str());
  }
  return keys;
}

TEST_SUITE("experiments/config_reference") {
  TEST_CASE("docs/config.md documents exactly the keys the loader accepts") {
    const std::string doc = ReadFile(std::string(METAJOULE_SOURCE_DIR) + "/docs/config.md");
    REQUIRE(!doc.empty());
    const std::set<std::string> documented = DocumentedKeys(doc);
    std::vector<std::string> schema = ListKeys<ExperimentConfig>();
    for (std::string& key : schema) key = DocumentedForm(key);
    CHECK(schema.size() > 10);
    for (const std::string& key : schema) {
      INFO("schema key missing from docs/config.md: ", key);
      CHECK(documented.count(key) == 1);
    }
    const std::set<std::string> schema_set(schema.begin(), schema.end());
    CHECK(schema_set.size() < schema.size());  // the shared rows above are in use
    for (const std::string& key : documented) {
      INFO("docs/config.md documents a key the loader rejects: ", key);
      CHECK(schema_set.count(key) == 1);
    }
  }
}

}  // namespace
}  // namespace metajoule::experiments
