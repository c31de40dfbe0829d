#include "experiments/episodes.h"

#include <algorithm>
#include <charconv>
#include <set>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <tuple>

#include "common/error.h"
#include "ledger/ledger_store.h"
#include "ledger/queries.h"

namespace metajoule::experiments {
namespace {

constexpr const char* kExtension = ".mjrec";

bool PlainName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
  });
}

// Reads "<prefix><digits>" at `pos` of `name`, advancing pos; false if it is not there.
bool ReadField(const std::string& name, std::size_t& pos, const char* prefix, int& value) {
  const std::string p(prefix);
  if (name.compare(pos, p.size(), p) != 0) return false;
  pos += p.size();
  const char* begin = name.data() + pos;
  const char* end = name.data() + name.size();
  const auto [next, error] = std::from_chars(begin, end, value);
  if (error != std::errc() || next == begin || value < 0) return false;
  pos += static_cast<std::size_t>(next - begin);
  return true;
}

// "agent-3-round-10-step-1.mjrec" -> (3, 10, 1)
std::optional<std::tuple<int, int, int>> ParseName(const std::string& name) {
  std::size_t pos = 0;
  int agent = 0, round = 0, step = 0;
  if (!ReadField(name, pos, "agent-", agent) || !ReadField(name, pos, "-round-", round) ||
      !ReadField(name, pos, "-step-", step) || name.substr(pos) != kExtension) {
    return std::nullopt;
  }
  return std::tuple{agent, round, step};
}

template <class T>
std::string List(const std::set<T>& values) {
  std::vector<std::string> names;
  for (const T& v : values) {
    if constexpr (std::is_same_v<T, std::string>) {
      names.push_back(v);
    } else {
      names.push_back(std::to_string(v));
    }
  }
  return JoinNames(names);
}

}  // namespace

std::string RunEpisode::Describe() const {
  return method + " agent " + std::to_string(agent) + " round " + std::to_string(round) +
         " step " + std::to_string(step);
}

std::filesystem::path RunEpisodePath(const std::filesystem::path& run_folder,
                                     const std::string& method, int agent, int round, int step) {
  if (!PlainName(method)) {
    throw std::invalid_argument("RunEpisodePath: expected a method name of letters, digits, _ "
                                "and -, got '" + method + "'");
  }
  if (agent < 0 || round < 0 || step < 0) {
    throw std::invalid_argument("RunEpisodePath: expected agent, round and step >= 0, got " +
                                std::to_string(agent) + ", " + std::to_string(round) + ", " +
                                std::to_string(step));
  }
  return run_folder / "episodes" / method /
         ("agent-" + std::to_string(agent) + "-round-" + std::to_string(round) + "-step-" +
          std::to_string(step) + kExtension);
}

std::filesystem::path WriteRunEpisode(const std::filesystem::path& run_folder,
                                      const std::string& method, int agent, int round, int step,
                                      const sim::EpisodeRecording& recording) {
  const std::filesystem::path path = RunEpisodePath(run_folder, method, agent, round, step);
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) {
    throw ConfigError({path.parent_path().string()}, "", "cannot create: " + error.message());
  }
  sim::WriteRecording(recording, path.string());
  return path;
}

std::vector<RunEpisode> ListRunEpisodes(const std::filesystem::path& run_folder) {
  const std::filesystem::path root = run_folder / "episodes";
  std::error_code error;
  if (!std::filesystem::is_directory(root, error)) {
    throw ConfigError({run_folder.string()}, "",
                      std::filesystem::is_directory(run_folder, error)
                          ? "no episodes/ folder: this run recorded no episodes"
                          : "not a run folder or a recording file");
  }
  std::vector<RunEpisode> episodes;
  for (const auto& method_dir : std::filesystem::directory_iterator(root, error)) {
    if (!method_dir.is_directory()) continue;
    const std::string method = method_dir.path().filename().string();
    for (const auto& file : std::filesystem::directory_iterator(method_dir.path(), error)) {
      if (!file.is_regular_file()) continue;
      if (const auto key = ParseName(file.path().filename().string())) {
        const auto [agent, round, step] = *key;
        episodes.push_back({method, agent, round, step, file.path()});
      }
    }
  }
  std::sort(episodes.begin(), episodes.end(), [](const RunEpisode& a, const RunEpisode& b) {
    return std::tie(a.method, a.agent, a.round, a.step) <
           std::tie(b.method, b.agent, b.round, b.step);
  });
  return episodes;
}

RunEpisode FindRunEpisode(const std::filesystem::path& run_folder,
                          const std::optional<std::string>& method, int agent,
                          std::optional<int> round, int step) {
  const std::vector<RunEpisode> all = ListRunEpisodes(run_folder);
  auto fail = [&run_folder](const std::string& key, const std::string& message) {
    throw ConfigError({run_folder.string()}, key, message);
  };
  std::set<std::string> methods;
  for (const RunEpisode& e : all) methods.insert(e.method);
  if (methods.empty()) fail("", "episodes/ holds no recording (agent-N-round-R-step-S.mjrec)");

  // the method: given, or the only one
  std::string chosen;
  if (method) {
    if (methods.count(*method) == 0) {
      fail("--method", "no episodes of method '" + *method + "' (recorded: " + List(methods) + ")");
    }
    chosen = *method;
  } else if (methods.size() == 1) {
    chosen = *methods.begin();
  } else {
    fail("--method", "episodes of several methods are recorded, choose one: " + List(methods));
  }

  // then the agent, the step and the round, each listing what exists at that level
  std::set<int> agents, steps, rounds;
  for (const RunEpisode& e : all) {
    if (e.method != chosen) continue;
    agents.insert(e.agent);
    if (e.agent != agent) continue;
    steps.insert(e.step);
    if (e.step != step) continue;
    rounds.insert(e.round);
  }
  if (agents.count(agent) == 0) {
    fail("--agent", "no episode of agent " + std::to_string(agent) + " for " + chosen +
                        " (agents, by ledger node id: " + List(agents) + ")");
  }
  if (steps.count(step) == 0) {
    fail("--step", "agent " + std::to_string(agent) + " of " + chosen +
                       " has no episode at adaptation step " + std::to_string(step) +
                       " (steps: " + List(steps) + ")");
  }
  const int wanted = round ? *round : *rounds.rbegin();  // omitted: the latest round
  if (rounds.count(wanted) == 0) {
    fail("--round", "agent " + std::to_string(agent) + " of " + chosen + " has no episode at step " +
                        std::to_string(step) + " in round " + std::to_string(wanted) +
                        " (rounds: " + List(rounds) + ")");
  }
  for (const RunEpisode& e : all) {
    if (e.method == chosen && e.agent == agent && e.step == step && e.round == wanted) return e;
  }
  MJL_DEMAND(false);  // the sets above come from `all`
  return {};
}

std::optional<double> RunEnergyThroughRound(const std::filesystem::path& run_folder,
                                            const std::string& method, int round) {
  const std::filesystem::path path = run_folder / "ledger.sqlite";
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return std::nullopt;
  const ledger::LedgerStore store(path.string(), {}, ledger::OpenMode::kReadOnly);
  std::optional<std::int64_t> run;
  // the latest training run of the method: not a repriced copy, nor the held-out deployment
  // run of the same method (`<name>:held-out`, experiments/deployment.h)
  for (const ledger::RunRecord& record : store.Runs()) {
    if (record.info.method == method && !record.repriced_from &&
        !ledger::IsHeldOutRun(record.info.name)) {
      run = record.id;
    }
  }
  if (!run) return std::nullopt;
  double energy = 0.0;
  for (const ledger::RoundEnergy& row : ledger::QueryEnergyByRound(store, *run)) {
    if (row.round <= round) energy += row.energy_j;
  }
  return energy;
}

}  // namespace metajoule::experiments
