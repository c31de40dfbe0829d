// `metajoule run --slurm`'s plan: node lists, the allocation from the environment, agents over
// srun tasks and the srun command line (experiments/slurm_launch.h). The launch itself runs on a
// one-node Slurm cluster in tests/experiments/slurm_run_test.sh.
#include "experiments/slurm_launch.h"

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace metajoule::experiments {
namespace {

using Strings = std::vector<std::string>;

EnvironmentLookup Env(const std::map<std::string, std::string>& values) {
  return [values](const char* name) -> const char* {
    const auto it = values.find(name);
    return it == values.end() ? nullptr : it->second.c_str();
  };
}

std::string ErrorOf(std::string_view list) {
  try {
    ExpandNodeList(list);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

bool Contains(const Strings& argv, const Strings& part) {
  for (std::size_t i = 0; i + part.size() <= argv.size(); ++i) {
    if (Strings(argv.begin() + static_cast<std::ptrdiff_t>(i),
                argv.begin() + static_cast<std::ptrdiff_t>(i + part.size())) == part) {
      return true;
    }
  }
  return false;
}

TEST_SUITE("experiments/slurm_launch") {
  TEST_CASE("ExpandNodeList expands ranges and keeps their zero padding") {
    CHECK(ExpandNodeList("vm") == Strings{"vm"});
    CHECK(ExpandNodeList("node[01-03,07]") == Strings{"node01", "node02", "node03", "node07"});
    CHECK(ExpandNodeList("gpu[8-10],cpu5") == Strings{"gpu8", "gpu9", "gpu10", "cpu5"});
    CHECK(ExpandNodeList("a,b[1],c") == Strings{"a", "b1", "c"});
    CHECK(ExpandNodeList("n[098-101]") == Strings{"n098", "n099", "n100", "n101"});
    CHECK(ExpandNodeList("rack[1-2]-n[1-2]") ==
          Strings{"rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"});
  }

  TEST_CASE("ExpandNodeList rejects malformed lists and names them") {
    CHECK(ErrorOf("node[01-03").find("Slurm node list \"node[01-03\": unbalanced '['") == 0);
    CHECK(ErrorOf("node]").find("unbalanced ']'") != std::string::npos);
    CHECK(ErrorOf("node[3-1]").find("reversed range \"3-1\"") != std::string::npos);
    CHECK(ErrorOf("node[a-b]").find("expected a number") != std::string::npos);
    CHECK(ErrorOf("node[]").find("expected a number") != std::string::npos);
    CHECK(ErrorOf("a,,b").find("empty host name") != std::string::npos);
    CHECK(ErrorOf("").find("empty host name") != std::string::npos);
    CHECK(ErrorOf("n[1-[2]]").find("nested") != std::string::npos);
    CHECK(ErrorOf("a b").find("white space") != std::string::npos);
  }

  TEST_CASE("the allocation is read from the Slurm environment") {
    CHECK_FALSE(ReadSlurmAllocation(Env({}), "login1").has_value());
    CHECK_FALSE(ReadSlurmAllocation(Env({{"SLURM_JOB_ID", "7"}}), "login1").has_value());

    const auto batch = ReadSlurmAllocation(Env({{"SLURM_JOB_ID", "42"},
                                                {"SLURM_JOB_NODELIST", "c[1-3]"},
                                                {"SLURM_NTASKS", "6"},
                                                {"SLURM_JOB_NUM_NODES", "3"},
                                                {"SLURMD_NODENAME", "c1"}}),
                                           "ignored");
    REQUIRE(batch.has_value());
    CHECK(batch->job_id == "42");
    CHECK(batch->nodes == Strings{"c1", "c2", "c3"});
    CHECK(batch->tasks == 6);
    CHECK(batch->this_node == "c1");

    // salloc without --ntasks: one task per node, the command on the submitting host
    const auto salloc = ReadSlurmAllocation(
        Env({{"SLURM_JOB_ID", "43"}, {"SLURM_NODELIST", "c[1-2]"}, {"SLURM_JOB_NUM_NODES", "2"}}),
        "login1");
    REQUIRE(salloc.has_value());
    CHECK(salloc->tasks == 2);
    CHECK(salloc->this_node == "login1");

    CHECK_THROWS_WITH_AS(ReadSlurmAllocation(Env({{"SLURM_JOB_ID", "1"},
                                                  {"SLURM_JOB_NODELIST", "c1"},
                                                  {"SLURM_NTASKS", "two"}}),
                                             "h"),
                         "SLURM_NTASKS: expected a count, got \"two\"", std::invalid_argument);
  }

  TEST_CASE("agents are spread over the tasks in contiguous blocks") {
    CHECK(SlurmAgentBlock(5, 2, 0) == AgentBlock{1, 3});
    CHECK(SlurmAgentBlock(5, 2, 1) == AgentBlock{4, 2});
    CHECK(SlurmAgentBlock(2, 2, 1) == AgentBlock{2, 1});
    CHECK(SlurmAgentBlock(512, 1, 0) == AgentBlock{1, 512});
    // every agent in exactly one block, in order, sizes differing by at most one
    for (std::size_t agents = 1; agents <= 20; ++agents) {
      for (std::size_t tasks = 1; tasks <= agents; ++tasks) {
        std::uint32_t next = 1;
        for (std::size_t task = 0; task < tasks; ++task) {
          const AgentBlock block = SlurmAgentBlock(agents, tasks, task);
          CHECK(block.first_node == next);
          CHECK(block.count >= agents / tasks);
          CHECK(block.count <= agents / tasks + 1);
          next += block.count;
        }
        CHECK(next == agents + 1);
      }
    }
    CHECK_THROWS_AS(SlurmAgentBlock(2, 3, 0), std::invalid_argument);
    CHECK_THROWS_AS(SlurmAgentBlock(2, 0, 0), std::invalid_argument);
    CHECK_THROWS_AS(SlurmAgentBlock(4, 2, 2), std::invalid_argument);
  }

  TEST_CASE("an srun task finds its block from SLURM_PROCID") {
    CHECK(SlurmAgentBlockOfTask(Env({{"SLURM_PROCID", "1"}, {"SLURM_STEP_NUM_TASKS", "2"},
                                     {"SLURM_NTASKS", "9"}}),
                                5) == AgentBlock{4, 2});
    CHECK(SlurmAgentBlockOfTask(Env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}), 3) ==
          AgentBlock{1, 3});
    CHECK_THROWS_WITH_AS(SlurmAgentBlockOfTask(Env({}), 3),
                         doctest::Contains("not a task of an srun step"), std::invalid_argument);
    CHECK_THROWS_WITH_AS(
        SlurmAgentBlockOfTask(Env({{"SLURM_PROCID", "0"}, {"SLURM_STEP_NUM_TASKS", "4"}}), 3),
        doctest::Contains("4 tasks for 3 agents"), std::invalid_argument);
  }

  TEST_CASE("the plan serves from this node and runs one srun step of every task") {
    SlurmAllocation allocation;
    allocation.job_id = "9";
    allocation.nodes = {"c1", "c2"};
    allocation.tasks = 4;
    allocation.this_node = "c1";
    SlurmLaunchOptions options;
    options.executable = "/opt/mj/metajoule";
    options.agents = 6;
    options.port = 5555;
    options.keys_dir = "/shared/runs/.slurm-9/keys";
    options.give_up_s = 120;
    const SlurmLaunchPlan plan = PlanSlurmLaunch(allocation, options);
    CHECK(plan.server_host == "c1");
    CHECK(plan.server_in_allocation);
    CHECK(plan.bind == "tcp://*:5555");
    CHECK(plan.connect == "tcp://c1:5555");
    CHECK(plan.tasks == 4);
    CHECK(plan.nodes == 2);
    CHECK(plan.blocks == std::vector<AgentBlock>{{1, 2}, {3, 2}, {5, 1}, {6, 1}});
    CHECK(plan.srun.front() == "srun");
    CHECK(Contains(plan.srun, {"--ntasks=4", "--nodes=2", "--kill-on-bad-exit=0"}));
    CHECK(Contains(plan.srun, {"/opt/mj/metajoule", "agent", "--connect", "tcp://c1:5555",
                               "--slurm-agents", "6", "--give-up-s", "120"}));
    CHECK(Contains(plan.srun, {"--curve-secret", "/shared/runs/.slurm-9/keys/agents.key_secret",
                               "--curve-server-public", "/shared/runs/.slurm-9/keys/server.key"}));
    const std::string text = DescribeSlurmPlan(allocation, plan);
    CHECK(text.find("Slurm job 9: 2 node(s) (c1, c2), 4 task(s)") != std::string::npos);
    CHECK(text.find("task 0: nodes 1-2\n") != std::string::npos);
    CHECK(text.find("task 3: node 6\n") != std::string::npos);
    CHECK(text.find("note:") == std::string::npos);
  }

  TEST_CASE("the plan takes at most one task per agent and flags a server outside") {
    SlurmAllocation allocation;
    allocation.job_id = "10";
    allocation.nodes = {"c1", "c2", "c3"};
    allocation.tasks = 8;
    allocation.this_node = "login1";
    SlurmLaunchOptions options;
    options.executable = "/mj";
    options.agents = 2;
    options.srun_args = {"--cpus-per-task=2"};
    const SlurmLaunchPlan plan = PlanSlurmLaunch(allocation, options);
    CHECK(plan.tasks == 2);
    CHECK(plan.nodes == 2);
    CHECK(plan.bind == "tcp://*:*");
    CHECK(plan.connect == "tcp://login1:<port>");
    CHECK_FALSE(plan.server_in_allocation);
    CHECK(Contains(plan.srun, {"--cpus-per-task=2", "/mj", "agent"}));
    CHECK_FALSE(Contains(plan.srun, {"--curve-secret"}));
    CHECK(DescribeSlurmPlan(allocation, plan).find("note: login1 is not a node") !=
          std::string::npos);
    options.agents = 0;
    CHECK_THROWS_AS(PlanSlurmLaunch(allocation, options), std::invalid_argument);
  }

  TEST_CASE("command lines are quoted for the shell and ports read from endpoints") {
    CHECK(ShellCommandLine({"srun", "--ntasks=2", "/a b/mj", "it's", ""}) ==
          "srun --ntasks=2 '/a b/mj' 'it'\\''s' ''");
    CHECK(PortOfEndpoint("tcp://0.0.0.0:41234") == 41234);
    CHECK(PortOfEndpoint("tcp://*:5555") == 5555);
    CHECK_FALSE(PortOfEndpoint("tcp://*:*").has_value());
    CHECK_FALSE(PortOfEndpoint("inproc://x").has_value());
  }
}

}  // namespace
}  // namespace metajoule::experiments
