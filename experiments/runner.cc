#include "experiments/runner.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <ostream>

#include "common/build_info.h"
#include "common/thread_pool.h"
#include "experiments/format.h"
#include "experiments/local_methods.h"
#include "experiments/meta_run.h"
#include "experiments/population.h"
#include "experiments/run_folder.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/meters.h"
#include "ledger/queries.h"
#include "ledger/recorder.h"
#include "meta/meta_config.h"

namespace metajoule::experiments {
namespace {

}  // namespace

RunSummary RunExperiment(const ExperimentConfig& config, std::ostream& out) {
  const ledger::EnergyModel model(EnergyConfigOf(config));
  Population population(config);
  for (const auto& node : population.nodes) model.ForNode(node.device, node.location);

  RunSummary summary;
  const RunFolder folder = CreateRunFolder(config);
  summary.folder = folder.path;
  ledger::LedgerStore store(folder.ledger_file().string(), config.ledger.store);
  const ledger::MeterSelection meter_selection =
      ledger::SelectMeter(config.ledger.energy.meter, {}, ledger::StderrWarning);
  const ledger::Meter meter(meter_selection);
  ThreadPool pool(config.sim.threads);

  out << "run: " << config.experiment.name << " (seed " << config.experiment.seed << ", "
      << population.tasks.size() << " agents in " << config.clusters.size() << " clusters, "
      << pool.num_threads() << " threads)\n"
      << "run folder: " << folder.path.string() << "\n";

  for (const std::string& method : config.experiment.methods) {
    ledger::RunInfo info;
    info.name = config.experiment.name;
    info.method = method;
    info.config_text = ResolvedToml(config);
    info.git_commit = kGitCommit;
    info.seed = config.experiment.seed;
    ledger::RunRecorder recorder(store, model, info, meter_selection);
    recorder.AddNode({0, "server", "", "edge_server", ""});
    for (const auto& node : population.nodes) recorder.AddNode(node);

    const double start = ledger::MonotonicSeconds();
    MethodSummary row;
    row.method = method;
    row.ledger_run = recorder.run();
    try {
      if (method == "random") {
        row.mean_return = RunRandom(config, population, pool, recorder, meter);
      } else if (method == "scratch") {
        row.mean_return = RunScratch(config, population, pool, recorder, out);
      } else {
        meta::MetaMethod meta_method{};
        bool found = false;
        for (const auto& [name, value] : meta::EnumNames(meta::MetaMethod{})) {
          if (name == method) {
            meta_method = value;
            found = true;
          }
        }
        MJL_DEMAND(found);  // Validate(ExperimentSection) admits only MethodNames()
        row.mean_return =
            RunMeta(config, meta_method, population, pool, recorder, meter, out).last_return;
      }
    } catch (...) {
      recorder.Finish("failed");
      throw;
    }
    recorder.Finish();
    row.wall_seconds = ledger::MonotonicSeconds() - start;
    row.ledger_seconds = recorder.recording_seconds();

    // every figure of the table comes back from the ledger
    const ledger::EnergyBreakdown breakdown = ledger::QueryBreakdown(store, row.ledger_run);
    row.compute_j = breakdown.compute_j;
    row.uplink_j = breakdown.uplink_j;
    row.downlink_j = breakdown.downlink_j;
    row.sidelink_j = breakdown.sidelink_j;
    row.gco2e = breakdown.gco2e;
    summary.methods.push_back(row);
  }

  out << "\n"
      << Format("%-12s %12s %12s %12s %12s %12s %12s %12s %9s\n", "method", "return", "compute J",
                "UL J", "DL J", "SL J", "total J", "gCO2e", "wall s");
  for (const MethodSummary& row : summary.methods) {
    out << Format("%-12s %12.3f %12.4g %12.4g %12.4g %12.4g %12.4g %12.4g %9.2f\n",
                  row.method.c_str(), row.mean_return, row.compute_j, row.uplink_j, row.downlink_j,
                  row.sidelink_j, row.total_j(), row.gco2e, row.wall_seconds);
  }
  double wall = 0.0;
  double ledger_time = 0.0;
  for (const MethodSummary& row : summary.methods) {
    wall += row.wall_seconds;
    ledger_time += row.ledger_seconds;
  }
  out << Format("ledger overhead: %.1f ms recording (summed over threads) in %.2f s of runs: %.3f %%\n",
                ledger_time * 1e3, wall, wall > 0.0 ? 100.0 * ledger_time / wall : 0.0);
  out << "energy source: " << ledger::Name(meter_selection.used)
      << (meter_selection.used == ledger::EnergySource::kModelled ? " (work x device speed)" : "")
      << "; ledger: " << folder.ledger_file().string() << "\n";
  return summary;
}

}  // namespace metajoule::experiments
