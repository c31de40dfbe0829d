#include "experiments/checkpoint.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
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
    const std::vector<double>& params = read.Vector("group-0/meta_params", file.string(), 1000);
    for (std::size_t i = 0; i < params.size(); ++i) {
      CHECK(std::memcmp(&params[i], &written.vectors.at("group-0/meta_params")[i],
                        sizeof(double)) == 0);
    }
    CHECK(std::signbit(params[3]));
    CHECK(read.Vector("group-0/adam_m", file.string()).empty());
    CHECK(read.Text("group-0/rng", file.string()) == written.texts.at("group-0/rng"));
    CHECK_FALSE(std::filesystem::exists(file.string() + ".tmp"));

    // a second write replaces the first
    Checkpoint later = written;
    later.round = 18;
    WriteCheckpoint(file, later);
    CHECK(ReadCheckpoint(file).round == 18);
  }

  TEST_CASE("missing entries and wrong sizes name the key") {
    test::TempDir dir;
    const Checkpoint c = Example();
    CHECK_THROWS_WITH_AS(c.Vector("nope", "f.ckpt"), doctest::Contains("nope"), ConfigError);
    CHECK_THROWS_WITH_AS(c.Vector("group-0/meta_params", "f.ckpt", 999),
                         doctest::Contains("1000 values, expected 999"), ConfigError);
    CHECK_THROWS_WITH_AS(c.Text("rng", "f.ckpt"), doctest::Contains("missing"), ConfigError);
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
