#pragma once
// `metajoule run FILE --slurm`: one run spread over a Slurm allocation (docs/scale.md, "One run
// over a Slurm allocation"). The meta-learner is served from the process that runs the command
// (the batch script's node under sbatch: the allocation's first node), and the run's agents are
// one srun step of the allocation's tasks, each task hosting a contiguous block of agents
// (`metajoule agent --slurm-agents N`). This file is the pure part, tested without Slurm:
// reading the allocation from the environment, expanding Slurm node lists, assigning agents to
// tasks and writing the command lines. Spawning srun and serving are in cli/slurm_run.cc.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace metajoule::experiments {

/// Expands a Slurm host list ("node[01-03,07],gpu5", "rack[1-2]-n[1-2]") into host names, in
/// Slurm's order; numeric ranges keep the zero padding of their lower bound.
/// @throws std::invalid_argument naming the list for an unbalanced bracket, an empty or reversed
/// range, or a non-numeric range bound.
std::vector<std::string> ExpandNodeList(std::string_view list);

/// What a Slurm allocation tells its processes.
struct SlurmAllocation {
  std::string job_id;              ///< SLURM_JOB_ID
  std::vector<std::string> nodes;  ///< SLURM_JOB_NODELIST expanded
  std::size_t tasks{0};  ///< SLURM_NTASKS, else one per node (SLURM_JOB_NUM_NODES)
  std::string this_node;  ///< SLURMD_NODENAME (set in batch scripts), else the host name
};

/// Environment lookup (getenv's signature; tests pass a map).
using EnvironmentLookup = std::function<const char*(const char* name)>;

/// The allocation the calling process is in; nullopt when SLURM_JOB_ID or the node list
/// (SLURM_JOB_NODELIST, or the older SLURM_NODELIST) is not set. `hostname` is used when
/// SLURMD_NODENAME is not set (salloc runs its command on the submitting host).
/// @throws std::invalid_argument for a malformed node list or task count.
std::optional<SlurmAllocation> ReadSlurmAllocation(const EnvironmentLookup& env,
                                                   const std::string& hostname);

/// The agents of one srun task: nodes first .. first + count - 1 (node k + 1 is agent k).
struct AgentBlock {
  std::uint32_t first_node{1};
  std::uint32_t count{0};
  bool operator==(const AgentBlock&) const = default;
};

/// Task `task` of `tasks`' contiguous block of `agents` agents: the first agents % tasks tasks
/// take one more. Every task of tasks <= agents gets at least one agent.
/// @throws std::invalid_argument when tasks is 0 or above agents, or task is not below tasks.
AgentBlock SlurmAgentBlock(std::size_t agents, std::size_t tasks, std::size_t task);

/// The srun task this process is, from SLURM_PROCID and SLURM_STEP_NUM_TASKS (else
/// SLURM_NTASKS): its block of `agents` agents.
/// @throws std::invalid_argument when not in an srun step, or for more tasks than agents.
AgentBlock SlurmAgentBlockOfTask(const EnvironmentLookup& env, std::size_t agents);

struct SlurmLaunchOptions {
  std::filesystem::path executable;  ///< the metajoule binary (same path on every node)
  std::size_t agents{0};             ///< the run's agents
  int port{0};                 ///< the server's tcp port; 0 while not bound yet
  std::string server_host{};   ///< the agents connect here; empty: the allocation's this_node
  /// Directory of the run's CURVE keys (server.key, agents.key_secret); empty: no CURVE.
  std::filesystem::path keys_dir{};
  double give_up_s{0.0};       ///< agent --give-up-s
  std::vector<std::string> srun_args{};  ///< more srun options, before the program
};

struct SlurmLaunchPlan {
  std::string server_host;
  bool server_in_allocation{false};  ///< server_host is one of the allocation's nodes
  std::string bind;                  ///< tcp://*:PORT (tcp://*:* when the port is 0)
  std::string connect;               ///< tcp://HOST:PORT ("<port>" when the port is 0)
  std::size_t tasks{0};              ///< srun tasks: min(allocation tasks, agents)
  std::size_t nodes{0};              ///< srun nodes: min(allocation nodes, tasks)
  std::vector<AgentBlock> blocks;    ///< per task
  std::vector<std::string> srun;     ///< the srun command line (argv)
};

/// The launch of `options.agents` agents over `allocation`.
/// @throws std::invalid_argument for no agents or an allocation without tasks.
SlurmLaunchPlan PlanSlurmLaunch(const SlurmAllocation& allocation,
                                const SlurmLaunchOptions& options);

/// The plan in words: the allocation, the server's address, each task's agents, the srun
/// command line (shell-quoted).
std::string DescribeSlurmPlan(const SlurmAllocation& allocation, const SlurmLaunchPlan& plan);

/// A command line as a shell would read it, quoting what needs it.
std::string ShellCommandLine(const std::vector<std::string>& argv);

/// "tcp://*:5555" or "tcp://0.0.0.0:41234" -> its port; nullopt when it has none.
std::optional<int> PortOfEndpoint(std::string_view endpoint);

}  // namespace metajoule::experiments
