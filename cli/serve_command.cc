#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "common/error.h"
#include "experiments/experiment_config.h"
#include "experiments/meta_server.h"
#include "network/curve.h"

namespace metajoule::cli {

std::function<int()> ConfigureServe(CLI::App& app) {
  struct Options {
    std::string file;
    std::vector<std::string> overrides;
    std::string bind;
    std::size_t agents_expected{0};
    std::string curve_secret;
    std::string curve_authorized;
  };
  auto options = std::make_shared<Options>();
  app.add_option("file", options->file, "experiment file (TOML)")->required();
  app.add_option("--bind", options->bind, "endpoint to listen on, e.g. tcp://*:5555")->required();
  app.add_option("--agents-expected", options->agents_expected,
                 "agents to wait for before the first round (default: every agent of the file)");
  app.add_option("--set", options->overrides, "override a key: a.b.c=value (TOML syntax)");
  app.add_option("--curve-secret", options->curve_secret,
                 "CURVE: the server's secret key file (metajoule keys); encrypts every "
                 "connection and admits only the keys of --curve-authorized");
  app.add_option("--curve-authorized", options->curve_authorized,
                 "CURVE: a directory of the agents' public key files (or one file)");
  app.footer(
      "Runs the file's meta methods with agents that are separate processes:\n"
      "  metajoule serve experiments/quickstart.toml --bind tcp://*:5555\n"
      "  metajoule agent --connect tcp://HOST:5555 --node 1     (one per agent, nodes 1..N)\n"
      "The run folder and its one ledger (every agent's work included) are written here.");
  return [options] {
    const auto config = experiments::LoadExperiment(options->file, options->overrides);
    experiments::ServeOptions serve;
    serve.bind = options->bind;
    serve.agents_expected = options->agents_expected;
    if (options->curve_secret.empty() != options->curve_authorized.empty()) {
      throw ConfigError({}, "--curve-secret",
                        "CURVE needs both --curve-secret and --curve-authorized");
    }
    if (!options->curve_secret.empty()) {
      if (!network::CurveAvailable()) {
        throw ConfigError({}, "--curve-secret", "this libzmq was built without CURVE");
      }
      serve.security.mechanism = network::Mechanism::kCurve;
      serve.security.keys = network::ReadCurveKeyFile(options->curve_secret, true);
      serve.security.authorized_keys = network::ReadAuthorizedKeys(options->curve_authorized);
      if (serve.security.authorized_keys.empty()) {
        throw ConfigError({}, "--curve-authorized",
                          options->curve_authorized + " holds no public key: no agent could join");
      }
    }
    experiments::ServeExperiment(config, serve, std::cout);
    return kExitOk;
  };
}

}  // namespace metajoule::cli
