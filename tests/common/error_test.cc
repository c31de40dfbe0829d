#include "common/error.h"

#include <doctest/doctest.h>

namespace metajoule {
namespace {

TEST_SUITE("common/error") {
  TEST_CASE("ConfigError reads file:line:col: key: message") {
    const ConfigError error({"exp.toml", 12, 17}, "agents.ppo.clip_ratio", "must be in (0, 1)");
    CHECK(std::string(error.what()) == "exp.toml:12:17: agents.ppo.clip_ratio: must be in (0, 1)");
    CHECK(error.where().line == 12);
    CHECK(error.key() == "agents.ppo.clip_ratio");
  }

  TEST_CASE("ConfigError leaves out what is unknown") {
    CHECK(std::string(ConfigError({"--set"}, "a.b", "bad").what()) == "--set: a.b: bad");
    CHECK(std::string(ConfigError({"m.xml"}, "", "XML Error").what()) == "m.xml: XML Error");
  }

  TEST_CASE("JoinNames separates names with commas") {
    CHECK(JoinNames({"a", "b", "c"}) == "a, b, c");
    CHECK(JoinNames({}).empty());
  }
}

}  // namespace
}  // namespace metajoule
