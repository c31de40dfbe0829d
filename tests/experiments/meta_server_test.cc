// `metajoule serve` and `metajoule agent`: a served run over tcp loopback with agents that are
// separate processes (the built metajoule binary), one of them killed mid-round and restarted;
// and CURVE refusing an agent whose key is not authorised.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include <doctest/doctest.h>

#include "experiments/experiment_config.h"
#include "experiments/meta_agent.h"
#include "experiments/meta_server.h"
#include "experiments/runner.h"
#include "ledger/ledger_store.h"
#include "network/curve.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace metajoule::experiments {
namespace {

ExperimentConfig Tiny(const std::filesystem::path& output_dir, int agents, int rounds) {
  const std::string text = R"(
[experiment]
name = "tiny-serve"
seed = 4
methods = ["random", "reptile"]

[agents]
policy = { hidden_sizes = [8] }

[meta]
inner_episodes = 2

[evaluation]
held_out_tasks = 0

[network]
round_timeout_s = 2.0
join_timeout_s = 20.0

[[clusters]]
name = "a"
task = { family = "reach2d" }
agents = )" + std::to_string(agents) + "\n";
  return ParseExperiment(text, "tiny-serve.toml",
                         {"experiment.output_dir=\"" + output_dir.string() + "\"",
                          "training.rounds=" + std::to_string(rounds)});
}

// `metajoule agent --connect endpoint --node node`, output to `log`
pid_t SpawnAgent(const std::string& endpoint, int node, const std::string& log) {
  const std::string binary = METAJOULE_BINARY;
  std::vector<std::string> args = {binary, "agent", "--connect", endpoint, "--node",
                                   std::to_string(node), "--give-up-s", "30"};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int error = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(error == 0);
  return pid;
}

// exit status of `pid`, waiting at most `seconds` (then it is killed: -1)
int WaitExit(pid_t pid, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// rounds of node `node`'s events of one phase in a run, e.g. its "learn" events
std::set<std::int64_t> Rounds(const std::filesystem::path& folder, std::int64_t run, int node,
                              const std::string& where) {
  const ledger::LedgerStore store((folder / "ledger.sqlite").string(), {},
                                  ledger::OpenMode::kReadOnly);
  sqlite3_stmt* statement = nullptr;
  const std::string sql =
      "SELECT round FROM events WHERE run = ? AND node = ? AND " + where;
  REQUIRE(sqlite3_prepare_v2(store.handle(), sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
  sqlite3_bind_int64(statement, 1, run);
  sqlite3_bind_int(statement, 2, node);
  std::set<std::int64_t> rounds;
  while (sqlite3_step(statement) == SQLITE_ROW) rounds.insert(sqlite3_column_int64(statement, 0));
  sqlite3_finalize(statement);
  return rounds;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_SUITE("experiments/meta_server") {
  TEST_CASE("a served run over tcp completes a round without a killed agent and takes it back") {
    test::TempDir dir;
    const ExperimentConfig config = Tiny(dir.path(), 3, 4);
    std::map<int, pid_t> agents;
    ServeOptions options;
    options.bind = "tcp://127.0.0.1:*";
    std::string endpoint;
    options.on_bound = [&](const std::string& bound) {
      endpoint = bound;
      for (int node = 1; node <= 3; ++node) {
        agents[node] = SpawnAgent(endpoint, node, dir.File("agent-" + std::to_string(node) + ".log"));
      }
    };
    double round2_seconds = 0.0;
    auto round2_start = std::chrono::steady_clock::now();
    options.hooks.before_push = [&](int round, network::ProtocolServer& server) {
      if (round == 2) {
        // node 2 is frozen before the push reaches it, so it can never answer round 2
        kill(agents[2], SIGSTOP);
        round2_start = std::chrono::steady_clock::now();
      }
      if (round == 3) {
        round2_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                       round2_start).count();
      }
      if (round == 4) {
        // the restarted node 2 joins again (a second hello from the same node)
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (server.FindMember(2) == nullptr || server.FindMember(2)->joins < 2) {
          if (std::chrono::steady_clock::now() > end) break;
          server.Poll(std::chrono::milliseconds(50));
        }
      }
    };
    options.hooks.after_push = [&](int round, network::ProtocolServer&) {
      if (round == 2) {
        // ... and dies mid-round
        kill(agents[2], SIGKILL);
        int status = 0;
        waitpid(agents[2], &status, 0);
        agents.erase(2);
      }
      if (round == 3) agents[2] = SpawnAgent(endpoint, 2, dir.File("agent-2b.log"));
    };
    std::ostringstream out;
    RunSummary summary;
    try {
      summary = ServeExperiment(config, options, out);
    } catch (...) {
      for (const auto& [node, pid] : agents) kill(pid, SIGKILL);
      for (const auto& [node, pid] : agents) waitpid(pid, nullptr, 0);
      throw;
    }
    // the dismissed agents leave and exit 0
    for (const auto& [node, pid] : agents) {
      INFO("agent ", node, ": ", ReadFile(dir.File("agent-" + std::to_string(node) + ".log")));
      CHECK(WaitExit(pid, 10.0) == 0);
    }
    INFO(out.str());
    REQUIRE(summary.methods.size() == 1);  // random needs no server: skipped
    CHECK(out.str().find("random: not a meta method") != std::string::npos);
    const std::int64_t run = summary.methods[0].ledger_run;
    const ledger::LedgerStore store((summary.folder / "ledger.sqlite").string(), {},
                                    ledger::OpenMode::kReadOnly);
    CHECK(store.Run(run).status == "finished");

    // round 2 waited for the frozen node until its deadline, then closed without it
    CHECK(round2_seconds >= 1.9);
    CHECK(out.str().find("round   2/4: mean return") != std::string::npos);
    CHECK(out.str().find("1 reports missing") != std::string::npos);
    // the ledger: node 2 missing in rounds 2 (killed) and 3 (gone when pushed), back in round 4
    const std::string missing = "phase = 'other' AND link = 'uplink' AND attempts = 0";
    CHECK(Rounds(summary.folder, run, 2, missing) == std::set<std::int64_t>{2, 3});
    CHECK(Rounds(summary.folder, run, 2, "phase = 'learn'") == std::set<std::int64_t>{1, 4});
    for (const int node : {1, 3}) {
      CHECK(Rounds(summary.folder, run, node, "phase = 'learn'") ==
            std::set<std::int64_t>{1, 2, 3, 4});
      CHECK(Rounds(summary.folder, run, node, missing).empty());
    }
    CHECK(out.str().find("(1 rejoins)") != std::string::npos);
  }

  TEST_CASE("a served run gives the figures of the same run in one process") {
    test::TempDir dir;
    const ExperimentConfig config = Tiny(dir.path(), 3, 2);
    std::vector<std::thread> agents;
    std::vector<network::AgentExit> exits(3, network::AgentExit::kServerLost);
    std::vector<std::ostringstream> logs(3);
    ServeOptions options;
    options.bind = "tcp://127.0.0.1:*";
    options.on_bound = [&](const std::string& endpoint) {
      for (std::size_t k = 0; k < 3; ++k) {
        RemoteAgentOptions agent;
        agent.connect = endpoint;
        agent.node = static_cast<network::NodeId>(k + 1);
        agent.give_up_s = 20.0;
        agents.emplace_back([&, agent, k] { exits[k] = RunRemoteAgent(agent, logs[k]); });
      }
    };
    std::ostringstream out;
    RunSummary served;
    try {
      served = ServeExperiment(config, options, out);
    } catch (...) {
      for (std::thread& agent : agents) agent.join();
      throw;
    }
    for (std::thread& agent : agents) agent.join();
    for (const network::AgentExit exit : exits) CHECK(exit == network::AgentExit::kDismissed);
    std::ostringstream run_out;
    const RunSummary local = RunExperiment(config, run_out);
    const MethodSummary* a = served.Find("reptile");
    const MethodSummary* b = local.Find("reptile");
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(a->mean_return == b->mean_return);
    CHECK(a->compute_j == b->compute_j);
    CHECK(a->uplink_j == b->uplink_j);
    CHECK(a->downlink_j == b->downlink_j);
  }

  TEST_CASE("CURVE admits an authorised agent and refuses an unknown key") {
    if (!network::CurveAvailable()) return;
    test::TempDir dir;
    const network::CurveKeyPair server_keys = network::GenerateCurveKeyPair();
    const network::CurveKeyPair known = network::GenerateCurveKeyPair();
    const network::CurveKeyPair unknown = network::GenerateCurveKeyPair();
    ServeOptions options;
    options.bind = "tcp://127.0.0.1:*";
    options.security.mechanism = network::Mechanism::kCurve;
    options.security.keys = server_keys;
    options.security.authorized_keys = {known.public_key};

    network::AgentExit intruder_exit = network::AgentExit::kDismissed;
    network::AgentExit agent_exit = network::AgentExit::kServerLost;
    std::ostringstream intruder_log;
    std::ostringstream agent_log;
    std::thread intruder;
    std::thread agent;
    options.on_bound = [&](const std::string& endpoint) {
      RemoteAgentOptions base;
      base.connect = endpoint;
      base.node = 1;
      base.security.mechanism = network::Mechanism::kCurve;
      base.security.server_public_key = server_keys.public_key;
      // the intruder tries first and gives up: it never gets a word through
      RemoteAgentOptions bad = base;
      bad.security.keys = unknown;
      bad.give_up_s = 1.0;
      RemoteAgentOptions good = base;
      good.security.keys = known;
      good.give_up_s = 20.0;
      intruder = std::thread([&, bad, good] {
        intruder_exit = RunRemoteAgent(bad, intruder_log);
        agent = std::thread([&, good] { agent_exit = RunRemoteAgent(good, agent_log); });
      });
    };
    std::ostringstream out;
    RunSummary summary;
    try {
      summary = ServeExperiment(Tiny(dir.path(), 1, 1), options, out);
    } catch (...) {
      if (intruder.joinable()) intruder.join();
      if (agent.joinable()) agent.join();
      throw;
    }
    intruder.join();
    agent.join();
    INFO(out.str());
    INFO(intruder_log.str());
    INFO(agent_log.str());
    CHECK(intruder_exit == network::AgentExit::kServerLost);
    CHECK(agent_exit == network::AgentExit::kDismissed);
    REQUIRE(summary.methods.size() == 1);
    std::smatch match;
    const std::string text = out.str();
    REQUIRE(std::regex_search(text, match, std::regex(R"(CURVE: (\d+) authorised, (\d+) refused)")));
    CHECK(std::stoi(match[1]) >= 1);
    CHECK(std::stoi(match[2]) >= 1);
    CHECK(text.find("1 joins (0 rejoins)") != std::string::npos);
  }
}

}  // namespace
}  // namespace metajoule::experiments
