#include "experiments/progress.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "experiments/format.h"

namespace metajoule::experiments {

Progress::Progress(std::ostream& out, bool live) : out_(out), live_(live) {}

void Progress::Begin(std::string_view method, int rounds) {
  method_ = std::string(method);
  rounds_ = rounds;
  start_ = std::chrono::steady_clock::now();
  line_open_ = false;
}

void Progress::Round(int round, double mean_return, double energy_j, std::string_view note) {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = round > 0 ? elapsed / round * (rounds_ - round) : 0.0;
  std::string line = Format("  %s round %3d/%d: mean return %10.3f, %10.4g J so far, ETA %4.0f s",
                            method_.c_str(), round, rounds_, mean_return, energy_j, eta);
  if (!note.empty()) {
    line += ", ";
    line += note;
  }
  if (live_) {
    out_ << "\r" << line << "\033[K";  // erase what a longer previous line left
    line_open_ = true;
  } else {
    out_ << line << "\n";
  }
  out_.flush();
}

void Progress::End() {
  if (live_ && line_open_) out_ << "\n";
  line_open_ = false;
  out_.flush();
}

void Progress::Note(std::string_view line) {
  if (live_ && line_open_) out_ << "\r\033[K";
  out_ << line << "\n";
  line_open_ = false;
  out_.flush();
}

bool LiveProgressWanted(const std::ostream& out) {
  if (&out != &std::cout || isatty(STDOUT_FILENO) == 0) return false;
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

}  // namespace metajoule::experiments
