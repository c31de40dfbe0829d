#include "experiments/scale_bench.h"

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <streambuf>
#include <thread>

#include "common/statistics.h"
#include "experiments/format.h"
#include "experiments/runner.h"

namespace metajoule::experiments {
namespace {

// what /proc/self/status says about this process (kB figures converted to MB)
struct ProcessStatus {
  double rss_mb{0.0};
  double hwm_mb{0.0};
  int threads{0};
  double cpu_seconds{0.0};  ///< user + system time of every thread so far
};

ProcessStatus ReadProcessStatus() {
  ProcessStatus status;
  std::ifstream in("/proc/self/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:" || key == "VmHWM:") {
      double kb = 0.0;
      in >> kb;
      (key == "VmRSS:" ? status.rss_mb : status.hwm_mb) = kb / 1024.0;
    } else if (key == "Threads:") {
      in >> status.threads;
    }
    in.ignore(1 << 20, '\n');
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
  };
  status.cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  return status;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Receives RunExperiment's progress output and stamps every "<method> round r/R" line, which
// the runner prints when round r is done: the interval between two such lines is one round.
class RoundClock final : public std::streambuf {
 public:
  explicit RoundClock(std::string method) : marker_(std::move(method) + " round ") {}

  struct Stamp {
    double seconds{0.0};
    ProcessStatus status{};
  };
  const std::vector<Stamp>& stamps() const { return stamps_; }
  /// The last lines printed, for error messages.
  std::string tail() const {
    std::string text;
    for (const std::string& line : last_lines_) text += "  | " + line + "\n";
    return text;
  }

 protected:
  int overflow(int c) override {
    if (c == traits_type::eof()) return traits_type::not_eof(c);
    if (c == '\n') {
      EndLine();
    } else {
      line_.push_back(static_cast<char>(c));
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    for (std::streamsize i = 0; i < n; ++i) overflow(static_cast<unsigned char>(s[i]));
    return n;
  }

 private:
  void EndLine() {
    if (line_.find(marker_) != std::string::npos) stamps_.push_back({Now(), ReadProcessStatus()});
    last_lines_.push_back(line_);
    if (last_lines_.size() > 8) last_lines_.erase(last_lines_.begin());
    line_.clear();
  }

  std::string marker_;
  std::string line_;
  std::vector<Stamp> stamps_;
  std::vector<std::string> last_lines_;
};

// One run, in this process: the measured half of a row (ratios are filled in by the caller).
ScaleBenchRow MeasureRun(const ScaleBenchOptions& options, const std::string& method, int agents,
                         const std::string& output_dir) {
  const ExperimentConfig config = ScaleBenchConfig(options, method, agents, output_dir);
  ScaleBenchRow row;
  row.method = method;
  row.agents = agents;
  row.clusters = static_cast<int>(config.clusters.size());
  row.pool_threads = config.sim.threads > 0
                         ? config.sim.threads
                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const ProcessStatus before = ReadProcessStatus();
  RoundClock clock(method);
  std::ostream out(&clock);
  RunExperiment(config, out);
  const ProcessStatus after = ReadProcessStatus();
  const auto& stamps = clock.stamps();
  if (static_cast<int>(stamps.size()) != options.rounds) {
    throw std::runtime_error(Format("bench scale: expected %d progress lines \"%s round r/R\" "
                                    "from the run, saw %zu; last output:\n",
                                    options.rounds, method.c_str(), stamps.size()) +
                             clock.tail());
  }
  std::vector<double> intervals;
  std::vector<double> cpu_intervals;
  for (std::size_t r = 1; r < stamps.size(); ++r) {
    intervals.push_back(stamps[r].seconds - stamps[r - 1].seconds);
    cpu_intervals.push_back(stamps[r].status.cpu_seconds - stamps[r - 1].status.cpu_seconds);
  }
  row.timed_rounds = static_cast<int>(intervals.size());
  row.round_seconds = Median(intervals);
  row.per_agent_ms = 1e3 * row.round_seconds / agents;
  row.cpu_per_agent_ms = 1e3 * Median(cpu_intervals) / agents;
  row.rss_before_mb = before.rss_mb;
  for (const auto& stamp : stamps) {
    row.rss_training_mb = std::max(row.rss_training_mb, stamp.status.rss_mb);
    row.process_threads = std::max(row.process_threads, stamp.status.threads);
  }
  // the kernel refreshes VmHWM lazily: never report less than an RSS seen
  row.peak_mb = std::max({after.hwm_mb, after.rss_mb, row.rss_training_mb});
  row.rss_per_agent_mb = (row.rss_training_mb - row.rss_before_mb) / agents;
  row.peak_per_agent_mb = (row.peak_mb - row.rss_before_mb) / agents;
  return row;
}

// the row as one line of text through the pipe from the child
std::string Serialize(const ScaleBenchRow& r) {
  std::ostringstream text;
  text.precision(17);
  text << r.clusters << ' ' << r.pool_threads << ' ' << r.process_threads << ' ' << r.timed_rounds
       << ' ' << r.round_seconds << ' ' << r.per_agent_ms << ' ' << r.rss_before_mb << ' '
       << r.rss_training_mb << ' ' << r.peak_mb << ' ' << r.rss_per_agent_mb << ' '
       << r.peak_per_agent_mb << ' ' << r.cpu_per_agent_ms;
  return text.str();
}

void Deserialize(const std::string& text, ScaleBenchRow& r) {
  std::istringstream in(text);
  in >> r.clusters >> r.pool_threads >> r.process_threads >> r.timed_rounds >> r.round_seconds >>
      r.per_agent_ms >> r.rss_before_mb >> r.rss_training_mb >> r.peak_mb >> r.rss_per_agent_mb >>
      r.peak_per_agent_mb >> r.cpu_per_agent_ms;
  if (!in) throw std::runtime_error("bench scale: unreadable result from the child: " + text);
}

void WriteAll(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// Runs MeasureRun in a child process; its result (or its error) comes back through a pipe.
ScaleBenchRow MeasureRunInChild(const ScaleBenchOptions& options, const std::string& method,
                                int agents, const std::string& output_dir) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("bench scale: pipe: ") + std::strerror(errno));
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    throw std::runtime_error(std::string("bench scale: fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    int code = 0;
    std::string message;
    try {
      message = "ok " + Serialize(MeasureRun(options, method, agents, output_dir));
    } catch (const std::exception& error) {
      message = std::string("error ") + error.what();
      code = 1;
    }
    WriteAll(fds[1], message);
    close(fds[1]);
    _exit(code);  // no atexit handlers or stdio flushes of the parent's state
  }
  close(fds[1]);
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ScaleBenchRow row;
  row.method = method;
  row.agents = agents;
  if (text.rfind("ok ", 0) == 0) {
    Deserialize(text.substr(3), row);
    return row;
  }
  if (text.rfind("error ", 0) == 0) throw std::runtime_error(text.substr(6));
  throw std::runtime_error(Format("bench scale: the run of %s on %d agents ended without a "
                                  "result (wait status %d)",
                                  method.c_str(), agents, status));
}

}  // namespace

ExperimentConfig ScaleBenchConfig(const ScaleBenchOptions& options, const std::string& method,
                                  int agents, const std::string& output_dir) {
  if (agents < 1 || options.cluster_size < 1 || options.episodes < 1 || options.rounds < 2 ||
      options.threads < 0) {
    throw std::invalid_argument(Format(
        "bench scale: expected agents, cluster_size and episodes >= 1, rounds >= 2 and "
        "threads >= 0, got %d, %d, %d, %d and %d",
        agents, options.cluster_size, options.episodes, options.rounds, options.threads));
  }
  ExperimentConfig config;
  config.experiment.name = Format("scale-%s-%d", method.c_str(), agents);
  config.experiment.seed = options.seed;
  config.experiment.methods = {method};
  config.experiment.output_dir = output_dir;
  config.sim.threads = options.threads;
  config.training.rounds = options.rounds;
  config.agents.episodes_per_update = options.episodes;
  config.meta.config.inner_episodes = options.episodes;
  config.meta.config.outer_episodes = options.episodes;
  config.evaluation.held_out_tasks = 0;  // training rounds only
  for (int first = 0, c = 0; first < agents; first += options.cluster_size, ++c) {
    sim::ClusterConfig cluster;
    cluster.name = Format("c%d", c);
    cluster.agents = std::min(options.cluster_size, agents - first);
    cluster.task.family = options.family;
    config.clusters.push_back(std::move(cluster));
  }
  // through the experiment-file loader, so every section is validated as `run` would
  try {
    return ParseExperiment(ResolvedToml(config), "bench scale");
  } catch (const ConfigError& error) {
    throw std::invalid_argument("bench scale: " + error.key() + ": " + error.message());
  }
}

std::vector<ScaleBenchRow> RunScaleBenchmark(const ScaleBenchOptions& options,
                                             std::ostream* progress) {
  namespace fs = std::filesystem;
  std::vector<int> sizes = options.agents;
  std::sort(sizes.begin(), sizes.end());
  if (sizes.empty() || options.methods.empty()) {
    throw std::invalid_argument("bench scale: expected at least one agent count and one method");
  }
  // every option is checked before anything runs
  for (const std::string& method : options.methods) {
    for (const int agents : sizes) ScaleBenchConfig(options, method, agents, "unused");
  }
  fs::path directory = options.directory;
  if (directory.empty()) {
    directory = fs::temp_directory_path() /
                ("metajoule-bench-scale-" + std::to_string(static_cast<long>(getpid())));
  }
  fs::create_directories(directory);

  std::vector<ScaleBenchRow> rows;
  try {
    for (const std::string& method : options.methods) {
      double first_per_agent = 0.0;
      double first_cpu_per_agent = 0.0;
      int previous_agents = 0;
      double previous_peak = 0.0;
      for (const int agents : sizes) {
        ScaleBenchRow row = options.fork
                                ? MeasureRunInChild(options, method, agents, directory.string())
                                : MeasureRun(options, method, agents, directory.string());
        if (first_per_agent == 0.0) {
          first_per_agent = row.per_agent_ms;
          first_cpu_per_agent = row.cpu_per_agent_ms;
        }
        row.ratio_to_first = row.per_agent_ms / first_per_agent;
        row.cpu_ratio_to_first =
            first_cpu_per_agent > 0.0 ? row.cpu_per_agent_ms / first_cpu_per_agent : 0.0;
        if (previous_agents > 0 && agents > previous_agents) {
          row.marginal_mb = (row.peak_mb - previous_peak) / (agents - previous_agents);
        }
        previous_agents = agents;
        previous_peak = row.peak_mb;
        rows.push_back(row);
        if (progress != nullptr) {
          *progress << Format("  %s, %d agents: %.3f s per round, %.1f MB peak\n", method.c_str(),
                              agents, row.round_seconds, row.peak_mb);
          progress->flush();
        }
      }
    }
  } catch (...) {
    std::error_code error;
    if (options.directory.empty()) fs::remove_all(directory, error);
    throw;
  }
  std::error_code error;
  if (options.directory.empty()) fs::remove_all(directory, error);
  return rows;
}

std::string FormatScaleBenchmark(const ScaleBenchOptions& options,
                                 const std::vector<ScaleBenchRow>& rows) {
  std::string text = Format(
      "bench scale: %s agents in clusters of %d, %d episodes per update, one round = median of "
      "%d intervals between rounds;\neach run in its own process (memory from the same "
      "baseline); ratio = ms/agent against the smallest size (wall time; cpu: process CPU "
      "time);\nmemory in MB: per agent = "
      "(figure - RSS before the run) / agents, marginal = peak slope from the next smaller "
      "size\n",
      options.family.c_str(), options.cluster_size, options.episodes, options.rounds - 1);
  text += Format("%-8s %6s %8s %7s %7s %9s %9s %7s %9s %9s %8s %8s %9s %10s %9s\n", "method",
                 "agents", "clusters", "threads", "proc th", "round s", "ms/agent", "ratio",
                 "cpu ms/ag", "cpu ratio", "RSS MB", "peak MB", "RSS/agent", "peak/agent",
                 "marginal");
  std::map<std::string, const ScaleBenchRow*> largest;
  for (const ScaleBenchRow& r : rows) {
    text += Format(
        "%-8s %6d %8d %7d %7d %9.3f %9.3f %7.3f %9.3f %9.3f %8.1f %8.1f %9.3f %10.3f %9.3f\n",
        r.method.c_str(), r.agents, r.clusters, r.pool_threads, r.process_threads,
        r.round_seconds, r.per_agent_ms, r.ratio_to_first, r.cpu_per_agent_ms,
        r.cpu_ratio_to_first, r.rss_training_mb, r.peak_mb, r.rss_per_agent_mb,
        r.peak_per_agent_mb, r.marginal_mb);
    largest[r.method] = &r;
  }
  text += "targets (issue #9): ratio at the largest size <= 1.2; memory <= 4 MB per agent\n";
  for (const auto& [method, r] : largest) {
    const double memory = std::max(r->peak_per_agent_mb, r->marginal_mb);
    text += Format("  %-8s at %d agents: ratio %.3f (%s; CPU time %.3f), max(peak/agent, "
                   "marginal) %.3f MB (%s)\n",
                   method.c_str(), r->agents, r->ratio_to_first,
                   r->ratio_to_first <= 1.2 ? "met" : "NOT met", r->cpu_ratio_to_first, memory,
                   memory <= 4.0 ? "met" : "NOT met");
  }
  return text;
}

}  // namespace metajoule::experiments
