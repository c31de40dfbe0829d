#include "experiments/experiment_config.h"

#include <algorithm>
#include <memory>
#include <sstream>

#include "experiments/extends.h"
#include "experiments/toml_config.h"

namespace metajoule::experiments {

std::vector<FieldError> Validate(const ExperimentSection& config) {
  std::vector<FieldError> errors;
  if (config.name.empty()) errors.push_back({"name", "must not be empty"});
  for (const char c : config.name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    if (!ok) {
      errors.push_back({"name", "may hold only letters, digits, '-', '_' and '.' (it names a folder), got \"" +
                                    config.name + "\""});
      break;
    }
  }
  if (config.seed < 0) errors.push_back({"seed", "must be >= 0, got " + std::to_string(config.seed)});
  if (config.methods.empty()) errors.push_back({"methods", "list at least one method"});
  const std::vector<std::string> known = MethodNames();
  for (std::size_t i = 0; i < config.methods.size(); ++i) {
    const std::string& method = config.methods[i];
    if (std::find(known.begin(), known.end(), method) == known.end()) {
      errors.push_back({"methods[" + std::to_string(i) + "]",
                        "unknown method \"" + method + "\"; valid methods: " + JoinNames(known)});
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (config.methods[j] == method) {
        errors.push_back({"methods[" + std::to_string(i) + "]", "\"" + method + "\" is listed twice"});
      }
    }
  }
  if (config.output_dir.empty()) errors.push_back({"output_dir", "must not be empty"});
  return errors;
}

std::vector<std::string> MethodNames() {
  return {"random", "scratch", "maml", "fomaml", "reptile", "pretrained", "fedavg", "consensus"};
}

std::vector<FieldError> Validate(const MetaSection& section) {
  // only the fields of the table; the loader has validated the nested tables already
  meta::MetaConfig config = section.config;
  config.iterations = 1;
  config.meta_batch = 1;
  config.threads = 1;
  std::vector<FieldError> errors;
  for (FieldError& error : meta::Validate(config)) {
    if (error.key.find('.') == std::string::npos) errors.push_back(std::move(error));
  }
  return errors;
}

std::vector<FieldError> Validate(const TrainingSection& config) {
  std::vector<FieldError> errors;
  if (config.rounds < 1) errors.push_back({"rounds", "must be >= 1, got " + std::to_string(config.rounds)});
  if (config.checkpoint_every < 0) {
    errors.push_back({"checkpoint_every",
                      "must be >= 0 (0: no checkpoints), got " + std::to_string(config.checkpoint_every)});
  }
  return errors;
}

std::vector<FieldError> Validate(const EvaluationSection& config) {
  std::vector<FieldError> errors;
  if (config.held_out_tasks < 0) {
    errors.push_back({"held_out_tasks", "must be >= 0, got " + std::to_string(config.held_out_tasks)});
  }
  return errors;
}

std::vector<FieldError> Validate(const RecordingSection& config) {
  std::vector<FieldError> errors;
  if (config.agents < 0) {
    errors.push_back({"agents", "must be >= 0 (agents recorded per cluster), got " +
                                    std::to_string(config.agents)});
  }
  return errors;
}

ledger::EnergyModelConfig EnergyConfigOf(const ExperimentConfig& config) {
  ledger::EnergyModelConfig energy = config.ledger.energy;
  energy.links.uplink.efficiency_kbit_per_j = config.network.links.uplink.efficiency_kbit_per_j;
  energy.links.downlink.efficiency_kbit_per_j = config.network.links.downlink.efficiency_kbit_per_j;
  energy.links.sidelink.efficiency_kbit_per_j = config.network.links.sidelink.efficiency_kbit_per_j;
  // per-cluster efficiencies: only the clusters and kinds that override them
  for (const network::ClusterLinksConfig& entry : config.network.cluster_links) {
    ledger::ClusterLinkEfficiency efficiency;
    efficiency.cluster = entry.cluster;
    efficiency.uplink_kbit_per_j = entry.uplink.efficiency_kbit_per_j;
    efficiency.downlink_kbit_per_j = entry.downlink.efficiency_kbit_per_j;
    efficiency.sidelink_kbit_per_j = entry.sidelink.efficiency_kbit_per_j;
    if (efficiency.uplink_kbit_per_j || efficiency.downlink_kbit_per_j ||
        efficiency.sidelink_kbit_per_j) {
      energy.cluster_links.push_back(std::move(efficiency));
    }
  }
  return energy;
}

std::vector<FieldError> Validate(const RolloutSection& config) {
  std::vector<FieldError> errors;
  if (config.episodes < 1) {
    errors.push_back({"episodes", "must be >= 1, got " + std::to_string(config.episodes)});
  }
  return errors;
}

std::vector<FieldError> Validate(const ExperimentConfig& config) {
  std::vector<FieldError> errors;
  // which method runs on which topology (DESIGN.md "Topologies"): the server-based meta methods
  // on star or hierarchical, consensus on a mesh only; random and scratch anywhere
  const network::TopologyKind topology = config.network.topology.kind;
  std::string topology_name;
  for (const auto& [name, kind] : network::EnumNames(network::TopologyKind{})) {
    if (kind == topology) topology_name = name;
  }
  for (const std::string& method : config.experiment.methods) {
    if (method == "random" || method == "scratch") continue;
    if (method == "consensus" && topology != network::TopologyKind::kMesh) {
      errors.push_back({"network.topology.kind",
                        "method \"consensus\" runs on a mesh (models over sidelinks between "
                        "neighbours, no server), got \"" + topology_name + "\""});
    } else if (method != "consensus" && topology == network::TopologyKind::kMesh) {
      errors.push_back({"network.topology.kind",
                        "method \"" + method + "\" needs a server (topology \"star\" or "
                        "\"hierarchical\"); a mesh has none (use \"consensus\")"});
    }
  }
  // the TRPO outer step needs every agent's sampled batches at the server (for its KL-Hessian
  // products); the run's reports carry gradients, not batches (docs/meta.md "MAML-TRPO")
  if (config.meta.config.outer == meta::OuterStep::kTrpo) {
    errors.push_back({"meta.outer",
                      "\"trpo\" runs in the in-process meta study only so far (its step needs "
                      "every agent's batches at the server; run's reports carry gradients): use "
                      "\"gradient\""});
  }
  if (topology != network::TopologyKind::kStar) {
    std::vector<int> sizes;
    for (const sim::ClusterConfig& cluster : config.clusters) sizes.push_back(cluster.agents);
    // what the cluster sizes make impossible (the field ranges were checked with [network])
    const std::vector<FieldError> ranges = network::Validate(config.network.topology);
    for (FieldError& error : network::Validate(config.network.topology, sizes)) {
      const bool range = std::any_of(ranges.begin(), ranges.end(), [&](const FieldError& e) {
        return e.key == error.key && e.message == error.message;
      });
      if (!range) errors.push_back({"network.topology." + error.key, std::move(error.message)});
    }
  }
  if (config.clusters.empty()) {
    errors.push_back({"clusters", "at least one [[clusters]] table is required"});
  }
  // per-cluster link overrides name clusters of this experiment
  std::vector<std::string> cluster_names;
  for (const sim::ClusterConfig& cluster : config.clusters) cluster_names.push_back(cluster.name);
  for (std::size_t i = 0; i < config.network.cluster_links.size(); ++i) {
    const std::string& name = config.network.cluster_links[i].cluster;
    if (std::find(cluster_names.begin(), cluster_names.end(), name) == cluster_names.end()) {
      errors.push_back({"network.cluster_links[" + std::to_string(i) + "].cluster",
                        "unknown cluster \"" + name + "\"; clusters: " + JoinNames(cluster_names)});
    }
  }
  for (std::size_t i = 0; i < config.clusters.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (config.clusters[i].name == config.clusters[j].name) {
        errors.push_back({"clusters[" + std::to_string(i) + "].name",
                          "duplicate cluster name \"" + config.clusters[i].name + "\""});
      }
    }
  }
  return errors;
}

namespace {

constexpr std::string_view kOverrideSource = "--set";

toml::source_region OverrideRegion() {
  static const auto path = std::make_shared<const std::string>(kOverrideSource);
  toml::source_region region;
  region.path = path;
  return region;
}

// Applies one "dotted.key=value" override to the parsed document.
void ApplyOverride(toml::table& document, const std::string& text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError({std::string(kOverrideSource)}, text, "expected key=value");
  }
  const std::string key = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  toml::table parsed;
  try {
    parsed = toml::parse("value = " + value, kOverrideSource);
  } catch (const toml::parse_error& error) {
    throw ConfigError({std::string(kOverrideSource)}, key,
                      "cannot read \"" + value + "\" as a TOML value (strings need quotes): " +
                          std::string(error.description()));
  }

  // walk down the dotted path, creating tables that do not exist yet
  toml::table* table = &document;
  std::string_view rest = key;
  for (;;) {
    const std::size_t dot = rest.find('.');
    std::string part(rest.substr(0, dot));
    std::size_t index = std::string::npos;
    if (const std::size_t bracket = part.find('['); bracket != std::string::npos) {
      index = std::stoul(part.substr(bracket + 1));
      part = part.substr(0, bracket);
    }
    if (part.empty()) throw ConfigError({std::string(kOverrideSource)}, key, "empty key part");
    if (dot == std::string_view::npos) {
      if (index != std::string::npos) {
        throw ConfigError({std::string(kOverrideSource)}, key, "cannot override one array element");
      }
      table->insert_or_assign(toml::key(part, OverrideRegion()), std::move(*parsed.get("value")));
      return;
    }
    rest = rest.substr(dot + 1);
    toml::node* next = table->get(part);
    if (next == nullptr) {
      if (index != std::string::npos) {
        throw ConfigError({std::string(kOverrideSource)}, key, "no array \"" + part + "\" to index");
      }
      auto [it, inserted] = table->insert(toml::key(part, OverrideRegion()), toml::table{});
      next = &it->second;
    }
    if (index != std::string::npos) {
      toml::array* array = next->as_array();
      if (array == nullptr || index >= array->size()) {
        throw ConfigError({std::string(kOverrideSource)}, key, "index out of range");
      }
      next = array->get(index);
    }
    table = next->as_table();
    if (table == nullptr) {
      throw ConfigError({std::string(kOverrideSource)}, key, "\"" + part + "\" is not a table");
    }
  }
}

ExperimentConfig ReadDocument(toml::table& document, const std::vector<std::string>& overrides) {
  for (const auto& override_text : overrides) ApplyOverride(document, override_text);
  ExperimentConfig config;
  ReadTable(document, "", config);
  return config;
}

}  // namespace

ExperimentConfig ParseExperiment(std::string_view text, const std::string& source_name,
                                 const std::vector<std::string>& overrides) {
  toml::table document;
  try {
    document = toml::parse(text, source_name);
  } catch (const toml::parse_error& error) {
    throw ConfigError(LocationOf(error.source()), "", std::string(error.description()));
  }
  ResolveExtends(document, source_name);  // `extends = "base.toml"` (experiments/extends.h)
  return ReadDocument(document, overrides);
}

ExperimentConfig LoadExperiment(const std::string& path, const std::vector<std::string>& overrides) {
  toml::table document;
  try {
    document = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    SourceLocation where = LocationOf(error.source());
    if (where.path.empty()) where.path = path;
    throw ConfigError(where, "", std::string(error.description()));
  }
  ResolveExtends(document, path);  // `extends = "base.toml"` (experiments/extends.h)
  return ReadDocument(document, overrides);
}

std::string ResolvedToml(const ExperimentConfig& config) {
  std::ostringstream out;
  out << ToTable(config) << "\n";
  return out.str();
}

}  // namespace metajoule::experiments
