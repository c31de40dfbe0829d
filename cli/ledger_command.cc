#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/error.h"
#include "experiments/experiment_config.h"
#include "ledger/ledger_store.h"
#include "ledger/queries.h"
#include "ledger/reprice.h"

namespace metajoule::cli {
namespace {

// "runs/x/20261127T...-1" (a run folder) or ".../ledger.sqlite" (a ledger file).
std::string LedgerPath(const std::string& target) {
  if (target.size() > 7 && target.ends_with(".sqlite")) return target;
  return target + "/ledger.sqlite";
}

// "old=new" pairs; a malformed one is a usage error naming the option.
std::map<std::string, std::string> ParseRenames(const char* option,
                                                const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> renames;
  for (const std::string& pair : pairs) {
    const std::size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      throw ConfigError({option}, pair, "expected old=new");
    }
    renames[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return renames;
}

}  // namespace

std::function<int()> ConfigureLedger(CLI::App& app) {
  app.require_subcommand(1, 1);
  struct Options {
    std::string target;
    std::string run;
    bool csv{true};
    bool evaluations{false};
    std::vector<std::string> overrides;
    std::vector<std::string> device_renames;
    std::vector<std::string> location_renames;
    bool in_place{false};
  };
  auto options = std::make_shared<Options>();
  auto chosen = std::make_shared<std::function<int()>>();

  CLI::App* runs = app.add_subcommand("runs", "list the runs of a ledger: id, name, method, status");
  runs->add_option("ledger", options->target, "run folder or ledger.sqlite")->required();
  runs->callback([chosen, options] {
    *chosen = [options] {
      const ledger::LedgerStore store(LedgerPath(options->target), {}, ledger::OpenMode::kReadOnly);
      std::cout << "id  name                 method       status    seed  started\n";
      for (const ledger::RunRecord& run : store.Runs()) {
        const ledger::EnergyBreakdown energy = ledger::QueryBreakdown(store, run.id);
        std::printf("%-3lld %-20s %-12s %-9s %5lld  %s  %.6g J\n", static_cast<long long>(run.id),
                    run.info.name.c_str(), run.info.method.c_str(), run.status.c_str(),
                    static_cast<long long>(run.info.seed), run.started_at.c_str(), energy.total_j());
      }
      return kExitOk;
    };
  });

  CLI::App* exporter = app.add_subcommand("export", "write a run's events (or evaluations) as CSV");
  exporter->add_option("ledger", options->target, "run folder or ledger.sqlite")->required();
  exporter->add_option("--run", options->run, "run id or name (default: every run, one after another)");
  exporter->add_flag("--csv", options->csv, "CSV on standard output (the only format)");
  exporter->add_flag("--evaluations", options->evaluations, "export evaluations instead of events");
  exporter->callback([chosen, options] {
    *chosen = [options] {
      const ledger::LedgerStore store(LedgerPath(options->target), {}, ledger::OpenMode::kReadOnly);
      std::vector<std::int64_t> ids;
      if (!options->run.empty()) {
        ids.push_back(store.ResolveRun(options->run));
      } else {
        for (const auto& run : store.Runs()) ids.push_back(run.id);
      }
      for (const std::int64_t id : ids) {
        if (options->evaluations) {
          ledger::ExportEvaluationsCsv(store, id, std::cout);
        } else {
          ledger::ExportEventsCsv(store, id, std::cout);
        }
      }
      return kExitOk;
    };
  });

  CLI::App* reprice = app.add_subcommand(
      "reprice", "recompute a run's energy and carbon under other device, link or grid figures");
  reprice->add_option("ledger", options->target, "run folder or ledger.sqlite")->required();
  reprice->add_option("--run", options->run, "run id or name")->required();
  reprice->add_option("--set", options->overrides,
                      "override a key of the run's config: network.links.uplink.efficiency_kbit_per_j=25");
  reprice->add_option("--device", options->device_renames,
                      "reprice nodes of one device profile as another: robot_board=laptop");
  reprice->add_option("--location", options->location_renames,
                      "reprice nodes of one grid location as another: world=france");
  reprice->add_flag("--in-place", options->in_place,
                    "rewrite the run's figures instead of adding a repriced copy");
  reprice->callback([chosen, options] {
    *chosen = [options] {
      ledger::LedgerStore store(LedgerPath(options->target), {});
      const std::int64_t run = store.ResolveRun(options->run);
      // the run's own resolved config, with the overrides, gives the new coefficients
      const ledger::RunRecord record = store.Run(run);
      const experiments::ExperimentConfig config = experiments::ParseExperiment(
          record.info.config_text, "ledger run " + std::to_string(run) + " config",
          options->overrides);
      ledger::RepriceOptions reprice_options;
      reprice_options.energy = experiments::EnergyConfigOf(config);
      reprice_options.in_place = options->in_place;
      reprice_options.device_map = ParseRenames("--device", options->device_renames);
      reprice_options.location_map = ParseRenames("--location", options->location_renames);
      const ledger::RepriceResult result = ledger::RepriceRun(store, run, reprice_options);
      std::printf("repriced run %lld -> run %lld: %lld events in %.2f s\n"
                  "energy: %.6g J -> %.6g J; carbon: %.6g g -> %.6g gCO2e\n",
                  static_cast<long long>(run), static_cast<long long>(result.run),
                  static_cast<long long>(result.events), result.seconds, result.old_energy_j,
                  result.new_energy_j, result.old_gco2e, result.new_gco2e);
      return kExitOk;
    };
  });
  return [chosen] { return *chosen ? (*chosen)() : kExitUsageOrConfig; };
}

}  // namespace metajoule::cli
