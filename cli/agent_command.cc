#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "common/error.h"
#include "experiments/meta_agent.h"
#include "experiments/slurm_launch.h"
#include "network/curve.h"

extern char** environ;

namespace metajoule::cli {
namespace {

// SIGINT and SIGTERM set `stop` (the agent then leaves cleanly): the signals are blocked in
// every thread (ZeroMQ's included, which start later) and taken by one waiting thread, so no
// blocking call is ever interrupted
class StopOnSignal {
 public:
  explicit StopOnSignal(std::atomic<bool>& stop) : stop_(stop) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    thread_ = std::thread([this] {
      const timespec tick{0, 200'000'000};
      while (!done_) {
        if (sigtimedwait(&signals_, nullptr, &tick) > 0) {
          std::cerr << "agent: signal received, leaving\n";
          stop_ = true;
        }
      }
    });
  }
  ~StopOnSignal() {
    done_ = true;
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

 private:
  std::atomic<bool>& stop_;
  std::atomic<bool> done_{false};
  sigset_t signals_{};
  sigset_t previous_{};
  std::thread thread_;
};

// `executable agent ... --node K` for each of `nodes`, as child processes sharing this one's
// stdout and stderr (an agent per process, as a lone `metajoule agent`); SIGINT/SIGTERM here
// (`stop`) is passed on to them. True when every child exited 0.
bool RunChildAgents(const std::vector<std::string>& common, const std::vector<std::uint32_t>& nodes,
                    const std::atomic<bool>& stop) {
  std::error_code error;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", error).string();
  if (error) throw std::runtime_error("cannot find this program's path (/proc/self/exe)");
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);  // this thread blocks SIGINT/SIGTERM
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK);
  std::vector<pid_t> children;
  for (const std::uint32_t node : nodes) {
    std::vector<std::string> argv = {self, "agent"};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), {"--node", std::to_string(node)});
    std::vector<char*> args;
    for (std::string& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    const int failed = posix_spawn(&pid, self.c_str(), nullptr, &attributes, args.data(), environ);
    if (failed != 0) {
      std::cerr << "agent " << node << ": cannot start: " << std::strerror(failed) << "\n";
      continue;
    }
    children.push_back(pid);
  }
  posix_spawnattr_destroy(&attributes);
  bool ok = children.size() == nodes.size();
  bool forwarded = false;
  while (!children.empty()) {
    if (stop && !forwarded) {
      for (const pid_t pid : children) kill(pid, SIGTERM);
      forwarded = true;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      std::erase(children, pid);
      ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return ok;
}

}  // namespace

std::function<int()> ConfigureAgent(CLI::App& app) {
  struct Options {
    std::string connect;
    std::vector<std::uint32_t> nodes;
    std::size_t slurm_agents{0};
    std::string curve_server_public;
    std::string curve_secret;
    double give_up_s{0.0};
  };
  auto options = std::make_shared<Options>();
  app.add_option("--connect", options->connect, "the server's endpoint, e.g. tcp://HOST:5555")
      ->required();
  CLI::Option* node =
      app.add_option("--node", options->nodes,
                     "this agent's node id, 1..N: node K takes the K-th agent of the experiment "
                     "(several ids: one agent per id, each a child process of this one)")
          ->check(CLI::Range(1u, 0xFFFFFFFEu));
  CLI::Option* slurm =
      app.add_option("--slurm-agents", options->slurm_agents,
                     "instead of --node, in an srun step: the run's N agents are spread over the "
                     "step's tasks, this task hosts its contiguous block (SLURM_PROCID); "
                     "metajoule run --slurm starts such a step")
          ->check(CLI::Range(std::size_t{1}, std::size_t{0xFFFFFFFE}));
  node->excludes(slurm);
  app.add_option("--curve-server-public", options->curve_server_public,
                 "CURVE: the server's public key file");
  app.add_option("--curve-secret", options->curve_secret,
                 "CURVE: this agent's secret key file (its public key must be authorised by "
                 "the server)");
  app.add_option("--give-up-s", options->give_up_s,
                 "exit after this many seconds without a word from the server (default 0: wait "
                 "for it, e.g. across a server restart)")
      ->check(CLI::NonNegativeNumber);
  app.footer(
      "Joins the server as --node, builds its task from the assigned experiment (same seed, same\n"
      "tasks as `metajoule run`), answers every round until the server dismisses it. Ctrl-C\n"
      "leaves cleanly. Exit code 0 when dismissed or stopped, 1 when refused or the server is\n"
      "lost (with several nodes: 0 when every one was dismissed or stopped).");
  return [options] {
    // inside an srun step, every line about an agent names the step, so a failed agent in the
    // launcher's log can be traced to its Slurm step and task
    std::string where;
    if (const char* step = std::getenv("SLURM_STEP_ID")) {
      const char* job = std::getenv("SLURM_JOB_ID");
      const char* task = std::getenv("SLURM_PROCID");
      const char* host = std::getenv("SLURMD_NODENAME");
      where = std::string(" (Slurm step ") + (job ? job : "?") + "." + step + ", task " +
              (task ? task : "?") + (host ? std::string(" on ") + host : std::string()) + ")";
    }
    std::vector<std::uint32_t> nodes = options->nodes;
    if (options->slurm_agents > 0) {
      const experiments::AgentBlock block =
          experiments::SlurmAgentBlockOfTask(
              [](const char* name) { return std::getenv(name); }, options->slurm_agents);
      for (std::uint32_t k = 0; k < block.count; ++k) nodes.push_back(block.first_node + k);
      if (block.count > 0) {
        std::cerr << ("agents " + std::to_string(block.first_node) + ".." +
                      std::to_string(block.first_node + block.count - 1) + where +
                      ": starting\n");
      }
    }
    if (nodes.empty()) throw ConfigError({}, "--node", "give --node K (or --slurm-agents N)");
    experiments::RemoteAgentOptions agent;
    agent.connect = options->connect;
    agent.give_up_s = options->give_up_s;
    if (options->curve_secret.empty() != options->curve_server_public.empty()) {
      throw ConfigError({}, "--curve-secret",
                        "CURVE needs both --curve-secret and --curve-server-public");
    }
    if (!options->curve_secret.empty()) {
      if (!network::CurveAvailable()) {
        throw ConfigError({}, "--curve-secret", "this libzmq was built without CURVE");
      }
      agent.security.mechanism = network::Mechanism::kCurve;
      agent.security.keys = network::ReadCurveKeyFile(options->curve_secret, true);
      agent.security.server_public_key =
          network::ReadCurveKeyFile(options->curve_server_public, false).public_key;
    }
    std::atomic<bool> stop{false};
    agent.stop = &stop;
    const StopOnSignal signals(stop);
    const auto ok = [](network::AgentExit exit) {
      return exit == network::AgentExit::kDismissed || exit == network::AgentExit::kStopped;
    };
    if (nodes.size() == 1) {
      agent.node = nodes.front();
      const network::AgentExit exit = experiments::RunRemoteAgent(agent, std::cerr);
      // one write, so that the lines of agents sharing a log do not interleave
      std::cerr << ("agent " + std::to_string(agent.node) + where + ": " +
                    std::string(network::ToString(exit)) + "\n")
                << std::flush;
      return ok(exit) ? kExitOk : kExitRuntimeFailure;
    }
    // several agents: one child process each, as lone `metajoule agent`s (a crashing agent takes
    // no other down, and the per-agent exit is the tested one)
    std::vector<std::string> common = {"--connect", options->connect};
    if (options->give_up_s > 0.0) {
      std::ostringstream text;
      text << options->give_up_s;
      common.insert(common.end(), {"--give-up-s", text.str()});
    }
    if (!options->curve_secret.empty()) {
      common.insert(common.end(), {"--curve-secret", options->curve_secret,
                                   "--curve-server-public", options->curve_server_public});
    }
    return RunChildAgents(common, nodes, stop) ? kExitOk : kExitRuntimeFailure;
  };
}

}  // namespace metajoule::cli
