#include "experiments/meta_agent.h"

#include <unistd.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <random>
#include <stdexcept>
#include <vector>

#include <zmq.hpp>

#include "experiments/format.h"
#include "sim/random.h"

namespace metajoule::experiments {
namespace {

// scalar names of a run's pushes and reports (docs/protocol.md, "Runs")
constexpr const char* kMethod = "method";
constexpr const char* kRound = "round";
constexpr const char* kStatus = "status";
constexpr const char* kWeight = "weight";
constexpr const char* kEnvSteps = "env_steps";
constexpr const char* kSimSteps = "sim_steps";
constexpr const char* kEpisodes = "episodes";
constexpr const char* kPolicyFlops = "policy_flops";
constexpr const char* kCpuSeconds = "cpu_s";
constexpr const char* kWallSeconds = "wall_s";
constexpr const char* kPackageJoules = "package_j";
constexpr const char* kPreReturn = "pre_return";
constexpr const char* kPostReturn = "post_return";
constexpr const char* kOuterLoss = "outer_loss";
constexpr const char* kMessage = "message";
constexpr const char* kTheta = "theta";
constexpr const char* kUpdate = "update";
constexpr const char* kCount = "count";
constexpr const char* kRejected = "rejected";

// a whole number in [min, max] carried as a float64 scalar
bool WholeNumber(double value, double min, double max) {
  return std::isfinite(value) && value >= min && value <= max && std::floor(value) == value;
}

network::Content ContentOf(meta::MetaMethod method) {
  switch (method) {
    case meta::MetaMethod::kReptile: return network::Content::kDelta;
    case meta::MetaMethod::kFedAvg:
    case meta::MetaMethod::kConsensus: return network::Content::kModel;
    default: return network::Content::kGradient;
  }
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

}  // namespace

network::Message MakeMetaPush(meta::MetaMethod method, int round, const Eigen::VectorXd& phi) {
  std::vector<float> theta(static_cast<std::size_t>(phi.size()));
  for (Eigen::Index i = 0; i < phi.size(); ++i) theta[static_cast<std::size_t>(i)] = static_cast<float>(phi[i]);
  return network::MakeModelPush(network::kAnyNode, 0, theta,
                                {{kMethod, static_cast<double>(method)},
                                 {kRound, static_cast<double>(round)}});
}

std::optional<MetaPush> ParseMetaPush(const network::Message& push, std::string& error) {
  const auto method = push.FindScalar(kMethod);
  const auto round = push.FindScalar(kRound);
  const network::Tensor* theta = push.FindTensor(kTheta);
  const double last_method = static_cast<double>(meta::EnumNames(meta::MetaMethod{}).size() - 1);
  if (push.kind != network::MessageKind::kModelPush || !method || !round || theta == nullptr) {
    error = "a model push needs scalars \"method\" and \"round\" and a tensor \"theta\"";
    return std::nullopt;
  }
  if (!WholeNumber(*method, 1.0, last_method)) {
    error = "scalar \"method\" is not a meta method code (1.." + Format("%.0f", last_method) +
            "), got " + Format("%g", *method);
    return std::nullopt;
  }
  if (!WholeNumber(*round, 1.0, 2147483647.0)) {
    error = "scalar \"round\" must be a whole number >= 1, got " + Format("%g", *round);
    return std::nullopt;
  }
  MetaPush result;
  result.method = static_cast<meta::MetaMethod>(static_cast<int>(*method));
  result.round = static_cast<int>(*round);
  result.phi.resize(static_cast<Eigen::Index>(theta->values.size()));
  for (std::size_t i = 0; i < theta->values.size(); ++i) {
    result.phi[static_cast<Eigen::Index>(i)] = theta->values[i];
  }
  return result;
}

network::Message MakeMetaReport(const meta::Contribution& contribution,
                                const ledger::Measurement& measurement) {
  agents::UpdateStatus status = contribution.status;
  std::string message = contribution.message;
  std::vector<float> update;
  if (contribution.ok()) {
    update.resize(static_cast<std::size_t>(contribution.vector.size()));
    for (Eigen::Index i = 0; i < contribution.vector.size(); ++i) {
      update[static_cast<std::size_t>(i)] = static_cast<float>(contribution.vector[i]);
      if (!std::isfinite(update[static_cast<std::size_t>(i)])) {
        status = agents::UpdateStatus::kNonFiniteGradient;
        message = "the update has entries beyond the float32 range";
        update.clear();
        break;
      }
    }
  }
  std::vector<network::Scalar> scalars{
      {kStatus, static_cast<double>(status)},
      {kWeight, contribution.weight},
      {kEnvSteps, static_cast<double>(contribution.work.env_steps)},
      {kSimSteps, static_cast<double>(contribution.work.sim_steps)},
      {kEpisodes, static_cast<double>(contribution.work.episodes)},
      {kPolicyFlops, static_cast<double>(contribution.work.policy_flops)},
      {kCpuSeconds, measurement.cpu_seconds},
      {kWallSeconds, measurement.wall_seconds},
      {kPreReturn, contribution.pre_adaptation_return},
      {kPostReturn, contribution.post_adaptation_return},
      {kOuterLoss, contribution.outer_loss},
  };
  if (measurement.package_j) scalars.push_back({kPackageJoules, *measurement.package_j});
  network::Message report = network::MakeUpdateReport(network::kAnyNode, 0,
                                                       ContentOf(contribution.method), update,
                                                       scalars);
  if (status != agents::UpdateStatus::kOk) {
    report.texts.push_back({kMessage, message.substr(0, network::kMaxTextBytes)});
  }
  return report;
}

std::optional<MetaReport> ParseMetaReport(const network::Message& report, std::string& error) {
  const network::Tensor* update = report.FindTensor(kUpdate);
  if (report.kind != network::MessageKind::kUpdateReport || update == nullptr) {
    error = "an update report needs a tensor \"update\"";
    return std::nullopt;
  }
  const char* required[] = {kStatus,     kWeight,      kEnvSteps,  kSimSteps,
                            kEpisodes,   kPolicyFlops, kCpuSeconds, kWallSeconds,
                            kPreReturn,  kPostReturn,  kOuterLoss};
  for (const char* name : required) {
    if (!report.FindScalar(name)) {
      error = std::string("an update report needs the scalar \"") + name + "\"";
      return std::nullopt;
    }
  }
  const double status = *report.FindScalar(kStatus);
  const double last_status = static_cast<double>(agents::UpdateStatus::kLineSearchFailed);
  if (!WholeNumber(status, 0.0, last_status)) {
    error = "scalar \"status\" is not an update status code, got " + Format("%g", status);
    return std::nullopt;
  }
  constexpr double kMaxCount = 9007199254740992.0;  // 2^53: exact in a float64
  for (const char* name : {kEnvSteps, kSimSteps, kEpisodes, kPolicyFlops}) {
    if (!WholeNumber(*report.FindScalar(name), 0.0, kMaxCount)) {
      error = std::string("scalar \"") + name + "\" must be a whole number >= 0";
      return std::nullopt;
    }
  }
  for (const char* name : {kCpuSeconds, kWallSeconds}) {
    const double value = *report.FindScalar(name);
    if (!(std::isfinite(value) && value >= 0.0)) {
      error = std::string("scalar \"") + name + "\" must be a finite number >= 0";
      return std::nullopt;
    }
  }
  MetaReport result;
  meta::Contribution& c = result.contribution;
  c.status = static_cast<agents::UpdateStatus>(static_cast<int>(status));
  if (const network::Text* text = report.FindText(kMessage)) c.message = text->value;
  c.weight = *report.FindScalar(kWeight);
  c.work.env_steps = static_cast<std::int64_t>(*report.FindScalar(kEnvSteps));
  c.work.sim_steps = static_cast<std::int64_t>(*report.FindScalar(kSimSteps));
  c.work.episodes = static_cast<std::int64_t>(*report.FindScalar(kEpisodes));
  c.work.policy_flops = static_cast<std::uint64_t>(*report.FindScalar(kPolicyFlops));
  c.pre_adaptation_return = *report.FindScalar(kPreReturn);
  c.post_adaptation_return = *report.FindScalar(kPostReturn);
  c.outer_loss = *report.FindScalar(kOuterLoss);
  c.vector.resize(static_cast<Eigen::Index>(update->values.size()));
  for (std::size_t i = 0; i < update->values.size(); ++i) {
    c.vector[static_cast<Eigen::Index>(i)] = update->values[i];
  }
  result.measurement.cpu_seconds = *report.FindScalar(kCpuSeconds);
  result.measurement.wall_seconds = *report.FindScalar(kWallSeconds);
  result.measurement.package_j = report.FindScalar(kPackageJoules);
  return result;
}

// ---- cluster aggregates ----

network::Message MakeClusterAggregate(meta::MetaMethod method, const ClusterAggregate& aggregate) {
  std::vector<float> sum(static_cast<std::size_t>(aggregate.count > 0 ? aggregate.sum.size() : 0));
  int count = aggregate.count;
  int rejected = aggregate.rejected;
  double weight = aggregate.weight;
  for (std::size_t i = 0; i < sum.size(); ++i) {
    sum[i] = static_cast<float>(aggregate.sum[static_cast<Eigen::Index>(i)]);
    if (!std::isfinite(sum[i])) {
      // beyond float32: the head cannot forward it
      sum.clear();
      rejected += count;
      count = 0;
      weight = 0.0;
      break;
    }
  }
  return network::MakeUpdateReport(network::kAnyNode, 0, ContentOf(method), sum,
                                   {{kWeight, weight},
                                    {kCount, static_cast<double>(count)},
                                    {kRejected, static_cast<double>(rejected)}});
}

std::optional<ClusterAggregate> ParseClusterAggregate(const network::Message& message,
                                                      std::string& error) {
  const network::Tensor* update = message.FindTensor(kUpdate);
  const auto weight = message.FindScalar(kWeight);
  const auto count = message.FindScalar(kCount);
  const auto rejected = message.FindScalar(kRejected);
  if (message.kind != network::MessageKind::kUpdateReport || update == nullptr || !weight ||
      !count || !rejected) {
    error = "a cluster aggregate needs a tensor \"update\" and scalars \"weight\", \"count\" "
            "and \"rejected\"";
    return std::nullopt;
  }
  if (!WholeNumber(*count, 0.0, 2147483647.0) || !WholeNumber(*rejected, 0.0, 2147483647.0)) {
    error = "scalars \"count\" and \"rejected\" must be whole numbers >= 0";
    return std::nullopt;
  }
  if (!(std::isfinite(*weight) && *weight >= 0.0) || (*count > 0) != (*weight > 0.0) ||
      (*count > 0) == update->values.empty()) {
    error = "an aggregate of n > 0 contributions needs a weight > 0 and a sum, of none neither";
    return std::nullopt;
  }
  ClusterAggregate result;
  result.weight = *weight;
  result.count = static_cast<int>(*count);
  result.rejected = static_cast<int>(*rejected);
  result.sum.resize(static_cast<Eigen::Index>(update->values.size()));
  for (std::size_t i = 0; i < update->values.size(); ++i) {
    result.sum[static_cast<Eigen::Index>(i)] = update->values[i];
  }
  return result;
}

// ---- MetaAgent ----

MetaAgent::MetaAgent(const ExperimentConfig& config, const Population& population,
                     std::size_t agent)
    : agent_(agent), seed_(static_cast<std::uint64_t>(config.experiment.seed)) {
  if (agent >= population.size()) {
    throw std::invalid_argument("MetaAgent: agent " + std::to_string(agent) +
                                " is not in the population of " +
                                std::to_string(population.size()));
  }
  meta_config_ = config.meta.config;
  meta_config_.iterations = config.training.rounds;
  meta_config_.threads = 1;
  env_ = std::make_unique<agents::SimRolloutEnv>(*population.env_worlds[agent],
                                                 population.tasks[agent],
                                                 *population.env_configs[agent]);
  agents::SimRolloutEnv* raw = env_.get();
  task_ = {raw, raw->horizon(), [raw] { return raw->sim_steps(); }};
  const auto& policy = config.agents.policy;
  policy_ = std::make_unique<agents::GaussianMlpPolicy>(raw->obs_dim(), raw->act_dim(),
                                                        policy.hidden_sizes, policy.activation);
}

std::optional<network::Message> MetaAgent::Answer(const network::Message& push,
                                                  const ledger::Meter& meter, std::string& error) {
  std::optional<MetaPush> parsed = ParseMetaPush(push, error);
  if (!parsed) return std::nullopt;
  meta_config_.method = parsed->method;
  const Eigen::Index expected = meta::MetaParamCount(meta_config_, *policy_);
  if (parsed->phi.size() != expected) {
    error = "theta has " + std::to_string(parsed->phi.size()) + " values, this agent's policy " +
            std::to_string(expected);
    return std::nullopt;
  }
  // each agent and round its own stream (as RunMeta has always drawn them)
  const auto k = static_cast<std::uint64_t>(agent_);
  std::mt19937_64 rng(sim::DeriveSeed(
      sim::DeriveSeed(sim::DeriveSeed(seed_, seed_stream::kContribution),
                      static_cast<std::uint64_t>(parsed->round)),
      k));
  const ledger::MeterSample start = meter.Start();
  const meta::Contribution contribution =
      meta::ComputeContribution(meta_config_, *policy_, parsed->phi, task_, rng);
  const ledger::Measurement measurement = meter.Stop(start);
  network::Message report = MakeMetaReport(contribution, measurement);
  report.round = push.round;
  return report;
}

// ---- the agent process ----

network::AgentExit RunRemoteAgent(const RemoteAgentOptions& options, std::ostream& log) {
  zmq::context_t context;
  std::optional<network::ProtocolClient> connected;
  try {
    connected.emplace(context, options.connect, options.node, options.channel, options.security);
  } catch (const zmq::error_t& error) {
    throw ConfigError({}, "--connect",
                      "cannot connect to \"" + options.connect + "\": " + error.what());
  }
  network::ProtocolClient& client = *connected;
  network::JoinRequest request;
  request.node = options.node;
  request.texts.push_back({"host", HostName()});

  // the assignment names the experiment (config text) and this agent's index in it; a new
  // assignment (a restarted server, another experiment) rebuilds everything
  struct Task {
    std::string config_text;
    std::unique_ptr<ExperimentConfig> config;
    std::unique_ptr<Population> population;
    std::unique_ptr<MetaAgent> agent;
    std::unique_ptr<ledger::Meter> meter;
  } task;
  const network::AgentReportCompute compute =
      [&](const network::TaskAssignment& assignment,
          const network::Message& push) -> std::optional<network::Message> {
    const network::Text* text = nullptr;
    for (const network::Text& t : assignment.texts) {
      if (t.name == "config") text = &t;
    }
    std::optional<double> index;
    for (const network::Scalar& s : assignment.scalars) {
      if (s.name == "agent") index = s.value;
    }
    if (text == nullptr || !index || !WholeNumber(*index, 0.0, 1e9)) {
      log << "node " << options.node << ": the assignment has no config text or agent index\n";
      return std::nullopt;
    }
    if (text->value != task.config_text || !task.agent ||
        task.agent->agent() != static_cast<std::size_t>(*index)) {
      task = Task{};
      task.config = std::make_unique<ExperimentConfig>(
          ParseExperiment(text->value, "assignment from " + options.connect));
      task.population = std::make_unique<Population>(*task.config);
      task.agent = std::make_unique<MetaAgent>(*task.config, *task.population,
                                               static_cast<std::size_t>(*index));
      task.meter = std::make_unique<ledger::Meter>(ledger::SelectMeter(
          task.config->ledger.energy.meter, {},
          [&log](const std::string& warning) { log << "warning: " << warning << "\n"; }));
      task.config_text = text->value;
      client.channel().set_tensor_encoding(task.config->network.links.uplink.tensor_encoding);
      const auto k = static_cast<std::size_t>(*index);
      log << "node " << options.node << ": agent " << k << " of experiment \""
          << task.config->experiment.name << "\" (seed " << task.config->experiment.seed
          << "), task " << task.population->tasks[k].Describe() << "\n";
      log.flush();
    }
    std::string error;
    std::optional<network::Message> report = task.agent->Answer(push, *task.meter, error);
    if (!report) {
      log << "node " << options.node << ": bad model push: " << error << "\n";
      return std::nullopt;
    }
    std::string error_unused;
    const std::optional<MetaPush> parsed = ParseMetaPush(push, error_unused);
    const std::optional<MetaReport> sent = ParseMetaReport(*report, error_unused);
    if (parsed && sent) {
      const meta::Contribution& c = sent->contribution;
      const double shown =
          std::isfinite(c.post_adaptation_return) ? c.post_adaptation_return : c.pre_adaptation_return;
      log << Format("node %u: %s round %d: return %.3f, %.2f s\n", options.node,
                    std::string(meta::MetaMethodName(parsed->method)).c_str(), parsed->round,
                    shown, sent->measurement.wall_seconds);
      log.flush();
    }
    return report;
  };
  network::AgentLoopOptions loop;
  loop.stop = options.stop;
  if (options.give_up_s > 0.0) {
    loop.max_silent_periods = std::max(
        1, static_cast<int>(std::ceil(options.give_up_s * 1000.0 /
                                      static_cast<double>(loop.idle_timeout.count()))));
  }
  return network::RunAgentReportLoop(client, request, compute, loop);
}

}  // namespace metajoule::experiments
