// The `metajoule` binary: every subcommand comes from cli/command.cc's table.
#include <malloc.h>

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command.h"

namespace {

// glibc's malloc hands freed blocks above its dynamic mmap threshold back to the kernel, and the
// next allocation of the same size faults every page in again. metajoule allocates such blocks
// all the time: ZeroMQ's 1 MiB model messages (a fresh malloc per message on both sides) and the
// rollouts' tanh memos. Keeping them in the heap is what lets a 1 MiB tcp push reach 2-4 GB/s
// here instead of 0.5-1.2 (docs/network.md, "Benchmark"); the two settings only help together
// (either alone switches off glibc's own adjustment and is slower than none). The cost: up to
// kTrimThreshold of freed memory stays with the process. A user's GLIBC_TUNABLES malloc settings
// win over these.
constexpr int kMmapThreshold = 32 << 20;
constexpr int kTrimThreshold = 256 << 20;

void KeepLargeBlocksInTheHeap() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::string_view(tunables).find("glibc.malloc.") != std::string_view::npos)
    return;
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
}

}  // namespace

int main(int argc, char** argv) {
  KeepLargeBlocksInTheHeap();
  const std::vector<std::string> args(argv + 1, argv + argc);
  return metajoule::cli::RunCli(args);
}
