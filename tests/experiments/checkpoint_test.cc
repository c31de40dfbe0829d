#include "experiments/checkpoint.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <span>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "common/error.h"
#include "tests/support/temp_dir.h"

namespace metajoule::experiments {
namespace {

Checkpoint Example() {
  Checkpoint c;
  c.method = "maml";
  c.round = 17;
  c.ledger_run = 3;
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  std::vector<double> params(1000);
  for (double& p : params) p = normal(rng);
  params[3] = -0.0;
  params[4] = std::numeric_limits<double>::denorm_min();
  c.vectors["group-0/meta_params"] = params;
  c.vectors["group-0/adam_m"] = {};
  std::ostringstream state;
  state << rng;
  c.texts["group-0/rng"] = state.str();
  return c;
}

std::string ReadBytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void WriteBytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

// the ConfigError message of reading `file`
std::string ReadError(const std::filesystem::path& file) {
  try {
    ReadCheckpoint(file);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(no error)";
}

TEST_SUITE("experiments/checkpoint") {
  TEST_CASE("a checkpoint reads back bit-exactly and leaves no temporary file") {
    test::TempDir dir;
    const std::filesystem::path file = CheckpointPath(dir.path(), "maml");
    CHECK(file == dir.path() / "checkpoints" / "maml.ckpt");
    const Checkpoint written = Example();
    WriteCheckpoint(file, written);
    const Checkpoint read = ReadCheckpoint(file);
    CHECK(read.method == "maml");
    CHECK(read.round == 17);
    CHECK(read.ledger_run == 3);
    REQUIRE(read.vectors.size() == 2);
    const std::span<const double> params = read.Vector("group-0/meta_params", 1000);
    for (std::size_t i = 0; i < params.size(); ++i) {
      CHECK(std::memcmp(&params[i], &written.vectors.at("group-0/meta_params")[i],
                        sizeof(double)) == 0);
    }
    CHECK(std::signbit(params[3]));
    CHECK(read.Vector("group-0/adam_m").empty());
    CHECK(read.Text("group-0/rng") == written.texts.at("group-0/rng"));
    CHECK_FALSE(std::filesystem::exists(file.string() + ".tmp"));

    // a second write replaces the first
    Checkpoint later = written;
    later.round = 18;
    WriteCheckpoint(file, later);
    CHECK(ReadCheckpoint(file).round == 18);
  }

  TEST_CASE("a method's checkpoints commit the ledger first and are written when due") {
    test::TempDir dir;
    std::vector<std::string> calls;
    MethodCheckpoints::Options options;
    options.file = CheckpointPath(dir.path(), "scratch");
    options.method = "scratch";
    options.ledger_run = 4;
    options.every = 3;
    options.commit = [&] { calls.push_back("commit"); };
    options.before_write = [&](const std::string& method, int round) {
      calls.push_back(method + " " + std::to_string(round));
    };
    MethodCheckpoints checkpoints(options);
    CHECK(checkpoints.restored() == nullptr);
    CHECK(checkpoints.first_round() == 1);
    for (int round = 1; round <= 7; ++round) {
      checkpoints.EndRound(round, 7, [&](StateArchive& state) { state.PutInt("round", round); });
    }
    // every third round and the last one, each after its commit
    CHECK(calls == std::vector<std::string>{"commit", "scratch 3", "commit", "scratch 6",
                                            "commit", "scratch 7"});
    const Checkpoint last = ReadCheckpoint(options.file);
    CHECK(last.round == 7);
    CHECK(last.ledger_run == 4);
    CHECK(last.Int("round") == 7);

    const MethodCheckpoints resumed(options, last);
    CHECK(resumed.first_round() == 8);
    std::int64_t loaded = 0;
    resumed.Load([&](const StateArchive& state) { loaded = state.Int("round"); });
    CHECK(loaded == 7);
    // an entry the loader needs and the file lacks: a ConfigError naming the file and entry
    try {
      resumed.Load([](const StateArchive& state) { state.Vector("agent-1/theta", 10); });
      FAIL("expected a ConfigError");
    } catch (const ConfigError& error) {
      CHECK(error.key() == "agent-1/theta");
      CHECK(std::string(error.what()).find(options.file.string()) != std::string::npos);
      CHECK(std::string(error.what()).find(": missing (a checkpoint of another") !=
            std::string::npos);
    }

    options.every = 0;
    calls.clear();
    MethodCheckpoints never(options);
    never.EndRound(7, 7, [](StateArchive&) {});
    CHECK(calls.empty());
  }

  TEST_CASE("a damaged, truncated, foreign or newer file is refused with its name") {
    test::TempDir dir;
    const std::filesystem::path file = dir.File("maml.ckpt");
    CHECK(ReadError(file).find("cannot be read") != std::string::npos);
    WriteCheckpoint(file, Example());
    const std::string good = ReadBytes(file);

    std::string flipped = good;
    flipped[good.size() / 2] = static_cast<char>(flipped[good.size() / 2] ^ 0x10);
    WriteBytes(file, flipped);
    CHECK(ReadError(file).find("checksum mismatch") != std::string::npos);
    CHECK(ReadError(file).find(file.string()) != std::string::npos);

    for (const std::size_t keep : {std::size_t{0}, std::size_t{5}, std::size_t{19}, good.size() - 1}) {
      CAPTURE(keep);
      WriteBytes(file, good.substr(0, keep));
      const std::string error = ReadError(file);
      CHECK((error.find("truncated") != std::string::npos ||
             error.find("not a metajoule checkpoint") != std::string::npos));
    }
    WriteBytes(file, "SQLite format 3" + std::string(64, '\0'));
    CHECK(ReadError(file).find("not a metajoule checkpoint") != std::string::npos);

    std::string newer = good;
    newer[6] = 9;  // version field
    WriteBytes(file, newer);
    CHECK(ReadError(file).find("checkpoint version 9") != std::string::npos);
  }
}

}  // namespace
}  // namespace metajoule::experiments
