#include "experiments/meta_server.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <ostream>
#include <stdexcept>

#include <zmq.hpp>

#include "common/build_info.h"
#include "experiments/format.h"
#include "experiments/meta_run.h"
#include "experiments/population.h"
#include "experiments/run_folder.h"
#include "ledger/energy_model.h"
#include "ledger/ledger_store.h"
#include "ledger/meters.h"
#include "ledger/queries.h"
#include "ledger/recorder.h"
#include "network/protocol.h"

namespace metajoule::experiments {
namespace {

// how often ServeOptions::while_joining is called during the join wait
constexpr std::chrono::milliseconds kJoinSlice{100};

std::optional<meta::MetaMethod> MetaMethodOf(const std::string& name) {
  for (const auto& [method_name, value] : meta::EnumNames(meta::MetaMethod{})) {
    // consensus has no server: its agents mix among themselves over a mesh
    if (method_name == name && value != meta::MetaMethod::kScratch &&
        value != meta::MetaMethod::kConsensus) {
      return value;
    }
  }
  return std::nullopt;
}

// dismisses every member when the serve ends, normally or not
class DismissOnExit {
 public:
  explicit DismissOnExit(network::ProtocolServer& server) : server_(server) {}
  ~DismissOnExit() { server_.Dismiss(server_.member_ids()); }
  DismissOnExit(const DismissOnExit&) = delete;
  DismissOnExit& operator=(const DismissOnExit&) = delete;

 private:
  network::ProtocolServer& server_;
};

}  // namespace

RunSummary ServeExperiment(const ExperimentConfig& config, const ServeOptions& options,
                           std::ostream& out) {
  const ledger::EnergyModel model(EnergyConfigOf(config));
  const Population population(config);
  for (const auto& node : population.nodes) model.ForNode(node.device, node.location);
  const std::size_t agents = population.size();
  const std::size_t expected = options.agents_expected == 0 ? agents : options.agents_expected;
  if (expected > agents) {
    throw ConfigError({}, "--agents-expected",
                      "the experiment has " + std::to_string(agents) + " agents, got " +
                          std::to_string(expected));
  }
  // the assignment: the resolved config (each agent rebuilds the population from it) and the
  // agent's index
  const std::string config_text = ResolvedToml(config);
  if (config_text.size() > network::kMaxTextBytes) {
    throw ConfigError({}, "experiment",
                      "the resolved config has " + std::to_string(config_text.size()) +
                          " bytes; a task assignment carries at most 65535");
  }

  network::ChannelConfig channel = config.network.channel;
  channel.tensor_encoding = config.network.links.downlink.tensor_encoding;
  zmq::context_t context;
  std::optional<network::ProtocolServer> bound;
  try {
    bound.emplace(context, options.bind, channel, options.security);
  } catch (const zmq::error_t& error) {
    throw ConfigError({}, "--bind", "cannot bind \"" + options.bind + "\": " + error.what());
  }
  network::ProtocolServer& server = *bound;
  server.SetJoinHandler(
      [&](const network::JoinRequest& request) -> std::optional<network::TaskAssignment> {
        if (request.node < 1 || request.node > agents) return std::nullopt;
        network::TaskAssignment assignment;
        assignment.scalars = {{"agent", static_cast<double>(request.node - 1)},
                              {"agents", static_cast<double>(agents)}};
        assignment.texts = {{"config", config_text}};
        out << "  node " << request.node << " joined";
        if (const network::Member* member = server.FindMember(request.node)) {
          out << " again (join " << member->joins + 1 << ")";
        }
        for (const network::Text& text : request.texts) {
          if (text.name == "host" && !text.value.empty()) out << " from " << text.value;
        }
        out << "\n";
        out.flush();
        return assignment;
      });
  DismissOnExit dismiss(server);
  if (options.on_bound) options.on_bound(server.endpoint());

  const RunFolder folder = CreateRunFolder(config);
  out << "serve: " << config.experiment.name << " (seed " << config.experiment.seed << ", "
      << agents << " agents in " << config.clusters.size() << " clusters) on "
      << server.endpoint()
      << (options.security.mechanism == network::Mechanism::kCurve ? " (CURVE)" : "") << "\n"
      << "run folder: " << folder.path.string() << "\n"
      << "waiting up to " << Format("%g", config.network.join_timeout_s) << " s for " << expected
      << " agents\n";
  out.flush();
  using std::chrono::milliseconds;
  const auto deadline =
      std::chrono::steady_clock::now() +
      milliseconds(static_cast<std::int64_t>(config.network.join_timeout_s * 1000.0));
  // in slices, so that while_joining can give up early
  bool joined = false;
  for (;;) {
    const auto left =
        std::chrono::ceil<milliseconds>(deadline - std::chrono::steady_clock::now());
    joined = server.WaitForMembers(expected, std::clamp(left, milliseconds{0}, kJoinSlice));
    if (joined || left <= kJoinSlice) break;
    if (options.while_joining) options.while_joining();
  }
  if (!joined) {
    std::string why = "only " + std::to_string(server.member_ids().size()) + " of " +
                      std::to_string(expected) + " agents joined within network.join_timeout_s";
    const network::SecurityStats security = server.channel().security_stats();
    if (security.refused > 0 || security.handshake_failures > 0) {
      why += Format(" (CURVE refused %llu connection(s) with unknown keys, %llu failed handshakes)",
                    static_cast<unsigned long long>(security.refused),
                    static_cast<unsigned long long>(security.handshake_failures));
    }
    if (server.stats().refused_joins > 0) {
      why += Format(" (%llu join(s) refused: node ids outside 1..%zu)",
                    static_cast<unsigned long long>(server.stats().refused_joins), agents);
    }
    throw std::runtime_error(why);
  }

  // the run as `metajoule run` does it (ledger runs, held-out deployment, episodes, tables),
  // with the meta methods' agents the remote ones
  RunHooks hooks;
  hooks.folder = folder;
  hooks.runs_method = [](const std::string& method) { return MetaMethodOf(method).has_value(); };
  hooks.skip_note = "not a meta method with a server, nothing to serve (run it with `metajoule run`)";
  hooks.train_meta = [&](meta::MetaMethod method, Population& run_population, ThreadPool&,
                         ledger::RunRecorder& recorder, const ledger::Meter& meter,
                         std::ostream& log, MethodCheckpoints* checkpoints) {
    const std::unique_ptr<MetaExchange> exchange =
        MakeServerExchange(server, config, agents, options.hooks);
    return RunMeta(config, method, run_population, *exchange, recorder, meter, log, checkpoints);
  };
  RunSummary summary = RunExperiment(config, out, hooks);

  const network::ProtocolStats& stats = server.stats();
  out << Format("agents: %llu joins (%llu rejoins), %llu refused, %llu leaves, %llu missed "
                "reports; rejected messages: %s\n",
                static_cast<unsigned long long>(stats.joins),
                static_cast<unsigned long long>(stats.rejoins),
                static_cast<unsigned long long>(stats.refused_joins),
                static_cast<unsigned long long>(stats.leaves),
                static_cast<unsigned long long>(stats.missed_reports),
                server.channel().rejections().ToString().c_str());
  if (options.security.mechanism == network::Mechanism::kCurve) {
    const network::SecurityStats security = server.channel().security_stats();
    out << Format("CURVE: %llu authorised, %llu refused (unknown keys), %llu failed handshakes\n",
                  static_cast<unsigned long long>(security.authorized),
                  static_cast<unsigned long long>(security.refused),
                  static_cast<unsigned long long>(security.handshake_failures));
  }
  return summary;
}

}  // namespace metajoule::experiments
