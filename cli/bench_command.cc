#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/report_command.h"
#include "experiments/experiment_config.h"
#include "report/benchmark.h"
#include "common/thread_pool.h"
#include "experiments/meta_run.h"
#include "experiments/meta_study.h"
#include "experiments/scale_bench.h"
#include "agents/benchmark.h"
#include "ledger/benchmark.h"
#include "ledger/scale_benchmark.h"
#include "network/benchmark.h"
#include "sim/benchmark.h"
#include "sim/render_benchmark.h"

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
  network_app
      ->add_option("--pushes", network_options->pushes, "1 MiB pushes timed over tcp per run")
      ->capture_default_str();
  network_app
      ->add_option("--push-runs", network_options->push_runs,
                   "runs of raw ZeroMQ and of the channel, alternating (median and best shown)")
      ->capture_default_str();
  network_app->add_flag("--pin", network_options->pin_cpus,
                        "pin the tcp sender and receiver processes to one CPU each");
  network_app
      ->add_option("--push-hwm", network_options->push_high_water_mark,
                   "ZeroMQ high-water mark of both sides in the tcp push runs")
      ->capture_default_str();
  network_app->add_option("--round-trips", network_options->round_trips, "inproc round trips timed")
      ->capture_default_str();
  auto network_run = std::make_shared<std::string>();
  auto network_run_rounds = std::make_shared<int>(10);
  network_app->add_option("--run", *network_run,
                          "also measure the transport overhead of this experiment's first meta "
                          "method over inproc and tcp (e.g. experiments/quickstart.toml)");
  network_app->add_option("--run-rounds", *network_run_rounds, "rounds of that measurement")
      ->capture_default_str();
  network_app->callback([chosen, network_options, network_run, network_run_rounds] {
    *chosen = [network_options, network_run, network_run_rounds] {
      std::printf("%s", network::FormatNetworkBenchmark(
                            network::RunNetworkBenchmark(*network_options)).c_str());
      if (network_run->empty()) return kExitOk;
      std::printf("  transport overhead of %s (%d rounds): wall time of the rounds' exchanges "
                  "outside the agents' compute\n",
                  network_run->c_str(), *network_run_rounds);
      for (const char* transport : {"inproc", "tcp"}) {
        const auto config = experiments::LoadExperiment(
            *network_run, {"training.rounds=" + std::to_string(*network_run_rounds),
                           std::string("network.transport=\"") + transport + "\""});
        std::ostringstream log;
        const experiments::TransportMeasurement m = experiments::MeasureTransport(config, log);
        std::printf("    %-7s %-8s %8.1f ms of %7.2f s   %6.3f %%   (target <= 2 %%)\n",
                    m.method.c_str(), m.transport.c_str(), m.overhead_seconds() * 1e3,
                    m.exchange.exchange_seconds, 100.0 * m.overhead_share());
        std::fflush(stdout);
      }
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

  auto ledger_scale = std::make_shared<ledger::LedgerScaleOptions>();
  CLI::App* ledger_scale_app = app.add_subcommand(
      "ledger-scale", "summary queries on a 10,000-agent x 500-round ledger: totals vs full scans");
  ledger_scale_app->add_option("--agents", ledger_scale->agents, "agents of the generated ledger")
      ->capture_default_str();
  ledger_scale_app->add_option("--rounds", ledger_scale->rounds, "rounds of the generated ledger")
      ->capture_default_str();
  ledger_scale_app->add_option("--evaluations", ledger_scale->evaluations_per_agent_round,
                               "evaluations per agent and round")
      ->capture_default_str();
  ledger_scale_app->add_option("--batch-size", ledger_scale->batch_size, "rows per transaction")
      ->capture_default_str();
  ledger_scale_app->add_option("--dir", ledger_scale->directory,
                               "where the database goes (default: a temp dir)");
  ledger_scale_app->add_flag("--keep", ledger_scale->keep_files, "keep the database");
  ledger_scale_app->callback([chosen, ledger_scale] {
    *chosen = [ledger_scale] {
      std::printf("%s", ledger::FormatLedgerScaleBenchmark(
                            ledger::RunLedgerScaleBenchmark(*ledger_scale)).c_str());
      return kExitOk;
    };
  });

  auto scale_options = std::make_shared<experiments::ScaleBenchOptions>();
  CLI::App* scale_app = app.add_subcommand(
      "scale", "round time, memory and threads of one run with 8 to 512 agents, per agent");
  scale_app->add_option("--agents", scale_options->agents, "agent counts")->capture_default_str();
  scale_app->add_option("--method", scale_options->methods, "methods")->capture_default_str();
  scale_app->add_option("--family", scale_options->family, "task family")->capture_default_str();
  scale_app->add_option("--cluster-size", scale_options->cluster_size, "agents per cluster")
      ->capture_default_str();
  scale_app->add_option("--rounds", scale_options->rounds, "rounds per run (the first is not timed)")
      ->capture_default_str();
  scale_app->add_option("--episodes", scale_options->episodes, "episodes per update")
      ->capture_default_str();
  scale_app->add_option("--threads", scale_options->threads, "pool threads (0: every core)")
      ->capture_default_str();
  scale_app->add_option("--dir", scale_options->directory, "where run folders go (default: a temp dir)");
  scale_app->add_flag("!--no-fork", scale_options->fork,
                      "run every size in this process (memory figures then share one heap)");
  scale_app->callback([chosen, scale_options] {
    *chosen = [scale_options] {
      std::printf("%s", experiments::FormatScaleBenchmark(
                            *scale_options, experiments::RunScaleBenchmark(*scale_options, &std::cerr))
                            .c_str());
      return kExitOk;
    };
  });

  auto report_options = std::make_shared<report::ReportBenchmarkOptions>();
  CLI::App* report_app = app.add_subcommand(
      "report", "a report on a generated batch of run ledgers, against bare SQLite and gnuplot");
  report_app->add_option("--cells", report_options->cells, "run folders in the batch")
      ->capture_default_str();
  report_app->add_option("--rounds", report_options->rounds, "training rounds per run")
      ->capture_default_str();
  report_app->add_option("--dir", report_options->directory,
                         "where the batch and report go, kept (default: a temp dir, removed)");
  report_app->add_option("--gnuplot", report_options->gnuplot.executable, "gnuplot executable")
      ->capture_default_str();
  report_app->callback([chosen, report_options] {
    *chosen = [report_options] {
      // every synthetic run stores a real resolved experiment config whose
      // evaluation.target_return the report reads back, as it does for `run`'s ledgers
      const experiments::ExperimentConfig config = experiments::ParseExperiment(
          "[experiment]\nname = \"bench-report\"\nmethods = [\"random\", \"scratch\", \"maml\"]\n"
          "[evaluation]\ntarget_return = " + std::to_string(report::kSyntheticTarget) + "\n"
          "[[clusters]]\nname = \"c\"\nagents = 8\n[clusters.task]\nfamily = \"reach2d\"\n",
          "bench report config");
      report_options->config_text = experiments::ResolvedToml(config);
      const report::ReportBenchmarkResult result = report::RunReportBenchmark(
          *report_options, [](const report::ReportInput& input) {
            return ResolveReportTarget(input, std::nullopt);
          });
      std::printf("%s", report::FormatReportBenchmark(result).c_str());
      return kExitOk;
    };
  });

  struct ReplayBenchOptions {
    sim::RenderBenchOptions bench;
    std::string quality{"fast"};
    std::string gl{"auto"};
    bool no_video{false};
    bool no_text{false};
  };
  auto replay_options = std::make_shared<ReplayBenchOptions>();
  CLI::App* replay_app = app.add_subcommand(
      "replay", "offscreen replay frames/s (render, read back, ffmpeg) against a raw MuJoCo loop");
  replay_app->add_option("--family", replay_options->bench.family, "task family of the episode")
      ->capture_default_str();
  replay_app->add_option("--width", replay_options->bench.width, "frame width")->capture_default_str();
  replay_app->add_option("--height", replay_options->bench.height, "frame height")
      ->capture_default_str();
  replay_app->add_option("--frames", replay_options->bench.frames, "frames per timed run")
      ->capture_default_str();
  replay_app->add_option("--repeats", replay_options->bench.repeats,
                         "timed runs per loop; the median and the best are printed")
      ->capture_default_str();
  replay_app->add_option("--quality", replay_options->quality, "fast or high")->capture_default_str();
  replay_app->add_option("--gl", replay_options->gl, "auto, egl or osmesa")->capture_default_str();
  replay_app->add_option("--preset", replay_options->bench.x264_preset,
                         "libx264 preset (default: the replay command's)")
      ->capture_default_str();
  replay_app->add_flag("--no-video", replay_options->no_video, "skip the ffmpeg loops");
  replay_app->add_flag("--no-text", replay_options->no_text, "no overlay text in our loops");
  replay_app->callback([chosen, replay_options] {
    *chosen = [replay_options] {
      sim::RenderBenchOptions bench = replay_options->bench;
      bench.quality = sim::ParseRenderQuality(replay_options->quality);
      bench.backend = sim::ParseGlBackend(replay_options->gl);
      bench.video = !replay_options->no_video;
      bench.text = !replay_options->no_text;
      std::printf("%s", sim::FormatRenderBenchmark(bench, sim::BenchmarkReplay(bench)).c_str());
      return kExitOk;
    };
  });

  // meta: one meta-iteration split into sampling / inner / outer / update (docs/meta.md
  // "Benchmark"), on the study's tasks, single-threaded
  struct MetaOptions {
    int iterations{2};
    std::vector<std::string> tasks{"reach2d", "nav2d"};
    std::vector<std::string> methods{"maml", "fomaml", "reptile", "pretrained"};
  };
  auto meta_options = std::make_shared<MetaOptions>();
  CLI::App* meta_app = app.add_subcommand(
      "meta", "Time per phase of a meta-iteration (sampling, inner, outer, update) on the study tasks");
  meta_app->add_option("--iterations", meta_options->iterations, "meta-iterations per method")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  meta_app->add_option("--tasks", meta_options->tasks, "study task clusters: reach2d, nav2d")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember({"reach2d", "nav2d"}));
  meta_app->add_option("--methods", meta_options->methods,
                       "methods: maml, fomaml, reptile, pretrained, fedavg")
      ->delimiter(',')
      ->capture_default_str()
      ->check(CLI::IsMember({"maml", "fomaml", "reptile", "pretrained", "fedavg"}));
  meta_app->callback([chosen, meta_options] {
    *chosen = [meta_options] {
      std::vector<meta::MetaMethod> methods;
      for (const std::string& name : meta_options->methods) {
        for (const auto& [spelling, method] : meta::EnumNames(meta::MetaMethod{})) {
          if (spelling == name) methods.push_back(method);
        }
      }
      std::printf("bench meta: ms per meta-iteration (20 tasks, 32x32 tanh policy, one thread, "
                  "%d iterations, phases summed over the tasks); sampling share = sampling / "
                  "(sampling + inner + outer + update) by wall clock, and by thread CPU time "
                  "(sampling CPU / CPU of the whole run; \"iterations 2..\" leaves out the "
                  "first iteration, which also pays the thread's one-time workspace set-up, "
                  "shown in the last column)\n",
                  meta_options->iterations);
      for (const std::string& task : meta_options->tasks) {
        experiments::MetaStudyConfig config =
            task == "nav2d" ? experiments::Nav2dStudy() : experiments::Reach2dStudy();
        config.methods = methods;
        const auto rows = experiments::RunMetaStudyBenchmark(config, meta_options->iterations);
        std::printf("\n%s\n%s", task.c_str(), meta::FormatMetaBenchmark(rows).c_str());
        std::fflush(stdout);
      }
      return kExitOk;
    };
  });

  return [chosen] { return *chosen ? (*chosen)() : kExitUsageOrConfig; };
}

}  // namespace metajoule::cli
