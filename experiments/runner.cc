#include "experiments/runner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <vector>

#include "common/build_info.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "experiments/format.h"
#include "experiments/local_methods.h"
#include "experiments/meta_run.h"
#include "experiments/population.h"
#include "experiments/progress.h"
#include "experiments/run_episodes.h"
#include "experiments/run_folder.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/meters.h"
#include "ledger/queries.h"
#include "ledger/recorder.h"
#include "meta/meta_config.h"

namespace metajoule::experiments {
namespace {

// "%.4g" of a value, prefixed with ">" when it is only a lower bound, or "-" when unset
std::string Bound(std::optional<double> value, bool lower_bound) {
  if (!value) return "-";
  std::string text = lower_bound ? ">" : "";
  text += Format("%.4g", *value);
  return text;
}

// The lifecycle figures of every method against scratch's (DESIGN.md "Energy model",
// Metrics): E(N) = E_meta + N E_adapt against N E_scratch.
void AddLifecycle(RunSummary& summary) {
  const MethodSummary* scratch = summary.Find("scratch");
  const auto n = static_cast<double>(summary.lifecycle_tasks);
  for (MethodSummary& row : summary.methods) {
    if (!row.energy_to_target_per_task_j) continue;
    if (row.method == "scratch") {
      row.lifecycle_j = n * *row.energy_to_target_per_task_j;
      continue;
    }
    const ledger::LifecycleCosts costs{row.total_j(), *row.energy_to_target_per_task_j,
                                       scratch != nullptr && scratch->energy_to_target_per_task_j
                                           ? *scratch->energy_to_target_per_task_j
                                           : 0.0};
    row.lifecycle_j = ledger::MetaLifecycleJ(costs, n);
    // a break-even needs both targets reached: lower bounds would make it meaningless
    if (scratch != nullptr && scratch->target && scratch->target->reached && row.target &&
        row.target->reached) {
      row.break_even_tasks = ledger::BreakEvenTaskCount(costs);
    }
  }
}

void PrintTables(const RunSummary& summary, const ExperimentConfig& config, std::ostream& out) {
  out << "\n"
      << Format("%-12s %12s %12s %12s %12s %12s %12s %12s %9s\n", "method", "return", "compute J",
                "UL J", "DL J", "SL J", "total J", "gCO2e", "wall s");
  for (const MethodSummary& row : summary.methods) {
    out << Format("%-12s %12.3f %12.4g %12.4g %12.4g %12.4g %12.4g %12.4g %9.2f\n",
                  row.method.c_str(), row.mean_return, row.compute_j, row.uplink_j, row.downlink_j,
                  row.sidelink_j, row.total_j(), row.gco2e, row.wall_seconds);
  }
  out << "(training: return = mean over agents in the last round; energy of the whole training)\n";

  bool any_deployment = false;
  for (const MethodSummary& row : summary.methods) {
    any_deployment = any_deployment || row.deployment.has_value();
  }
  if (!any_deployment && !config.evaluation.target_return) return;
  const int steps = config.meta.config.eval.adaptation_steps;
  out << "\n" << Format("%-12s", "method");
  for (int s = 0; s <= steps; ++s) out << Format(" %10s", Format("step %d", s).c_str());
  out << Format(" %14s %14s %12s\n", "E-target/task", "E(N) J", "break-even N");
  for (const MethodSummary& row : summary.methods) {
    if (!row.deployment && !row.target) continue;
    out << Format("%-12s", row.method.c_str());
    for (int s = 0; s <= steps; ++s) {
      if (row.deployment) {
        out << Format(" %10.3f", row.deployment->mean_return[static_cast<std::size_t>(s)]);
      } else {
        out << Format(" %10s", s == 0 ? Format("%.3f", row.mean_return).c_str() : "");
      }
    }
    const bool bound = row.target && !row.target->reached;
    const std::string break_even = row.break_even_tasks ? std::to_string(*row.break_even_tasks)
                                   : row.method == "scratch" ? ""
                                                             : "-";
    out << Format(" %14s %14s %12s\n", Bound(row.energy_to_target_per_task_j, bound).c_str(),
                  Bound(row.lifecycle_j, bound).c_str(), break_even.c_str());
  }
  out << Format("(held-out: %d new tasks per cluster, mean return after each adaptation step; "
                "scratch: its training run's last round. ",
                config.evaluation.held_out_tasks);
  if (config.evaluation.target_return) {
    out << Format("Target return %.4g; N = %lld tasks; \">\": target not reached, a lower "
                  "bound)\n",
                  *config.evaluation.target_return,
                  static_cast<long long>(summary.lifecycle_tasks));
  } else {
    out << "No evaluation.target_return: no energy-to-target)\n";
  }
}

// The first line where two texts differ, as "line N: \"a\" vs \"b\"".
std::string FirstDifference(const std::string& a, const std::string& b) {
  std::size_t line = 1;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() || j < b.size()) {
    const std::size_t ei = std::min(a.find('\n', i), a.size());
    const std::size_t ej = std::min(b.find('\n', j), b.size());
    const std::string la = a.substr(i, ei - i);
    const std::string lb = b.substr(j, ej - j);
    if (la != lb) {
      return Format("line %zu: \"%s\" (now) vs \"%s\" (at the start)", line, la.c_str(),
                    lb.c_str());
    }
    i = ei + 1;
    j = ej + 1;
    ++line;
  }
  return "identical";
}

// The runs named `name` of `method` that earlier attempts of a resumed run left in `store`,
// oldest first (not repriced copies, not superseded ones).
std::vector<ledger::RunRecord> EarlierAttempts(const ledger::LedgerStore& store,
                                               const std::string& name, const std::string& method) {
  std::vector<ledger::RunRecord> attempts;
  for (ledger::RunRecord& record : store.Runs()) {
    if (record.info.name == name && record.info.method == method && !record.repriced_from &&
        record.status != ledger::kSupersededStatus) {
      attempts.push_back(std::move(record));
    }
  }
  std::sort(attempts.begin(), attempts.end(),
            [](const ledger::RunRecord& a, const ledger::RunRecord& b) { return a.id < b.id; });
  return attempts;
}

// A resumed run must continue with the config it started with: every run it stored holds it.
void CheckResumedConfig(const ledger::LedgerStore& store, const ExperimentConfig& config,
                        const RunFolder& folder) {
  const std::string now = ResolvedToml(config);
  for (const ledger::RunRecord& record : store.Runs()) {
    if (record.repriced_from || record.info.config_text.empty()) continue;
    if (record.info.config_text != now) {
      throw ConfigError({folder.config_file().string()}, "",
                        Format("the run was started with another config (ledger run %lld): %s; "
                               "--resume continues a run with its own config only",
                               static_cast<long long>(record.id),
                               FirstDifference(now, record.info.config_text).c_str()));
    }
  }
}

}  // namespace

const MethodSummary* RunSummary::Find(const std::string& method) const {
  for (const MethodSummary& row : methods) {
    if (row.method == method) return &row;
  }
  return nullptr;
}

RunSummary RunExperiment(const ExperimentConfig& config, std::ostream& out,
                         const RunHooks& hooks) {
  const ledger::EnergyModel model(EnergyConfigOf(config));
  Population population(config);
  const Population held_out = Population::HeldOut(config);
  for (const auto& node : population.nodes) model.ForNode(node.device, node.location);

  RunSummary summary;
  summary.lifecycle_tasks = static_cast<std::int64_t>(population.size());
  MJL_DEMAND(!hooks.resume || hooks.folder.has_value());
  const RunFolder folder = hooks.folder ? *hooks.folder : CreateRunFolder(config);
  summary.folder = folder.path;
  ledger::LedgerStore store(folder.ledger_file().string(), config.ledger.store);
  if (hooks.resume) CheckResumedConfig(store, config, folder);
  const ledger::MeterSelection meter_selection =
      ledger::SelectMeter(config.ledger.energy.meter, {}, ledger::StderrWarning);
  const ledger::Meter meter(meter_selection);
  ThreadPool pool(config.sim.threads);
  Progress progress(out, LiveProgressWanted(out));

  out << "run: " << config.experiment.name << " (seed " << config.experiment.seed << ", "
      << population.tasks.size() << " agents in " << config.clusters.size() << " clusters, "
      << pool.num_threads() << " threads)\n"
      << "run folder: " << folder.path.string() << (hooks.resume ? " (resumed)" : "") << "\n";

  for (const std::string& method : config.experiment.methods) {
    if (hooks.runs_method && !hooks.runs_method(method)) {
      out << "  " << method << ": " << hooks.skip_note << "\n";
      continue;
    }
    // resumed: the method's previous ledger run, truncated to its checkpoint's round
    const std::filesystem::path checkpoint_file = CheckpointPath(folder.path, method);
    std::optional<ledger::RunRecord> previous;
    std::optional<Checkpoint> checkpoint;
    if (hooks.resume) {
      std::vector<ledger::RunRecord> attempts =
          EarlierAttempts(store, config.experiment.name, method);
      if (!attempts.empty()) previous = std::move(attempts.back());
      std::error_code error;
      if (previous && std::filesystem::exists(checkpoint_file, error)) {
        checkpoint = ReadCheckpoint(checkpoint_file);
        if (checkpoint->method != method || checkpoint->ledger_run != previous->id) {
          throw ConfigError({checkpoint_file.string()}, "",
                            Format("belongs to ledger run %lld of method %s, not to run %lld of "
                                   "%s",
                                   static_cast<long long>(checkpoint->ledger_run),
                                   checkpoint->method.c_str(),
                                   static_cast<long long>(previous->id), method.c_str()));
        }
        // the rows come before the checkpoint; a ledger behind it lost rows (power loss with
        // ledger.store.durability = "normal"): the state cannot be matched to the ledger
        const std::vector<ledger::RoundBreakdown> rounds =
            ledger::QueryRoundBreakdown(store, previous->id);
        const std::int64_t last = rounds.empty() ? -1 : rounds.back().round;
        if (last < checkpoint->round) {
          throw ConfigError({checkpoint_file.string()}, "",
                            Format("is after round %lld, but ledger run %lld holds rows only "
                                   "through round %lld (rows lost with the machine's power?); "
                                   "this run cannot be resumed, start it again",
                                   static_cast<long long>(checkpoint->round),
                                   static_cast<long long>(previous->id),
                                   static_cast<long long>(last)));
        }
      }
    }
    std::optional<ledger::RunRecorder> recorder_slot;
    if (previous) {
      const std::int64_t keep = checkpoint ? checkpoint->round : -1;
      const std::int64_t dropped = store.TruncateRun(previous->id, keep);
      recorder_slot.emplace(store, model, previous->id, meter_selection);
      out << "  " << method << ": resumed ledger run " << previous->id << " ("
          << previous->status << ") "
          << (checkpoint ? "after round " + std::to_string(checkpoint->round)
                         : std::string("from its start (no checkpoint)"))
          << ", " << dropped << " later rows dropped\n";
    } else {
      ledger::RunInfo info;
      info.name = config.experiment.name;
      info.method = method;
      info.config_text = ResolvedToml(config);
      info.git_commit = kGitCommit;
      info.seed = config.experiment.seed;
      recorder_slot.emplace(store, model, info, meter_selection);
      recorder_slot->AddNode({0, "server", "", "edge_server", ""});
      for (const auto& node : population.nodes) recorder_slot->AddNode(node);
    }
    ledger::RunRecorder& recorder = *recorder_slot;
    MethodCheckpoints::Options checkpoint_options;
    checkpoint_options.file = checkpoint_file;
    checkpoint_options.method = method;
    checkpoint_options.ledger_run = recorder.run();
    checkpoint_options.every = config.training.checkpoint_every;
    checkpoint_options.sync = config.ledger.store.durability == ledger::Durability::kFull;
    checkpoint_options.commit = [&store] { store.Flush(); };
    checkpoint_options.before_write = hooks.before_checkpoint;
    MethodCheckpoints checkpoints(std::move(checkpoint_options), std::move(checkpoint));

    const double start = ledger::MonotonicSeconds();
    MethodSummary row;
    row.method = method;
    row.ledger_run = recorder.run();
    std::optional<MetaRunResult> trained;
    std::optional<ScratchResult> scratch;
    meta::MetaMethod meta_method{};
    try {
      if (method == "random") {
        row.mean_return = RunRandom(config, population, pool, recorder, meter, &checkpoints);
      } else if (method == "scratch") {
        scratch = RunScratch(config, population, pool, recorder, progress, &checkpoints);
        row.mean_return = scratch->mean_return;
      } else {
        bool found = false;
        for (const auto& [name, value] : meta::EnumNames(meta::MetaMethod{})) {
          if (name == method) {
            meta_method = value;
            found = true;
          }
        }
        MJL_DEMAND(found);  // Validate(ExperimentSection) admits only MethodNames()
        trained = hooks.train_meta ? hooks.train_meta(meta_method, population, pool, recorder,
                                                      meter, out, &checkpoints)
                                   : RunMeta(config, meta_method, population, pool, recorder,
                                             meter, out, &checkpoints);
        row.mean_return = trained->last_return;
      }
    } catch (...) {
      recorder.Finish("failed");
      throw;
    }
    recorder.Finish();
    row.wall_seconds = ledger::MonotonicSeconds() - start;
    row.ledger_seconds = recorder.recording_seconds();
    row.checkpoints = checkpoints.written();
    row.checkpoint_seconds = checkpoints.seconds();
    // replay episodes of what it trained ([recording]; not charged to the ledger)
    RecordMethodEpisodes(config, method, population, trained ? &*trained : nullptr, meta_method,
                         scratch ? &*scratch : nullptr, folder.path, pool, out);

    // every figure of the tables comes back from the ledger
    row.SetEnergy(ledger::QueryBreakdown(store, row.ledger_run));
    if (trained && held_out.size() > 0) {
      if (hooks.resume) {
        // a deployment of an earlier attempt (finished or not) is redone from the trained model
        for (const ledger::RunRecord& record :
             EarlierAttempts(store, ledger::HeldOutRunName(config.experiment.name), method)) {
          store.EndRun(record.id, ledger::kSupersededStatus);
        }
      }
      row.deployment = DeployToHeldOut(config, meta_method, population, *trained, held_out, pool,
                                       store, model, meter_selection, meter);
      row.target = row.deployment->target;
      row.energy_to_target_per_task_j = row.deployment->adapt_j_per_task();
      out << Format("  %s on %d held-out tasks: return %.3f at step 0, %.3f after %zu steps\n",
                    method.c_str(), row.deployment->tasks, row.deployment->mean_return.front(),
                    row.deployment->mean_return.back(), row.deployment->mean_return.size() - 1);
    }
    if (method == "scratch" && config.evaluation.target_return) {
      const std::vector<ledger::TargetResult> targets = ledger::QueryEnergyToTarget(
          store, row.ledger_run, *config.evaluation.target_return, 0);
      if (!targets.empty()) {
        row.target = targets.front();
        row.energy_to_target_per_task_j =
            row.target->energy_j / static_cast<double>(population.size());
      }
    }
    summary.methods.push_back(std::move(row));
  }
  AddLifecycle(summary);

  PrintTables(summary, config, out);
  double wall = 0.0;
  double ledger_time = 0.0;
  int checkpoint_count = 0;
  double checkpoint_time = 0.0;
  for (const MethodSummary& row : summary.methods) {
    wall += row.wall_seconds;
    ledger_time += row.ledger_seconds;
    checkpoint_count += row.checkpoints;
    checkpoint_time += row.checkpoint_seconds;
  }
  out << Format("ledger overhead: %.1f ms recording (summed over threads) in %.2f s of runs: %.3f %%\n",
                ledger_time * 1e3, wall, wall > 0.0 ? 100.0 * ledger_time / wall : 0.0);
  out << Format("checkpoints: %d written in %.1f ms (%.2f %% of the runs' wall time; "
                "training.checkpoint_every = %d)\n",
                checkpoint_count, checkpoint_time * 1e3,
                wall > 0.0 ? 100.0 * checkpoint_time / wall : 0.0,
                config.training.checkpoint_every);
  out << "energy source: " << ledger::Name(meter_selection.used)
      << (meter_selection.used == ledger::EnergySource::kModelled ? " (work x device speed)" : "")
      << "; ledger: " << folder.ledger_file().string() << "\n";
  return summary;
}

}  // namespace metajoule::experiments
