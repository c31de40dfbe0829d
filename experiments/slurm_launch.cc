#include "experiments/slurm_launch.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <stdexcept>

namespace metajoule::experiments {
namespace {

[[noreturn]] void BadList(std::string_view list, const std::string& why) {
  throw std::invalid_argument("Slurm node list \"" + std::string(list) + "\": " + why);
}

std::uint64_t Number(std::string_view list, std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    BadList(list, "expected a number in a range, got \"" + std::string(text) + "\"");
  }
  return value;
}

// "01-03,07" -> {"01", "02", "03", "07"}
std::vector<std::string> ExpandRanges(std::string_view list, std::string_view ranges) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= ranges.size()) {
    std::size_t comma = ranges.find(',', start);
    if (comma == std::string_view::npos) comma = ranges.size();
    const std::string_view range = ranges.substr(start, comma - start);
    const std::size_t dash = range.find('-');
    const std::string_view low_text = range.substr(0, dash);
    const std::string_view high_text =
        dash == std::string_view::npos ? low_text : range.substr(dash + 1);
    const std::uint64_t low = Number(list, low_text);
    const std::uint64_t high = Number(list, high_text);
    if (high < low) BadList(list, "reversed range \"" + std::string(range) + "\"");
    if (high - low > 1'000'000) BadList(list, "range \"" + std::string(range) + "\" is too long");
    for (std::uint64_t value = low; value <= high; ++value) {
      std::string digits = std::to_string(value);
      if (digits.size() < low_text.size()) {
        digits.insert(0, low_text.size() - digits.size(), '0');
      }
      out.push_back(std::move(digits));
    }
    start = comma + 1;
  }
  return out;
}

// one host expression without top-level commas: "rack[1-2]-n[01-02]"
void ExpandHost(std::string_view list, std::string_view host, std::vector<std::string>& out) {
  const std::size_t open = host.find('[');
  if (open == std::string_view::npos) {
    if (host.find(']') != std::string_view::npos) BadList(list, "unbalanced ']'");
    out.emplace_back(host);
    return;
  }
  const std::size_t close = host.find(']', open);
  if (close == std::string_view::npos) BadList(list, "unbalanced '['");
  const std::string_view prefix = host.substr(0, open);
  if (prefix.find(']') != std::string_view::npos) BadList(list, "unbalanced ']'");
  std::vector<std::string> suffixes;
  ExpandHost(list, host.substr(close + 1), suffixes);
  for (const std::string& middle : ExpandRanges(list, host.substr(open + 1, close - open - 1))) {
    for (const std::string& suffix : suffixes) {
      out.push_back(std::string(prefix) + middle + suffix);
    }
  }
}

std::size_t Count(const char* text, const char* name) {
  const std::string_view value(text);
  std::size_t count = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), count);
  if (value.empty() || error != std::errc() || end != value.data() + value.size()) {
    throw std::invalid_argument(std::string(name) + ": expected a count, got \"" +
                                std::string(value) + "\"");
  }
  return count;
}

}  // namespace

std::vector<std::string> ExpandNodeList(std::string_view list) {
  std::vector<std::string> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= list.size(); ++i) {
    const char c = i < list.size() ? list[i] : ',';
    if (c == '[') {
      if (++depth > 1) BadList(list, "nested '['");
    } else if (c == ']') {
      if (--depth < 0) BadList(list, "unbalanced ']'");
    } else if (c == ',' && depth == 0) {
      const std::string_view host = list.substr(start, i - start);
      if (host.empty()) BadList(list, "empty host name");
      ExpandHost(list, host, out);
      start = i + 1;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      BadList(list, "white space in the list");
    }
  }
  if (depth != 0) BadList(list, "unbalanced '['");
  return out;
}

std::optional<SlurmAllocation> ReadSlurmAllocation(const EnvironmentLookup& env,
                                                   const std::string& hostname) {
  const char* job = env("SLURM_JOB_ID");
  const char* list = env("SLURM_JOB_NODELIST");
  if (list == nullptr) list = env("SLURM_NODELIST");
  if (job == nullptr || list == nullptr || *job == '\0' || *list == '\0') return std::nullopt;
  SlurmAllocation allocation;
  allocation.job_id = job;
  allocation.nodes = ExpandNodeList(list);
  if (const char* tasks = env("SLURM_NTASKS")) {
    allocation.tasks = Count(tasks, "SLURM_NTASKS");
  } else if (const char* nodes = env("SLURM_JOB_NUM_NODES")) {
    allocation.tasks = Count(nodes, "SLURM_JOB_NUM_NODES");
  } else {
    allocation.tasks = allocation.nodes.size();
  }
  const char* node = env("SLURMD_NODENAME");
  allocation.this_node = node != nullptr && *node != '\0' ? node : hostname;
  return allocation;
}

AgentBlock SlurmAgentBlock(std::size_t agents, std::size_t tasks, std::size_t task) {
  if (tasks == 0 || tasks > agents) {
    throw std::invalid_argument("SlurmAgentBlock: expected 1 to " + std::to_string(agents) +
                                " tasks (one agent at least each), got " + std::to_string(tasks));
  }
  if (task >= tasks) {
    throw std::invalid_argument("SlurmAgentBlock: task " + std::to_string(task) +
                                " of " + std::to_string(tasks) + " tasks (expected 0 to " +
                                std::to_string(tasks - 1) + ")");
  }
  const std::size_t base = agents / tasks;
  const std::size_t extra = agents % tasks;
  AgentBlock block;
  block.first_node = static_cast<std::uint32_t>(1 + task * base + std::min(task, extra));
  block.count = static_cast<std::uint32_t>(base + (task < extra ? 1 : 0));
  return block;
}

AgentBlock SlurmAgentBlockOfTask(const EnvironmentLookup& env, std::size_t agents) {
  const char* procid = env("SLURM_PROCID");
  const char* tasks = env("SLURM_STEP_NUM_TASKS");
  const char* tasks_name = "SLURM_STEP_NUM_TASKS";
  if (tasks == nullptr) {
    tasks = env("SLURM_NTASKS");
    tasks_name = "SLURM_NTASKS";
  }
  if (procid == nullptr || tasks == nullptr) {
    throw std::invalid_argument(
        "--slurm-agents: SLURM_PROCID and SLURM_STEP_NUM_TASKS are not set: this is not a task "
        "of an srun step (metajoule run --slurm starts one; otherwise use --node)");
  }
  const std::size_t task_count = Count(tasks, tasks_name);
  if (task_count > agents) {
    throw std::invalid_argument("--slurm-agents: the srun step has " + std::to_string(task_count) +
                                " tasks for " + std::to_string(agents) +
                                " agents: at most one task per agent");
  }
  return SlurmAgentBlock(agents, task_count, Count(procid, "SLURM_PROCID"));
}

SlurmLaunchPlan PlanSlurmLaunch(const SlurmAllocation& allocation,
                                const SlurmLaunchOptions& options) {
  if (options.agents == 0) {
    throw std::invalid_argument("PlanSlurmLaunch: the run has no agents");
  }
  if (allocation.tasks == 0 || allocation.nodes.empty()) {
    throw std::invalid_argument("PlanSlurmLaunch: the allocation has no tasks");
  }
  SlurmLaunchPlan plan;
  plan.server_host = options.server_host.empty() ? allocation.this_node : options.server_host;
  plan.server_in_allocation =
      std::find(allocation.nodes.begin(), allocation.nodes.end(), plan.server_host) !=
      allocation.nodes.end();
  const std::string port = options.port > 0 ? std::to_string(options.port) : "";
  plan.bind = "tcp://*:" + (port.empty() ? std::string("*") : port);
  plan.connect = "tcp://" + plan.server_host + ":" + (port.empty() ? std::string("<port>") : port);
  plan.tasks = std::min(allocation.tasks, options.agents);
  plan.nodes = std::min(allocation.nodes.size(), plan.tasks);
  for (std::size_t task = 0; task < plan.tasks; ++task) {
    plan.blocks.push_back(SlurmAgentBlock(options.agents, plan.tasks, task));
  }
  // one step of every task; a failing task leaves the others running (the server records its
  // reports missing), --label prefixes each output line with its task number
  plan.srun = {"srun",
               "--ntasks=" + std::to_string(plan.tasks),
               "--nodes=" + std::to_string(plan.nodes),
               "--kill-on-bad-exit=0",
               "--label",
               "--job-name=metajoule-agents"};
  plan.srun.insert(plan.srun.end(), options.srun_args.begin(), options.srun_args.end());
  const std::vector<std::string> agent = {options.executable.string(),
                                          "agent",
                                          "--connect",
                                          plan.connect,
                                          "--slurm-agents",
                                          std::to_string(options.agents)};
  plan.srun.insert(plan.srun.end(), agent.begin(), agent.end());
  if (options.give_up_s > 0.0) {
    std::ostringstream text;
    text << options.give_up_s;
    plan.srun.insert(plan.srun.end(), {"--give-up-s", text.str()});
  }
  if (!options.keys_dir.empty()) {
    plan.srun.insert(plan.srun.end(),
                     {"--curve-secret", (options.keys_dir / "agents.key_secret").string(),
                      "--curve-server-public", (options.keys_dir / "server.key").string()});
  }
  return plan;
}

std::string ShellCommandLine(const std::vector<std::string>& argv) {
  std::string line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += ' ';
    const bool plain =
        !arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-_./=:,+@%") == std::string::npos;
    if (plain) {
      line += arg;
      continue;
    }
    line += '\'';
    for (const char c : arg) {
      if (c == '\'') {
        line += "'\\''";
      } else {
        line += c;
      }
    }
    line += '\'';
  }
  return line;
}

std::string DescribeSlurmPlan(const SlurmAllocation& allocation, const SlurmLaunchPlan& plan) {
  std::ostringstream out;
  out << "Slurm job " << allocation.job_id << ": " << allocation.nodes.size() << " node(s) (";
  for (std::size_t i = 0; i < allocation.nodes.size() && i < 8; ++i) {
    out << (i == 0 ? "" : ", ") << allocation.nodes[i];
  }
  if (allocation.nodes.size() > 8) out << ", ...";
  out << "), " << allocation.tasks << " task(s)\n"
      << "server: " << plan.server_host << ", bound to " << plan.bind << ", agents connect to "
      << plan.connect << "\n";
  if (!plan.server_in_allocation) {
    out << "  note: " << plan.server_host
        << " is not a node of the allocation (salloc runs its command where it was started): "
           "the nodes must reach it over tcp\n";
  }
  out << "agents: " << plan.tasks << " srun task(s) on " << plan.nodes << " node(s)\n";
  for (std::size_t task = 0; task < plan.blocks.size(); ++task) {
    const AgentBlock& block = plan.blocks[task];
    out << "  task " << task << ": node";
    if (block.count == 1) {
      out << " " << block.first_node;
    } else {
      out << "s " << block.first_node << "-" << block.first_node + block.count - 1;
    }
    out << "\n";
  }
  out << "srun: " << ShellCommandLine(plan.srun) << "\n";
  return out.str();
}

std::optional<int> PortOfEndpoint(std::string_view endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view text = endpoint.substr(colon + 1);
  int port = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || port <= 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return port;
}

}  // namespace metajoule::experiments
