#pragma once
// The experiment file: what `metajoule run|check` reads (docs/config.md is its reference).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agents/agent_config.h"
#include "common/error.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "meta/meta_config.h"
#include "network/network_config.h"
#include "sim/task_config.h"

namespace metajoule::experiments {

/// [experiment]: identity of a run.
struct ExperimentSection {
  std::string name{"unnamed"};
  std::string description{};
  std::int64_t seed{1};  ///< base seed; every RNG of the run is derived from it
  /// Methods to run, each on the same clusters, tasks and seed (MethodNames() lists them).
  std::vector<std::string> methods{"random"};
  /// Run folders go to <output_dir>/<name>/<UTC time>-<seed>/.
  std::string output_dir{"runs"};
  template <class V>
  void Visit(V& v) {
    v("name", name);
    v("description", description);
    v("seed", seed);
    v("methods", methods);
    v("output_dir", output_dir);
  }
};
std::vector<FieldError> Validate(const ExperimentSection& config);

/// [rollout]: the random-policy rollout that `run` performs until learning is wired in.
struct RolloutSection {
  int episodes{2};  ///< episodes per agent
  template <class V>
  void Visit(V& v) {
    v("episodes", episodes);
  }
};
std::vector<FieldError> Validate(const RolloutSection& config);

/// [training]: the learning budget shared by every learning method.
struct TrainingSection {
  int rounds{20};  ///< learning rounds: updates per agent (scratch), meta-iterations (meta methods)
  /// Rounds between checkpoints for `run --resume` (experiments/checkpoint.h); 0: none (a
  /// resumed method then starts over). The last round is always checkpointed when > 0.
  int checkpoint_every{1};
  template <class V>
  void Visit(V& v) {
    v("rounds", rounds);
    v("checkpoint_every", checkpoint_every);
  }
};
std::vector<FieldError> Validate(const TrainingSection& config);

/// [evaluation]: what `run` measures after training (docs/config.md, "Evaluation"). Every
/// trained meta-model is deployed to held-out tasks of its cluster (new agents that join after
/// training) and adapted there with meta.eval's steps; energy-to-target and the lifecycle
/// break-even against scratch are measured against target_return.
struct EvaluationSection {
  int held_out_tasks{4};  ///< new tasks per cluster; 0 skips the deployment
  /// Mean episode return that counts as learned; without it, no energy-to-target is reported.
  std::optional<double> target_return{};
  template <class V>
  void Visit(V& v) {
    v("held_out_tasks", held_out_tasks);
    v("target_return", target_return);
  }
};
std::vector<FieldError> Validate(const EvaluationSection& config);

/// Which episodes `run` records for replay (docs/replay.md, "Episodes of a run").
enum class EpisodeCapture : std::uint8_t { kNone, kFinal };
constexpr std::array<std::pair<std::string_view, EpisodeCapture>, 2> EnumNames(EpisodeCapture) {
  return {{{"none", EpisodeCapture::kNone}, {"final", EpisodeCapture::kFinal}}};
}

/// [recording]: the episodes `run` writes into the run folder's episodes/ after each method has
/// trained (experiments/run_episodes.h). Recording is a replay artefact: its work is not charged
/// to the ledger.
struct RecordingSection {
  /// "final": the trained model of each recorded agent (meta methods: at theta and after each of
  /// meta.eval.adaptation_steps adaptation steps on the agent's task); "none": nothing.
  EpisodeCapture episodes{EpisodeCapture::kFinal};
  int agents{1};  ///< agents recorded per cluster (its first ones); 0: none
  /// The policy's mean action mu_theta(s) ("mean") or actions sampled from pi_theta ("sample").
  agents::EvaluationActions actions{agents::EvaluationActions::kMean};
  template <class V>
  void Visit(V& v) {
    v("episodes", episodes);
    v("agents", agents);
    v("actions", actions);
  }
};
std::vector<FieldError> Validate(const RecordingSection& config);

/// [meta]: the meta-learning settings (meta/meta_config.h, docs/meta.md) shared by every meta
/// method of experiment.methods. The keys that `run` sets itself are not part of the table:
/// `method` (from experiment.methods), `iterations` (training.rounds), `meta_batch` (every
/// agent of a cluster takes part in each round) and `threads` (sim.threads).
struct MetaSection {
  meta::MetaConfig config{};

  /// Forwards every field of MetaConfig but those `run` sets.
  template <class V>
  struct SkipRunKeys {
    V& inner;
    template <class T>
    void operator()(std::string_view key, T& field) {
      if (key == "method" || key == "iterations" || key == "meta_batch" || key == "threads") return;
      inner(key, field);
    }
  };
  template <class V>
  void Visit(V& v) {
    SkipRunKeys<V> filtered{v};
    config.Visit(filtered);
  }
};
std::vector<FieldError> Validate(const MetaSection& section);

/// [ledger]: how energy is priced and how the ledger database is written.
struct LedgerSection {
  ledger::EnergyModelConfig energy{};
  ledger::StoreOptions store{};
  template <class V>
  void Visit(V& v) {
    v("energy", energy);
    v("store", store);
  }
};

/// Methods an experiment may list, in the order they are documented.
std::vector<std::string> MethodNames();

/// The whole experiment file.
struct ExperimentConfig {
  ExperimentSection experiment{};
  sim::SimConfig sim{};
  RolloutSection rollout{};
  TrainingSection training{};
  agents::AgentsConfig agents{};
  MetaSection meta{};
  EvaluationSection evaluation{};
  RecordingSection recording{};
  std::vector<sim::ClusterConfig> clusters{};
  LedgerSection ledger{};
  network::NetworkConfig network{};
  template <class V>
  void Visit(V& v) {
    v("experiment", experiment);
    v("sim", sim);
    v("rollout", rollout);
    v("training", training);
    v("agents", agents);
    v("meta", meta);
    v("evaluation", evaluation);
    v("recording", recording);
    v("clusters", clusters);
    v("ledger", ledger);
    v("network", network);
  }
};

/// The energy model of a run: [ledger.energy] with the link efficiencies of [network.links].
ledger::EnergyModelConfig EnergyConfigOf(const ExperimentConfig& config);
std::vector<FieldError> Validate(const ExperimentConfig& config);

/// Loads and validates an experiment file. `overrides` are "dotted.key=value" strings, each value
/// written in TOML syntax (`sim.threads=2`, `experiment.name="x"`), applied before validation; an
/// override may add a key the file lacks but not a key the schema lacks. Throws ConfigError
/// ("file:line:col: key: message", or "--set: key: message" for an override).
ExperimentConfig LoadExperiment(const std::string& path,
                                const std::vector<std::string>& overrides = {});

/// The same, from TOML text; `source_name` stands for the file name in messages.
ExperimentConfig ParseExperiment(std::string_view text, const std::string& source_name,
                                 const std::vector<std::string>& overrides = {});

/// The fully resolved config (every field, defaults included) as TOML text.
std::string ResolvedToml(const ExperimentConfig& config);

}  // namespace metajoule::experiments
