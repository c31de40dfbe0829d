#include "experiments/batch.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

#include "ledger/ledger_store.h"
#include "ledger/queries.h"

extern char** environ;

namespace metajoule::experiments {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDone = "done";
constexpr std::string_view kFailed = "failed";
constexpr std::string_view kPending = "pending";

std::string Format(const char* format, auto... args) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, format, args...);
  return buffer;
}

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- CSV ------------------------------------------------------------------------------------

// Splits CSV text into records of fields (RFC 4180: quoted fields may hold commas, doubled
// quotes and line breaks). `line_of` receives each record's first line number.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text, std::vector<int>& line_of) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  bool any = false;  // the record has content
  int line = 1;
  int record_line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        record.push_back(std::move(field));
        records.push_back(std::move(record));
        line_of.push_back(record_line);
      }
      record.clear();
      field.clear();
      any = false;
      ++line;
      record_line = line;
    } else {
      field += c;
      any = true;
    }
  }
  if (any || !field.empty()) {
    record.push_back(std::move(field));
    records.push_back(std::move(record));
    line_of.push_back(record_line);
  }
  return records;
}

// ---- processes ------------------------------------------------------------------------------

// POSIX shell quoting, for the command lines written into logs and scripts.
std::string ShellQuote(std::string_view text) {
  const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("-_./=:,+@%", c) != nullptr;
  });
  if (plain) return std::string(text);
  std::string out = "'";
  for (const char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string CommandLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& arg : argv) out += (out.empty() ? "" : " ") + ShellQuote(arg);
  return out;
}

// The outcome of a child process.
struct ChildExit {
  int spawn_error{0};  // errno when the child could not start
  int status{0};       // waitpid status
  bool ExitedWith(int code) const {
    return spawn_error == 0 && WIFEXITED(status) && WEXITSTATUS(status) == code;
  }
  bool ok() const { return ExitedWith(0); }
  std::string Describe() const {
    if (spawn_error != 0) return std::string("could not start: ") + std::strerror(spawn_error);
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
      return "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
             strsignal(WTERMSIG(status)) + ")";
    }
    return "stopped";
  }
};

// Starts argv[0] with stdin from /dev/null and stdout and stderr on `output_fd`, and waits.
ChildExit SpawnAndWait(const std::vector<std::string>& argv, int output_fd) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
  pid_t pid = 0;
  ChildExit result;
  result.spawn_error = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (result.spawn_error != 0) return result;
  while (waitpid(pid, &result.status, 0) < 0) {
    if (errno != EINTR) {
      result.spawn_error = errno;
      break;
    }
  }
  return result;
}

// Runs argv and returns its exit and everything it wrote to stdout and stderr.
std::pair<ChildExit, std::string> Capture(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  std::string output;
  std::thread reader([&output, fd = fds[0]] {
    char buffer[4096];
    for (;;) {
      const ssize_t n = read(fd, buffer, sizeof buffer);
      if (n > 0) {
        output.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        break;
      }
    }
  });
  const ChildExit exit = SpawnAndWait(argv, fds[1]);
  close(fds[1]);
  reader.join();
  close(fds[0]);
  return {exit, output};
}

std::string Trim(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  return text.substr(start);
}

// ---- the batch folder's lock ----------------------------------------------------------------

// An exclusive flock on <folder>/.cells.lock for a read-modify-write of cells.csv. flock locks
// belong to one open file description, so threads and processes exclude each other alike.
class FolderLock {
 public:
  explicit FolderLock(const fs::path& folder) {
    const fs::path file = folder / ".cells.lock";
    fd_ = open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw std::runtime_error("cannot open " + file.string() + ": " + std::strerror(errno));
    }
    while (flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int error = errno;
        close(fd_);
        throw std::runtime_error("cannot lock " + file.string() + ": " + std::strerror(error));
      }
    }
  }
  ~FolderLock() { close(fd_); }  // closing releases the lock
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_{-1};
};

std::string LastReturnText(double value) {
  return std::isfinite(value) ? Format("%.10g", value) : std::string("nan");
}

// The mean evaluation return of the last evaluated round of `method` in `run`, at the largest
// adaptation step the run recorded (after adaptation, for methods that adapt).
double LastReturn(const ledger::LedgerStore& store, std::int64_t run, const std::string& method) {
  for (const ledger::TargetResult& result :
       ledger::QueryEnergyToTarget(store, run, std::numeric_limits<double>::infinity())) {
    if (result.method != method) continue;
    const auto returns = ledger::QueryReturns(store, run, method, result.adapt_step);
    if (!returns.empty()) return returns.back().value;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

void PrintFailure(std::ostream& out, const BatchFolder& folder, const SweepCell& cell,
                  const std::string& reason) {
  out << "  " << cell.id << " failed" << (reason.empty() ? "" : " (" + reason + ")")
      << "; log: " << folder.log_file(cell).string() << "\n";
  std::istringstream tail(TailOfFile(folder.log_file(cell), 12));
  for (std::string line; std::getline(tail, line);) out << "  | " << line << "\n";
}

}  // namespace

// ---- CSV files ------------------------------------------------------------------------------

std::string CsvField(std::string_view text) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::vector<CellRecord> ReadCellsCsv(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  std::vector<int> lines;
  const auto records = ParseCsv(text.str(), lines);
  if (records.empty()) return {};
  std::string header;
  for (const std::string& field : records.front()) header += (header.empty() ? "" : ",") + field;
  if (header != kCellsCsvHeader) {
    throw std::runtime_error(file.string() + ":1: expected the header \"" +
                             std::string(kCellsCsvHeader) + "\", got \"" + header + "\"");
  }
  std::vector<CellRecord> rows;
  for (std::size_t i = 1; i < records.size(); ++i) {
    const auto& fields = records[i];
    if (fields.size() != 4) {
      throw std::runtime_error(file.string() + ":" + std::to_string(lines[i]) +
                               ": expected 4 fields, got " + std::to_string(fields.size()));
    }
    rows.push_back({fields[0], fields[1], fields[2], fields[3]});
  }
  return rows;
}

void WriteCellsCsv(const fs::path& file, const std::vector<CellRecord>& rows) {
  const fs::path temporary = file.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << kCellsCsvHeader << "\n";
    for (const CellRecord& row : rows) {
      out << CsvField(row.cell) << "," << CsvField(row.status) << "," << CsvField(row.run_folder)
          << "," << CsvField(row.overrides) << "\n";
    }
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + temporary.string());
  }
  std::error_code error;
  fs::rename(temporary, file, error);
  if (error) throw std::runtime_error("cannot replace " + file.string() + ": " + error.message());
}

std::string TailOfFile(const fs::path& file, int lines) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "";
  std::deque<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    kept.push_back(std::move(line));
    if (static_cast<int>(kept.size()) > lines) kept.pop_front();
  }
  std::string out;
  for (const std::string& line : kept) out += line + "\n";
  return out;
}

// ---- the batch folder -----------------------------------------------------------------------

BatchFolder::BatchFolder(const Sweep& sweep) : path_(sweep.folder) {
  std::error_code error;
  for (const fs::path& dir : {path_, path_ / "logs", path_ / "runs"}) {
    fs::create_directories(dir, error);
    if (error) throw std::runtime_error("cannot create " + dir.string() + ": " + error.message());
  }
  const FolderLock lock(path_);
  const std::vector<CellRecord> old = ReadCellsCsv(cells_csv());
  std::map<std::string, const CellRecord*> by_id;
  for (const CellRecord& row : old) by_id[row.cell] = &row;
  std::vector<CellRecord> rows;
  for (const SweepCell& cell : sweep.cells) {
    const auto it = by_id.find(cell.id);
    const std::string overrides = cell.OverridesText();
    if (it != by_id.end() && it->second->overrides == overrides) {
      rows.push_back(*it->second);
    } else {
      rows.push_back({cell.id, std::string(kPending), "", overrides});
    }
  }
  const bool same =
      rows.size() == old.size() &&
      std::equal(rows.begin(), rows.end(), old.begin(), [](const auto& a, const auto& b) {
        return a.cell == b.cell && a.status == b.status && a.run_folder == b.run_folder &&
               a.overrides == b.overrides;
      });
  if (!same) WriteCellsCsv(cells_csv(), rows);
}

fs::path BatchFolder::log_file(const SweepCell& cell) const {
  return path_ / "logs" / (cell.id + ".log");
}

fs::path BatchFolder::runs_dir(const SweepCell& cell) const { return path_ / "runs" / cell.id; }

std::vector<CellRecord> BatchFolder::Records() const {
  const FolderLock lock(path_);
  return ReadCellsCsv(cells_csv());
}

void BatchFolder::Update(const CellRecord& record) const {
  const FolderLock lock(path_);
  std::vector<CellRecord> rows = ReadCellsCsv(cells_csv());
  bool found = false;
  for (CellRecord& row : rows) {
    if (row.cell == record.cell) {
      row = record;
      found = true;
    }
  }
  if (!found) rows.push_back(record);
  WriteCellsCsv(cells_csv(), rows);
}

bool BatchFolder::IsComplete(const CellRecord& record) const {
  if (record.status != kDone || record.run_folder.empty()) return false;
  std::error_code error;
  return fs::is_regular_file(path_ / record.run_folder / "ledger.sqlite", error);
}

// ---- running cells --------------------------------------------------------------------------

// The newest run folder under runs/<cell>/ (runs/<cell>/<experiment name>/<UTC time>-<seed>/)
// that holds a ledger; empty when there is none.
fs::path NewestRunFolder(const fs::path& runs) {
  fs::path found;
  std::error_code error;
  for (const auto& by_name : fs::directory_iterator(runs, error)) {
    if (!by_name.is_directory()) continue;
    for (const auto& run : fs::directory_iterator(by_name.path(), error)) {
      if (fs::is_regular_file(run.path() / "ledger.sqlite") && run.path() > found)
        found = run.path();
    }
  }
  return found;
}

CellOutcome RunCell(const Sweep& sweep, const SweepCell& cell, const BatchFolder& folder,
                    const fs::path& executable) {
  // pending until the run ends (a batch killed meanwhile leaves it to the next invocation)
  folder.Update({cell.id, std::string(kPending), "", cell.OverridesText()});
  const fs::path runs = folder.runs_dir(cell);

  std::vector<std::string> settings = {sweep.base.string()};
  for (const std::string& text : cell.SetArguments()) {
    settings.push_back("--set");
    settings.push_back(text);
  }
  settings.push_back("--set");
  settings.push_back("experiment.output_dir=" + TomlStringText(runs.string()));

  // an earlier attempt that left a run folder is resumed from its checkpoints; its log is kept
  const fs::path earlier = NewestRunFolder(runs);
  const fs::path log = folder.log_file(cell);
  const int fd = open(log.c_str(),
                      O_WRONLY | O_CREAT | O_CLOEXEC | (earlier.empty() ? O_TRUNC : O_APPEND),
                      0644);
  if (fd < 0)
    throw std::runtime_error("cannot write " + log.string() + ": " + std::strerror(errno));
  auto write_text = [fd](const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
  };
  write_text("# metajoule batch " + sweep.settings.name + ": cell " + cell.id +
             (cell.label.empty() ? "" : " (" + cell.label + ")") + " on " + ledger::HostName() +
             "\n");
  const double start = Seconds();
  auto spawn = [&](const std::vector<std::string>& argv) {
    write_text("# " + CommandLine(argv) + "\n");
    const ChildExit exit = SpawnAndWait(argv, fd);
    write_text("# " + exit.Describe() + " after " + Format("%.2f", Seconds() - start) + " s\n");
    return exit;
  };

  std::optional<ChildExit> exit;
  if (!earlier.empty()) {
    write_text("# resuming the earlier attempt in " + earlier.string() + "\n");
    std::vector<std::string> argv = {executable.string(), "run", "--resume", earlier.string()};
    argv.insert(argv.end(), settings.begin(), settings.end());
    exit = spawn(argv);
    // refused (another config, a damaged checkpoint: a usage or config error): start afresh
    if (exit->ExitedWith(2)) {
      write_text("# the earlier attempt cannot be resumed (above): the cell starts afresh\n");
      exit.reset();
    }
  }
  if (!exit) {
    std::error_code error;
    fs::remove_all(runs, error);
    fs::create_directories(runs, error);
    if (error) {
      close(fd);
      throw std::runtime_error("cannot create " + runs.string() + ": " + error.message());
    }
    std::vector<std::string> argv = {executable.string(), "run"};
    argv.insert(argv.end(), settings.begin(), settings.end());
    exit = spawn(argv);
  }
  close(fd);

  CellOutcome outcome;
  outcome.seconds = Seconds() - start;
  const fs::path found = NewestRunFolder(runs);
  if (!found.empty()) outcome.run_folder = fs::relative(found, folder.path()).generic_string();
  if (exit->ok() && !found.empty()) {
    outcome.status = kDone;
  } else {
    outcome.status = kFailed;
    outcome.reason = exit->ok() ? "the run left no ledger in " + runs.string() : exit->Describe();
  }
  folder.Update({cell.id, outcome.status, outcome.run_folder, cell.OverridesText()});
  return outcome;
}

BatchReport RunLocalBatch(const Sweep& sweep, const fs::path& executable, int workers,
                          std::ostream& out) {
  const double start = Seconds();
  const BatchFolder folder(sweep);
  std::map<std::string, CellRecord> records;
  for (CellRecord& row : folder.Records()) records[row.cell] = std::move(row);

  BatchReport report;
  report.cells = static_cast<int>(sweep.cells.size());
  std::vector<const SweepCell*> todo;
  for (const SweepCell& cell : sweep.cells) {
    const auto it = records.find(cell.id);
    if (it != records.end() && folder.IsComplete(it->second)) {
      ++report.skipped;
    } else {
      todo.push_back(&cell);
    }
  }
  if (workers <= 0) workers = sweep.settings.workers;
  if (workers <= 0) workers = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  workers = std::min(workers, std::max(1, static_cast<int>(todo.size())));
  out << "batch " << sweep.settings.name << ": " << report.cells << " cells, " << report.skipped
      << " done already, " << todo.size() << " to run with " << workers << " workers\n"
      << "batch folder: " << folder.path().string() << "\n";
  out.flush();

  std::mutex mutex;
  std::atomic<std::size_t> next{0};
  int finished = 0;
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next++;
      if (i >= todo.size()) return;
      const SweepCell& cell = *todo[i];
      CellOutcome outcome;
      try {
        outcome = RunCell(sweep, cell, folder, executable);
      } catch (const std::exception& error) {
        outcome.status = kFailed;
        outcome.reason = error.what();
      }
      const std::lock_guard<std::mutex> lock(mutex);
      ++finished;
      out << Format("[%d/%zu] ", finished, todo.size()) << cell.id << " " << outcome.status
          << Format(" in %.2f s", outcome.seconds) << (cell.label.empty() ? "" : "  " + cell.label)
          << "\n";
      if (outcome.status == kDone) {
        ++report.done;
      } else {
        ++report.failed;
        report.failed_cells.push_back(cell.id);
        PrintFailure(out, folder, cell, outcome.reason);
      }
      out.flush();
    }
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) threads.emplace_back(worker);
  for (std::thread& thread : threads) thread.join();
  std::sort(report.failed_cells.begin(), report.failed_cells.end());
  report.seconds = Seconds() - start;
  return report;
}

// ---- merging --------------------------------------------------------------------------------

std::vector<SummaryRow> MergeResults(const Sweep& sweep, const BatchFolder& folder,
                                     std::ostream& warnings) {
  std::map<std::string, CellRecord> records;
  for (CellRecord& row : folder.Records()) records[row.cell] = std::move(row);
  std::vector<SummaryRow> rows;
  for (const SweepCell& cell : sweep.cells) {
    const auto it = records.find(cell.id);
    if (it == records.end() || !folder.IsComplete(it->second)) continue;
    const fs::path ledger_file = folder.path() / it->second.run_folder / "ledger.sqlite";
    try {
      const ledger::LedgerStore store(ledger_file.string(), {}, ledger::OpenMode::kReadOnly);
      for (const ledger::RunRecord& run : store.Runs()) {
        SummaryRow row;
        row.cell = cell.id;
        row.label = cell.label;
        row.overrides = cell.OverridesText();
        row.method = run.info.method;
        row.run = run.info.name;
        row.run_status = run.status;
        row.mean_return = LastReturn(store, run.id, run.info.method);
        const ledger::EnergyBreakdown breakdown = ledger::QueryBreakdown(store, run.id);
        row.compute_j = breakdown.compute_j;
        row.uplink_j = breakdown.uplink_j;
        row.downlink_j = breakdown.downlink_j;
        row.sidelink_j = breakdown.sidelink_j;
        row.gco2e = breakdown.gco2e;
        rows.push_back(std::move(row));
      }
    } catch (const std::exception& error) {
      warnings << "warning: " << cell.id << ": cannot read " << ledger_file.string() << ": "
               << error.what() << "; left out of the summary\n";
    }
  }
  return rows;
}

void WriteSummaryCsv(const fs::path& file, const std::vector<SummaryRow>& rows) {
  const fs::path temporary = file.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << kSummaryCsvHeader << "\n";
    for (const SummaryRow& row : rows) {
      out << CsvField(row.cell) << "," << CsvField(row.overrides) << "," << CsvField(row.method)
          << "," << CsvField(row.run) << "," << LastReturnText(row.mean_return) << ","
          << Format("%.10g", row.total_j()) << "," << Format("%.10g", row.compute_j) << ","
          << Format("%.10g", row.uplink_j) << "," << Format("%.10g", row.downlink_j) << ","
          << Format("%.10g", row.sidelink_j) << "," << Format("%.10g", row.gco2e) << "\n";
    }
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + temporary.string());
  }
  std::error_code error;
  fs::rename(temporary, file, error);
  if (error) throw std::runtime_error("cannot replace " + file.string() + ": " + error.message());
}

void PrintSummary(std::ostream& out, const std::vector<SummaryRow>& rows) {
  int label_width = 5;
  int run_width = 3;
  for (const SummaryRow& row : rows) {
    label_width = std::max(label_width, static_cast<int>(row.label.size()));
    run_width = std::max(run_width, static_cast<int>(row.run.size()));
  }
  label_width = std::min(label_width, 48);
  run_width = std::min(run_width, 32);
  out << Format("%-6s %-*s %-11s %-*s %11s %11s %11s %11s %11s %11s %11s\n", "cell", label_width,
                "label", "method", run_width, "run", "return", "total J", "compute J", "UL J",
                "DL J", "SL J", "gCO2e");
  for (const SummaryRow& row : rows) {
    std::string label = row.label;
    if (static_cast<int>(label.size()) > label_width)
      label = label.substr(0, label_width - 1) + "~";
    out << Format("%-6s %-*s %-11s %-*s %11.4g %11.4g %11.4g %11.4g %11.4g %11.4g %11.4g",
                  row.cell.c_str(), label_width, label.c_str(), row.method.c_str(), run_width,
                  row.run.c_str(), row.mean_return, row.total_j(), row.compute_j, row.uplink_j,
                  row.downlink_j, row.sidelink_j, row.gco2e)
        << (row.run_status == "finished" ? "" : "  (" + row.run_status + ")") << "\n";
  }
}

// ---- Slurm ----------------------------------------------------------------------------------

fs::path FindOnPath(std::string_view program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr || path[0] == '\0') return {};
  std::string_view rest = path;
  for (;;) {
    const std::size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string_view::npos) return {};
    rest = rest.substr(colon + 1);
  }
}

std::string ArraySpec(const std::vector<int>& indices, int throttle) {
  std::string out;
  for (std::size_t i = 0; i < indices.size();) {
    std::size_t j = i;
    while (j + 1 < indices.size() && indices[j + 1] == indices[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(indices[i]);
    if (j > i) out += "-" + std::to_string(indices[j]);
    i = j + 1;
  }
  if (throttle > 0) out += "%" + std::to_string(throttle);
  return out;
}

std::string SbatchScript(const Sweep& sweep, const std::vector<int>& indices,
                         const SlurmOptions& options, const fs::path& executable,
                         const fs::path& workdir) {
  const int throttle = options.workers > 0 ? options.workers : sweep.settings.workers;
  const std::string partition =
      options.partition.empty() ? sweep.slurm.partition : options.partition;
  const std::string time = options.time.empty() ? sweep.slurm.time : options.time;
  std::ostringstream out;
  out << "#!/bin/bash\n"
      << "#SBATCH --job-name=" << ShellQuote("metajoule-" + sweep.settings.name) << "\n"
      << "#SBATCH --array=" << ArraySpec(indices, throttle) << "\n"
      << "#SBATCH --output=" << (sweep.folder / "logs" / "slurm-%A_%a.out").string() << "\n"
      << "#SBATCH --chdir=" << workdir.string() << "\n"
      << "#SBATCH --ntasks=1\n"
      << "#SBATCH --cpus-per-task=" << sweep.slurm.cpus_per_task << "\n";
  if (!partition.empty()) out << "#SBATCH --partition=" << partition << "\n";
  if (!time.empty()) out << "#SBATCH --time=" << time << "\n";
  if (!sweep.slurm.mem.empty()) out << "#SBATCH --mem=" << sweep.slurm.mem << "\n";
  for (const std::string& arg : sweep.slurm.sbatch_args) out << "#SBATCH " << arg << "\n";
  for (const std::string& arg : options.sbatch_args) out << "#SBATCH " << arg << "\n";
  out << "# written by `metajoule batch --slurm` (docs/batch.md): each array task runs one cell\n"
      << "# of the sweep as a child process and records it in cells.csv; the task id is the\n"
      << "# cell's index (c0007 is task 7).\n"
      << "exec " << ShellQuote(executable.string()) << " batch " << ShellQuote(sweep.file.string())
      << " --cell \"$SLURM_ARRAY_TASK_ID\"\n";
  return out.str();
}

SlurmJob SubmitSlurm(const Sweep& sweep, const BatchFolder& folder, const SlurmOptions& options,
                     const fs::path& executable, std::ostream& out) {
  const fs::path sbatch = FindOnPath("sbatch");
  if (sbatch.empty()) {
    throw std::runtime_error(
        "--slurm: sbatch is not on PATH. Install Slurm's commands (Debian: apt-get install "
        "slurm-client on a machine of an existing cluster, or slurm-wlm for a whole one; "
        "scripts/slurm-local starts a one-node cluster for trials), or run the batch locally "
        "without --slurm");
  }
  SlurmJob job;
  for (const CellRecord& row : folder.Records()) {
    if (folder.IsComplete(row)) continue;
    if (const SweepCell* cell = sweep.FindCell(row.cell)) job.indices.push_back(cell->index);
  }
  std::sort(job.indices.begin(), job.indices.end());
  const std::size_t done = sweep.cells.size() - job.indices.size();
  if (job.indices.empty()) {
    out << "batch " << sweep.settings.name << ": all " << sweep.cells.size()
        << " cells are done; nothing to submit\n";
    return job;
  }
  // the submitted cells are pending until their task records them (a failed status from an
  // earlier attempt must not count as this attempt's result)
  for (const int index : job.indices) {
    const SweepCell& cell = sweep.cells[static_cast<std::size_t>(index)];
    folder.Update({cell.id, std::string(kPending), "", cell.OverridesText()});
  }
  const fs::path script = folder.path() / "batch.sbatch";
  {
    std::ofstream file(script, std::ios::trunc);
    file << SbatchScript(sweep, job.indices, options, executable, fs::current_path());
    if (!file) throw std::runtime_error("cannot write " + script.string());
  }
  const auto [exit, output] = Capture({sbatch.string(), "--parsable", script.string()});
  if (!exit.ok()) {
    throw std::runtime_error("sbatch refused " + script.string() + " (" + exit.Describe() +
                             "): " + Trim(output));
  }
  // --parsable prints "jobid" or "jobid;cluster"
  std::string id = Trim(output);
  if (const std::size_t line = id.rfind('\n'); line != std::string::npos) id = id.substr(line + 1);
  id = id.substr(0, id.find(';'));
  if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      })) {
    throw std::runtime_error("sbatch --parsable printed no job id: \"" + Trim(output) + "\"");
  }
  job.id = id;
  out << "batch " << sweep.settings.name << ": " << sweep.cells.size() << " cells, " << done
      << " done already; submitted Slurm job array " << job.id << " with " << job.indices.size()
      << " tasks (" << script.string() << ")\n";
  return job;
}

BatchReport WaitForSlurm(const Sweep& sweep, const BatchFolder& folder, const SlurmJob& job,
                         const SlurmOptions& options, std::ostream& out) {
  const double start = Seconds();
  BatchReport report;
  report.cells = static_cast<int>(sweep.cells.size());
  report.skipped = report.cells - static_cast<int>(job.indices.size());
  if (job.id.empty()) return report;
  const fs::path squeue = FindOnPath("squeue");
  std::map<std::string, bool> reported;
  const auto poll = std::chrono::duration<double>(std::max(0.05, options.poll_seconds));
  auto report_cell = [&](const SweepCell& cell, const CellRecord& row, const std::string& reason) {
    reported[cell.id] = true;
    out << Format("[%zu/%zu] ", reported.size(), job.indices.size()) << cell.id << " " << row.status
        << (cell.label.empty() ? "" : "  " + cell.label) << "\n";
    if (row.status == kDone) {
      ++report.done;
    } else {
      ++report.failed;
      report.failed_cells.push_back(cell.id);
      PrintFailure(out, folder, cell, reason);
    }
    out.flush();
  };
  // one pass over cells.csv: reports newly finished cells; true when none is pending
  auto scan = [&]() {
    std::map<std::string, CellRecord> records;
    for (CellRecord& row : folder.Records()) records[row.cell] = std::move(row);
    bool all = true;
    for (const int index : job.indices) {
      const SweepCell& cell = sweep.cells[static_cast<std::size_t>(index)];
      const CellRecord& row = records[cell.id];
      if (row.status == kPending || row.status.empty()) {
        all = false;
      } else if (!reported[cell.id]) {
        report_cell(cell, row, "");
      }
    }
    return all;
  };
  for (int round = 0;; ++round) {
    if (scan()) break;
    // the queue: once the job has left it, whatever is still pending never ran to the end
    bool queued = true;
    if (!squeue.empty() && round % 5 == 4) {
      const auto [exit, output] = Capture({squeue.string(), "-h", "-j", job.id, "-o", "%i"});
      queued = exit.ok() && !Trim(output).empty();
    }
    if (!queued) {
      if (scan()) break;
      for (const int index : job.indices) {
        const SweepCell& cell = sweep.cells[static_cast<std::size_t>(index)];
        if (reported[cell.id]) continue;
        const CellRecord row{cell.id, std::string(kFailed), "", cell.OverridesText()};
        folder.Update(row);
        report_cell(cell, row,
                    "its Slurm task ended without recording a result; see " +
                        (folder.path() / "logs" /
                         ("slurm-" + job.id + "_" + std::to_string(index) + ".out"))
                            .string());
      }
      break;
    }
    std::this_thread::sleep_for(poll);
  }
  std::sort(report.failed_cells.begin(), report.failed_cells.end());
  report.seconds = Seconds() - start;
  return report;
}

}  // namespace metajoule::experiments
