#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/thread_pool.h"
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
  return [chosen] { return *chosen ? (*chosen)() : kExitUsageOrConfig; };
}

}  // namespace metajoule::cli
