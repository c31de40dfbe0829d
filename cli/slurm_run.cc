#include "cli/slurm_run.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "common/error.h"
#include "experiments/batch.h"
#include "experiments/meta_server.h"
#include "experiments/population.h"
#include "experiments/slurm_launch.h"
#include "network/curve.h"

extern char** environ;

namespace metajoule::cli {
namespace {

namespace fs = std::filesystem;

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

fs::path SelfExecutable() {
  std::error_code error;
  fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error) {
    throw std::runtime_error("cannot find this program's path (/proc/self/exe): " +
                             error.message());
  }
  return self;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The agents' srun step: a child process, its output in a log file. Ended (SIGTERM, then
// SIGKILL) when still running at destruction.
class SrunStep {
 public:
  SrunStep(const std::vector<std::string>& argv, const fs::path& log) {
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int error = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (error != 0) {
      throw std::runtime_error("cannot start " + argv.front() + ": " + std::strerror(error));
    }
  }
  ~SrunStep() { Stop(10.0); }
  SrunStep(const SrunStep&) = delete;
  SrunStep& operator=(const SrunStep&) = delete;

  // true once it has ended (reaped here)
  bool Ended() {
    if (ended_) return true;
    int status = 0;
    const pid_t pid = waitpid(pid_, &status, WNOHANG);
    if (pid == pid_) {
      ended_ = true;
      status_ = status;
    }
    return ended_;
  }
  // waits up to `seconds` for it to end
  bool WaitFor(double seconds) {
    const double end = Now() + seconds;
    while (!Ended()) {
      if (Now() > end) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return true;
  }
  // ends it: SIGTERM (srun cancels the step and its tasks), after `seconds` SIGKILL
  void Stop(double seconds) {
    if (Ended()) return;
    kill(pid_, SIGTERM);
    if (WaitFor(seconds)) return;
    kill(pid_, SIGKILL);
    WaitFor(5.0);
  }
  bool ok() const { return ended_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0; }
  std::string Describe() const {
    if (!ended_) return "still running";
    if (WIFEXITED(status_)) return "exit code " + std::to_string(WEXITSTATUS(status_));
    if (WIFSIGNALED(status_)) return "killed by signal " + std::to_string(WTERMSIG(status_));
    return "stopped";
  }

 private:
  pid_t pid_{-1};
  bool ended_{false};
  int status_{0};
};

// the run's CURVE keys: server and agents pairs in `dir` (0700), every file 0600
struct RunKeys {
  network::CurveKeyPair server;
  network::CurveKeyPair agents;
};

RunKeys MakeRunKeys(const fs::path& dir) {
  if (!network::CurveAvailable()) {
    throw ConfigError({}, "--slurm",
                      "this libzmq was built without CURVE (--slurm-no-curve runs in the clear)");
  }
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  RunKeys keys{network::GenerateCurveKeyPair(), network::GenerateCurveKeyPair()};
  for (const auto& [name, pair] : {std::pair{"server", &keys.server}, {"agents", &keys.agents}}) {
    const fs::path file = dir / (std::string(name) + ".key");
    network::WriteCurveKeyFiles(file.string(), *pair);
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace);
  }
  return keys;
}

}  // namespace

int RunOnSlurm(const experiments::ExperimentConfig& config, const SlurmRunOptions& options,
               std::ostream& out) {
  const std::optional<experiments::SlurmAllocation> allocation =
      experiments::ReadSlurmAllocation([](const char* name) { return std::getenv(name); },
                                         HostName());
  if (!allocation) {
    throw ConfigError({}, "--slurm",
                      "not inside a Slurm allocation (SLURM_JOB_ID and SLURM_JOB_NODELIST are "
                      "not set): use salloc/sbatch, or see docs/scale.md");
  }
  const fs::path srun = experiments::FindOnPath("srun");
  if (srun.empty() && !options.dry_run) {
    throw ConfigError({}, "--slurm",
                      "srun is not on PATH (Debian: apt-get install slurm-client)");
  }
  const experiments::Population population(config);
  // the launch folder: keys and the agents' log, moved into the run folder at the end; on a
  // shared file system, as every node reads the keys
  const fs::path launch = fs::absolute(fs::path(config.experiment.output_dir) /
                                       config.experiment.name /
                                       (".slurm-" + allocation->job_id + "-" +
                                        std::to_string(getpid())));
  experiments::SlurmLaunchOptions launch_options;
  launch_options.executable = SelfExecutable();
  launch_options.agents = population.size();
  launch_options.port = options.port;
  launch_options.server_host = options.server_host;
  if (options.curve) launch_options.keys_dir = launch / "keys";
  // no --give-up-s: the agents wait for a silent server (a long meta update); a server that is
  // gone ends the job, or stops the step on its way out, and Slurm ends the tasks with it
  launch_options.srun_args = options.srun_args;
  experiments::SlurmLaunchPlan plan = experiments::PlanSlurmLaunch(*allocation, launch_options);
  if (!srun.empty()) plan.srun.front() = srun.string();

  if (options.dry_run) {
    out << "run " << config.experiment.name << " over Slurm (dry run: nothing is started)\n"
        << experiments::DescribeSlurmPlan(*allocation, plan)
        << (options.curve ? "CURVE keys (made per run): " + (launch / "keys").string() +
                                "/{server,agents}.key{,_secret}, moved to the run folder's "
                                "slurm/keys at the end\n"
                          : std::string("CURVE: off (--slurm-no-curve)\n"))
        << "agents' output: " << (launch / "agents.log").string() << "\n";
    return kExitOk;
  }

  fs::create_directories(launch);
  fs::permissions(launch, fs::perms::owner_all, fs::perm_options::replace);
  const fs::path log = launch / "agents.log";
  experiments::ServeOptions serve;
  serve.bind = plan.bind;
  if (options.curve) {
    const RunKeys keys = MakeRunKeys(launch / "keys");
    serve.security.mechanism = network::Mechanism::kCurve;
    serve.security.keys = keys.server;
    serve.security.authorized_keys = {keys.agents.public_key};
  }
  std::unique_ptr<SrunStep> step;
  const double start = Now();
  serve.on_bound = [&](const std::string& endpoint) {
    const std::optional<int> port = experiments::PortOfEndpoint(endpoint);
    if (!port) throw std::runtime_error("the server bound " + endpoint + ", which has no port");
    launch_options.port = *port;
    plan = experiments::PlanSlurmLaunch(*allocation, launch_options);
    plan.srun.front() = srun.string();
    out << experiments::DescribeSlurmPlan(*allocation, plan) << "agents' output: " << log.string()
        << "\n";
    out.flush();
    step = std::make_unique<SrunStep>(plan.srun, log);
  };
  // a step that ended before the run did took its agents with it: stop the run there (during
  // the join wait too: a step that cannot start must not keep the run waiting join_timeout_s)
  serve.while_joining = [&] {
    if (step && step->Ended()) {
      throw std::runtime_error("the agents' srun step ended (" + step->Describe() +
                               ") before every agent joined");
    }
  };
  serve.hooks.before_push = [&](int round, network::ProtocolServer&) {
    if (step && step->Ended()) {
      throw std::runtime_error("the agents' srun step ended (" + step->Describe() +
                               ") before round " + std::to_string(round));
    }
  };

  experiments::RunSummary summary;
  try {
    summary = experiments::ServeExperiment(config, serve, out);
  } catch (const std::runtime_error& error) {
    std::string why = error.what();
    if (step) {
      step->Stop(10.0);
      if (why.find("srun step ended") == std::string::npos) {
        why += "; the agents' srun step: " + step->Describe();
      }
      why += "; last lines of " + log.string() + ":\n" + experiments::TailOfFile(log, 15);
    }
    throw std::runtime_error(why + "(the run folder's ledger keeps every committed record; keys "
                                   "and log stay in " + launch.string() + ")");
  }
  if (!step) throw std::runtime_error("the server never reported its endpoint: no agents started");
  // dismissed agents exit 0, and with them the step
  const bool ended = step->WaitFor(30.0);
  if (!ended) step->Stop(10.0);
  const double seconds = Now() - start;

  // keys and log into the run folder
  const fs::path kept = summary.folder / "slurm";
  std::error_code moved;
  fs::rename(launch, kept, moved);
  out << "Slurm: agents' srun step " << step->Describe() << (ended ? "" : " (stopped after 30 s)")
      << "; " << std::fixed << std::setprecision(2) << seconds << " s from bind to the end; "
      << (moved ? "keys and log stay in " + launch.string() + " (" + moved.message() + ")"
                : "keys and agents' log in " + kept.string())
      << "\n";
  if (!step->ok()) {
    out << "warning: some agents failed (see the agents' log); the run recorded their missing "
           "reports\n";
    return kExitRuntimeFailure;
  }
  return kExitOk;
}

}  // namespace metajoule::cli
