#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/thread_pool.h"
#include "agents/benchmark.h"
#include "ledger/benchmark.h"
#include "network/benchmark.h"
#include "sim/benchmark.h"

namespace metajoule::cli {

std::function<int()> ConfigureBench(CLI::App& app) {
  app.require_subcommand(1, 1);
  struct SimOptions {
    std::vector<std::string> families{"reach2d", "runner_velocity", "quadruped_direction"};
    double seconds{0.5};
    int repeats{3};
  };
  auto sim_options = std::make_shared<SimOptions>();
  auto chosen = std::make_shared<std::function<int()>>();
  CLI::App* sim = app.add_subcommand(
      "sim", "Env steps/s against a raw mj_step loop on the same model, 1 and 2 threads");
  sim->add_option("--family", sim_options->families, "task families to measure")
      ->capture_default_str();
  sim->add_option("--seconds", sim_options->seconds, "length of each timed run")
      ->capture_default_str();
  sim->add_option("--repeats", sim_options->repeats, "timed runs per loop; the best is kept")
      ->capture_default_str();
  sim->callback([chosen, sim_options] {
    *chosen = [sim_options] {
      std::printf("bench sim: mj_step calls per second through Env::Step vs a raw mj_step loop\n"
                  "(same model, same random controls, same frame skip; best of %d runs of "
                  "%.2f s)\n",
                  sim_options->repeats, sim_options->seconds);
      std::printf("%-20s %7s %5s %14s %14s %7s %9s %10s %12s\n", "family", "threads", "skip",
                  "env mj_step/s", "raw mj_step/s", "ratio", "cpu ratio", "x 1 thread",
                  "mjData/env");
      for (const std::string& family : sim_options->families) {
        double one_thread = 0.0;
        for (const int threads : {1, 2}) {
          ThreadPool pool(threads);
          const sim::SimBenchResult result =
              sim::BenchmarkSim(family, pool, sim_options->seconds, sim_options->repeats);
          if (threads == 1) one_thread = result.env_mj_steps_per_second;
          std::printf("%-20s %7d %5d %14.0f %14.0f %7.3f %9.3f %10.2f %9.1f KB\n",
                      family.c_str(), threads, result.frame_skip, result.env_mj_steps_per_second,
                      result.raw_mj_steps_per_second, result.ratio, result.cpu_ratio,
                      result.env_mj_steps_per_second / one_thread,
                      static_cast<double>(result.data_bytes) / 1024.0);
          std::fflush(stdout);
        }
      }
      return kExitOk;
    };
  });

  auto mlp_config = std::make_shared<agents::MlpBenchmarkConfig>();
  CLI::App* agents_app = app.add_subcommand(
      "agents", "MLP forward+backward ns/sample against a plain Eigen reference, float and double");
  agents_app->add_option("--batch", mlp_config->batches, "batch sizes")->capture_default_str();
  agents_app->add_option("--seconds", mlp_config->min_seconds, "length of each repetition")
      ->capture_default_str();
  agents_app->callback([chosen, mlp_config] {
    *chosen = [mlp_config] {
      std::printf("bench agents: MLP %s tanh, forward + parameter gradient, one thread\n%s",
                  "20-64-64-6", agents::FormatMlpBenchmark(agents::RunMlpBenchmark(*mlp_config)).c_str());
      return kExitOk;
    };
  });

  auto network_options = std::make_shared<network::NetworkBenchmarkOptions>();
  CLI::App* network_app = app.add_subcommand(
      "network", "model push over tcp against raw ZeroMQ, inproc round trips, codec throughput");
  network_app->add_option("--pushes", network_options->pushes, "1 MiB pushes timed over tcp")
      ->capture_default_str();
  network_app->add_option("--round-trips", network_options->round_trips, "inproc round trips timed")
      ->capture_default_str();
  network_app->callback([chosen, network_options] {
    *chosen = [network_options] {
      std::printf("%s", network::FormatNetworkBenchmark(
                            network::RunNetworkBenchmark(*network_options)).c_str());
      return kExitOk;
    };
  });

  auto ledger_options = std::make_shared<ledger::LedgerBenchmarkOptions>();
  CLI::App* ledger_app = app.add_subcommand(
      "ledger", "batched event inserts against raw SQLite inserts, summary-query latency");
  ledger_app->add_option("--nodes", ledger_options->nodes, "nodes of the generated ledger")
      ->capture_default_str();
  ledger_app->add_option("--rounds", ledger_options->rounds, "rounds of the generated ledger")
      ->capture_default_str();
  ledger_app->add_option("--dir", ledger_options->directory, "where the databases go (default: a temp dir)");
  ledger_app->callback([chosen, ledger_options] {
    *chosen = [ledger_options] {
      std::printf("%s", ledger::FormatBenchmark(ledger::RunLedgerBenchmark(*ledger_options)).c_str());
      return kExitOk;
    };
  });

  return [chosen] { return *chosen ? (*chosen)() : kExitUsageOrConfig; };
}

}  // namespace metajoule::cli
