#include "experiments/progress.h"

#include <sstream>
#include <string>

#include <doctest/doctest.h>

namespace metajoule::experiments {
namespace {

std::size_t Count(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

TEST_SUITE("experiments/progress") {
  TEST_CASE("plain progress prints one log line per round with the joules so far") {
    std::ostringstream out;
    Progress progress(out, false);
    progress.Begin("maml", 3);
    progress.Round(1, -12.5, 10.0);
    progress.Round(2, -11.0, 20.0, "1 messages lost");
    progress.End();
    const std::string text = out.str();
    CHECK(Count(text, "\n") == 2);
    CHECK(text.find('\r') == std::string::npos);
    CHECK(text.find("maml round   1/3: mean return    -12.500,         10 J so far") !=
          std::string::npos);
    CHECK(text.find("20 J so far") != std::string::npos);
    CHECK(text.find(", 1 messages lost\n") != std::string::npos);
  }

  TEST_CASE("live progress rewrites one line and ends it once") {
    std::ostringstream out;
    Progress progress(out, true);
    progress.Begin("scratch", 2);
    progress.Round(1, -3.0, 1.0);
    progress.Round(2, -2.0, 2.0);
    progress.Note("  a note of its own");
    progress.End();
    const std::string text = out.str();
    CHECK(Count(text, "\r") == 3);         // two rounds and the note's erase
    CHECK(Count(text, "\n") == 1);         // only the note ends a line; End adds none after it
    CHECK(text.find("scratch round   2/2") != std::string::npos);
  }

  TEST_CASE("output that is not the terminal never gets the live display") {
    std::ostringstream out;
    CHECK_FALSE(LiveProgressWanted(out));
  }
}

}  // namespace
}  // namespace metajoule::experiments
