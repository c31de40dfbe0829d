#include <signal.h>

#include <atomic>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "cli/command.h"
#include "common/error.h"
#include "experiments/meta_agent.h"
#include "network/curve.h"

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

}  // namespace

std::function<int()> ConfigureAgent(CLI::App& app) {
  struct Options {
    std::string connect;
    std::uint32_t node{0};
    std::string curve_server_public;
    std::string curve_secret;
    double give_up_s{0.0};
  };
  auto options = std::make_shared<Options>();
  app.add_option("--connect", options->connect, "the server's endpoint, e.g. tcp://HOST:5555")
      ->required();
  app.add_option("--node", options->node, "this agent's node id, 1..N: node K takes the K-th agent of the experiment")
      ->required()
      ->check(CLI::Range(1u, 0xFFFFFFFEu));
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
      "lost.");
  return [options] {
    experiments::RemoteAgentOptions agent;
    agent.connect = options->connect;
    agent.node = options->node;
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
    const network::AgentExit exit = experiments::RunRemoteAgent(agent, std::cerr);
    std::cerr << "agent " << options->node << ": " << network::ToString(exit) << "\n";
    switch (exit) {
      case network::AgentExit::kDismissed:
      case network::AgentExit::kStopped:
        return kExitOk;
      case network::AgentExit::kRefused:
      case network::AgentExit::kServerLost:
        break;
    }
    return kExitRuntimeFailure;
  };
}

}  // namespace metajoule::cli
