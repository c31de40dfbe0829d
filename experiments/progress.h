#pragma once
// Progress of a run's training rounds: on a terminal, one status line rewritten in place
// (round, return, joules so far, ETA); otherwise plain log lines, one per round, so batch logs
// and pipes stay readable.

#include <chrono>
#include <ostream>
#include <string>
#include <string_view>

namespace metajoule::experiments {

class Progress {
 public:
  /// `live`: rewrite one line in place (use LiveProgressWanted to decide).
  Progress(std::ostream& out, bool live);

  /// Starts a method's training of `rounds` rounds.
  void Begin(std::string_view method, int rounds);
  /// Reports round `round` (1-based): the mean return, the energy recorded so far (J) and an
  /// optional note ("2 messages lost").
  void Round(int round, double mean_return, double energy_j, std::string_view note = {});
  /// Ends the method's line (a newline in live mode).
  void End();
  /// Prints a line of its own (e.g. a rejected update), keeping the live line intact.
  void Note(std::string_view line);

  std::ostream& out() { return out_; }

 private:
  std::ostream& out_;
  bool live_;
  std::string method_;
  int rounds_{0};
  bool line_open_{false};
  std::chrono::steady_clock::time_point start_{};
};

/// True when `out` is the process's standard output and that is a terminal (and TERM is not
/// "dumb").
bool LiveProgressWanted(const std::ostream& out);

}  // namespace metajoule::experiments
